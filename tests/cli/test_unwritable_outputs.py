"""Where a command must write (the outputs folder, a -o file) cannot be written: one line naming the
place and what to do, exit 4, nothing sent; never a traceback. Root writes anywhere, so the tests
put a file where the folder must go (what a non-root user's chmod 555 folder does the same way)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, telesign_env, write_campaign

WHAT_TO_DO = "choose a folder you may write to (--outputs DIR, -o FILE) or fix its permissions"


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (["send"], "blocker/out/test-campaign"),
        (["send", "--sandbox", "--no-callbacks"], "blocker/out/sandbox/.rehearsals/test-campaign"),
        (["send", "--dry-run"], "blocker/out/test-campaign/dry-run.jsonl"),
        (["run"], "blocker/out/test-campaign"),
    ],
)
def test_an_outputs_folder_under_a_file_is_one_line_exit_4(
    command: list[str], named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    monkeypatch.chdir(tmp_path)
    file = write_campaign(tmp_path / "campaigns", digits=[1, 2])
    Path("blocker").write_text("a file, not a folder\n", encoding="utf-8")
    target = ["campaigns"] if command == ["run"] else [str(file)]
    result = campaign(*command, *target, "--outputs", "blocker/out", "--log-format", "plain", env=telesign_env(sim.url))
    assert result.exit_code == 4, result.output
    assert f"{named}: cannot write there (a file is in the way of a folder); {WHAT_TO_DO}" in result.stderr
    assert sim.app.outcomes() == Counter()


@pytest.mark.parametrize("command", [["plan", "-o"], ["preview", "--html", "-o"]])
def test_an_output_file_that_cannot_be_written_is_one_line_exit_4(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    file = write_campaign(tmp_path / "campaigns", digits=[1, 2])
    Path("blocker").write_text("a file, not a folder\n", encoding="utf-8")
    result = campaign(*command[:-1], str(file), command[-1], "blocker/page.out")
    assert result.exit_code == 4, result.output
    assert "blocker" in result.stderr and f"(a file is in the way of a folder); {WHAT_TO_DO}" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_an_error_that_is_no_write_is_not_said_as_one() -> None:
    """The handler's last resort says a failed write as such; a socket's or a device's error, which
    no command expected, keeps the system's words rather than send the user to fix permissions."""
    import errno

    from runner.errors import CannotWrite

    refused = CannotWrite.of_any(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    assert str(refused) == "Connection refused"
    denied = CannotWrite.of_any(PermissionError(errno.EACCES, "Permission denied", "/srv/out/report.csv"))
    assert str(denied).startswith("/srv/out/report.csv: cannot write there (Permission denied)")
