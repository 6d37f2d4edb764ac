"""The PostgreSQL ledger's tables and their versioned migrations, and connecting.

Everything lives in one schema: `campaign_runner`, or the first one the URL's
`options=-csearch_path=NAME` names. MIGRATIONS[n] takes the schema from version n to n + 1
(version 0: nothing there yet). Migrating runs in one transaction under an advisory lock, so two
hosts starting at once migrate once: the second waits, then finds the work done. To change the
schema, append a migration; never edit one that has shipped."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from runner.errors import LedgerUnavailable, LedgerUnusable, UsageProblem
from runner.ledger.moved import MOVED_COLUMN_NAMES, MOVED_COLUMNS
from runner.policy.store import APPEND_ONLY, tables

DEFAULT_SCHEMA = "campaign_runner"
_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*([^\s,]+)")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the ledger of every campaign, as the SQLite ledger's tables with a campaign column.
    (
        """CREATE TABLE campaigns (
            campaign TEXT PRIMARY KEY,
            audience_run BIGINT,                -- the run whose audience was synced last
            source_fingerprint TEXT,            -- what the inputs were then
            callback_arrivals BIGINT,           -- arrival number of the next callback `enrich` reads
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE runs (
            id BIGSERIAL PRIMARY KEY,
            campaign TEXT NOT NULL REFERENCES campaigns,
            command TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            exit_code INTEGER,
            counts TEXT,
            campaign_commit TEXT,               -- git provenance (docs/plan.md)
            tree_dirty BOOLEAN,
            plan_fingerprint TEXT
        )""",
        "CREATE INDEX runs_by_campaign ON runs (campaign, command, id)",
        """CREATE TABLE messages (
            id BIGSERIAL PRIMARY KEY,
            campaign TEXT NOT NULL REFERENCES campaigns,
            key TEXT NOT NULL,
            position INTEGER NOT NULL,
            seen_run BIGINT NOT NULL,
            external_id TEXT NOT NULL,
            recipient_id TEXT,
            phone TEXT NOT NULL,
            state TEXT NOT NULL,
            body TEXT NOT NULL,
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
            callbacks INTEGER NOT NULL DEFAULT 0,
            timezone TEXT,                      -- the recipient's time zones (docs/policy.md)
            not_before TEXT,                    -- a deferred message: not claimed before (UTC)
            campaign_commit TEXT,               -- that of the run whose sync last gave it its body
            price TEXT,                         -- what it cost, as Telesign reported it (docs/report.md)
            currency TEXT,
            sms_parts INTEGER,
            UNIQUE (campaign, key),
            UNIQUE (campaign, external_id)
        )""",
        "CREATE INDEX messages_by_run ON messages (campaign, seen_run, position)",
        "CREATE INDEX messages_by_reference ON messages (campaign, reference_id)",
        "CREATE INDEX messages_by_phone ON messages (campaign, phone)",
        """CREATE TABLE skipped (
            campaign TEXT NOT NULL REFERENCES campaigns,
            position INTEGER NOT NULL,
            recipient_id TEXT,
            phone TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (campaign, position)
        )""",
        """CREATE TABLE test_sends (
            id BIGSERIAL PRIMARY KEY,
            campaign TEXT NOT NULL REFERENCES campaigns,
            sent_at TEXT NOT NULL,
            recipient_key TEXT NOT NULL,
            phone TEXT NOT NULL,
            http_status INTEGER,
            status_code INTEGER,
            reference_id TEXT,
            body TEXT NOT NULL
        )""",
        """CREATE TABLE deliveries (
            message_id BIGINT PRIMARY KEY REFERENCES messages ON DELETE CASCADE,
            seen BYTEA NOT NULL,
            status_order BIGINT NOT NULL,
            status_arrival BIGINT NOT NULL,
            viber_order BIGINT,
            viber_arrival BIGINT,
            sms_order BIGINT,
            sms_arrival BIGINT,
            other_channels TEXT,
            price_order BIGINT,                 -- the order and arrival of the report the cost came from
            price_arrival BIGINT
        )""",
        # Shared pacing (runner.ledger.postgres.slots): the next free start time of each schedule.
        "CREATE TABLE pace (name TEXT PRIMARY KEY, next_slot DOUBLE PRECISION NOT NULL)",
    ),
    # 2: the recipient store (runner.policy.store): opt-outs, replies and the contact history,
    # shared by every campaign and host, as <outputs>/recipients.sqlite is without a shared ledger.
    (
        *tables("BIGSERIAL PRIMARY KEY"),
        f"""CREATE FUNCTION opt_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$""",
        """CREATE TRIGGER opt_events_no_change BEFORE UPDATE OR DELETE ON opt_events
           FOR EACH ROW EXECUTE FUNCTION opt_events_append_only()""",
        """CREATE TRIGGER opt_events_no_truncate BEFORE TRUNCATE ON opt_events
           FOR EACH STATEMENT EXECUTE FUNCTION opt_events_append_only()""",
    ),
    # 3: which run claimed a message last (runner.ledger.postgres.runs: a live run holds a lock on
    # its id), so a sender finishing beside others can tell their messages in flight from lost ones.
    ("ALTER TABLE messages ADD COLUMN claimed_run BIGINT",),
    # 4: a message's delivery columns move to its `deliveries` row (runner.ledger.records.Delivery):
    # an enrichment updated each wide `messages` row (a new row version, body and all) to change
    # ~100 bytes; now it writes narrow rows, and the report joins them (docs/callbacks.md).
    (
        "ALTER TABLE deliveries " + ", ".join(f"ADD COLUMN {column}" for column in MOVED_COLUMNS),
        f"""UPDATE deliveries d SET ({", ".join(MOVED_COLUMN_NAMES)}) =
              (SELECT {", ".join(MOVED_COLUMN_NAMES)} FROM messages m WHERE m.id = d.message_id)""",
        "ALTER TABLE messages " + ", ".join(f"DROP COLUMN {name}" for name in MOVED_COLUMN_NAMES),
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

T = TypeVar("T")


def schema_of(url: str) -> str:
    """The schema the ledger lives in, from the URL (see the module's docstring)."""
    try:
        options = conninfo_to_dict(url).get("options") or ""
    except psycopg.ProgrammingError as error:
        raise UsageProblem(f"CAMPAIGN_LEDGER_URL / --ledger: not a PostgreSQL URL ({error})") from None
    found = _SEARCH_PATH.search(str(options))
    return found.group(1).strip("\"'") if found else DEFAULT_SCHEMA


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


@contextmanager
def reported(url: str, connecting: bool = False) -> Iterator[None]:
    """A lost or refused connection becomes LedgerUnavailable (runner.errors): one line, no
    traceback. `connecting`: nothing was done yet, whatever the command (a send, status, optouts),
    so the line says only what to check; lost later, it says what became of a send."""
    try:
        yield
    except psycopg.OperationalError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if connecting:
            raise LedgerUnavailable(
                f"the ledger database {shown(url)} cannot be reached ({first}); nothing was done. Check "
                "CAMPAIGN_LEDGER_URL (or --ledger) and that the database accepts connections, then run again"
            ) from None
        raise LedgerUnavailable(
            f"the ledger database {shown(url)} cannot be reached ({first}); nothing more is sent. "
            "Messages whose answers could not be recorded stay 'sending' and are not resent; "
            "run again once the database is back"
        ) from None


def connect(url: str) -> psycopg.Connection[Any]:
    """A connection in autocommit mode (transactions are explicit), the schema made or migrated,
    and the search_path set to it."""
    schema = schema_of(url)
    with reported(url, connecting=True):
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10, fallback_application_name="campaign-runner")
        try:
            migrate(conn, schema)
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        except BaseException:
            conn.close()
            raise
    return conn


def connect_read_only(url: str) -> psycopg.Connection[Any] | None:
    """A connection whose transactions may only read (`campaign plan`), never migrating: None when
    no runner ever made the schema. A schema a newer runner wrote is refused, as by `connect`."""
    schema = schema_of(url)
    with reported(url, connecting=True):
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10, fallback_application_name="campaign-runner")
        try:
            conn.execute("SET default_transaction_read_only = on")
            found = conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'ledger_schema'",
                (schema,),
            ).fetchone()
            if found is None:
                conn.close()
                return None
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            row = conn.execute("SELECT version FROM ledger_schema").fetchone()
            _refuse_newer(schema, 0 if row is None else int(row[0]))
        except BaseException:
            conn.close()
            raise
    return conn


