"""Issue 9 item 21: small things a user reads, each said right."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from runner.callbacks.log import parse_line
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, phone, telesign_env, write_campaign
from tests.testing.cli import invoke


def with_duplicate_and_suppressed(folder: Path) -> Path:
    file = write_campaign(folder, digits=[1, 2, 3])
    audience = folder / "audience.csv"
    audience.write_text(audience.read_text() + f"r-dup,{phone(0, 1)},Dup,1\n")
    (folder / "optout.csv").write_text(f"phone\n{phone(2, 3)}\n")
    file.write_text(
        file.read_text().replace('default_region = "US"', 'default_region = "US"\nsuppress = ["optout.csv"]')
    )
    return file


def test_one_duplicate_is_said_in_the_singular(tmp_path: Path) -> None:
    file = with_duplicate_and_suppressed(tmp_path / "c")
    result = invoke("check", str(file))
    assert result.exit_code == 0, result.output
    assert "1 suppressed, 1 duplicate, 0 skipped" in result.stdout


def test_a_json_error_ending_in_at_is_not_at_at() -> None:
    said = str(parse_line(b'{"reference_id": "abc', "log.jsonl", 3, 0))
    assert said == "log.jsonl:3: not JSON: Unterminated string starting at column 18"


def test_a_test_send_without_an_answer_says_why_without_none(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator(drop_rate=1.0)  # accepted, then the connection is cut before any answer
    file = write_campaign(tmp_path / "c", digits=[1])
    result = campaign(
        "send", str(file), "--test-to", "+1 202 555 0911", "--outputs", str(tmp_path / "out"), env=telesign_env(sim.url)
    )
    assert "None" not in result.stdout
    assert "unknown (no answer: RemoteProtocolError)" in result.stdout


def test_a_sending_row_in_the_report_says_what_it_means(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2])
    out = tmp_path / "out"
    assert campaign("send", str(file), "--outputs", str(out), "--limit", "1", env=telesign_env(sim.url)).exit_code == 0
    # As a run killed between its claim and Telesign's answer leaves it:
    db = sqlite3.connect(out / "test-campaign" / "ledger.sqlite")
    db.execute("UPDATE messages SET state = 'sending', attempts = 1 WHERE state = 'pending'")
    db.commit()
    db.close()
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 3
    with (out / "test-campaign" / "report.csv").open(encoding="utf-8") as handle:
        rows = {row["state"]: row for row in csv.DictReader(handle)}
    assert rows["sending"]["status_description"].startswith("claimed by a run that stopped before Telesign answered")
    assert rows["accepted"]["status_description"]  # Telesign's own, untouched


def test_the_sandbox_summary_splits_what_it_skipped(tmp_path: Path) -> None:
    file = with_duplicate_and_suppressed(tmp_path / "c")
    result = campaign("send", str(file), "--sandbox", "--outputs", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert (
        "sandbox test-campaign: 2 accepted, 0 refused or not sent, 2 skipped (1 suppressed, 1 duplicate)"
        in result.stdout
    )


def test_simulate_help_describes_every_fault_option() -> None:
    shown = " ".join(invoke("simulate", "--help").stdout.split())
    assert "--latency-ms FLOAT Real time added before every answer." in shown
    assert "--fail-rate FLOAT RANGE Share of valid requests answered 503/3500" in shown
    assert "--drop-rate FLOAT RANGE Share of valid requests accepted, then cut off" in shown
