"""A ledger from before the delivery columns moved (SQLite version 6, PostgreSQL schema 3: each
message's delivery columns on its own `messages` row) is migrated in place, and enrichment goes on
merging from what it held: the report is byte for byte the one a ledger never migrated gives."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from runner.callbacks.enrichment import enrich
from runner.ledger.backend import open_ledger, shared_ledger_url
from runner.ledger.moved import DELIVERY_COLUMNS
from runner.ledger.sqlite import schema
from tests.enrich.test_report_unchanged import FIXTURE, logs, make_ledger
from tests.fixtures.ledger import LedgerBackend

OLD_COLUMNS = DELIVERY_COLUMNS  # what `messages` had, as old versions made it
NAMES = ", ".join(column.split()[0] for column in OLD_COLUMNS)
OF_DELIVERIES = ", ".join("d." + column.split()[0] for column in OLD_COLUMNS)


def back_to_the_old_layout_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    for column in OLD_COLUMNS:
        db.execute(f"ALTER TABLE messages ADD COLUMN {column}")
    db.execute(
        f"""UPDATE messages SET ({NAMES}) = (SELECT {NAMES} FROM deliveries WHERE message_key = messages.key)
            WHERE key IN (SELECT message_key FROM deliveries)"""
    )
    for column in OLD_COLUMNS:
        db.execute(f"ALTER TABLE deliveries DROP COLUMN {column.split()[0]}")
    db.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    db.commit()
    db.close()


def back_to_the_old_layout_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("ALTER TABLE messages " + ", ".join(f"ADD COLUMN {column}" for column in OLD_COLUMNS))
        conn.execute(
            f"UPDATE messages m SET ({NAMES}) = (SELECT {OF_DELIVERIES}) FROM deliveries d WHERE d.message_id = m.id"
        )
        conn.execute("ALTER TABLE deliveries " + ", ".join(f"DROP COLUMN {c.split()[0]}" for c in OLD_COLUMNS))
        conn.execute("UPDATE ledger_schema SET version = 3")


def test_a_ledger_laid_out_before_the_move_is_migrated_and_goes_on_merging(
    tmp_path: Path, ledger_backend: LedgerBackend
) -> None:
    first, second = logs(tmp_path)
    ledger = make_ledger(tmp_path)
    try:
        enrich(ledger, first, tmp_path / "report.csv")
    finally:
        ledger.close()
    url = shared_ledger_url()
    if url is None:
        back_to_the_old_layout_sqlite(tmp_path / schema.LEDGER_FILE)
    else:
        back_to_the_old_layout_postgres(url)
    ledger = open_ledger(tmp_path, "test-campaign", url)  # migrates
    try:
        enrich(ledger, second, tmp_path / "report.csv")
    finally:
        ledger.close()
    assert (tmp_path / "report.csv").read_bytes() == FIXTURE.read_bytes()
