"""A campaign's file that is there but cannot be read (chmod 000, another user's file): one line
naming it, exit 1, never a traceback (the check's cache key read them before the check did)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testing.cli import invoke
from tests.testing.files import make_unreadable, shipped_campaigns

CAMPAIGN = "campaigns/winter-sale.toml"


@pytest.mark.parametrize(
    ("unreadable", "said"),
    [
        ("campaigns/audiences/winter-sale.csv", "campaigns/audiences/winter-sale.csv: cannot read: Permission denied"),
        ("campaigns/audiences/opt-out.csv", "campaigns/audiences/opt-out.csv: cannot read: Permission denied"),
        (
            "templates/winter_sale/viber.txt.j2",
            "cannot read winter_sale/viber.txt.j2 (Permission denied); make it readable to the user running campaign",
        ),
    ],
)
@pytest.mark.parametrize("command", [["check"], ["preview"], ["send", "--dry-run"]])
def test_an_unreadable_input_is_one_line_naming_it(
    unreadable: str, said: str, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shipped_campaigns(tmp_path))
    make_unreadable(tmp_path / unreadable, monkeypatch)
    result = invoke(*command, CAMPAIGN)
    assert result.exit_code == 1, result.output
    assert said in result.stderr
    assert not (tmp_path / "outputs" / "winter-sale-2026" / "dry-run.jsonl").exists()


def test_an_unreadable_policy_is_named_once_and_every_campaign_counted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shipped_campaigns(tmp_path))
    make_unreadable(tmp_path / "campaigns" / "policy.toml", monkeypatch)
    result = invoke("check")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "campaigns/policy.toml: cannot read: Permission denied",
        "2 of 2 campaign file(s) have problems; nothing can be sent from them",
    ]


def test_a_broken_policy_is_named_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(shipped_campaigns(tmp_path))
    with (tmp_path / "campaigns" / "policy.toml").open("a", encoding="utf-8") as policy:
        policy.write('\nwindow = "\n')
    result = invoke("check", CAMPAIGN)
    assert result.exit_code == 1
    problems = [line for line in result.stderr.splitlines() if line.startswith("campaigns/policy.toml:")]
    assert len(problems) == 1, result.stderr
    assert "1 of 1 campaign file(s) have problems" in result.stderr
