"""A ledger from before the delivery columns moved (SQLite version 6, PostgreSQL schema 3: each
message's delivery columns on its own `messages` row) is migrated in place, and enrichment goes on
merging from what it held: the report is byte for byte the one a ledger never migrated gives."""

from __future__ import annotations

from pathlib import Path

from runner.callbacks.enrichment import enrich
from runner.ledger.backend import open_ledger, shared_ledger_url
from runner.ledger.sqlite import schema
from tests.enrich.test_report_unchanged import FIXTURE, logs, make_ledger
from tests.fixtures.ledger import LedgerBackend
from tests.testing.old_ledgers import back_to_the_old_layout_postgres, back_to_the_old_layout_sqlite


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
