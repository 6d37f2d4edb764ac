"""Ctrl-C twice, SIGTERM, or a stop while the audience syncs: the report is written and the run is
recorded as finished (interrupted or terminated) on every exit Python can still run code in; a
re-run then messages every phone once (counted by the simulator)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import ROOT, campaign, ledger_states, subprocess_env, telesign_env, write_campaign

RECIPIENTS = 12


@pytest.mark.parametrize(
    ("plan", "code", "ended"),
    [
        ("answer:INT,report:INT", 130, "interrupted"),  # the second Ctrl-C while the report is written
        ("answer:INT,loop_end:INT", 130, "interrupted"),  # ... as the send loop hands its signals back
        ("answer:TERM,loop_end:TERM", 143, "terminated"),
        ("answer:INT,report:TERM", 143, "interrupted"),  # the run was interrupted; the process then ends 143
        ("sync:INT", 130, "interrupted"),  # Ctrl-C while the audience syncs
        ("sync:TERM", 143, "terminated"),
    ],
)
def test_every_stop_writes_the_report_and_finishes_the_run(
    plan: str, code: int, ended: str, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(
        tmp_path / "c", digits=[i % 9 for i in range(RECIPIENTS)], sending="rate = 1000\nconcurrency = 2"
    )
    out = tmp_path / "out"
    assert campaign("send", str(file), "--limit", "3", "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    report = out / "test-campaign" / "report.csv"
    report.unlink()

    stopped = subprocess.run(
        [sys.executable, "-m", "tests.sending.signal_driver", plan, "send", str(file), "--outputs", str(out)]
        + ["--log-format", "plain"],
        cwd=ROOT,
        env=subprocess_env(sim.url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stopped.returncode == code, stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert len(report.read_text(encoding="utf-8").splitlines()) == RECIPIENTS + 1  # written, every row
    status = campaign("status", str(file), "--outputs", str(out))
    assert f"({ended})" in status.output and "not finished" not in status.output, status.output
    assert "sending" not in ledger_states(out).values()

    rerun = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert rerun.exit_code == 0, rerun.output
    counts = sim.app.accepted_by_phone()
    assert len(counts) == RECIPIENTS and set(counts.values()) == {1}
