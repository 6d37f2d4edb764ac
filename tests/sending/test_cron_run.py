"""`campaign run [DIR]` as cron runs it: every due campaign sent, the others skipped with a reason,
the exit code the worst of the campaigns'. Schedules are relative to the real clock (the CLI has
no clock option), a day away on either side, so no test depends on timing."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.ledger.lock import CampaignLock
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, has_ledger, ledger_states, phone, telesign_env, write_campaign

DAY = timedelta(days=1)


def schedule(start: timedelta | None = None, end: timedelta | None = None) -> str:
    """A [schedule] table with times relative to now, as TOML offset date-times."""
    now = datetime.now(UTC).replace(microsecond=0)
    lines = ["[schedule]"]
    if start is not None:
        lines.append(f"start = {(now + start).isoformat()}")
    if end is not None:
        lines.append(f"end = {(now + end).isoformat()}")
    return "\n".join(lines) + "\n"


def sent_per_campaign(sim: Any) -> Counter[str]:
    """Accepted requests by campaign id (external_id is `<campaign-id>.<hash>`)."""
    return Counter(a.external_id.split(".", 1)[0] for a in sim.app.accepted())


def report_states(out: Path, campaign_id: str) -> list[str]:
    with (out / campaign_id / "report.csv").open(encoding="utf-8") as handle:
        return [row["state"] for row in csv.DictReader(handle)]


@pytest.mark.one_sender
def test_cron_sends_what_is_due_and_skips_the_rest_each_with_its_reason(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    root = tmp_path / "campaigns"
    write_campaign(root / "a-due", digits=[1, 2, 3], campaign_id="due", extra=schedule(start=-DAY, end=DAY))
    write_campaign(root / "b-future", digits=[1, 2], campaign_id="future", extra=schedule(start=DAY))
    write_campaign(root / "c-over", digits=[1, 2, 3, 4], campaign_id="over", extra=schedule(start=-2 * DAY, end=-DAY))
    write_campaign(root / "d-locked", digits=[1, 2], campaign_id="locked")
    write_campaign(root / "e-unscheduled", digits=[4, 5], campaign_id="anytime")
    out = tmp_path / "out"

    with CampaignLock(out / "locked", "locked", "send"):
        result = campaign("run", str(root), "--outputs", str(out), "--log-format", "plain", env=telesign_env(sim.url))

    assert result.exit_code == 3, result.output  # the worst: expired; a locked campaign is no failure (issue 9)
    assert sent_per_campaign(sim) == Counter({"due": 3, "anytime": 2})
    assert set(sim.app.accepted_by_phone().values()) == {1}
    printed = result.output
    assert "future: not due until" in printed
    locked_lines = [
        line for line in result.stderr.splitlines() if line.split(" ", 1)[1].startswith("locked:")
    ]  # after its time
    assert len(locked_lines) == 1 and "skipped" in locked_lines[0] and "another process" in locked_lines[0]
    assert not has_ledger(out, "locked") and not (out / "future").exists()
    # past its end: nothing sent, every message reported expired
    assert "over: past its schedule's end: 4 unsent message(s) marked expired" in printed
    assert report_states(out, "over") == ["expired"] * 4
    assert report_states(out, "due") == ["accepted"] * 3


def test_an_expired_campaign_alone_exits_3(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    root = tmp_path / "campaigns"
    write_campaign(root / "over", digits=[1, 2], campaign_id="over", extra=schedule(start=-2 * DAY, end=-DAY))
    result = campaign("run", str(root), "--outputs", str(tmp_path / "out"), env=telesign_env(sim.url))
    assert result.exit_code == 3, result.output
    assert sim.app.outcomes() == Counter()


def test_a_campaign_that_ends_midway_has_its_unsent_rest_expired(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    """max_per_run spreads it over cron runs; the end comes before everyone was sent."""
    sim = make_simulator()
    root = tmp_path / "campaigns"
    file = write_campaign(
        root / "c",
        digits=[1, 2, 3, 4, 5],
        campaign_id="spread",
        sending="rate = 1000\nconcurrency = 2\nmax_attempts = 3\nmax_per_run = 2",
        extra=schedule(start=-DAY, end=DAY),
    )
    out = tmp_path / "out"
    assert campaign("run", str(root), "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    assert len(sim.app.accepted()) == 2
    # move the end into the past
    text = file.read_text()
    end_line = next(line for line in text.splitlines() if line.startswith("end = "))
    file.write_text(
        text.replace(end_line, f"end = {(datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()}")
    )
    result = campaign("run", str(root), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 3, result.output
    assert len(sim.app.accepted()) == 2
    assert report_states(out, "spread") == ["accepted", "accepted", "expired", "expired", "expired"]


def test_a_complete_campaign_is_left_alone_until_its_audience_grows(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    root = tmp_path / "campaigns"
    folder = root / "c"
    write_campaign(folder, digits=[1, 2, 3], campaign_id="weekly", extra=schedule(start=-DAY))
    out = tmp_path / "out"
    env = telesign_env(sim.url)

    first = campaign("run", str(root), "--outputs", str(out), env=env)
    assert first.exit_code == 0, first.output
    assert len(sim.app.accepted()) == 3

    again = campaign("run", str(root), "--outputs", str(out), env=env)
    assert again.exit_code == 0
    assert "weekly: complete" in again.stdout
    assert len(sim.app.accepted()) == 3

    audience = folder / "audience.csv"
    audience.write_text(audience.read_text() + f"r-new,{phone(40, 4)},New,60000\n")
    grown = campaign("run", str(root), "--outputs", str(out), env=env)
    assert grown.exit_code == 0, grown.output
    assert len(sim.app.accepted()) == 4
    assert sim.app.accepted()[-1].phone_number == "".join(c for c in phone(40, 4) if c.isdigit())
    assert set(sim.app.accepted_by_phone().values()) == {1}
    assert set(ledger_states(out, "weekly").values()) == {"accepted"} and len(ledger_states(out, "weekly")) == 4

    settled = campaign("run", str(root), "--outputs", str(out), env=env)
    assert "weekly: complete" in settled.stdout and len(sim.app.accepted()) == 4


def test_a_campaign_with_failed_messages_is_retried_by_the_next_cron_run(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    root = tmp_path / "campaigns"
    write_campaign(
        root / "c", digits=[1, 2], campaign_id="flaky", sending="rate = 1000\nconcurrency = 2\nmax_attempts = 2"
    )
    out = tmp_path / "out"
    failing = make_simulator(fail_rate=1.0)
    assert campaign("run", str(root), "--outputs", str(out), env=telesign_env(failing.url)).exit_code == 3
    healthy = make_simulator()
    result = campaign("run", str(root), "--outputs", str(out), env=telesign_env(healthy.url))
    assert result.exit_code == 0, result.output
    assert "complete" not in result.stdout
    assert len(healthy.app.accepted()) == 2


def test_an_invalid_campaign_does_not_stop_the_others(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    root = tmp_path / "campaigns"
    write_campaign(root / "good", digits=[1, 2], campaign_id="good")
    bad = write_campaign(root / "bad", digits=[1], campaign_id="bad")
    (bad.parent / "audience.csv").write_text("id,phone,first_name,order_id\nr-x,not a phone,X,1\n")
    result = campaign("run", str(root), "--outputs", str(tmp_path / "out"), env=telesign_env(sim.url))
    assert result.exit_code == 1
    assert "audience.csv:2:" in result.stderr
    assert sent_per_campaign(sim) == Counter({"good": 2})


def test_two_files_with_one_campaign_id_send_neither_and_say_so(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    """A copy kept after a rename (or a folder copied to start a new campaign) has the id of the
    original: before, each cron run synced both files into the one ledger in turn and sent whichever
    sorted first, silently. Now neither is sent, each named with the other, and the others go on."""
    sim = make_simulator()
    root = tmp_path / "campaigns"
    first = write_campaign(root / "spring", digits=[1, 2], campaign_id="spring")
    second = write_campaign(root / "spring-copy", digits=[1, 2, 3], campaign_id="spring", name="spring-v2.toml")
    write_campaign(root / "other", digits=[4], campaign_id="other")
    (root / "other" / "link.toml").symlink_to("campaign.toml")  # the same file twice: sent once, no error
    out = tmp_path / "out"

    for _ in range(2):
        result = campaign("run", str(root), "--outputs", str(out), "--log-format", "plain", env=telesign_env(sim.url))
        assert result.exit_code == 1, result.output
        lines = [line.split(" ", 1)[1] for line in result.stderr.splitlines() if "also the id of" in line]
        assert lines == [
            f"{first}:1: campaign id 'spring' is also the id of {second}: none of them is sent; keep one file "
            "per campaign (delete the copy), or give a new campaign its own id",
            f"{second}:1: campaign id 'spring' is also the id of {first}: none of them is sent; keep one file "
            "per campaign (delete the copy), or give a new campaign its own id",
        ]
    assert sent_per_campaign(sim) == Counter({"other": 1})
    assert not has_ledger(out, "spring")


def test_nothing_is_sent_after_the_schedules_end_when_it_comes_mid_run(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    """20 messages at 2/s take 10 s; the schedule ends 3 s in. Before, the cron run read the clock
    once at its start, and the sender never looked at the end: all 20 were sent, the last ones
    seconds after the end, exit 0. Now the run stops claiming at the end and expires the rest."""
    sim = make_simulator()
    root = tmp_path / "campaigns"
    end = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    write_campaign(
        root / "c",
        digits=[1] * 20,
        campaign_id="closing",
        sending="rate = 2\nconcurrency = 2\nmax_attempts = 3",
        extra=f"[schedule]\nstart = {(end - DAY).isoformat()}\nend = {end.isoformat()}\n",
    )
    out = tmp_path / "out"

    result = campaign("run", str(root), "--outputs", str(out), "--log-format", "plain", env=telesign_env(sim.url))

    assert result.exit_code == 3, result.output
    arrived = [a.accepted_at for a in sim.app.accepted()]
    assert 0 < len(arrived) < 20
    assert max(arrived) < end.timestamp() + 0.5  # (a request written just before the end arrives just after)
    states = report_states(out, "closing")
    assert Counter(states) == Counter({"accepted": len(arrived), "expired": 20 - len(arrived)})
    assert f"closing: reached its schedule's end: {20 - len(arrived)} unsent message(s) marked expired" in result.stderr