def _refuse_newer(schema: str, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise LedgerUnusable(
            f"the ledger schema {schema!r} was written by a newer campaign-runner (version {version}, this "
            f"one knows up to {SCHEMA_VERSION}): upgrade campaign-runner on this host"
        )


def migrate(conn: psycopg.Connection[Any], schema: str) -> None:
    name = sql.Identifier(schema)
    with conn.transaction():
        # (transaction-scoped: released at commit, or by the server if this process dies)
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('campaign-runner:migrate:' || %s))", (schema,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(name))
        conn.execute("CREATE TABLE IF NOT EXISTS ledger_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM ledger_schema").fetchone()
        version = 0 if row is None else int(row[0])
        _refuse_newer(schema, version)
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)  # (our own constant SQL)
        if row is None:
            conn.execute("INSERT INTO ledger_schema VALUES (%s)", (SCHEMA_VERSION,))
        elif version != SCHEMA_VERSION:
            conn.execute("UPDATE ledger_schema SET version = %s", (SCHEMA_VERSION,))


def retrying(fn: Callable[[], T], attempts: int = 3) -> T:
    """Run a transaction again when PostgreSQL aborted it as a deadlock victim (two writers
    locking the same messages in another order, e.g. `enrich` beside a sender): it had no effect."""
    for attempt in range(attempts):
        try:
            return fn()
        except psycopg.errors.DeadlockDetected:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
