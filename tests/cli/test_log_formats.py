"""Issue 9 item 12: under cron every line has a time; in json mode every line is one JSON object,
summary and error lines included, on stdout and on stderr alike."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, telesign_env, write_campaign

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


def json_lines(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        record = json.loads(line)  # every line: one JSON object, nothing else
        assert isinstance(record, dict)
        assert datetime.fromisoformat(record["time"].replace("Z", "+00:00")).utcoffset() is not None
        assert record["level"] in ("info", "warning", "error") and record["event"] and "message" in record
        records.append(record)
    return records


@pytest.mark.parametrize("command", ["send", "run"])
def test_json_mode_writes_only_json_objects_summary_included(
    command: str, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    root = tmp_path / "campaigns"
    file = write_campaign(root, digits=[1, 2, 9])  # 9: refused by the simulator
    target = str(file) if command == "send" else str(root)
    out = tmp_path / "out"
    result = campaign(command, target, "--outputs", str(out), "--log-format", "json", env=telesign_env(sim.url))
    assert result.exit_code == 3, result.output
    records = json_lines(result.stdout) + json_lines(result.stderr)
    [summary] = [r for r in records if r["event"] == "summary"]
    assert (summary["accepted"], summary["rejected"], summary["total"]) == (2, 1, 3)
    [counts] = [r for r in records if r["event"] == "counts"]
    assert counts["campaign"] == "test-campaign" and counts["counts"]["accepted"] == 2
    [report] = [r for r in records if r["event"] == "report"]
    assert report["report"] == str(out / "test-campaign" / "report.csv")


def test_json_mode_errors_are_json_with_their_file_and_line(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c", digits=[1])
    audience = tmp_path / "c" / "audience.csv"
    audience.write_text(audience.read_text() + "r-bad,12,Bad,1\n")
    result = campaign("send", str(file), "--outputs", str(tmp_path / "out"), "--log-format", "json")
    assert result.exit_code == 1
    assert result.stdout == ""
    [problem] = json_lines(result.stderr)
    assert problem["level"] == "error" and problem["event"] == "error"
    assert (problem["file"], problem["line"]) == (str(audience), 3)
    assert problem["message"].startswith(f"{audience}:3: ")


def test_json_mode_usage_of_credentials_error_is_json(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c", digits=[1])
    result = campaign("send", str(file), "--outputs", str(tmp_path / "out"), "--log-format", "json", env={})
    assert result.exit_code == 4
    [problem] = json_lines(result.stderr)
    assert "TELESIGN_CUSTOMER_ID" in problem["message"] and problem["exit_code"] == 4


@pytest.mark.parametrize("log_format", ["plain", "auto"])  # auto: not a terminal, as under cron
def test_plain_lines_each_start_with_an_iso_utc_time_errors_too(
    log_format: str, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2, 9])
    out = tmp_path / "out"
    result = campaign("send", str(file), "--outputs", str(out), "--log-format", log_format, env=telesign_env(sim.url))
    assert result.exit_code == 3
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    assert lines and all(STAMP.match(line) for line in lines), lines
    assert any(line.endswith("test-campaign: 2 accepted, 1 rejected") for line in lines)

    bad = write_campaign(tmp_path / "bad", digits=[1], text="Hello {{ nickname }}")
    refused = campaign("send", str(bad), "--outputs", str(out), "--log-format", log_format, env=telesign_env(sim.url))
    assert refused.exit_code == 1
    assert refused.stderr and all(STAMP.match(line) for line in refused.stderr.splitlines())
