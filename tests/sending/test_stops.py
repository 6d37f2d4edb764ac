"""A stop (Ctrl-C, SIGTERM) while messages wait (for their pace turn, a backoff, a 429 pause, a
connection) gives them back as they were: a message is `sending` only from the moment its request
may be written. Each test stops a real `campaign send` process at one of those waits, reads the
ledger, then re-runs against the simulator and counts on its side: every phone messaged once."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.simulator import MakeSimulator, SimulatorServer
from tests.sending import loopback
from tests.sending.helpers import campaign, ledger_states, start_send, telesign_env, wait_for_accepted, write_campaign
from tests.sending.loopback import RateLimited

RECIPIENTS = 12
SLOW = "rate = 0.5\nconcurrency = 8\nmax_attempts = 3"


def stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=30)
    return proc.returncode, stderr


def rerun_sends_everyone_once(file: Path, out: Path, sim: SimulatorServer) -> None:
    file.write_text(file.read_text().replace("rate = 0.5", "rate = 1000"))  # the re-run need not be slow
    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output
    counts = sim.app.accepted_by_phone()
    assert len(counts) == RECIPIENTS and set(counts.values()) == {1}


def wait_for_claims(ledger: Path, timeout: float = 20) -> None:
    """Until some message is `sending` in the campaign's ledger (a bound, not a speed requirement),
    whichever backend the test has (`ledger`: its SQLite file's path, naming the outputs and campaign)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "sending" in ledger_states(ledger.parent.parent, ledger.parent.name).values():
                return
        except Exception:  # (the ledger is being made)
            pass
        time.sleep(0.02)
    raise AssertionError(f"nothing was claimed in {ledger} within {timeout}s")


def assert_given_back(out: Path, allowed: set[str]) -> list[str]:
    states = list(ledger_states(out).values())
    assert "sending" not in states and "unknown" not in states, states  # nothing stranded
    assert set(states) <= allowed
    return states


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_while_messages_wait_for_their_pace_turn_leaves_them_pending(
    signum: int, code: int, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[i % 9 for i in range(RECIPIENTS)], sending=SLOW)
    out = tmp_path / "out"
    proc = start_send(file, out, sim.url)
    wait_for_accepted(sim.app, 2)  # one every 2 s: 8 workers, 6 or more of them waiting their turn
    returncode, stderr = stop(proc, signum)
    assert returncode == code, stderr
    states = assert_given_back(out, {"accepted", "pending"})
    assert states.count("accepted") == len(sim.app.accepted())  # what the simulator has, and only that
    rerun_sends_everyone_once(file, out, sim)


@pytest.fixture
def rate_limited() -> Iterator[tuple[str, type[RateLimited]]]:
    handler = loopback.rate_limited("50")
    with loopback.serving(handler) as url:
        yield url, handler


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_during_a_429_pause_gives_every_message_back(
    signum: int, code: int, tmp_path: Path, make_simulator: MakeSimulator, rate_limited: tuple[str, type[RateLimited]]
) -> None:
    url, handler = rate_limited
    sim = make_simulator()
    file = write_campaign(
        tmp_path / "c", digits=[i % 9 for i in range(RECIPIENTS)], sending="rate = 1000\nconcurrency = 8"
    )
    out = tmp_path / "out"
    proc = start_send(file, out, url)
    deadline = time.monotonic() + 20
    while handler.posts < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # every worker now waits out the 50 s pause (or its backoff)
    returncode, stderr = stop(proc, signum)  # well before the pause would end
    assert returncode == code, stderr
    assert "pausing everyone 50.0s" in stderr
    states = assert_given_back(out, {"pending", "failed"})
    assert states.count("failed") == handler.posts  # each answered 429 once: failed, sent next run
    rerun_sends_everyone_once(file, out, sim)


def test_a_stop_during_backoffs_after_503_leaves_messages_sendable(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    busy = make_simulator(fail_rate=1.0)
    file = write_campaign(
        tmp_path / "c",
        digits=[i % 9 for i in range(RECIPIENTS)],
        sending="rate = 1000\nconcurrency = 8\nmax_attempts = 20",
    )
    out = tmp_path / "out"
    proc = start_send(file, out, busy.url)
    deadline = time.monotonic() + 20
    while busy.app.outcomes().total() < 30 and time.monotonic() < deadline:  # well into the backoffs
        time.sleep(0.02)
    returncode, stderr = stop(proc, signal.SIGINT)
    assert returncode == 130, stderr
    assert_given_back(out, {"pending", "failed"})
    rerun_sends_everyone_once(file, out, make_simulator())


def test_a_stop_while_requests_wait_for_a_connection_gives_them_back(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    # A listening socket that never accepts, its accept queue filled: connections to it wait
    # (the kernel drops their SYNs), as they would for a pool slot or a slow network.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    sim = make_simulator()
    file = write_campaign(
        tmp_path / "c", digits=[i % 9 for i in range(RECIPIENTS)], sending="rate = 1000\nconcurrency = 8"
    )
    out = tmp_path / "out"
    try:
        proc = start_send(file, out, f"http://127.0.0.1:{port}")
        wait_for_claims(out / "test-campaign" / "ledger.sqlite")  # the workers now wait for connections
        time.sleep(0.2)
        returncode, stderr = stop(proc, signal.SIGINT)
        assert returncode == 130, stderr
        assert_given_back(out, {"pending", "failed"})
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    rerun_sends_everyone_once(file, out, sim)
