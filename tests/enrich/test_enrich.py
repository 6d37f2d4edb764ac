"""`campaign enrich` on logs written by the simulator's real, signed callbacks through the
project's receiver, and on hand-written edge cases."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from runner.callbacks import read_ahead
from runner.callbacks.receiver import create_receiver
from runner.serving import BackgroundServer
from runner.simulator import SimulatorConfig, create_app
from runner.telesign.auth import DEMO_API_KEY
from tests.fixtures.simulator import MakeSimulator, SimulatorServer
from tests.sending.helpers import campaign, ledger_rows, telesign_env, write_campaign


@pytest.fixture(autouse=True, params=["in-process", "read-ahead"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here reads its logs both ways (runner.callbacks.read_ahead): in the enriching
    process, and ahead in a second process, as logs of more than a few MB are read."""
    if request.param == "read-ahead":
        monkeypatch.setattr(read_ahead, "READ_AHEAD_BYTES", 0)
    return str(request.param)


def send_with_callbacks(tmp_path: Path, digits: list[int], **faults: Any) -> tuple[Path, Path, Path, Any]:
    """Send a campaign to a simulator whose callbacks reach the project's receiver; return
    (campaign file, outputs, callback log, simulator app) once every callback was answered."""
    log = tmp_path / "callbacks.jsonl"
    with BackgroundServer(create_receiver(log, DEMO_API_KEY)) as receiver:
        sim = create_app(SimulatorConfig(callback_url=receiver.url + "/cb", time_scale=0.002, **faults))
        with BackgroundServer(sim) as server:
            file = write_campaign(tmp_path / "c", digits=digits)
            out = tmp_path / "out"
            campaign("send", str(file), "--outputs", str(out), env=telesign_env(server.url))
            assert sim.wait_callbacks_settled(20)
    return file, out, log, sim


def report(out: Path) -> list[dict[str, str]]:
    with (out / "test-campaign" / "report.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_simulator_callbacks_fill_each_channels_columns(tmp_path: Path) -> None:
    file, out, log, sim = send_with_callbacks(tmp_path, [0, 1, 6, 8])
    result = campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))
    assert result.exit_code == 0, result.output
    rows = report(out)
    by_digit = {row["phone_number"][-1]: row for row in rows}
    read, delivered, fallback, failed = by_digit["0"], by_digit["1"], by_digit["6"], by_digit["8"]
    assert (read["delivery_status_code"], read["last_channel"], read["viber_status_code"], read["sms_status_code"]) == (
        "3005",
        "viber",
        "3005",
        "",
    )
    assert (delivered["delivery_status_code"], delivered["viber_status_code"]) == ("3000", "3000")
    assert (
        fallback["delivery_status_code"],
        fallback["last_channel"],
        fallback["viber_status_code"],
        fallback["sms_status_code"],
    ) == ("3000", "sms", "3056", "3000")
    assert (failed["delivery_status_code"], failed["viber_status_code"], failed["sms_status_code"]) == (
        "3003",
        "3056",
        "3003",
    )
    sent: dict[str, set[str]] = {}
    for attempt in sim.callbacks_sent():
        sent.setdefault(attempt.reference_id, set()).add(json.dumps(attempt.payload, sort_keys=True))
    for row in rows:
        assert int(row["callbacks"]) == len(sent[row["reference_id"]])
        assert row["status_updated_on"].endswith("Z")
    status = campaign("status", str(file), "--outputs", str(out))
    assert "2 on Viber, 1 by SMS fallback, 1 read, 1 failed" in status.output


def test_enriching_twice_or_with_repeats_in_any_order_gives_the_same_report(tmp_path: Path) -> None:
    file, out, log, _ = send_with_callbacks(tmp_path, [0, 2, 6, 7, 8])
    campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))
    first = (out / "test-campaign" / "report.csv").read_bytes()
    campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))
    assert (out / "test-campaign" / "report.csv").read_bytes() == first
    # the same callbacks again, reversed and gzipped, as another log: nothing changes
    lines = log.read_bytes().splitlines(keepends=True)
    again = tmp_path / "again.jsonl.gz"
    with gzip.open(again, "wb") as handle:
        handle.writelines(reversed(lines))
    result = campaign("enrich", str(file), "--callbacks", str(again), "--outputs", str(out))
    assert result.exit_code == 0
    assert (out / "test-campaign" / "report.csv").read_bytes() == first


def test_reversed_logs_in_a_fresh_ledger_give_the_same_delivery_columns(tmp_path: Path) -> None:
    file, out, log, _ = send_with_callbacks(tmp_path, [0, 6, 8])
    lines = log.read_bytes().splitlines(keepends=True)
    reversed_log = tmp_path / "reversed.jsonl"
    reversed_log.write_bytes(b"".join(reversed(lines)))
    campaign("enrich", str(file), "--callbacks", str(reversed_log), "--outputs", str(out))
    backwards = [
        {
            k: v
            for k, v in r.items()
            if k.startswith(("delivery", "viber", "sms", "last", "status_updated", "callbacks"))
        }
        for r in report(out)
    ]
    assert [r["delivery_status_code"] for r in backwards] == ["3005", "3000", "3003"]


