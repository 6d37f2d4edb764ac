"""The policy's commands as a marketer runs them (docs/policy.md, docs/commands.md): the receiver
given the outputs folder, enrich reading replies from a log, `campaign optouts ...`, `status`, and
the sandbox run twice."""

from __future__ import annotations

import csv
import gzip
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from runner.callbacks.log import MAX_LINE_BYTES
from runner.telesign.auth import callback_headers
from tests.fixtures.receiver import TEST_CREDENTIALS
from tests.fixtures.simulator import MakeSimulator
from tests.policy.test_stop_while_sending import STOPPER, STOPPER_DIGITS, stop_from, write
from tests.sending.helpers import campaign, ledger_rows, telesign_env

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_receiver_given_the_outputs_folder_records_a_stop_at_once(tmp_path: Path) -> None:
    port, out = free_port(), tmp_path / "out"
    env = {**os.environ, "TELESIGN_API_KEY": TEST_CREDENTIALS.api_key}
    command = [sys.executable, "-m", "runner", "callbacks", "serve", "--port", str(port)]
    command += ["--log", str(tmp_path / "cb.jsonl"), "--outputs", str(out)]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30  # a bound on a slow machine, not a speed requirement
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
        body = json.dumps(stop_from(STOPPER_DIGITS, None)).encode()
        answer = httpx.post(f"http://127.0.0.1:{port}/", content=body, headers=callback_headers(TEST_CREDENTIALS, body))
        assert answer.status_code == 200
        # acknowledged means recorded: the very next read sees it
        listed = campaign("optouts", "list", "--outputs", str(out))
        assert listed.output.startswith("+12125550100  opted out ") and "by a STOP reply" in listed.output
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert "replies (STOP, START) applied to the opt-out store" in errors
    # which keywords it reads replies with: here no policy.toml, so the defaults, said out loud
    assert f"with the default keywords: no campaigns/policy.toml in {tmp_path}" in errors
    assert "replies: {'opt_out': 1}" in errors


def test_enrich_reads_replies_from_the_log_and_the_report_shows_them(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    out = tmp_path / "out"
    file = write(tmp_path / "c", "spring", [STOPPER, "+1 202 555 0110"])
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    reference = next(r.reference_id for r in sim.app.accepted() if r.phone_number == STOPPER_DIGITS)
    log = tmp_path / "callbacks.jsonl"
    lines = [{"received_at": "2026-12-01T12:00:01Z", "payload": stop_from(STOPPER_DIGITS, reference)}]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    result = campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))
    again = campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))  # twice: once

    assert result.exit_code == 0, result.output
    assert "0 not of this campaign" in result.output  # a reply is not an unknown delivery callback
    assert "1 replies read: 1 opted out" in result.output
    with (out / "spring" / "report.csv").open(encoding="utf-8") as handle:
        rows = {r["phone_number"]: r for r in csv.DictReader(handle)}
    assert (rows["+12125550100"]["replied"], rows["+12125550100"]["opted_out"]) == ("1", "yes")
    assert (rows["+12025550110"]["replied"], rows["+12025550110"]["opted_out"]) == ("0", "")
    assert "Stop" not in (out / "spring" / "report.csv").read_text(encoding="utf-8")  # never the text
    assert again.exit_code == 0
    status = campaign("status", str(file), "--outputs", str(out))
    assert "replies: 1 from 1 recipient(s), 1 opted out" in status.output
    # the next send of any campaign suppresses the phone
    autumn = write(tmp_path / "d", "autumn", [STOPPER])
    sent = campaign("send", str(autumn), "--outputs", str(out), env=telesign_env(sim.url))
    assert sent.exit_code == 0 and "1 suppressed" in sent.output
    [row] = ledger_rows(out, "autumn")
    assert row["status_description"] == "opted out 2026-12-01 by a STOP reply to spring"


def test_enrich_reads_a_reply_from_a_rotated_gzip_log_past_an_overlong_line(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    # one read of each log serves the delivery callbacks and the replies: a rotated log compressed
    # without a .gz name is read by its content, and a line too long to hold is skipped, never held
    sim = make_simulator()
    out = tmp_path / "out"
    file = write(tmp_path / "c", "spring", [STOPPER])
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    reference = next(r.reference_id for r in sim.app.accepted() if r.phone_number == STOPPER_DIGITS)
    overlong = b'{"sub_resource": "mo_sms", "x": "' + b"y" * (MAX_LINE_BYTES + 10) + b'"}\n'
    reply = json.dumps({"received_at": "2026-12-01T12:00:01Z", "payload": stop_from(STOPPER_DIGITS, reference)})
    log = tmp_path / "callbacks.jsonl.1"
    log.write_bytes(gzip.compress(overlong + reply.encode() + b"\n"))

    result = campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))

    assert result.exit_code == 0, result.output
    assert f"{log}:1: line longer than {MAX_LINE_BYTES} bytes: skipped" in result.output
    assert "1 replies read: 1 opted out" in result.output
    listed = campaign("optouts", "list", "--outputs", str(out))
    assert listed.output.startswith("+12125550100  opted out ")


