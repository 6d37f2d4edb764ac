"""The repository's memory of its recipients, beside the campaigns' ledgers: opt-outs (who replied
STOP, or was opted out by hand, and who opted back in) and the contact history (which phone was
sent which accepted message, when), shared by every campaign sending from one outputs folder
(docs/policy.md, "Opt-outs" and "Frequency caps").

`RecipientStore` is the interface the sender, the receiver, enrichment and `campaign optouts` use;
`SqliteRecipientStore` keeps it in `<outputs>/recipients.sqlite` (WAL, synchronous=FULL, one writer
at a time by SQLite's own write lock). Opt-outs are append-only events (triggers refuse an UPDATE or
DELETE): a phone's state is its latest event, so nothing is ever rewritten and the history of who
asked what, when, stays for an audit. A PostgreSQL backend implements the same interface."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from runner.errors import CannotProceed

STORE_FILE = "recipients.sqlite"
Action = Literal["opt_out", "opt_in"]
Source = Literal["reply", "manual"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS opt_events (
    id INTEGER PRIMARY KEY,
    event_key TEXT NOT NULL UNIQUE,     -- the callback's digest, or a manual event's own id: once each
    phone TEXT NOT NULL,                -- E.164
    action TEXT NOT NULL CHECK (action IN ('opt_out', 'opt_in')),
    at TEXT NOT NULL,                   -- when the person asked (the reply's time), UTC
    source TEXT NOT NULL CHECK (source IN ('reply', 'manual')),
    campaign TEXT,                      -- the campaign replied to, where known
    reference_id TEXT,                  -- the message replied to, where known
    note TEXT,                          -- the keyword or Telesign's action; never the reply's text
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS opt_events_by_phone ON opt_events (phone, at, id);
CREATE TRIGGER IF NOT EXISTS opt_events_no_update BEFORE UPDATE ON opt_events
    BEGIN SELECT RAISE(ABORT, 'opt-out events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS opt_events_no_delete BEFORE DELETE ON opt_events
    BEGIN SELECT RAISE(ABORT, 'opt-out events are append-only'); END;
-- Every reply (MO message) joined to a campaign: counted in reports; its text is never kept.
CREATE TABLE IF NOT EXISTS replies (
    event_key TEXT PRIMARY KEY,
    phone TEXT NOT NULL,
    at TEXT NOT NULL,
    campaign TEXT,
    reference_id TEXT,
    meaning TEXT NOT NULL               -- opt_out, opt_in, other
);
CREATE INDEX IF NOT EXISTS replies_by_campaign ON replies (campaign, phone);
CREATE TABLE IF NOT EXISTS contacts (
    external_id TEXT PRIMARY KEY,       -- one row per accepted message
    phone TEXT NOT NULL,
    campaign TEXT NOT NULL,
    message_type TEXT NOT NULL,
    reference_id TEXT,
    accepted_at TEXT NOT NULL           -- UTC
);
CREATE INDEX IF NOT EXISTS contacts_by_phone ON contacts (phone, accepted_at);
CREATE INDEX IF NOT EXISTS contacts_by_reference ON contacts (reference_id);
"""


@dataclass(frozen=True)
class OptEvent:
    event_key: str
    phone: str
    action: Action
    at: datetime
    source: Source
    campaign: str | None = None
    reference_id: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Contact:
    external_id: str
    phone: str
    campaign: str
    message_type: str
    reference_id: str | None
    accepted_at: datetime


@dataclass(frozen=True)
class OptOut:
    """A phone that is opted out now: its latest event."""

    phone: str
    at: datetime
    source: Source
    campaign: str | None

    @property
    def reason(self) -> str:
        """The suppression reason the report shows."""
        how = f"by a STOP reply to {self.campaign}" if self.source == "reply" else "by hand (campaign optouts add)"
        if self.source == "reply" and self.campaign is None:
            how = "by a STOP reply"
        return f"opted out {self.at.date().isoformat()} {how}"


@dataclass(frozen=True)
class ReplyRecord:
    event_key: str
    phone: str
    at: datetime
    campaign: str | None
    reference_id: str | None
    meaning: str


class RecipientStore(Protocol):
    def record(self, event: OptEvent) -> bool:
        """Append an opt-out or opt-in; False if that event (its key) was recorded before."""
        ...

    def opted_out(self, phone: str) -> OptOut | None: ...

    def opted_out_among(self, phones: Iterable[str]) -> dict[str, OptOut]: ...

    def opted_out_all(self) -> Iterator[OptOut]: ...

    def events(self) -> Iterator[OptEvent]: ...

    def record_reply(self, reply: ReplyRecord) -> bool:
        """Count a reply (never its text); False if seen before."""
        ...

    def replies_to(self, campaign: str) -> dict[str, tuple[int, bool]]:
        """phone -> (replies to this campaign, whether one of them opted out)."""
        ...

    def record_contacts(self, contacts: Iterable[Contact]) -> None: ...

    def contacts_since(self, phone: str, since: datetime, message_type: str = "MKT") -> list[datetime]: ...

    def contact_by_reference(self, reference_id: str) -> Contact | None: ...

    def last_contact(self, phone: str) -> Contact | None: ...

    def close(self) -> None: ...


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# The latest event of each phone decides: by the time the person asked, then by the order recorded.
_LATEST = """SELECT phone, action, at, source, campaign FROM opt_events e
    WHERE id = (SELECT id FROM opt_events WHERE phone = e.phone ORDER BY at DESC, id DESC LIMIT 1)"""


class SqliteRecipientStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        # Several senders and the receiver open this one file. When two connections switch a new
        # file to WAL or create its tables at once, SQLite answers "database is locked" at once
        # rather than call its busy handler (it would deadlock), so waiting is ours to do.
        _patiently(lambda: self.db.execute("PRAGMA journal_mode=WAL"))
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=30000")
        _patiently(lambda: self.db.executescript(SCHEMA))

    @classmethod
    def in_outputs(cls, outputs: Path) -> SqliteRecipientStore:
        return cls(outputs / STORE_FILE)

    def close(self) -> None:
        self.db.close()

    def record(self, event: OptEvent) -> bool:
        cur = self.db.execute(
            """INSERT INTO opt_events (event_key, phone, action, at, source, campaign, reference_id, note, recorded_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_key) DO NOTHING""",
            (
                event.event_key,
                event.phone,
                event.action,
                _stamp(event.at),
                event.source,
                event.campaign,
                event.reference_id,
                event.note,
                _stamp(datetime.now(UTC)),
            ),
        )
        return cur.rowcount == 1

    def opted_out(self, phone: str) -> OptOut | None:
        row = self.db.execute(
            """SELECT phone, action, at, source, campaign FROM opt_events WHERE phone = ?
               ORDER BY at DESC, id DESC LIMIT 1""",
            (phone,),
        ).fetchone()
        return _opt_out(row)

    def opted_out_among(self, phones: Iterable[str]) -> dict[str, OptOut]:
        found: dict[str, OptOut] = {}
        for phone in set(phones):
            out = self.opted_out(phone)
            if out is not None:
                found[phone] = out
        return found

    def opted_out_all(self) -> Iterator[OptOut]:
        for row in self.db.execute(_LATEST + " ORDER BY phone"):
            out = _opt_out(row)
            if out is not None:
                yield out

    def events(self) -> Iterator[OptEvent]:
        for key, phone, action, at, source, campaign, reference, note in self.db.execute(
            "SELECT event_key, phone, action, at, source, campaign, reference_id, note FROM opt_events ORDER BY id"
        ):
            yield OptEvent(key, phone, action, _moment(at), source, campaign, reference, note)

    def record_reply(self, reply: ReplyRecord) -> bool:
        cur = self.db.execute(
            "INSERT INTO replies VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(event_key) DO NOTHING",
            (reply.event_key, reply.phone, _stamp(reply.at), reply.campaign, reply.reference_id, reply.meaning),
        )
        return cur.rowcount == 1

    def replies_to(self, campaign: str) -> dict[str, tuple[int, bool]]:
        rows = self.db.execute(
            "SELECT phone, COUNT(*), MAX(meaning = 'opt_out') FROM replies WHERE campaign = ? GROUP BY phone",
            (campaign,),
        )
        return {phone: (int(n), bool(stop)) for phone, n, stop in rows}

    def record_contacts(self, contacts: Iterable[Contact]) -> None:
        rows = [
            (c.external_id, c.phone, c.campaign, c.message_type, c.reference_id, _stamp(c.accepted_at))
            for c in contacts
        ]
        if rows:
            self.db.execute("BEGIN IMMEDIATE")  # one transaction (one fsync) for the batch
            try:
                self._insert_contacts(rows)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _insert_contacts(self, rows: list[tuple[str, str, str, str, str | None, str]]) -> None:
        if rows:
            self.db.executemany(
                """INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(external_id) DO UPDATE SET
                     reference_id = COALESCE(excluded.reference_id, reference_id)""",
                rows,
            )

    def contacts_since(self, phone: str, since: datetime, message_type: str = "MKT") -> list[datetime]:
        rows = self.db.execute(
            """SELECT accepted_at FROM contacts WHERE phone = ? AND accepted_at > ? AND message_type = ?
               ORDER BY accepted_at""",
            (phone, _stamp(since), message_type),
        )
        return [_moment(r[0]) for r in rows]

    def contact_by_reference(self, reference_id: str) -> Contact | None:
        return _contact(self.db.execute(_CONTACT + " WHERE reference_id = ? LIMIT 1", (reference_id,)).fetchone())

    def last_contact(self, phone: str) -> Contact | None:
        return _contact(
            self.db.execute(_CONTACT + " WHERE phone = ? ORDER BY accepted_at DESC LIMIT 1", (phone,)).fetchone()
        )


_CONTACT = "SELECT external_id, phone, campaign, message_type, reference_id, accepted_at FROM contacts"


def _contact(row: tuple[str, str, str, str, str | None, str] | None) -> Contact | None:
    if row is None:
        return None
    return Contact(row[0], row[1], row[2], row[3], row[4], _moment(row[5]))


def _opt_out(row: tuple[str, str, str, str, str | None] | None) -> OptOut | None:
    if row is None or row[1] != "opt_out":
        return None
    source: Source = "reply" if row[3] == "reply" else "manual"
    return OptOut(row[0], _moment(row[2]), source, row[4])


def open_store(outputs: Path) -> RecipientStore:
    """The store for a repository's outputs folder (one backend today: SQLite)."""
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
