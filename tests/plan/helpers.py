"""Campaigns for plan tests: audiences with suppressed, duplicate and invalid rows, real git
repositories made in a temporary folder, and the plan read back as the JSON a user saves."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.sending.helpers import campaign, phone, write_campaign

ENV_GIT = {
    "GIT_AUTHOR_NAME": "Reviewer",
    "GIT_AUTHOR_EMAIL": "reviewer@example.com",
    "GIT_COMMITTER_NAME": "Reviewer",
    "GIT_COMMITTER_EMAIL": "reviewer@example.com",
    "GIT_AUTHOR_DATE": "2026-11-30T12:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-11-30T12:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_SYSTEM": os.devnull,
}


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True, env={**os.environ, **ENV_GIT}
    )
    return done.stdout.strip()


def init_repository(folder: Path) -> None:
    git(folder, "init", "-q", "-b", "main")
    commit_all(folder, "campaigns")


def commit_all(folder: Path, message: str) -> str:
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", message)
    return git(folder, "rev-parse", "HEAD")


def mixed_campaign(
    folder: Path, extra: str = "", sending: str = "rate = 1000\nconcurrency = 8\nmax_attempts = 3"
) -> Path:
    """Twelve audience rows: 8 to send (one of them refused by the simulator: last digit 9), 2
    suppressed by opt-out.csv, 1 duplicate phone, 1 invalid number (on_invalid = "skip")."""
    file = write_campaign(folder, digits=range(1, 9), sending=sending, extra=extra)
    lines = (folder / "audience.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit(",", 3)[0].split(",")[0] + f",{phone(2, 9)},Name2,50002"  # refused: 400
    lines += [
        f"s-0001,{phone(20, 1)},Sup1,60001",
        f"s-0002,{phone(21, 2)},Sup2,60002",
        f"d-0001,{phone(0, 1)},Dup,60003",
        "x-0001,not a number,Bad,60004",
    ]
    (folder / "audience.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "opt-out.csv").write_text(f"phone\n{phone(20, 1)}\n{phone(21, 2)}\n", encoding="utf-8")
    text = file.read_text(encoding="utf-8")
    text = text.replace(
        'default_region = "US"', 'default_region = "US"\nsuppress = ["opt-out.csv"]\non_invalid = "skip"'
    )
    file.write_text(text, encoding="utf-8")
    return file


def plan_json(file: Path, out: Path, *more: str) -> dict[str, Any]:
    result = campaign("plan", str(file), "--format", "json", "--outputs", str(out), *more)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def save_plan(file: Path, out: Path, plan: Path, *more: str) -> dict[str, Any]:
    result = campaign("plan", str(file), "-o", str(plan), "--format", "json", "--outputs", str(out), *more)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(plan.read_text(encoding="utf-8"))
    return data
