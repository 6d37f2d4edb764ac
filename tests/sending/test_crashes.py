"""Kill -9 at each dangerous point, then re-run: every recipient messaged at most once (counted
by the simulator) and every one accounted for in the ledger."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import (
    campaign,
    ledger_states,
    start_send,
    subprocess_env,
    telesign_env,
    wait_for_accepted,
    write_campaign,
)

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = 12


def run_driver(point: str, nth: int, file: Path, out: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.sending.crash_driver",
            point,
            str(nth),
            "send",
            str(file),
            "--outputs",
            str(out),
            "--log-format",
            "plain",
        ],
        cwd=ROOT,
        env=subprocess_env(url),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "point", ["before_claim", "after_claim", "after_outcome", "after_write", "during_request", "after_response"]
)
def test_kill_9_then_rerun_messages_everyone_at_most_once(
    point: str, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator(latency_ms=200)
    file = write_campaign(
        tmp_path / "c",
        digits=[i % 9 for i in range(RECIPIENTS)],
        sending="rate = 1000\nconcurrency = 4\nmax_attempts = 3",
    )
    out = tmp_path / "out"
    # the 2nd claim or outcome transaction (they are committed in groups), or the 5th request
    crashed = run_driver(point, 2 if point.endswith(("claim", "outcome")) else 5, file, out, sim.url)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    before = len(sim.app.accepted())
    assert before < RECIPIENTS

    rerun = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    counts = sim.app.accepted_by_phone()
    assert max(counts.values()) == 1, f"a recipient got two messages after a crash at {point}"
    states = ledger_states(out)
    assert len(states) == RECIPIENTS
    assert set(states.values()) <= {"accepted", "sending", "unknown"}
    assert "pending" not in states.values() and "failed" not in states.values()
    accepted = [rid for rid, state in states.items() if state == "accepted"]
    assert len(counts) >= len(accepted)
    unsettled = [rid for rid, state in states.items() if state != "accepted"]
    # What the crash left unsettled is reported, and the run says so with exit 3.
    assert (rerun.exit_code == 3) == bool(unsettled)
    # Only what was claimed and possibly in flight at the kill can be unsettled: at most one
    # group of `concurrency` requests.
    assert len(unsettled) <= 4
    # A second re-run changes nothing.
    again = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert sim.app.accepted_by_phone() == counts
    assert again.exit_code == rerun.exit_code


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_stop_claiming_write_the_report_and_exit(
    signum: int, code: int, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator(latency_ms=100)
    file = write_campaign(
        tmp_path / "c", digits=[i % 9 for i in range(40)], sending="rate = 10\nconcurrency = 2\nmax_attempts = 3"
    )
    out = tmp_path / "out"
    proc = start_send(file, out, sim.url)
    wait_for_accepted(sim.app, 3)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    assert "stopping" in stderr
    report = (out / "test-campaign" / "report.csv").read_text(encoding="utf-8").splitlines()
    assert len(report) == 41
    sent_before = len(sim.app.accepted())
    assert sent_before < 40
    states = ledger_states(out)
    assert "sending" not in states.values()  # in-flight requests finished within the grace
    rerun = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert rerun.exit_code == 0
    assert len(sim.app.accepted()) == 40 and max(sim.app.accepted_by_phone().values()) == 1


@pytest.mark.one_sender
def test_two_sends_of_one_campaign_never_run_at_once(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator(latency_ms=50)
    file = write_campaign(
        tmp_path / "c", digits=[i % 9 for i in range(20)], sending="rate = 10\nconcurrency = 2\nmax_attempts = 3"
    )
    out = tmp_path / "out"
    first = start_send(file, out, sim.url)
    wait_for_accepted(sim.app, 1)
    second = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert second.exit_code == 4
    assert "being sent by another process" in second.output and f"pid {first.pid}" in second.output
    first.communicate(timeout=30)
    assert first.returncode == 0
    assert len(sim.app.accepted()) == 20 and max(sim.app.accepted_by_phone().values()) == 1
