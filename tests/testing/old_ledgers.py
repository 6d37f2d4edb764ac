"""Ledgers laid out as versions before the delivery columns moved to `deliveries` (SQLite version
6, PostgreSQL schema 3: each message's delivery columns on its own `messages` row), made from a
ledger of today, for the tests of the migration that moves them (runner.ledger.moved)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from runner.ledger.moved import MOVED_COLUMN_NAMES, MOVED_COLUMNS

_NAMES = ", ".join(MOVED_COLUMN_NAMES)


def back_to_the_old_layout_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    for column in MOVED_COLUMNS:
        db.execute(f"ALTER TABLE messages ADD COLUMN {column}")
    db.execute(
        f"""UPDATE messages SET ({_NAMES}) = (SELECT {_NAMES} FROM deliveries WHERE message_key = messages.key)
            WHERE key IN (SELECT message_key FROM deliveries)"""
    )
    for name in MOVED_COLUMN_NAMES:
        db.execute(f"ALTER TABLE deliveries DROP COLUMN {name}")
    db.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    db.commit()
    db.close()


def back_to_the_old_layout_postgres(url: str) -> None:
    import psycopg

    of_deliveries = ", ".join("d." + name for name in MOVED_COLUMN_NAMES)
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("ALTER TABLE messages " + ", ".join(f"ADD COLUMN {column}" for column in MOVED_COLUMNS))
        conn.execute(
            f"UPDATE messages m SET ({_NAMES}) = (SELECT {of_deliveries}) FROM deliveries d WHERE d.message_id = m.id"
        )
        conn.execute("ALTER TABLE deliveries " + ", ".join(f"DROP COLUMN {name}" for name in MOVED_COLUMN_NAMES))
        conn.execute("UPDATE ledger_schema SET version = 3")
