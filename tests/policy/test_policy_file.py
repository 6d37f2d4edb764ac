"""`campaign check` and the repository policy: every bad value of campaigns/policy.toml is an error
at its line, unknown keys get a "did you mean", and a campaign may narrow the policy but not widen
it (docs/policy.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.campaign.helpers import TWO_RECIPIENTS, edit, invoke, line_of, write

POLICY = "campaigns/policy.toml"
CAMPAIGN = "campaigns/t.toml"


BAD_VALUES = {
    "window not a span": ('[schedule]\nwindow = "9 to 5"\n', "window", "is not a window"),
    "window hour 25": ('[schedule]\nwindow = "08:00-25:00"\n', "window", "hours are 00..23"),
    "empty window": ('[schedule]\nwindow = "08:00-08:00"\n', "window", "is empty"),
    "window a number": ("[schedule]\nwindow = 8\n", "window", "valid string"),
    "unknown day": ('[schedule]\ndays = ["mon", "funday"]\n', "days", "'funday' is not a day"),
    "no days": ("[schedule]\ndays = []\n", "days", "`days` is empty"),
    "bad zone says did you mean": (
        '[schedule]\ntimezone = "Europe/Berln"\n',
        "timezone",
        "did you mean 'Europe/Berlin'?",
    ),
    "widen not a boolean": ('[schedule]\ncampaigns_may_widen = "yes"\n', "campaigns_may_widen", "valid boolean"),
    "keyword without letters": ('[opt_out]\nkeywords = ["STOP", "!!"]\n', "keywords", "no letters or digits"),
    "opt_in not a list": ('[opt_out]\nopt_in = "START"\n', "opt_in", "valid list"),
    "cap not a cap": ('[sending]\nmax_per_phone = "two a week"\n', "max_per_phone", "is not a frequency cap"),
    "cap of zero": ('[sending]\nmax_per_phone = "0/7d"\n', "max_per_phone", "at least 1"),
    "cap over a year": ('[sending]\nmax_per_phone = "1/400d"\n', "max_per_phone", "at most a year"),
    "account_rate zero": ("[sending]\naccount_rate = 0\n", "account_rate", "greater than 0"),
    # types are strict, as in campaign files: a number in quotes is a mistake, not a number
    "account_rate in quotes": ('[sending]\naccount_rate = "50"\n', "account_rate", "valid number"),
    "require_plan not a boolean": ('[sending]\nrequire_plan = "no"\n', "require_plan", "valid boolean"),
    "poll not a boolean": ("[sending]\npoll = 1.5\n", "poll", "valid boolean"),
    "pricing file not text": ("[pricing]\nfile = 3\n", "file", "valid string"),
    "unknown key": (
        '[schedule]\nwindw = "08:00-20:00"\n',
        "windw",
        "unknown key `schedule.windw`; did you mean `window`?",
    ),
    "unknown table": ("[sendng]\nrate = 1\n", "[sendng]", "unknown key `sendng`; did you mean `sending`?"),
    "toml syntax": ('[schedule]\nwindow = "08:00-20:00\n', "window", "TOML syntax"),
}


@pytest.mark.parametrize("case", BAD_VALUES.values(), ids=list(BAD_VALUES))
def test_every_bad_policy_value_is_an_error_at_its_line(
    case: tuple[str, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy, on_line, message = case
    monkeypatch.chdir(tmp_path)
    write(tmp_path, POLICY, policy)
    write(tmp_path, CAMPAIGN, TWO_RECIPIENTS)

    result = invoke("check")

    assert result.exit_code == 1, result.output
    line = line_of(policy, on_line)
    errors = [e for e in result.stderr.splitlines() if e.startswith(POLICY)]
    assert errors and errors[0].startswith(f"{POLICY}:{line}: "), result.stderr
    assert message in errors[0]
    # the campaign under a bad policy is not ok either: nothing could be sent from it
    assert f"{CAMPAIGN}: ok" not in result.stdout


def test_a_good_policy_is_checked_once_and_its_window_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, POLICY, '[schedule]\nwindow = "09:00-20:00"\ntimezone = "America/New_York"\n')
    write(tmp_path, CAMPAIGN, TWO_RECIPIENTS)
    write(tmp_path, "campaigns/sub/u.toml", edit(TWO_RECIPIENTS, 'id = "t-1"', 'id = "t-2"'))

    result = invoke("check")

    assert result.exit_code == 0, result.output
    assert result.stdout.count(f"{POLICY}: ok") == 1
    assert result.stdout.count("window: 09:00-20:00 local, every day (policy.toml)") == 2
    # the 555 test numbers have no zone of their own: both recipients of each campaign fall back
    assert "2 recipient(s) with no time zone from a `timezone` column or their number" in result.stdout
    assert "America/New_York" in result.stdout


def test_window_any_is_printed_as_a_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, POLICY, '[schedule]\nwindow = "any"\n')
    write(tmp_path, CAMPAIGN, TWO_RECIPIENTS)
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert "window: any time (policy.toml)" in result.stdout


def test_window_any_with_days_keeps_the_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "Any time, weekdays only": the days used to be dropped with the window, and messages left on
    # Saturdays and Sundays.
    from datetime import UTC, datetime

    from runner.campaign.schema import load
    from runner.policy.rules import rules_for

    monkeypatch.chdir(tmp_path)
    weekdays = '["mon", "tue", "wed", "thu", "fri"]'
    write(tmp_path, POLICY, f'[schedule]\nwindow = "any"\ndays = {weekdays}\ntimezone = "Europe/London"\n')
    write(tmp_path, CAMPAIGN, TWO_RECIPIENTS)
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert "window: 00:00-24:00 local, mon, tue, wed, thu, fri (policy.toml)" in result.stdout
    rules = rules_for(load(tmp_path / CAMPAIGN))
    saturday_noon = datetime(2026, 12, 5, 12, tzinfo=UTC)
    london = rules.zones("+15558675309", {})
    assert london.names == ("Europe/London",)
    assert rules.next_open(saturday_noon, london) == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # Monday 00:00
    assert rules.next_open(saturday_noon.replace(day=4), london) == saturday_noon.replace(day=4)  # a Friday

    # A campaign's own `window = "any"` with days keeps them too (an ARN campaign: no policy window).
    arn = edit(
        edit(TWO_RECIPIENTS, 'message_type = "MKT"', 'message_type = "ARN"'),
        "[audience]",
        '[schedule]\nwindow = "any"\ndays = ["sat"]\n\n[audience]',
    )
    write(tmp_path, CAMPAIGN, arn)
    result = invoke("check", CAMPAIGN)
    assert result.exit_code == 0, result.output
    assert "window: 00:00-24:00 local, sat (the campaign file)" in result.stdout

    # Every day named: no window at all, as "any" alone (no time zone needed).
    write(tmp_path, POLICY, '[schedule]\nwindow = "any"\ndays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n')
    write(tmp_path, CAMPAIGN, TWO_RECIPIENTS)
    result = invoke("check", CAMPAIGN)
    assert result.exit_code == 0, result.output
    assert "window: any time (policy.toml)" in result.stdout


NARROWING = {
    "wider window": ('window = "07:00-21:00"', "window", "widens the repository's window"),
    "any under a window": ('window = "any"', "window", "widens the repository's window"),
    "more days": ('days = ["sat", "sun"]', "days", "widens the repository's window"),
    "looser cap": (None, "max_per_phone", "looser than the repository's max_per_phone = '2/7d'"),
}


@pytest.mark.parametrize("case", NARROWING.values(), ids=list(NARROWING))
def test_a_campaign_may_not_widen_the_policy(
    case: tuple[str | None, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule, on_line, message = case
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        POLICY,
        '[schedule]\nwindow = "08:00-20:00"\ndays = ["mon", "tue"]\n[sending]\nmax_per_phone = "2/7d"\n',
    )
    text = TWO_RECIPIENTS
    if schedule is not None:
        text = edit(text, "[audience]", f"[schedule]\n{schedule}\n\n[audience]")
    else:
        text = edit(text, "[audience]", '[sending]\nmax_per_phone = "3/7d"\n\n[audience]')
    write(tmp_path, CAMPAIGN, text)

    result = invoke("check", CAMPAIGN)

    assert result.exit_code == 1, result.output
    assert f"{CAMPAIGN}:{line_of(text, on_line)}: " in result.stderr
    assert message in result.stderr


def test_a_campaign_may_narrow_and_the_policy_may_allow_widening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, POLICY, '[schedule]\nwindow = "08:00-20:00"\n[sending]\nmax_per_phone = "2/7d"\n')
    narrow = edit(
        TWO_RECIPIENTS,
        "[audience]",
        '[schedule]\nwindow = "10:00-18:00"\ndays = ["mon"]\n\n[sending]\nmax_per_phone = "1/14d"\n\n[audience]',
    )
    write(tmp_path, CAMPAIGN, narrow)
    result = invoke("check", CAMPAIGN)
    assert result.exit_code == 0, result.output
    assert "window: 10:00-18:00 local, mon (the campaign file)" in result.stdout
    assert "at most 1 marketing message per phone in any 14d" in result.stdout

    write(tmp_path, POLICY, '[schedule]\nwindow = "08:00-20:00"\ncampaigns_may_widen = true\n')
    wide = edit(TWO_RECIPIENTS, "[audience]", '[schedule]\nwindow = "any"\n\n[audience]')
    write(tmp_path, CAMPAIGN, wide)
    result = invoke("check", CAMPAIGN)
    assert result.exit_code == 0, result.output
    assert "window: any time (the campaign file)" in result.stdout


def test_a_bad_timezone_column_is_an_error_at_its_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = edit(TWO_RECIPIENTS, 'order_id = "45390" }', 'order_id = "45390", timezone = "Mars/Olympus" }')
    write(tmp_path, CAMPAIGN, text)
    result = invoke("check", CAMPAIGN)
    assert result.exit_code == 1
    assert (
        f"{CAMPAIGN}:{line_of(text, 'Mars/Olympus')}: `timezone` column: 'Mars/Olympus' is not an IANA time zone"
        in result.stderr
    )
