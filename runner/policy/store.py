"""The repository's memory of its recipients, beside the campaigns' ledgers: opt-outs (who replied
STOP, or was opted out by hand, and who opted back in) and the contact history (which phone was
sent which accepted message, when), shared by every campaign sending from one outputs folder, or,
with a shared ledger (CAMPAIGN_LEDGER_URL), by every campaign and host using that database
(docs/policy.md, "Opt-outs" and "Frequency caps"; docs/scaling-out.md).

`RecipientStore` is the interface the sender, the receiver, enrichment and `campaign optouts` use.
Its queries are written once (`StoreQueries`) over a small connection adapter per backend:
SQLite in `<outputs>/recipients.sqlite` (runner.policy.sqlite_store), or the tables of the shared
PostgreSQL ledger (runner.ledger.postgres.recipients, imported only then). Opt-outs are append-only
events (triggers refuse an UPDATE or DELETE): a phone's state is its latest event, so nothing is
ever rewritten and the history of who asked what, when, stays for an audit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

STORE_FILE = "recipients.sqlite"
Action = Literal["opt_out", "opt_in"]
Source = Literal["reply", "manual"]

# The store's tables, for both backends: {id} is the backend's own auto-numbered key. Changing them
# takes a new step for each (runner.policy.sqlite_store; a new migration in runner.ledger.postgres.schema).
TABLES = """
CREATE TABLE IF NOT EXISTS opt_events (
    id {id},
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
APPEND_ONLY = "opt-out events are append-only"


def tables(id_column: str) -> list[str]:
    """The store's tables and indexes as statements, with the backend's key column."""
    text = TABLES.format(id=id_column)
    lines = [line.split("--", 1)[0].rstrip() for line in text.splitlines()]  # (comments: for the reader)
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


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

    def last_event_at(self, phone: str) -> datetime | None:
        """When the phone's latest opt-out or opt-in event says the person asked, if any."""
        ...

    def opted_out_among(self, phones: Iterable[str]) -> dict[str, OptOut]: ...

    def opted_out_all(self) -> Iterator[OptOut]: ...

    def events(self) -> Iterator[OptEvent]: ...

    def opt_ins(self) -> int:
        """How many opt-in events were ever recorded (they only grow: the events are append-only)."""
        ...

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


Row = Sequence[Any]


class Connection(Protocol):
    """What the queries need of a backend's connection; SQL uses `?` placeholders."""

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Execute one statement; the number of rows it changed."""
        ...

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    def run_many(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        """Execute one statement for each row, in one transaction (one commit for the batch)."""
        ...

    def close(self) -> None: ...


def stamp(moment: datetime) -> str:
    """Times are stored as text, UTC to the millisecond: they sort as they compare."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_CONTACT = "SELECT external_id, phone, campaign, message_type, reference_id, accepted_at FROM contacts"
# The latest event of each phone decides: by the time the person asked, then by the order recorded.
_LATEST = """SELECT phone, action, at, source, campaign FROM opt_events e
    WHERE id = (SELECT id FROM opt_events WHERE phone = e.phone ORDER BY at DESC, id DESC LIMIT 1)"""
_LATEST_OF = (
    "SELECT phone, action, at, source, campaign FROM opt_events WHERE phone = ? ORDER BY at DESC, id DESC LIMIT 1"
)


class StoreQueries:
    """The recipient store's queries, the same for both backends (the SQL both understand)."""

    def __init__(self, db: Connection):
        self.db = db

    def close(self) -> None:
        self.db.close()

    def record(self, event: OptEvent) -> bool:
        changed = self.db.run(
            """INSERT INTO opt_events (event_key, phone, action, at, source, campaign, reference_id, note, recorded_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_key) DO NOTHING""",
            (
                event.event_key, event.phone, event.action, stamp(event.at), event.source, event.campaign,
                event.reference_id, event.note, stamp(datetime.now(UTC)),
            ),
        )  # fmt: skip
        return changed == 1

    def opted_out(self, phone: str) -> OptOut | None:
        found = self.db.rows(_LATEST_OF, (phone,))
        return opt_out_of(found[0]) if found else None

    def last_event_at(self, phone: str) -> datetime | None:
        found = self.db.rows("SELECT MAX(at) FROM opt_events WHERE phone = ?", (phone,))
        return moment(found[0][0]) if found and found[0][0] else None

    def opted_out_among(self, phones: Iterable[str]) -> dict[str, OptOut]:
        found: dict[str, OptOut] = {}
        for phone in set(phones):
            out = self.opted_out(phone)
            if out is not None:
                found[phone] = out
        return found

    def opted_out_all(self) -> Iterator[OptOut]:
        for row in self.db.rows(_LATEST + " ORDER BY phone"):
            out = opt_out_of(row)
            if out is not None:
                yield out

    def events(self) -> Iterator[OptEvent]:
        for key, phone, action, at, source, campaign, reference, note in self.db.rows(
            "SELECT event_key, phone, action, at, source, campaign, reference_id, note FROM opt_events ORDER BY id"
        ):
            yield OptEvent(key, phone, action, moment(at), source, campaign, reference, note)

    def opt_ins(self) -> int:
        rows = self.db.rows("SELECT COUNT(*) FROM opt_events WHERE action = 'opt_in'")
        return int(rows[0][0])

    def record_reply(self, reply: ReplyRecord) -> bool:
        changed = self.db.run(
            "INSERT INTO replies VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_key) DO NOTHING",
            (reply.event_key, reply.phone, stamp(reply.at), reply.campaign, reply.reference_id, reply.meaning),
        )
        return changed == 1

    def replies_to(self, campaign: str) -> dict[str, tuple[int, bool]]:
        rows = self.db.rows(
            """SELECT phone, COUNT(*), MAX(CASE WHEN meaning = 'opt_out' THEN 1 ELSE 0 END) FROM replies
               WHERE campaign = ? GROUP BY phone""",
            (campaign,),
        )
        return {phone: (int(n), bool(stop)) for phone, n, stop in rows}

    def record_contacts(self, contacts: Iterable[Contact]) -> None:
        rows = [contact_row(c) for c in contacts]
        if rows:
            self.db.run_many(RECORD_CONTACT, rows)

    def contacts_since(self, phone: str, since: datetime, message_type: str = "MKT") -> list[datetime]:
        rows = self.db.rows(
            """SELECT accepted_at FROM contacts WHERE phone = ? AND accepted_at > ? AND message_type = ?
               ORDER BY accepted_at""",
            (phone, stamp(since), message_type),
        )
        return [moment(r[0]) for r in rows]

    def contact_by_reference(self, reference_id: str) -> Contact | None:
        return _contact(self.db.rows(_CONTACT + " WHERE reference_id = ? LIMIT 1", (reference_id,)))

    def last_contact(self, phone: str) -> Contact | None:
        return _contact(self.db.rows(_CONTACT + " WHERE phone = ? ORDER BY accepted_at DESC LIMIT 1", (phone,)))


def _contact(rows: list[Row]) -> Contact | None:
    if not rows:
        return None
    row = rows[0]
    return Contact(row[0], row[1], row[2], row[3], row[4], moment(row[5]))


# A contact, taken twice (a message settled again by callbacks), is one row. Also written by the
# shared ledger's claim transaction itself (runner.ledger.postgres.claims).
RECORD_CONTACT = """INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (external_id) DO UPDATE SET
                     reference_id = COALESCE(excluded.reference_id, contacts.reference_id)"""


def contact_row(c: Contact) -> tuple[object, ...]:
    return (c.external_id, c.phone, c.campaign, c.message_type, c.reference_id, stamp(c.accepted_at))


def opt_out_of(row: Row) -> OptOut | None:
    if row[1] != "opt_out":
        return None
    source: Source = "reply" if row[3] == "reply" else "manual"
    return OptOut(row[0], moment(row[2]), source, row[4])


def open_store(outputs: Path, url: str | None) -> RecipientStore:
    """The recipient store: in the shared ledger's database when there is one (`url`, from
    runner.ledger.backend.shared_ledger_url), else `<outputs>/recipients.sqlite`. Made if missing;
    an unusable store is a CannotProceed (one line, exit 4)."""
    if url is not None:
        from runner.ledger.postgres.recipients import open_postgres_store

        return open_postgres_store(url)
    from runner.policy.sqlite_store import open_sqlite_store

    return open_sqlite_store(outputs)


def read_store(outputs: Path | None, url: str | None) -> RecipientStore | None:
    """The recipient store for reading (plan, status, forecasts), or None if there is none yet:
    reading never makes one."""
    if url is not None:
        from runner.ledger.postgres.recipients import read_postgres_store

        return read_postgres_store(url)
    return open_store(outputs, None) if outputs is not None and (outputs / STORE_FILE).is_file() else None


def where(outputs: Path, url: str | None) -> str:
    """Where the store is, for messages (never a password)."""
    if url is None:
        return str(outputs / STORE_FILE)
    from runner.ledger.backend import describe

    return "the shared ledger " + describe(outputs, url)