def test_a_lost_answer_is_settled_by_its_external_id(tmp_path: Path) -> None:
    file, out, log, sim = send_with_callbacks(tmp_path, [1, 6], drop_rate=1.0)
    assert {r["state"] for r in ledger_rows(out)} == {"unknown"}
    result = campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))
    assert "2 unknown settled as accepted" in result.output
    rows = ledger_rows(out)
    assert {r["state"] for r in rows} == {"accepted"}
    assert sorted(r["reference_id"] for r in rows) == sorted(a.reference_id for a in sim.accepted())
    # settled means done: a re-run sends nothing more
    with BackgroundServer(create_app(SimulatorConfig(time_scale=0.002))) as fresh:
        again = campaign("send", str(file), "--outputs", str(out), env=telesign_env(fresh.url))
        assert again.exit_code == 0 and fresh.app.accepted() == []


def callback(
    reference_id: str, code: int, updated_on: str, channel: str = "viber", description: str = "x"
) -> dict[str, Any]:
    return {
        "reference_id": reference_id,
        "external_id": None,
        "status": {"code": code, "description": description, "last_channel": channel, "updated_on": updated_on},
        "channel_status": [
            {
                channel: {
                    "code": code,
                    "description": description,
                    "reference_id": "C" + reference_id[1:],
                    "updated_on": updated_on,
                }
            }
        ],
    }


def sent_two(tmp_path: Path, sim: SimulatorServer) -> tuple[Path, Path, list[str]]:
    """A campaign of two recipients sent to the simulator: its file, outputs and reference_ids."""
    file = write_campaign(tmp_path / "c", digits=[1, 2])
    out = tmp_path / "out"
    campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    return file, out, [str(r["reference_id"]) for r in ledger_rows(out)]


def test_hand_written_edge_cases(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    file, out, (ref_a, ref_b) = sent_two(tmp_path, make_simulator())
    log = tmp_path / "hand.jsonl"
    lines = [
        # A: delivered (3000, Telesign's colon-millis format), then a late "in progress" (3001,
        # RFC 1123) that must not replace it, then read (3005, RFC 3339 with zone)
        json.dumps(callback(ref_a, 3000, "2020-05-04 22:07:01:226")),
        json.dumps(callback(ref_a, 3001, "Mon, 04 May 2020 22:09:00 GMT")),
        json.dumps(callback(ref_a, 3005, "2020-05-04T22:08:00.5+00:00")),
        "this is not json",
        json.dumps({"payload": "not an object", "received_at": "2020-05-04T22:00:00Z"}),
        json.dumps(callback("F" * 32, 3000, "2020-05-04 22:05:00.325")),
        # B: a 3056 (intermediate) arriving after the final 3003 it precedes in time
        json.dumps(callback(ref_b, 3003, "2020-05-04T22:10:00Z", "sms")),
        json.dumps(callback(ref_b, 3056, "2020-05-04 22:05:00.325", "viber")),
        json.dumps(callback(ref_b, 3003, "2020-05-04T22:10:00Z", "sms")),  # a repeat: counted once
    ]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))
    assert result.exit_code == 0
    assert f"{log}:4:" in result.output and f"{log}:5:" in result.output
    assert f"{log}:6:" in result.output and "not a message of this campaign" in result.output
    assert "2 malformed, 1 not of this campaign" in result.output
    a, b = report(out)
    assert (a["delivery_status_code"], a["status_updated_on"], a["callbacks"]) == (
        "3005",
        "2020-05-04T22:08:00.500000Z",
        "3",
    )
    assert (
        b["delivery_status_code"],
        b["last_channel"],
        b["viber_status_code"],
        b["sms_status_code"],
        b["callbacks"],
    ) == ("3003", "sms", "3056", "3003", "2")


def test_enrich_before_any_send_says_so(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c", digits=[1])
    log = tmp_path / "log.jsonl"
    log.write_text("")
    result = campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(tmp_path / "out"))
    assert result.exit_code == 1 and "send the campaign first" in result.output


def test_the_sandbox_runs_a_campaign_end_to_end(tmp_path: Path, monkeypatch: Any) -> None:
    file = write_campaign(tmp_path / "c", digits=[0, 1, 6, 7, 8, 9])
    out = tmp_path / "out"
    monkeypatch.setenv("TELESIGN_API_KEY", "not-used-by-the-sandbox")
    result = campaign("send", "--sandbox", str(file), "--outputs", str(out))
    assert result.exit_code == 3, result.output  # digit 9 is refused
    assert "ignoring TELESIGN_* settings" in result.output
    assert "5 accepted, 1 refused" in result.output
    assert "delivered on Viber:          2" in result.output
    assert "fell back to SMS, delivered: 2" in result.output
    assert "failed on every channel:     1" in result.output
    assert "read on Viber:               1" in result.output
    rows = list(csv.DictReader((out / "sandbox" / "test-campaign" / "report.csv").open(encoding="utf-8")))
    assert [r["delivery_status_code"] for r in rows] == ["3005", "3000", "3000", "3000", "3003", ""]
    assert rows[-1]["state"] == "rejected"
    assert all(r["status_updated_on"] and int(r["callbacks"]) >= 1 for r in rows[:5])
    assert not (out / "test-campaign").exists()  # a rehearsal never touches the real ledger
