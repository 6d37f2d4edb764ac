"""Opening a SQLite ledger: a file that is not this campaign's, or is newer than this runner, is a
clear error (exit 4, no traceback); a ledger of an older version is migrated in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from runner.ledger.backend import open_ledger
from runner.ledger.sqlite import schema
from tests.sending.helpers import campaign, write_campaign


def make_old_ledger(folder: Path, campaign_id: str, version: int = 1) -> sqlite3.Connection:
    folder.mkdir(parents=True)
    db = sqlite3.connect(folder / schema.LEDGER_FILE)
    db.executescript(schema.SCHEMA)
    db.execute("INSERT INTO meta VALUES ('schema_version', ?), ('campaign_id', ?)", (str(version), campaign_id))
    db.commit()
    return db


def test_a_ledger_of_another_campaign_is_refused_by_name(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c", campaign_id="spring")
    out = tmp_path / "out"
    make_old_ledger(out / "spring", "autumn").close()
    result = campaign("status", str(file), "--outputs", str(out))
    assert result.exit_code == 4
    assert "ledger of campaign 'autumn', not 'spring'" in result.output


def test_a_ledger_from_a_newer_runner_is_refused(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c")
    out = tmp_path / "out"
    make_old_ledger(out / "test-campaign", "test-campaign", version=schema.SCHEMA_VERSION + 1).close()
    result = campaign("status", str(file), "--outputs", str(out))
    assert result.exit_code == 4
    assert "newer campaign-runner" in result.output


def test_a_ledger_of_the_first_version_is_migrated_and_enriched(tmp_path: Path) -> None:
    make_old_ledger(tmp_path / "c", "c").close()
    ledger = open_ledger(tmp_path / "c", "c")
    try:
        assert not ledger.deliveries.any_stored()  # the table the first version lacked is there
        assert ledger.deliveries.next_arrival() == 0
    finally:
        ledger.close()
    db = sqlite3.connect(tmp_path / "c" / schema.LEDGER_FILE)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(schema.SCHEMA_VERSION),)
