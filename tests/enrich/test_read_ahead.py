"""`campaign enrich` stopped while a second process reads its logs ahead (runner.callbacks.read_ahead):
Ctrl-C says so in one line and kill -9 just stops, the reader goes with it, nothing is merged
half-way, and the next enrich merges everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.callbacks.read_ahead import READ_AHEAD_BYTES
from runner.errors import ExitCode
from tests.enrich.test_enrich import report, send_with_callbacks
from tests.sending.helpers import ROOT, campaign


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def running(pid: int) -> bool:
    """Whether the process exists and has not ended (a zombie waiting for its reaper has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def until(condition: object, what: str, bound: float = 60) -> None:
    """Wait for `condition()` (a bound for a stuck run, not a speed requirement)."""
    deadline = time.monotonic() + bound
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


@pytest.mark.parametrize("stop", ["ctrl-c", "kill -9"])
def test_enrich_stopped_while_reading_ahead(tmp_path: Path, stop: str) -> None:
    file, out, log, _ = send_with_callbacks(tmp_path, [0, 1, 6, 8])
    content = log.read_bytes()
    big = tmp_path / "big.jsonl"  # the same callbacks over and over: past the size read ahead
    big.write_bytes(content * (4 * READ_AHEAD_BYTES // len(content) + 1))
    enrich = subprocess.Popen(
        [sys.executable, "-m", "runner", "enrich", str(file), "--callbacks", str(big), "--outputs", str(out)],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # (its own process group, as a terminal's foreground job has)
    )
    until(lambda: children(enrich.pid), "enrich never started a reader")
    [reader] = children(enrich.pid)
    if stop == "ctrl-c":
        os.killpg(enrich.pid, signal.SIGINT)  # what a terminal sends its foreground job: both processes
    else:
        os.kill(enrich.pid, signal.SIGKILL)
    stdout, stderr = enrich.communicate(timeout=60)
    until(lambda: not running(reader), "the reader outlived enrich")
    if stop == "ctrl-c":
        assert enrich.returncode == ExitCode.INTERRUPTED, stdout + stderr
        assert "interrupted" in stderr and "Traceback" not in stdout + stderr
    else:
        assert enrich.returncode == -signal.SIGKILL
    assert all(row["delivery_status_code"] == "" for row in report(out))  # nothing merged half-way

    again = campaign("enrich", str(file), "--callbacks", str(big), "--outputs", str(out))

    assert again.exit_code == 0, again.output
    lines = len(content.splitlines()) * (4 * READ_AHEAD_BYTES // len(content) + 1)
    assert f"read {lines} lines: {lines} callbacks for 4 messages" in again.output
    assert [row["delivery_status_code"] for row in report(out)] == ["3005", "3000", "3000", "3003"]
