"""The shipped examples a marketer copies: they pass `campaign check` with the counts they were
written to show, and their audiences exercise what the simulator's outcomes key on."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest

from tests.campaign.helpers import expand, invoke

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


def test_both_examples_pass_check_with_their_summary_lines(in_repo: Path) -> None:
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "campaigns/policy.toml: ok: the repository policy",
        "campaigns/order-tracking.toml: ok: 10 recipients, 10 messages, 0 suppressed, 0 duplicates, 0 skipped, "
        "SMS GSM-7, up to 1 segment",
        "  window: any time (no default window for ARN)",
        "campaigns/winter-sale.toml: ok: 20 recipients, 18 messages, 1 suppressed, 1 duplicate, 0 skipped, "
        "SMS GSM-7, up to 1 segment",
        "  window: 08:00-21:00 local, every day (policy.toml)",
        "  frequency cap: at most 2 marketing messages per phone in any 7d",
    ]


@pytest.mark.parametrize("name", ["order-tracking.toml", "winter-sale.toml"])
def test_each_example_reaches_several_countries_and_every_last_digit_0_to_8(in_repo: Path, name: str) -> None:
    messages = expand(Path("campaigns") / name).messages
    phones = [m.recipient.phone for m in messages]
    assert {p[-1] for p in phones} >= set("012345678")
    countries = {phonenumbers.region_code_for_number(phonenumbers.parse(p)) for p in phones}
    assert len(countries) >= 5


def test_the_marketing_example_uses_a_csv_a_suppression_list_and_a_template_file(in_repo: Path) -> None:
    expanded = expand(Path("campaigns/winter-sale.toml"))
    suppressed = [s for s in expanded.skipped if s.state == "suppressed"]
    assert [s.source for s in suppressed] == ["campaigns/audiences/winter-sale.csv"]
    first = expanded.messages[0]
    assert first.recipient.source == "campaigns/audiences/winter-sale.csv"
    assert first.texts.viber_text.startswith(
        f"Hi {first.recipient.variables['first_name']}! "
    )  # templates/winter_sale/
    assert first.texts.url.startswith("https://viatushop.com/sale?c=winter-sale-2026&u=")


def test_the_pre_commit_hook_runs_campaign_check_on_toml_files() -> None:
    hook = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    for line in (
        "- id: campaign-check",
        "entry: campaign check",
        "language: python",
        "files: \\.toml$",
        "pass_filenames: true",
    ):
        assert line in hook
    assert 'campaign = "runner.main:main"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")
