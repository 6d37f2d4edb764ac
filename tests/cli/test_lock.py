"""Issue 9 item 17: the lock holder is named by the command it runs, and for `campaign run` a
campaign another process is sending is skipped with a line, not counted as a failure."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from runner.ledger.lock import CampaignLock
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import ROOT, campaign, subprocess_env, telesign_env, wait_for_accepted, write_campaign


def test_a_campaign_held_by_cron_names_campaign_run_and_its_pid(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    root = tmp_path / "campaigns"
    file = write_campaign(root, digits=range(9), sending="rate = 2\nconcurrency = 1\nmax_attempts = 3")
    out = tmp_path / "out"
    cron = subprocess.Popen(
        [sys.executable, "-m", "runner", "run", str(root), "--outputs", str(out), "--log-format", "plain"],
        cwd=ROOT,
        env=subprocess_env(sim.url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_accepted(sim.app, 1)
        result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    finally:
        cron.send_signal(signal.SIGTERM)
        cron.wait(timeout=30)
    assert result.exit_code == 4
    assert f"is being sent by another process (campaign run, pid {cron.pid} on " in result.stderr
    assert "`campaign send`" not in result.stderr
    assert set(sim.app.accepted_by_phone().values()) == {1}


def test_cron_skips_a_locked_campaign_with_a_line_and_exits_0(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    root = tmp_path / "campaigns"
    write_campaign(root / "a", digits=[1, 2], campaign_id="free")
    write_campaign(root / "b", digits=[3, 4], campaign_id="held")
    out = tmp_path / "out"
    with CampaignLock(out / "held", "held", "send"):
        result = campaign("run", str(root), "--outputs", str(out), "--log-format", "plain", env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stderr.splitlines() if line.split(" ", 1)[1].startswith("held:")]
    assert "skipped: another process holds it (campaign send, pid " in line
    assert len(sim.app.accepted()) == 2


def test_a_second_rehearsal_of_a_campaign_is_refused_and_leaves_the_first_ones_folder(tmp_path: Path) -> None:
    # (before: it emptied <outputs>/sandbox/<id>/ under the first rehearsal, and each printed
    # counts from the other's ledger)
    file = write_campaign(tmp_path / "c", digits=[1, 2])
    out = tmp_path / "out"
    first = out / "sandbox" / "test-campaign"
    first.mkdir(parents=True)
    (first / "ledger.sqlite").write_bytes(b"the first rehearsal's, being written")
    with CampaignLock(out / "sandbox" / ".rehearsals" / "test-campaign", "test-campaign", "send --sandbox"):
        result = campaign("send", "--sandbox", str(file), "--outputs", str(out), "--log-format", "plain")
    assert result.exit_code == 4, result.output
    assert "campaign test-campaign is in use by another process (campaign send --sandbox, pid " in result.stderr
    assert (first / "ledger.sqlite").read_bytes() == b"the first rehearsal's, being written"
