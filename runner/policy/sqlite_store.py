"""The recipient store in `<outputs>/recipients.sqlite` (the default; runner.policy.store has the
interface and the queries): WAL, synchronous=FULL, one writer at a time by SQLite's own write
lock, shared by every campaign sending from that outputs folder."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from runner.errors import CannotProceed
from runner.policy.store import APPEND_ONLY, STORE_FILE, Row, StoreQueries, tables

SCHEMA = (
    ";\n".join(
        [
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            *tables("INTEGER PRIMARY KEY"),
            f"""CREATE TRIGGER IF NOT EXISTS opt_events_no_update BEFORE UPDATE ON opt_events
            BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS opt_events_no_delete BEFORE DELETE ON opt_events
            BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""",
        ]
    )
    + ";"
)


class SqliteConnection:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        # Several senders and the receiver open this one file. When two connections switch a new
        # file to WAL or create its tables at once, SQLite answers "database is locked" at once
        # rather than call its busy handler (it would deadlock), so waiting is ours to do.
        _patiently(lambda: self.db.execute("PRAGMA journal_mode=WAL"))
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=30000")
        _patiently(lambda: self.db.executescript(SCHEMA))

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        return self.db.execute(sql, params).rowcount

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self.db.execute(sql, params).fetchall()

    def run_many(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        self.db.execute("BEGIN IMMEDIATE")  # one transaction (one fsync) for the batch
        try:
            self.db.executemany(sql, rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


class SqliteRecipientStore(StoreQueries):
    def __init__(self, path: Path):
        super().__init__(SqliteConnection(path))
        self.path = path

    @classmethod
    def in_outputs(cls, outputs: Path) -> SqliteRecipientStore:
        return cls(outputs / STORE_FILE)


def open_sqlite_store(outputs: Path) -> SqliteRecipientStore:
    try:
        return SqliteRecipientStore.in_outputs(outputs)
    except (sqlite3.Error, OSError) as error:
        raise CannotProceed(
            f"{outputs / STORE_FILE}: cannot open the opt-out store ({error}); nothing was sent. "
            "If another program holds it, try again; if it is damaged, restore it from a backup"
        ) from None


def _patiently(step: Callable[[], object], seconds: float = 30.0) -> None:
    """Run a statement that SQLite may refuse at once with "database is locked" while another
    connection sets the same file up; try again for up to SECONDS."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
