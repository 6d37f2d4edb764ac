"""One campaign's SQLite ledger: opening it, its parts (runner.ledger.interface), and reading it
whole (counts and report rows).

Durability: a message is claimed (`sending`) in a committed transaction before its request
leaves, with synchronous=FULL so that a claim survives even a power cut; claims and outcomes
from concurrent requests share one commit (see runner.sending.bookkeeping), so the fsync is amortised.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from runner.errors import LedgerUnusable
from runner.ledger.report_query import CELLS, SQLITE_PLAIN
from runner.ledger.sqlite.audience import SqliteAudience
from runner.ledger.sqlite.claims import SqliteClaims
from runner.ledger.sqlite.deliveries import SqliteDeliveries
from runner.ledger.sqlite.runs import SqliteRuns
from runner.ledger.sqlite.schema import LEDGER_FILE, connect, connect_read_only, create, get_meta, migrate
from runner.ledger.states import MESSAGED, State
from runner.ledger.tally import delivery_tally, empty_counts


class SqliteLedger:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.db = connect_read_only(path) if read_only else connect(path)
        self.runs = SqliteRuns(self.db)
        self.audience = SqliteAudience(self.db)
        self.claims = SqliteClaims(self.db)
        self.deliveries = SqliteDeliveries(self.db)
        self.slots = None  # one sender per campaign (runner.ledger.lock): it paces itself

    @classmethod
    def open(cls, folder: Path, campaign_id: str) -> SqliteLedger:
        """Open the campaign's ledger in `folder`, making it if there is none, migrated to this
        version's schema."""
        path = create(folder, campaign_id)
        try:
            ledger = cls(path)
            stored = get_meta(ledger.db, "campaign_id")
        except (sqlite3.DatabaseError, OSError) as error:  # a folder in its place, a damaged file
            raise LedgerUnusable(
                f"{path}: not a readable campaign ledger ({error}); move it aside to start the campaign "
                "afresh (its messages would then be sent again), or restore it from a backup"
            ) from None
        try:
            if stored != campaign_id:
                raise LedgerUnusable(
                    f"{path} is the ledger of campaign {stored!r}, not {campaign_id!r}: was the campaign's id "
                    "changed, or --outputs pointed at another campaign's folder?"
                )
            migrate(ledger.db, path)
        except BaseException:
            ledger.close()
            raise
        return ledger

    @classmethod
    def open_read_only(cls, folder: Path, campaign_id: str) -> SqliteLedger:
        """The campaign's existing ledger, for reading only: no migration, no write."""
        path = folder / LEDGER_FILE
        try:
            ledger = cls(path, read_only=True)
            stored = get_meta(ledger.db, "campaign_id")
        except (sqlite3.DatabaseError, OSError) as error:
            raise LedgerUnusable(f"{path}: not a readable campaign ledger ({error})") from None
        if stored != campaign_id:
            ledger.close()
            raise LedgerUnusable(f"{path} is the ledger of campaign {stored!r}, not {campaign_id!r}")
        return ledger

    @staticmethod
    def exists(folder: Path) -> bool:
        return (folder / LEDGER_FILE).exists()

    def close(self) -> None:
        self.db.close()

    def counts(self, run_id: int | None = None) -> dict[str, int]:
        run_id = run_id if run_id is not None else self.audience.last_run()
        counts = empty_counts()
        if run_id is None:
            return counts
        for state, n in self.db.execute(
            "SELECT state, COUNT(*) FROM messages WHERE seen_run = ? GROUP BY state", (run_id,)
        ):
            counts[state] = n
        for state, n in self.db.execute("SELECT state, COUNT(*) FROM skipped GROUP BY state"):
            counts[state] = counts.get(state, 0) + n
        return counts

    def one_reading(self) -> AbstractContextManager[None]:
        return nullcontext()  # (one sender per campaign, the campaign's lock: nobody writes meanwhile)

    def in_flight_elsewhere(self, run_id: int) -> dict[str, int]:
        return {}  # (one sender per campaign: the campaign's lock)

    def attempted(self) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM messages WHERE seen_run = ? AND attempts > 0", (self.audience.last_run(),)
        ).fetchone()
        return int(row[0])

    def delivery_counts(self) -> dict[str, int]:
        rows = self.db.execute(
            f"""SELECT d.delivery_status_code, d.last_channel, COUNT(*) FROM messages m
               LEFT JOIN deliveries d ON d.message_key = m.key
               WHERE m.seen_run = ? AND m.state = '{State.ACCEPTED}' GROUP BY 1, 2""",
            (self.audience.last_run(),),
        )
        return delivery_tally(rows)

    def deferred(self, run_id: int | None = None) -> list[tuple[str, int]]:
        run_id = run_id if run_id is not None else self.audience.last_run()
        rows = self.db.execute(
            f"""SELECT not_before, COUNT(*) FROM messages WHERE seen_run = ? AND state = '{State.DEFERRED}'
                GROUP BY not_before ORDER BY not_before""",
            (run_id,),
        )
        return [(str(at), int(n)) for at, n in rows]

    def cost_rows(self) -> Iterator[tuple[str, str | None, str, str | None]]:
        return iter(
            self.db.execute(
                f"""SELECT m.phone, d.last_channel, d.price, d.currency FROM messages m
                    JOIN deliveries d ON d.message_key = m.key
                    WHERE m.seen_run = ? AND m.state = '{State.ACCEPTED}' AND d.price IS NOT NULL""",
                (self.audience.last_run(),),
            )
        )

    def report_rows(self) -> Iterator[tuple[Any, ...]]:
        run_id = self.audience.last_run()
        if run_id is None:
            return iter(())
        # A skipped row's commit is its run's: the campaign file that decided to skip it.
        skipped = self.db.execute(
            f"""SELECT position, FALSE, NULL, NULL, recipient_id, phone, state, NULL, NULL, reason, NULL, NULL,
                       {", ".join(["NULL"] * 11)}, 0, '', NULL, NULL, (SELECT campaign_commit FROM runs WHERE id = ?)
                FROM skipped ORDER BY position""",
            (run_id,),
        )
        first_skipped = skipped.fetchone()
        if first_skipped is None:  # (the usual case: the rows as the cursor gives them, no step of ours)
            return self.db.execute("SELECT " + _REPORT, (run_id,))
        messages = self.db.execute("SELECT m.position, " + _REPORT, (run_id,))
        merged = heapq.merge(messages, itertools.chain((first_skipped,), skipped), key=lambda row: int(row[0]))
        return (row[1:] for row in merged)

    def states_of(self, keys: Collection[str]) -> dict[str, State]:
        rows = self.db.execute(
            "SELECT key, state FROM messages WHERE key IN (SELECT value FROM json_each(?))", (json.dumps(list(keys)),)
        )
        return {key: State(state) for key, state in rows}

    def phones_messaged(self, phones: Collection[str]) -> dict[str, str]:
        marks = ", ".join(f"'{state}'" for state in MESSAGED)
        rows = self.db.execute(
            f"""SELECT phone, key FROM messages WHERE phone IN (SELECT value FROM json_each(?))
                AND state IN ({marks}) ORDER BY rowid DESC""",
            (json.dumps(list(phones)),),
        )
        return {phone: key for phone, key in rows}  # the earliest message wins (rows newest first)

    def state_digest(self) -> tuple[str, dict[str, int]]:
        digest = hashlib.sha256()
        counts: dict[str, int] = {}
        for key, state, attempts in self.db.execute("SELECT key, state, attempts FROM messages ORDER BY key"):
            digest.update(f"{key}\0{state}\0{attempts}\n".encode())
            counts[state] = counts.get(state, 0) + 1
        return (digest.hexdigest() if counts else ""), counts  # "": as if there were no ledger


# runner.ledger.report_query's row: `plain`, then the report's cells (after SELECT)
_REPORT = f"""{SQLITE_PLAIN}, {", ".join(CELLS)}
              FROM messages m LEFT JOIN deliveries d ON d.message_key = m.key
              WHERE m.seen_run = ? ORDER BY m.position"""
