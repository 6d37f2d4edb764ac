"""The SQLite ledger's tables, how a ledger file is made, and how an older one is brought up to
date: SCHEMA is version 1; MIGRATIONS[n] takes a ledger from version n + 1 to n + 2. A new
ledger is made at version 1 and migrated like any other, so there is one path to every version.

To change the schema: append a migration (a tuple of statements, run in one transaction with the
version's bump) and never edit one that has shipped."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runner.atomic import atomic_path
from runner.errors import LedgerUnusable
from runner.ledger.moved import MOVED_COLUMN_NAMES, MOVED_COLUMNS

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

# `messages` as migration 7 leaves it: SCHEMA's, with migrations 3 and 4's columns, without the
# delivery columns (a shipped migration never changes: written out).
_MESSAGES_AFTER_7 = ", ".join(
    (
        "key TEXT PRIMARY KEY",
        "position INTEGER NOT NULL",
        "seen_run INTEGER NOT NULL",
        "external_id TEXT NOT NULL UNIQUE",
        "recipient_id TEXT",
        "phone TEXT NOT NULL",
        "state TEXT NOT NULL",
        "body TEXT NOT NULL",
        "attempts INTEGER NOT NULL DEFAULT 0",
        "http_status INTEGER",
        "status_code INTEGER",
        "status_description TEXT",
        "reference_id TEXT",
        "submitted_at TEXT",
        "updated_at TEXT",
        "timezone TEXT",
        "not_before TEXT",
        "campaign_commit TEXT",
    )  # fmt: skip
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 2: per message that has callbacks, what `enrich` needs to go on merging them
    # (runner.callbacks.enrichment): the order of each winning status (runner.callbacks.rules.order_head,
    # then arrival) and which callbacks were merged. The winners' fields are the message's delivery
    # columns. (Ledgers of version 1 made this table at their first enrichment: IF NOT EXISTS.)
    (
        """CREATE TABLE IF NOT EXISTS deliveries (
        message_key TEXT PRIMARY KEY,
        seen BLOB NOT NULL,                 -- the first 8 bytes of each merged callback's sha256, end to end
        status_order INTEGER NOT NULL,
        status_arrival INTEGER NOT NULL,
        viber_order INTEGER,                -- NULL: no Viber status yet
        viber_arrival INTEGER,
        sms_order INTEGER,
        sms_arrival INTEGER,
        other_channels TEXT                 -- JSON {channel: [order, arrival, code, description]}
        ) WITHOUT ROWID""",
    ),
    # 3: the repository policy (docs/policy.md): each message's recipient time zones, and for a
    # deferred one the first moment it may be claimed (UTC).
    (
        "ALTER TABLE messages ADD COLUMN timezone TEXT",
        "ALTER TABLE messages ADD COLUMN not_before TEXT",
    ),
    # 4: git provenance (docs/plan.md, "Git provenance"): each run's campaign commit, whether the
    # work tree differed, the plan it applied; each message's campaign commit (that of the run whose
    # sync last gave it its body: the one it was, or will be, sent with).
    (
        "ALTER TABLE runs ADD COLUMN campaign_commit TEXT",
        "ALTER TABLE runs ADD COLUMN tree_dirty INTEGER",
        "ALTER TABLE runs ADD COLUMN plan_fingerprint TEXT",
        "ALTER TABLE messages ADD COLUMN campaign_commit TEXT",
    ),
    # 5: what each message cost, as Telesign's callbacks and status answers report it
    # (additional_info price, currency, message_parts_count), and the order of the report it came
    # from, so that a later enrichment goes on merging it (docs/report.md: price, currency).
    (
        "ALTER TABLE messages ADD COLUMN price TEXT",
        "ALTER TABLE messages ADD COLUMN currency TEXT",
        "ALTER TABLE messages ADD COLUMN sms_parts INTEGER",
        "ALTER TABLE deliveries ADD COLUMN price_order INTEGER",
        "ALTER TABLE deliveries ADD COLUMN price_arrival INTEGER",
    ),
    # 6: a phone this campaign already messaged is looked up by number at every sync
    # (runner.ledger.sqlite.audience; docs/reliability.md, "The phone is the identity").
    ("CREATE INDEX IF NOT EXISTS messages_by_phone ON messages (phone)",),
    # 7: a message's delivery columns move to its `deliveries` row (runner.ledger.records.Delivery):
    # an enrichment of 250,000 messages wrote each ~1 KB `messages` row again (its body and all) to
    # change ~100 bytes; now it writes narrow rows, and the report joins them (docs/callbacks.md).
    (
        *(f"ALTER TABLE deliveries ADD COLUMN {column}" for column in MOVED_COLUMNS),
        f"""UPDATE deliveries SET ({", ".join(MOVED_COLUMN_NAMES)}) =
              (SELECT {", ".join(MOVED_COLUMN_NAMES)} FROM messages WHERE messages.key = deliveries.message_key)""",
        # `messages` made again without them, in one copy: twelve DROP COLUMNs rewrite the table
        # twelve times (6.4 s once for a 250,000-message ledger, measured). SQLite's own recipe
        # for a schema change ALTER TABLE cannot make (sqlite.org/lang_altertable.html).
        f"CREATE TABLE messages_moved ({_MESSAGES_AFTER_7})",
        f"""INSERT INTO messages_moved SELECT {", ".join(c.split()[0] for c in _MESSAGES_AFTER_7.split(", "))}
              FROM messages""",
        "DROP TABLE messages",
        "ALTER TABLE messages_moved RENAME TO messages",
        "CREATE INDEX messages_by_run ON messages (seen_run, position)",
        "CREATE INDEX messages_by_reference ON messages (reference_id)",
        "CREATE INDEX messages_by_phone ON messages (phone)",
    ),
)
SCHEMA_VERSION = 1 + len(MIGRATIONS)


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit: `transaction`), WAL, and
    synchronous=FULL so that a committed claim survives even a power cut."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=30000")
    return db


def connect_read_only(path: Path) -> sqlite3.Connection:
    """For `campaign plan`, which reads a ledger a send may be writing: never a write, never a
    migration (what a plan reads is in every version's schema)."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=30)
    db.execute("PRAGMA busy_timeout=30000")
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE (the write lock at once, so two writers never deadlock upgrading), COMMIT,
    or ROLLBACK on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def get_meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


def create(folder: Path, campaign_id: str) -> Path:
    """The campaign's ledger file, made atomically if it does not exist: the schema is written to
    a temporary file that is then linked into place, so a crash never leaves a half-made ledger
    and two processes never both make one."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LEDGER_FILE
    if path.exists():
        return path
    with atomic_path(path, keep_existing=True) as temp:  # another process made it first: use theirs
        db = sqlite3.connect(temp, isolation_level=None)
        db.executescript(SCHEMA)
        db.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('campaign_id', ?)", (campaign_id,))
        db.close()
    return path


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the ledger to SCHEMA_VERSION (each step in its own transaction, under SQLite's write
    lock: two processes opening an old ledger at once migrate it once)."""
    while True:
        version = int(get_meta(db, "schema_version") or "1")
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise LedgerUnusable(
                f"{path} was written by a newer campaign-runner (ledger version {version}, this one knows "
                f"up to {SCHEMA_VERSION}): upgrade campaign-runner on this machine"
            )
        with transaction(db):
            if int(get_meta(db, "schema_version") or "1") != version:
                continue  # another process migrated meanwhile
            for statement in MIGRATIONS[version - 1]:
                db.execute(statement)
            set_meta(db, "schema_version", str(version + 1))
