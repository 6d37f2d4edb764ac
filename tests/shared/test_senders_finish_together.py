"""Two `campaign send` processes on one campaign through a shared ledger (docs/scaling-out.md):
the one that runs out of messages first finishes while the other still has requests in flight.
Those are the other's to report: the first exits 0 when nothing is wrong. Messages a killed
sender left `sending` are another matter: nobody is at work on them, so a sender finishing after
the kill exits 3, and a re-run sends none of them again. What was sent is read from the
simulator's journal."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.fixtures.simulator import MakeSimulator, SimulatorServer
from tests.sending.helpers import ROOT, campaign, subprocess_env, telesign_env, wait_for_accepted, write_campaign

RECIPIENTS = 80
SENDING = "rate = 1000\nconcurrency = 4\nmax_attempts = 3"


def sender(file: Path, out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runner", "send", str(file), "--outputs", str(out), "--log-format", "plain"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def slow_campaign(
    tmp_path: Path, make_simulator: MakeSimulator, url: str
) -> tuple[SimulatorServer, Path, dict[str, str]]:
    """A simulator answering in 250 ms, the campaign, and the senders' environment on the shared ledger."""
    sim = make_simulator(latency_ms=250)
    file = write_campaign(tmp_path / "c", digits=[i % 6 for i in range(RECIPIENTS)], sending=SENDING)
    return sim, file, subprocess_env(sim.url, CAMPAIGN_LEDGER_URL=url)


def test_a_sender_finishing_beside_another_exits_0(
    tmp_path: Path, make_simulator: MakeSimulator, shared_ledger_url: str
) -> None:
    # Every answer takes 250 ms: whichever sender finds nothing left to claim first still sees
    # up to 4 of the other's messages `sending`.
    sim, file, env = slow_campaign(tmp_path, make_simulator, shared_ledger_url)
    senders = [sender(file, tmp_path / f"host-{n}", env) for n in range(2)]
    outputs = [s.communicate(timeout=120)[0] for s in senders]
    assert [s.returncode for s in senders] == [0, 0], outputs
    by_phone = sim.app.accepted_by_phone()
    assert len(by_phone) == RECIPIENTS and max(by_phone.values()) == 1


def test_messages_a_killed_sender_left_sending_still_make_the_other_exit_3(
    tmp_path: Path, make_simulator: MakeSimulator, shared_ledger_url: str
) -> None:
    sim, file, env = slow_campaign(tmp_path, make_simulator, shared_ledger_url)
    killed, survivor = sender(file, tmp_path / "host-a", env), sender(file, tmp_path / "host-b", env)
    wait_for_accepted(sim.app, 12)
    killed.send_signal(signal.SIGKILL)  # with requests in flight: its claims stay `sending`
    killed.communicate(timeout=30)
    output, _ = survivor.communicate(timeout=120)
    assert survivor.returncode == 3, output

    # A re-run sends nothing the killed sender may have sent, and still says what is unsettled.
    again = campaign(
        "send",
        str(file),
        "--outputs",
        str(tmp_path / "host-c"),
        env=telesign_env(sim.url, CAMPAIGN_LEDGER_URL=shared_ledger_url),
    )
    assert again.exit_code == 3, again.output
    by_phone = sim.app.accepted_by_phone()
    assert max(by_phone.values()) == 1
    assert RECIPIENTS - 4 <= len(by_phone) <= RECIPIENTS  # all but what the killed one held, at most 4
