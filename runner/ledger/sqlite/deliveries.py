"""The SQLite ledger's side of `enrich`: messages found by reference_id or external_id, and each
message's merged delivery kept in its `deliveries` row (schema.MIGRATIONS, 7). A message's id here
is its rowid."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import islice

from runner.ledger.records import DELIVERY_COLUMNS, Delivery, OnSettled, Settled, now, with_references
from runner.ledger.sqlite.schema import get_meta, set_meta, transaction
from runner.ledger.states import SETTLED_BY_CALLBACK, State
from runner.telesign import codes

CHUNK = 5000  # messages written per statement batch
_SETTLED_FROM = ", ".join(f"'{state}'" for state in SETTLED_BY_CALLBACK)
# (a Delivery is written as it is, its message's key in place of its rowid)
_SAVE = f"""INSERT OR REPLACE INTO deliveries (message_key, {", ".join(DELIVERY_COLUMNS)})
            VALUES ({", ".join("?" * (1 + len(DELIVERY_COLUMNS)))})"""
_STORED = f"""SELECT m.rowid, {", ".join("d." + column for column in DELIVERY_COLUMNS)}
              FROM deliveries d JOIN messages m ON m.key = d.message_key
              WHERE m.rowid IN (SELECT value FROM json_each(?))"""


class SqliteDeliveries:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    @contextmanager
    def enriching(self) -> Iterator[None]:
        """Commits are synchronous=NORMAL for the length of an enrichment: in WAL mode that still
        never corrupts the ledger, but a power cut may undo the last commits, which only ever hold
        what the callback logs still hold and the next `enrich` reads again. Claims keep FULL: it
        is set back on the way out."""
        self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            self.db.execute("PRAGMA synchronous=FULL")

    def next_arrival(self) -> int:
        stored = get_meta(self.db, "callback_arrivals")
        return 0 if stored is None else int(stored)

    def any_stored(self) -> bool:
        return bool(self.db.execute("SELECT EXISTS (SELECT 1 FROM deliveries)").fetchone()[0])

    def by_reference(self, references: Collection[str]) -> list[tuple[str, int]]:
        # (the index answers alone: enrichment asks this for every message)
        return self.db.execute(
            """SELECT reference_id, rowid FROM messages WHERE reference_id IN (SELECT value FROM json_each(?))
               ORDER BY rowid DESC""",
            (json.dumps(list(references)),),
        ).fetchall()

    def by_external_id(self, external_ids: Collection[str]) -> list[tuple[str, int, str | None]]:
        return self.db.execute(
            """SELECT external_id, rowid, reference_id FROM messages
               WHERE external_id IN (SELECT value FROM json_each(?))""",
            (json.dumps(list(external_ids)),),
        ).fetchall()

    def stored(self, messages: Collection[int]) -> list[Delivery]:
        return list(map(Delivery._make, self.db.execute(_STORED, (json.dumps(list(messages)),))))

    def awaiting_status(self) -> Iterator[tuple[str, str | None]]:
        # (any message accepted, in the last audience or not: it was sent, its status is worth knowing)
        return iter(
            self.db.execute(
                f"""SELECT m.reference_id, m.submitted_at FROM messages m
                    LEFT JOIN deliveries d ON d.message_key = m.key
                    WHERE m.state = '{State.ACCEPTED}' AND m.reference_id IS NOT NULL
                      AND (d.delivery_status_code IS NULL
                           OR d.delivery_status_code IN (SELECT value FROM json_each(?)))
                    ORDER BY m.rowid""",
                (json.dumps(sorted(codes.INTERMEDIATE)),),
            ).fetchall()
        )

    def save(
        self, rows: Iterable[Delivery], next_arrival: int, references: Mapping[int, str], on_settled: OnSettled = None
    ) -> int:
        # (narrow rows, written as they come; the wide `messages` rows are only written where a
        # message's state or reference_id changes: a few)
        db = self.db
        stamp = now()
        settled: list[Settled] = []
        rows = iter(rows)
        with transaction(db):
            while chunk := list(islice(rows, CHUNK)):
                messages = json.dumps([row[0] for row in chunk])
                # (the keys of a chunk in one query: a subquery a row cost three times as much)
                keys = dict(
                    db.execute(
                        "SELECT rowid, key FROM messages WHERE rowid IN (SELECT value FROM json_each(?))", (messages,)
                    )
                )
                db.executemany(_SAVE, [(keys[row[0]], *row[1:]) for row in chunk])
                # (read before they are settled: when each request left is their updated_at until then)
                found = [
                    Settled(*row)
                    for row in db.execute(
                        f"""SELECT rowid, external_id, phone, reference_id, updated_at FROM messages
                            WHERE rowid IN (SELECT value FROM json_each(?)) AND state IN ({_SETTLED_FROM})""",
                        (messages,),
                    )
                ]
                if found:
                    db.execute(
                        f"""UPDATE messages SET state = '{State.ACCEPTED}', updated_at = ?
                            WHERE rowid IN (SELECT value FROM json_each(?))""",
                        (stamp, json.dumps([s.message for s in found])),
                    )
                    settled += found
            if references:  # messages joined by external_id: their answer, and reference_id, were lost
                db.executemany(
                    "UPDATE messages SET reference_id = COALESCE(reference_id, ?), updated_at = ? WHERE rowid = ?",
                    [(reference, stamp, message) for message, reference in references.items()],
                )
            set_meta(db, "callback_arrivals", str(next_arrival))
            if settled and on_settled is not None:  # (before the commit: see Deliveries.save)
                on_settled(with_references(settled, references))
        return len(settled)
