"""Issue 9 items 10, 16 and 19 (first part): which files and options a send accepts, and that a
refused send leaves nothing behind: no message, no ledger, no lock."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, telesign_env, write_campaign


def bad_row_campaign(folder: Path, campaign_id: str) -> Path:
    """A valid campaign file whose audience's last row has a phone number that is not one."""
    file = write_campaign(folder, digits=[1, 2, 3], campaign_id=campaign_id)
    audience = folder / "audience.csv"
    audience.write_text(audience.read_text() + "r-bad,12,Bad,1\n")
    return file


@pytest.mark.parametrize("bad_first", [True, False], ids=["bad-first", "bad-last"])
def test_one_invalid_file_among_several_sends_nothing_in_any_order(
    bad_first: bool, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    good = write_campaign(tmp_path / "good", digits=[1, 2], campaign_id="good")
    bad = bad_row_campaign(tmp_path / "bad", "bad")
    files = [bad, good] if bad_first else [good, bad]
    out = tmp_path / "out"
    result = campaign("send", *map(str, files), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 1, result.output
    assert f"{tmp_path / 'bad' / 'audience.csv'}:5:" in result.stderr
    assert "1 of 2 campaign file(s) have problems: nothing was sent" in result.stderr
    assert sim.app.outcomes() == Counter()
    assert not out.exists()  # no ledger, no lock, no report for either campaign


def test_an_invalid_first_send_creates_no_ledger_and_no_lock(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = bad_row_campaign(tmp_path / "c", "test-campaign")
    out = tmp_path / "out"
    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 1
    assert not (out / "test-campaign").exists()
    assert sim.app.outcomes() == Counter()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--dry-run", "--sandbox"], "--dry-run and --sandbox cannot be used together"),
        (["--sandbox", "--test-to", "+1 202 555 0911"], "--sandbox and --test-to cannot be used together"),
        (["--dry-run", "--test-to", "+1 202 555 0911"], "--dry-run and --test-to cannot be used together"),
        (["--dry-run", "--resend-unknown"], "--resend-unknown resends messages of the campaign's ledger"),
        (["--sandbox", "--resend-unknown"], "--resend-unknown resends messages of the campaign's ledger"),
        (["--test-to", "+1 202 555 0911", "--limit", "2"], "--limit does not apply to --test-to"),
    ],
)
def test_options_that_mean_nothing_together_are_a_usage_error(
    args: list[str], says: str, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2])
    out = tmp_path / "out"
    result = campaign("send", str(file), *args, "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 2, result.output
    assert says in result.stderr
    assert sim.app.outcomes() == Counter()
    assert not out.exists()


def test_dry_run_with_limit_writes_the_first_n_bodies_and_checks_every_row(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c", digits=range(9))
    out = tmp_path / "out"
    result = campaign("send", str(file), "--dry-run", "--limit", "3", "--outputs", str(out))
    assert result.exit_code == 0, result.output
    bodies = [json.loads(line) for line in (out / "test-campaign" / "dry-run.jsonl").read_text().splitlines()]
    assert [b["phone_number"] for b in bodies] == ["12025550000", "12025550011", "12025550022"]
    assert "9 messages" in result.stdout and "the first 3 of them written, --limit 3" in result.stdout

    bad = bad_row_campaign(tmp_path / "b", "bad")
    refused = campaign("send", str(bad), "--dry-run", "--limit", "1", "--outputs", str(out))
    assert refused.exit_code == 1 and "audience.csv:5:" in refused.stderr  # the row after the limit


def test_sandbox_with_limit_sends_at_most_n(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c", digits=[1, 2, 3, 4, 5])
    out = tmp_path / "out"
    result = campaign("send", str(file), "--sandbox", "--limit", "2", "--outputs", str(out))
    assert result.exit_code == 0, result.output
    # the summary says "accepted": its funnel line uses "sent" for requests made
    assert "sandbox test-campaign: 2 accepted" in result.stdout
