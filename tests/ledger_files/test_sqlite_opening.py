"""Opening a SQLite ledger: a file that is not this campaign's, or is newer than this runner, is a
clear error (exit 4, no traceback); a ledger of an older version is migrated in place."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from runner.callbacks.log import receiver_line
from runner.ledger.backend import open_ledger
from runner.ledger.moved import MOVED_COLUMN_NAMES
from runner.ledger.sqlite import schema
from runner.simulator.outcomes import status_payload
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, telesign_env, write_campaign
from tests.testing.old_ledgers import back_to_the_old_layout_sqlite


def make_old_ledger(folder: Path, campaign_id: str, version: int = 1) -> sqlite3.Connection:
    folder.mkdir(parents=True)
    db = sqlite3.connect(folder / schema.LEDGER_FILE)
    db.executescript(schema.SCHEMA)
    db.execute("INSERT INTO meta VALUES ('schema_version', ?), ('campaign_id', ?)", (str(version), campaign_id))
    db.commit()
    return db


def test_a_ledger_whose_messages_hold_their_delivery_columns_moves_them_and_reports_the_same(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[0, 1, 2])
    out = tmp_path / "out"
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    log = tmp_path / "cb.jsonl"
    with log.open("wb") as handle:
        for accepted in sim.app.accepted()[:2]:  # the third message has no callback: no deliveries row
            for change in accepted.changes:
                payload = status_payload(accepted.reference_id, accepted.external_id, change, accepted.accepted_at, 1.0)
                handle.write(receiver_line("2026-12-01T10:00:00Z", payload))
    assert campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out)).exit_code == 0
    report = out / "test-campaign" / "report.csv"
    before = report.read_bytes()
    back_to_the_old_layout_sqlite(out / "test-campaign" / schema.LEDGER_FILE)
    report.unlink()
    # the same log again: every callback is a repeat of one merged before the move
    assert campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out)).exit_code == 0
    assert report.read_bytes() == before
    db = sqlite3.connect(out / "test-campaign" / schema.LEDGER_FILE)
    columns = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
    assert not columns & set(MOVED_COLUMN_NAMES)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(schema.SCHEMA_VERSION),)


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


def test_a_ledger_from_before_the_cost_columns_gains_them_and_goes_on_merging(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[0])
    out = tmp_path / "out"
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    (accepted,) = sim.app.accepted()
    delivered, read = accepted.changes
    payloads = [
        status_payload(accepted.reference_id, accepted.external_id, change, accepted.accepted_at, 1.0)
        for change in (delivered, read)
    ]
    logs = []
    for index, payload in enumerate(payloads):
        if index == 0:
            payload.pop("additional_info")  # the first report told no price
        logs.append(tmp_path / f"cb{index}.jsonl")
        logs[-1].write_bytes(receiver_line("2026-12-01T10:00:00Z", payload))
    assert campaign("enrich", str(file), "--callbacks", str(logs[0]), "--outputs", str(out)).exit_code == 0
    # Make it a ledger as the version before the cost migration wrote it: no cost columns.
    back_to_the_old_layout_sqlite(out / "test-campaign" / schema.LEDGER_FILE)
    db = sqlite3.connect(out / "test-campaign" / schema.LEDGER_FILE)
    for table, column in (("messages", "price"), ("messages", "currency"), ("messages", "sms_parts"),
                          ("deliveries", "price_order"), ("deliveries", "price_arrival")):  # fmt: skip
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    # (MIGRATIONS[n] takes a ledger from version n + 1 to n + 2: later migrations may follow it)
    cost = next(n for n, steps in enumerate(schema.MIGRATIONS) if any("price" in step for step in steps))
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(cost + 1),))
    db.commit()
    db.close()
    assert campaign("enrich", str(file), "--callbacks", str(logs[1]), "--outputs", str(out)).exit_code == 0
    with (out / "test-campaign" / "report.csv").open(encoding="utf-8") as handle:
        (row,) = csv.DictReader(handle)
    assert (row["delivery_status_code"], row["callbacks"], row["price"], row["currency"]) == (
        "3005",
        "2",
        "0.0050",
        "USD",
    )
