"""SIGTERM (cron's timeout, systemd, kill) while a command checks a large audience, before any
send began: one line says so and the exit code is 143. Python's default ended the process
without a word, and cron's log showed nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.sending.helpers import ROOT, phone, write_campaign


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_sigterm_during_a_check_says_terminated(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c", digits=[1])
    rows = ["id,phone,first_name,order_id"] + [f"r-{i},{phone(i, i % 9)},N{i},{i}" for i in range(300_000)]
    (tmp_path / "c" / "audience.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    env = {**os.environ, "CAMPAIGN_CHECK_PROCESSES": "1", "CAMPAIGN_CHECK_CACHE": "off"}
    command = [sys.executable, "-m", "runner", "check", str(file), "--outputs", str(tmp_path / "out")]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # past the interpreter's start and the imports (about 0.3 s of CPU): inside the check
    while cpu_seconds(process.pid) < 1.0 and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert err.strip().splitlines()[-1].endswith("terminated"), err
    assert "Traceback" not in err
