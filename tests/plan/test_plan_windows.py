"""Send windows: a plan made at a moment when some recipients are outside their window counts
them deferred, by when their window opens, exactly as the send at that moment defers them; the
plan says the window is decided when the send runs, and a saved plan applied later sends what
has come inside its window since. Fixed clocks, recipients in several time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from runner.campaign.schema import load
from runner.ledger.backend import open_existing
from runner.plan.compute import PlanOptions, make_plan
from runner.sending.run import SendOptions, send_campaign
from tests.fixtures.simulator import MakeSimulator
from tests.policy.test_send_windows import settings, write_campaign

# 12:30 UTC: inside 08:00-21:00 in London, Berlin, Delhi; outside it in New York, Los Angeles,
# Tokyo, Sydney, Auckland (and in part of Russia's eleven zones, so that one waits for all).
AT = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)


def test_the_plan_defers_what_the_send_defers(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "campaigns", AT - timedelta(hours=1))
    out = tmp_path / "out"
    plan = make_plan(load(file), None, PlanOptions(now=AT, outputs=out))
    assert plan.counts.to_send + plan.counts.deferred == 9
    assert 0 < plan.counts.to_send < 9
    assert any("send window" in note for note in plan.at_send_time)
    assert plan.timing.finishes_at is not None and plan.timing.finishes_at > AT

    result = send_campaign(load(file), settings(sim), SendOptions(outputs=out, now=AT, log_format="plain"))
    assert result.exit_code == 0, result
    assert len(sim.app.accepted()) == plan.counts.to_send
    ledger = open_existing(out / "sale", "sale")
    assert ledger is not None
    try:
        assert dict(ledger.deferred()) == plan.counts.deferred_until
    finally:
        ledger.close()


def test_a_saved_plan_sends_what_its_window_lets_through_at_send_time(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "campaigns", AT - timedelta(hours=1))
    out = tmp_path / "out"
    saved = make_plan(load(file), None, PlanOptions(now=AT, outputs=out))
    later = AT + timedelta(hours=8)  # 20:30 UTC: New York and Los Angeles are inside now, London is not
    assert make_plan(load(file), None, PlanOptions(now=later, outputs=out)).fingerprint == saved.fingerprint

    options = SendOptions(outputs=out, now=later, log_format="plain", plan=saved, plan_path="plan.json")
    result = send_campaign(load(file), settings(sim), options)
    assert result.exit_code == 0, result
    at_send = make_plan(load(file), None, PlanOptions(now=later, outputs=tmp_path / "fresh"))
    assert len(sim.app.accepted()) == at_send.counts.to_send != saved.counts.to_send


def test_a_plan_goes_on_being_applied_as_windows_open_and_nothing_twice(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    """Cron with require_plan applies the same reviewed plan run after run: the ledger moves only
    by that plan's runs, so it holds; each run sends what its window lets through, none twice."""
    sim = make_simulator()
    file = write_campaign(tmp_path / "campaigns", AT - timedelta(hours=1))
    out = tmp_path / "out"
    saved = make_plan(load(file), None, PlanOptions(now=AT, outputs=out))
    for hours in (0, 8, 12):
        options = SendOptions(
            outputs=out, now=AT + timedelta(hours=hours), log_format="plain", plan=saved, plan_path="plan.json"
        )
        assert send_campaign(load(file), settings(sim), options).exit_code == 0
    phones = [r.phone_number for r in sim.app.accepted()]
    assert len(phones) == len(set(phones)) > saved.counts.to_send
    assert len(phones) <= saved.counts.to_send + saved.counts.deferred


def test_a_plan_with_a_cap_sends_no_more_than_its_cap_when_windows_have_opened(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    """`plan --limit 2` made while most recipients are outside their window counts 2 to send and
    the rest deferred; applied hours later, when more windows are open, one run still sends at
    most 2 (it sent every message inside its window, past the cap, before)."""
    sim = make_simulator()
    file = write_campaign(tmp_path / "campaigns", AT - timedelta(hours=1))
    out = tmp_path / "out"
    saved = make_plan(load(file), None, PlanOptions(now=AT, outputs=out, limit=2))
    assert (saved.limit, saved.counts.to_send) == (2, 2) and saved.counts.deferred > 0
    later = AT + timedelta(hours=8)  # more recipients inside their window than the cap
    assert make_plan(load(file), None, PlanOptions(now=later, outputs=tmp_path / "fresh")).counts.to_send > 2

    options = SendOptions(outputs=out, now=later, log_format="plain", plan=saved, plan_path="plan.json")
    assert send_campaign(load(file), settings(sim), options).exit_code == 0
    assert len(sim.app.accepted()) == 2
