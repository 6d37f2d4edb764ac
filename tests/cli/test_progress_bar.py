"""Issue 13 section 3: a send's progress as a user sees it. On a terminal, rich's bar with counts
by state, the achieved rate, elapsed time and an ETA from the campaign's rate; under cron and in
json mode the same lines as before plus an ETA field. Nothing here depends on how fast it runs:
the ETA asserted is the one computed from the campaign's rate."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from runner.ledger.states import State
from runner.sending.progress import Progress
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import ROOT, subprocess_env, write_campaign


def terminal_console() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=140, color_system=None), screen


def test_the_bar_shows_counts_by_state_rate_elapsed_and_eta_from_the_campaigns_rate() -> None:
    console, screen = terminal_console()
    progress = Progress("winter-sale", 10, rate=1.0, console=console)
    for state in (State.ACCEPTED, State.ACCEPTED, State.REJECTED):
        progress.note(state)
        progress._last = 0.0  # let the next note draw (the bar redraws at most 10 times a second)
    progress.event("Telesign asked to slow down (429/3204): pausing everyone 1.0s")
    progress.finish()
    seen = screen.getvalue()
    assert "winter-sale" in seen and "3/10" in seen
    assert "2 accepted, 1 rejected" in seen
    assert re.search(r"\d+\.\d/s", seen)  # the achieved rate
    assert "0:00:0" in seen  # elapsed, as rich shows it
    assert "ETA 0:00:07" in seen  # 7 messages left at the campaign's 1 message a second
    assert "winter-sale: Telesign asked to slow down (429/3204): pausing everyone 1.0s" in seen
    assert "━" in seen  # a bar, drawn


def test_plain_and_json_lines_only_gain_an_eta(capsys: pytest.CaptureFixture[str]) -> None:
    plain = Progress("c", 9, "plain", every=0.0, rate=1.0)
    plain.note(State.ACCEPTED)
    plain.note(State.FAILED)
    plain.finish()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"\S+Z c: 1/9 done \(1 accepted\) at [\d.]+/s, ETA 0:00:08", lines[0])
    assert re.fullmatch(r"\S+Z c: 2/9 done \(1 accepted, 1 failed\) at [\d.]+/s, ETA 0:00:07", lines[1])
    assert re.fullmatch(r"\S+Z c: 2/9 done \(1 accepted, 1 failed\) at [\d.]+/s", lines[2])  # the summary

    machine = Progress("c", 9, "json", every=0.0, rate=1.0)
    machine.note(State.ACCEPTED)
    machine.finish()
    progress, summary = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert (progress["event"], progress["done"], progress["eta_seconds"]) == ("progress", 1, 8)
    assert summary["event"] == "summary" and summary["accepted"] == 1 and "eta_seconds" not in summary


def test_with_send_wait_the_eta_counts_the_deferred_messages_windows(capsys: pytest.CaptureFixture[str]) -> None:
    # 8 left now at 1/s, then 5 deferred until their window opens in an hour, and 2 more at 2 hours:
    # the run ends when the last batch has been sent at the campaign's pace.
    waiting = Progress("c", 9, "plain", every=0.0, rate=1.0, later=[(7200.0, 2), (3600.0, 5)])
    waiting.note(State.ACCEPTED)
    line = capsys.readouterr().err.splitlines()[0]
    assert re.fullmatch(r"\S+Z c: 1/9 done \(1 accepted\) at [\d.]+/s, ETA 2:00:02", line)
    # a batch whose window opens before this pass is done is sent after it, at the same pace
    soon = Progress("c", 9, "json", every=0.0, rate=1.0, later=[(3.0, 5)])
    soon.note(State.ACCEPTED)
    assert json.loads(capsys.readouterr().err.splitlines()[0])["eta_seconds"] == 8 + 5


def test_a_retried_message_counts_as_failed_until_its_retry_settles_it(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress("c", 2, "plain", every=3600.0)
    progress.note(State.FAILED)  # an attempt failed; the ledger says `failed` until the retry's answer
    progress.moved(State.FAILED, State.ACCEPTED)
    progress.note(State.FAILED)  # the other one's run stops here: it stays failed, as in the ledger
    progress.finish()
    [summary] = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"\S+Z c: 2/2 done \(1 accepted, 1 failed\) at [\d.]+/s", summary)


def test_the_last_plain_line_is_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress("c", 2, "plain", every=0.0)
    progress.note(State.ACCEPTED)
    progress.note(State.ACCEPTED)  # the last message: its line is the summary's
    progress.finish()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" ", 1)[1].split(" at ")[0] for line in lines] == [
        "c: 1/2 done (1 accepted)",
        "c: 2/2 done (2 accepted)",
    ]


def read_until(fd: int, needle: bytes, timeout: float = 30.0) -> bytes:
    """What the pseudo-terminal shows, until `needle` appears or the program closes it."""
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_send_on_a_terminal_draws_the_bar(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2, 3, 9], sending="rate = 50\nconcurrency = 2\nmax_attempts = 3")
    primary, secondary = os.openpty()
    env = subprocess_env(sim.url, COLUMNS="140", TERM="xterm")
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "send", str(file), "--outputs", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=secondary,
    )
    os.close(secondary)
    try:
        shown = read_until(primary, b"<until the program ends and the terminal closes>")
        stdout, _ = process.communicate(timeout=30)
    finally:
        os.close(primary)
    text = shown.decode("utf-8", "replace")
    assert process.returncode == 3
    assert "4/4" in text and "3 accepted, 1 rejected" in text and "ETA 0:00:00" in text and "/s" in text
    assert "━" in text
    # the bar is for people: stdout (what a script reads) keeps its plain result lines, no times
    assert stdout.decode().splitlines()[0] == "test-campaign: 3 accepted, 1 rejected"
