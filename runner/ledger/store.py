"""The ledger: every message's state for one campaign, in SQLite (WAL), the only module that
speaks SQL. docs/sending.md, "States".

Durability: a message is claimed (`sending`) in a committed transaction before its request
leaves, with synchronous=FULL so that a claim survives even a power cut; claims and outcomes
from concurrent requests share one commit (see runner.sending.bookkeeping), so the fsync is amortised.
"""

from __future__ import annotations

import heapq
import json
import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from runner.atomic import atomic_path
from runner.errors import LedgerUnusable

SCHEMA_VERSION = 1
LEDGER_FILE = "ledger.sqlite"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    exit_code INTEGER,
    counts TEXT
);
-- One row per recipient ever messaged or planned, keyed by the recipient key (id or E.164).
CREATE TABLE messages (
    key TEXT PRIMARY KEY,
    position INTEGER NOT NULL,          -- audience order in the last run that saw it
    seen_run INTEGER NOT NULL,          -- the last run whose audience held it
    external_id TEXT NOT NULL UNIQUE,
    recipient_id TEXT,
    phone TEXT NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL,                 -- to be sent (pending, failed) or as sent (after a claim)
    attempts INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    status_code INTEGER,
    status_description TEXT,
    reference_id TEXT,
    submitted_at TEXT,
    updated_at TEXT,
    delivery_status_code INTEGER,
    delivery_status_description TEXT,
    last_channel TEXT,
    viber_status_code INTEGER,
    viber_status_description TEXT,
    sms_status_code INTEGER,
    sms_status_description TEXT,
    status_updated_on TEXT,
    callbacks INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_by_run ON messages (seen_run, position);
CREATE INDEX messages_by_reference ON messages (reference_id);
-- Audience rows of the last run that are not messages: suppressed, invalid, duplicate.
CREATE TABLE skipped (
    position INTEGER PRIMARY KEY,
    recipient_id TEXT,
    phone TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL
);
-- `enrich` adds DELIVERIES (below) the first time it runs.
-- Test sends (`send --test-to`): kept for audit, never part of the campaign's state.
CREATE TABLE test_sends (
    id INTEGER PRIMARY KEY,
    sent_at TEXT NOT NULL,
    recipient_key TEXT NOT NULL,
    phone TEXT NOT NULL,
    http_status INTEGER,
    status_code INTEGER,
    reference_id TEXT,
    body TEXT NOT NULL
);
"""

SENDABLE = ("pending", "failed")
UNSETTLED = ("sending", "unknown")  # may have reached Telesign: resent only on request


def claimable(resend_unknown: bool) -> tuple[str, ...]:
    """The states a send run may claim a message from."""
    return SENDABLE + (UNSETTLED if resend_unknown else ())


DONE = ("accepted", "rejected")
STATES = (
    "pending",
    "sending",
    "accepted",
    "rejected",
    "failed",
    "unknown",
    "suppressed",
    "invalid",
    "duplicate",
    "expired",
)


# Per message that has callbacks, what `enrich` needs to go on merging them (runner.callbacks.enrichment):
# the order of each winning status (runner.callbacks.rules.order_head, then arrival) and which callbacks
# were merged. The winners' fields are the message's delivery columns.
DELIVERIES = """
CREATE TABLE IF NOT EXISTS deliveries (
    message_key TEXT PRIMARY KEY,
    seen BLOB NOT NULL,                 -- the first 8 bytes of each merged callback's sha256, end to end
    status_order INTEGER NOT NULL,
    status_arrival INTEGER NOT NULL,
    viber_order INTEGER,                -- NULL: no Viber status yet
    viber_arrival INTEGER,
    sms_order INTEGER,
    sms_arrival INTEGER,
    other_channels TEXT                 -- JSON {channel: [order, arrival, code, description]}: channels without columns
) WITHOUT ROWID
"""

# A callback proves Telesign accepted the message: these states then become `accepted`.
_SETTLED_FROM = "'unknown', 'sending', 'failed', 'pending', 'expired'"


class StoredDelivery(NamedTuple):
    """A message's merged delivery as the ledger has it (see DELIVERIES)."""

    rowid: int
    code: int | None
    description: str | None
    last_channel: str | None
    viber_code: int | None
    viber_description: str | None
    sms_code: int | None
    sms_description: str | None
    updated_on: str | None
    seen: bytes
    status_order: int
    status_arrival: int
    viber_order: int | None
    viber_arrival: int | None
    sms_order: int | None
    sms_arrival: int | None
    other_channels: str | None


class MergedDelivery(NamedTuple):
    """A message's merged delivery, to be saved: its columns, then what DELIVERIES keeps."""

    rowid: int
    reference_id: str | None  # the winner's, for a message whose own is unknown (its answer was lost)
    code: int
    description: str | None
    last_channel: str | None
    viber_code: int | None
    viber_description: str | None
    sms_code: int | None
    sms_description: str | None
    updated_on: str | None
    callbacks: int
    seen: bytes
    status_order: int
    status_arrival: int
    viber_order: int | None
    viber_arrival: int | None
    sms_order: int | None
    sms_arrival: int | None
    other_channels: str | None


def _chunks(rows: Iterable[MergedDelivery], size: int) -> Iterator[list[MergedDelivery]]:
    chunk: list[MergedDelivery] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Planned:
    """A message to be in the ledger for this run."""

    key: str
    position: int
    external_id: str
    recipient_id: str | None
    phone: str
    body: bytes


@dataclass(frozen=True)
class SkippedRow:
    position: int
    recipient_id: str | None
    phone: str
    state: str
    reason: str


@dataclass(frozen=True)
class Sendable:
    key: str
    position: int
    external_id: str
    body: bytes
    state: str


@dataclass(frozen=True)
class Outcome:
    key: str
    state: str
    http_status: int | None = None
    status_code: int | None = None
    status_description: str | None = None
    reference_id: str | None = None
    submitted_at: str | None = None


@dataclass(frozen=True)
class RunInfo:
    id: int
    command: str
    started_at: str
    finished_at: str | None
    exit_code: int | None
    counts: dict[str, int]


class Ledger:
    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=30000")

    @classmethod
    def open(cls, folder: Path, campaign_id: str) -> Ledger:
        """Open the campaign's ledger, creating it atomically: the schema is written to a temporary
        file that is then linked into place, so a crash never leaves a half-made ledger and two
        processes never both create one."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LEDGER_FILE
        if not path.exists():
            with atomic_path(path, keep_existing=True) as temp:  # another process made it first: use theirs
                db = sqlite3.connect(temp, isolation_level=None)
                db.executescript(SCHEMA)
                db.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?), ('campaign_id', ?)",
                    (str(SCHEMA_VERSION), campaign_id),
                )
                db.close()
        try:
            ledger = cls(path)
            stored = ledger.meta("campaign_id")
        except (sqlite3.DatabaseError, OSError) as error:  # a folder in its place, a damaged file
            raise LedgerUnusable(
                f"{path}: not a readable campaign ledger ({error}); move it aside to start the campaign "
                "afresh (its messages would then be sent again), or restore it from a backup"
            ) from None
        if stored != campaign_id:
            ledger.close()
            raise LedgerUnusable(
                f"{path} is the ledger of campaign {stored!r}, not {campaign_id!r}: was the campaign's id "
                "changed, or --outputs pointed at another campaign's folder?"
            )
        return ledger

    @classmethod
    def open_existing(cls, folder: Path, campaign_id: str) -> Ledger | None:
        """The campaign's ledger if a send ever made one, else None (reading never creates one)."""
        return cls.open(folder, campaign_id) if (folder / LEDGER_FILE).exists() else None

    def close(self) -> None:
        self.db.close()

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value)
        )

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, command: str) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (command, pid, started_at) VALUES (?, ?, ?)", (command, os.getpid(), now())
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_run(self, run_id: int, exit_code: int, counts: dict[str, int]) -> None:
        self.db.execute(
            "UPDATE runs SET finished_at = ?, exit_code = ?, counts = ? WHERE id = ?",
            (now(), exit_code, json.dumps(counts), run_id),
        )

    def last_run(self, command: str | None = None) -> RunInfo | None:
        sql = "SELECT id, command, started_at, finished_at, exit_code, counts FROM runs"
        args: tuple[Any, ...] = ()
        if command:
            sql += " WHERE command = ?"
            args = (command,)
        row = self.db.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        return RunInfo(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]) if row[5] else {})

    # -- the audience of a run ----------------------------------------------------------------

    def sync(
        self, run_id: int, items: Iterable[Planned | SkippedRow], fingerprint: str = "", batch: int = 2000
    ) -> None:
        """Record this run's audience in one transaction (the caller's exception rolls it back):
        new recipients become pending; recipients not yet sent take the current body and phone
        (edited texts apply to messages not yet sent); sent ones keep the body they were sent
        with; recipients removed from the file are left alone and not sent."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM skipped")
            planned: list[tuple[Any, ...]] = []
            skipped: list[tuple[Any, ...]] = []
            for item in items:
                if isinstance(item, Planned):
                    planned.append(
                        (
                            item.key,
                            item.position,
                            run_id,
                            item.external_id,
                            item.recipient_id,
                            item.phone,
                            item.body.decode("utf-8"),
                        )
                    )
                else:
                    skipped.append((item.position, item.recipient_id, item.phone, item.state, item.reason))
                if len(planned) >= batch or len(skipped) >= batch:
                    self._write_audience(planned, skipped)
                    planned, skipped = [], []
            self._write_audience(planned, skipped)
            self._set_meta("audience_run", str(run_id))
            self._set_meta("source_fingerprint", fingerprint)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _write_audience(self, planned: list[tuple[Any, ...]], skipped: list[tuple[Any, ...]]) -> None:
        self.db.executemany(
            """INSERT INTO messages (key, position, seen_run, external_id, recipient_id, phone, state, body)
               VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)
               ON CONFLICT(key) DO UPDATE SET
                 position = excluded.position,
                 seen_run = excluded.seen_run,
                 recipient_id = excluded.recipient_id,
                 phone = CASE WHEN state IN ('pending', 'failed', 'expired') THEN excluded.phone ELSE phone END,
                 body = CASE WHEN state IN ('pending', 'failed', 'expired') THEN excluded.body ELSE body END,
                 state = CASE WHEN state = 'expired' THEN 'pending' ELSE state END""",
            planned,
        )
        self.db.executemany("INSERT OR REPLACE INTO skipped VALUES (?, ?, ?, ?, ?)", skipped)

    def audience_run(self) -> int | None:
        value = self.meta("audience_run")
        return int(value) if value else None

    def expire(self, run_id: int) -> int:
        """After the schedule's end: what was never sent is `expired`."""
        cur = self.db.execute(
            "UPDATE messages SET state = 'expired', updated_at = ? "
            "WHERE seen_run = ? AND state IN ('pending', 'failed')",
            (now(), run_id),
        )
        return cur.rowcount

    # -- sending -----------------------------------------------------------------------------

    def sendable(self, run_id: int, states: Sequence[str], after_position: int, limit: int) -> list[Sendable]:
        marks = ",".join("?" * len(states))
        rows = self.db.execute(
            f"""SELECT key, position, external_id, body, state FROM messages
                WHERE seen_run = ? AND position > ? AND state IN ({marks})
                ORDER BY position LIMIT ?""",
            (run_id, after_position, *states, limit),
        ).fetchall()
        return [Sendable(r[0], r[1], r[2], r[3].encode("utf-8"), r[4]) for r in rows]

    def commit(
        self,
        claims: Sequence[tuple[str, Sequence[str]]],
        outcomes: Sequence[Outcome],
        releases: Sequence[tuple[str, str]] = (),
    ) -> list[bool]:
        """One transaction: record outcomes; give back claims whose request never left (key, the
        state it had); then claim messages (state -> sending, attempts + 1) if they are still in
        one of the given states. Returns, per claim, whether it was taken."""
        db = self.db
        stamp = now()
        taken: list[bool] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            if releases:
                db.executemany(
                    "UPDATE messages SET state = ?, attempts = attempts - 1, updated_at = ? "
                    "WHERE key = ? AND state = 'sending'",
                    [(state, stamp, key) for key, state in releases],
                )
            if outcomes:
                db.executemany(
                    """UPDATE messages SET state = ?, http_status = ?, status_code = ?, status_description = ?,
                         reference_id = COALESCE(?, reference_id), submitted_at = COALESCE(?, submitted_at),
                         updated_at = ?
                       WHERE key = ?""",
                    [
                        (
                            o.state,
                            o.http_status,
                            o.status_code,
                            o.status_description,
                            o.reference_id,
                            o.submitted_at,
                            stamp,
                            o.key,
                        )
                        for o in outcomes
                    ],
                )
            for key, states in claims:
                marks = ",".join("?" * len(states))
                cur = db.execute(
                    "UPDATE messages SET state = 'sending', attempts = attempts + 1, updated_at = ? "
                    f"WHERE key = ? AND state IN ({marks})",
                    (stamp, key, *states),
                )
                taken.append(cur.rowcount == 1)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return taken

    def record_test_send(
        self,
        key: str,
        phone: str,
        http_status: int | None,
        status_code: int | None,
        reference_id: str | None,
        body: bytes,
    ) -> None:
        self.db.execute(
            "INSERT INTO test_sends (sent_at, recipient_key, phone, http_status, status_code, reference_id, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now(), key, phone, http_status, status_code, reference_id, body.decode("utf-8")),
        )

    # -- callbacks ---------------------------------------------------------------------------
    #
    # `enrich` (runner.callbacks.enrichment) merges callbacks in memory and writes here, for each message it
    # touched, the winners' fields into the message's delivery columns and, in DELIVERIES, what a
    # later enrichment needs to go on merging where this one stopped.

    @contextmanager
    def enriching(self) -> Iterator[None]:
        """For the length of an enrichment: DELIVERIES exists (a ledger made before it gets it), and
        commits are synchronous=NORMAL: in WAL mode that still never corrupts the ledger, but a power
        cut may undo the last commits, which only ever hold what the callback logs still hold and the
        next `enrich` reads again. Claims (`commit`) keep FULL: it is set back on the way out."""
        self.db.execute(DELIVERIES)
        self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            self.db.execute("PRAGMA synchronous=FULL")

    def next_arrival(self) -> int:
        """The arrival number of the next callback read: they go on across enrichments."""
        stored = self.meta("callback_arrivals")
        if stored is not None:
            return int(stored)
        if self._has_legacy_callbacks():
            row = self.db.execute("SELECT MAX(arrival) FROM callbacks").fetchone()
            return 0 if row[0] is None else int(row[0]) + 1
        return 0

    def has_deliveries(self) -> bool:
        return bool(self.db.execute("SELECT EXISTS (SELECT 1 FROM deliveries)").fetchone()[0])

    def messages_by_reference(self, references: Collection[str]) -> list[tuple[str, int]]:
        """(reference_id, rowid) of the messages with these reference_ids, lowest rowid first (the
        index answers alone: enrichment asks this for every message)."""
        return self.db.execute(
            "SELECT reference_id, rowid FROM messages "
            "WHERE reference_id IN (SELECT value FROM json_each(?)) ORDER BY rowid DESC",
            (json.dumps(list(references)),),
        ).fetchall()

    def messages_by_external_id(self, external_ids: Collection[str]) -> list[tuple[str, int, str | None]]:
        """(external_id, rowid, reference_id) of the messages with these external_ids."""
        return self.db.execute(
            "SELECT external_id, rowid, reference_id FROM messages "
            "WHERE external_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(external_ids)),),
        ).fetchall()

    def stored_deliveries(self, rowids: Collection[int]) -> list[StoredDelivery]:
        """What earlier enrichments merged for these messages (those that have anything)."""
        rows = self.db.execute(
            """SELECT m.rowid, m.delivery_status_code, m.delivery_status_description, m.last_channel,
                      m.viber_status_code, m.viber_status_description, m.sms_status_code, m.sms_status_description,
                      m.status_updated_on, d.seen, d.status_order, d.status_arrival, d.viber_order, d.viber_arrival,
                      d.sms_order, d.sms_arrival, d.other_channels
               FROM messages m JOIN deliveries d ON d.message_key = m.key
               WHERE m.rowid IN (SELECT value FROM json_each(?))""",
            (json.dumps(list(rowids)),),
        )
        return [StoredDelivery(*row) for row in rows]

    def save_deliveries(self, rows: Iterable[MergedDelivery], next_arrival: int, drop_legacy: bool = False) -> int:
        """One transaction: each message's merged delivery into its columns and into DELIVERIES
        (pass `rows` in rowid order: the writes then walk the table once). A callback proves that
        Telesign accepted the message: one still `unknown` or `sending` (its answer was lost), or
        failed, pending or expired, becomes accepted and is never resent. Returns how many were
        settled so."""
        db = self.db
        stamp = now()
        settled = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            for chunk in _chunks(rows, 1000):
                db.executemany(
                    """UPDATE messages SET reference_id = COALESCE(reference_id, ?),
                         delivery_status_code = ?, delivery_status_description = ?, last_channel = ?,
                         viber_status_code = ?, viber_status_description = ?, sms_status_code = ?,
                         sms_status_description = ?, status_updated_on = ?, callbacks = ?, updated_at = ?
                       WHERE rowid = ?""",
                    [(*r[1:11], stamp, r.rowid) for r in chunk],
                )
                db.executemany(
                    """INSERT OR REPLACE INTO deliveries VALUES
                         ((SELECT key FROM messages WHERE rowid = ?), ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [(r.rowid, *r[11:]) for r in chunk],
                )
                settled += db.execute(
                    f"""UPDATE messages SET state = 'accepted'
                        WHERE state IN ({_SETTLED_FROM}) AND rowid IN (SELECT value FROM json_each(?))""",
                    (json.dumps([r.rowid for r in chunk]),),
                ).rowcount
            self._set_meta("callback_arrivals", str(next_arrival))
            if drop_legacy:
                db.execute("DROP TABLE IF EXISTS callbacks")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return settled

    def _has_legacy_callbacks(self) -> bool:
        return (
            self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'callbacks'").fetchone()
            is not None
        )

    def legacy_callbacks(self) -> Iterator[tuple[str, int, str, int, str]]:
        """Callbacks a ledger made before DELIVERIES keeps (a table `callbacks`, one row per distinct
        callback with its payload): (digest, arrival, source, line, payload), in arrival order, for
        enrichment to merge once; `save_deliveries(drop_legacy=True)` then drops the table."""
        if not self._has_legacy_callbacks():
            return iter(())
        return iter(self.db.execute("SELECT digest, arrival, source, line, payload FROM callbacks ORDER BY arrival"))

    # -- reading -----------------------------------------------------------------------------

    def counts(self, run_id: int | None = None) -> dict[str, int]:
        """Messages by state in the run's audience (default: the last synced one), plus its skipped rows."""
        run_id = run_id if run_id is not None else self.audience_run()
        counts = {state: 0 for state in STATES}
        if run_id is None:
            return counts
        for state, n in self.db.execute(
            "SELECT state, COUNT(*) FROM messages WHERE seen_run = ? GROUP BY state", (run_id,)
        ):
            counts[state] = n
        for state, n in self.db.execute("SELECT state, COUNT(*) FROM skipped GROUP BY state"):
            counts[state] = counts.get(state, 0) + n
        return counts

    def delivery_counts(self) -> dict[str, int]:
        run_id = self.audience_run()
        rows = self.db.execute(
            """SELECT delivery_status_code, last_channel, viber_status_code, sms_status_code, COUNT(*) FROM messages
               WHERE seen_run = ? AND state = 'accepted' GROUP BY 1, 2, 3, 4""",
            (run_id,),
        ).fetchall()
        tally = {
            "accepted": 0,
            "with_callbacks": 0,
            "delivered_viber": 0,
            "delivered_sms": 0,
            "read": 0,
            "failed": 0,
            "in_progress": 0,
        }
        for code, channel, _viber, _sms, n in rows:
            tally["accepted"] += n
            if code is None:
                tally["in_progress"] += n
                continue
            tally["with_callbacks"] += n
            if code == 3005:
                tally["read"] += n
            if code in (3000, 3005):
                tally["delivered_sms" if channel == "sms" else "delivered_viber"] += n
            elif code in (3003, 3006, 3055) or (code not in (3001, 3002, 3056)):
                tally["failed"] += n
            else:
                tally["in_progress"] += n
        return tally

    def report_rows(self) -> Iterator[tuple[Any, ...]]:
        """The last run's audience in order, as report rows (runner.report.csv.COLUMNS): messages and
        skipped rows (their reason as status_description) merged by audience position."""
        run_id = self.audience_run()
        if run_id is None:
            return
        messages = self.db.execute(
            """SELECT position, reference_id, external_id, recipient_id, phone, state, http_status, status_code,
                      status_description, attempts, submitted_at, delivery_status_code, delivery_status_description,
                      last_channel, viber_status_code, viber_status_description, sms_status_code,
                      sms_status_description, status_updated_on, callbacks
               FROM messages WHERE seen_run = ? ORDER BY position""",
            (run_id,),
        )
        skipped = self.db.cursor().execute(
            """SELECT position, NULL, NULL, recipient_id, phone, state, NULL, NULL, reason, NULL, NULL,
                      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
               FROM skipped ORDER BY position"""
        )
        for row in heapq.merge(messages, skipped, key=lambda row: int(row[0])):
            yield row[1:]
