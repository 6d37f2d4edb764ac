"""A folder where a file belongs: `campaign send campaigns/` (as `check campaigns/` is typed), or
an audience path naming a folder. One line saying what to name instead, exit 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.testing.cli import invoke
from tests.testing.files import shipped_campaigns


@pytest.mark.parametrize(
    "command", [["send"], ["send", "--sandbox"], ["preview"], ["plan"], ["status"], ["enrich", "--callbacks", "x"]]
)
def test_a_folder_given_as_the_campaign_file_says_to_name_a_file(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shipped_campaigns(tmp_path))
    result = invoke(command[0], "campaigns", *command[1:])
    assert result.exit_code == 1, result.output
    assert "campaigns: a folder, not a campaign file: name a .toml file in it" in result.output
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("csv", ["winter-sale.csv", "opt-out.csv"])
def test_an_audience_or_suppression_path_naming_a_folder_says_so(
    csv: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shipped_campaigns(tmp_path))
    path = Path("campaigns/audiences") / csv
    path.unlink()
    path.mkdir()
    result = invoke("check", "campaigns/winter-sale.toml")
    assert result.exit_code == 1, result.output
    assert f"{path}: a folder, not a CSV file: name the CSV file inside it" in result.stderr
    shutil.rmtree(path)