def test_optouts_by_hand_add_remove_list_export(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    out = tmp_path / "out"
    added = campaign("optouts", "add", "07911 123456", "--region", "GB", "--note", "ticket 4711", "--outputs", str(out))
    assert added.exit_code == 0 and added.output.strip() == "+447911123456: opted out"
    assert campaign("optouts", "add", "not a phone", "--outputs", str(out)).exit_code == 2
    listed = campaign("optouts", "list", "--outputs", str(out))
    assert "+447911123456  opted out " in listed.output and "by hand" in listed.output
    exported = tmp_path / "optouts.csv"
    assert campaign("optouts", "export", str(exported), "--outputs", str(out)).exit_code == 0
    [row] = list(csv.DictReader(exported.open(encoding="utf-8")))
    assert (row["phone"], row["source"]) == ("+447911123456", "manual")

    # while opted out, a campaign does not message the phone; removed, the next run does
    sim = make_simulator()
    file = write(tmp_path / "c", "promo", ["+44 7911 123456"])
    campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert sim.app.accepted() == []
    assert campaign("optouts", "remove", "+447911123456", "--outputs", str(out)).output.strip() == (
        "+447911123456: opted in"
    )
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    assert [r.phone_number for r in sim.app.accepted()] == ["447911123456"]
    assert campaign("optouts", "list", "--outputs", str(out)).stdout == ""


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["07911 123456"],
            "PHONE: '07911 123456' has no country code: write it with +<country code>, or pass --region",
        ),
        (
            ["07911 123456", "--region", "UK"],
            "--region 'UK' is not a region code: use a two-letter one such as US or GB",
        ),
    ],
)
def test_optouts_add_says_what_to_pass_for_a_phone_without_its_country(
    args: list[str], said: str, tmp_path: Path
) -> None:
    # (before: the campaign file's advice, "set [audience] default_region", and for an unknown
    # region the number blamed for it)
    result = campaign("optouts", "add", *args, "--outputs", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert result.stderr.strip() == said
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["order-tracking.toml"])
def test_the_sandbox_shows_the_stop_and_the_next_rehearsal_suppresses_the_phone(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "outputs"
    first = campaign("send", "--sandbox", f"campaigns/{name}", "--outputs", str(out))
    assert first.exit_code == 0, first.output
    assert "  1 replied STOP: opted out" in first.output
    second = campaign("send", "--sandbox", f"campaigns/{name}", "--outputs", str(out))
    assert second.exit_code == 0, second.output
    assert "  not sent, opted out earlier:  1" in second.output
    assert "replied STOP" not in second.output  # the phone that stopped got nothing to reply to
    assert (out / "sandbox" / "recipients.sqlite").exists() and not (out / "recipients.sqlite").exists()


def test_an_opt_in_by_hand_undoes_a_stop_stamped_by_a_clock_ahead_of_ours(tmp_path: Path) -> None:
    """A STOP's time is Telesign's clock, here two minutes ahead of this machine's: `optouts
    remove` right after it said "opted in" while the phone stayed opted out (the STOP, later by
    its time, still won)."""
    from datetime import UTC, datetime, timedelta

    from runner.ledger.backend import shared_ledger_url
    from runner.policy.store import OptEvent, open_store

    out = tmp_path / "out"
    store = open_store(out, shared_ledger_url())
    ahead = datetime.now(UTC) + timedelta(minutes=2)
    store.record(OptEvent("reply:stop-1", "+447911123456", "opt_out", ahead, "reply", campaign="promo"))
    store.close()
    assert "+447911123456  opted out " in campaign("optouts", "list", "--outputs", str(out)).output

    removed = campaign("optouts", "remove", "+447911123456", "--outputs", str(out))
    assert removed.output.strip() == "+447911123456: opted in"
    assert campaign("optouts", "list", "--outputs", str(out)).stdout == ""
    added = campaign("optouts", "add", "+447911123456", "--outputs", str(out))
    assert added.output.strip() == "+447911123456: opted out"
    assert "+447911123456  opted out " in campaign("optouts", "list", "--outputs", str(out)).output
