"""Frequency caps across the campaigns of a repository (docs/policy.md, "Frequency caps"): with
`max_per_phone = "2/7d"`, a third marketing message to one phone within 7 days waits until the
first is a week old, or is suppressed when the campaign ends first. Times come from an injected
clock; what left when, from the simulator's journal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.campaign.schema import load
from runner.ledger.backend import shared_ledger_url
from runner.sending.run import SendOptions, send_campaign
from tests.fixtures.simulator import MakeSimulator
from tests.policy.campaigns import offer
from tests.policy.clock import FakeClock, accepted_at
from tests.policy.test_send_windows import settings
from tests.sending.helpers import ledger_rows

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 10:00 in New York
NEW_YORK = "+1 202 555 0110"


def write(root: Path, campaign_id: str, start: datetime, days: int, message_type: str = "MKT") -> Path:
    folder = root / "campaigns"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.toml").write_text('[sending]\nmax_per_phone = "2/7d"\n', encoding="utf-8")
    (folder / f"{campaign_id}.csv").write_text(f"phone\n{NEW_YORK}\n+1 202 555 0120\n", encoding="utf-8")
    path = folder / f"{campaign_id}.toml"
    schedule = f"[schedule]\nstart = {start.isoformat()}\nend = {(start + timedelta(days=days)).isoformat()}\n"
    path.write_text(offer(campaign_id, f"{campaign_id}.csv", schedule, message_type), encoding="utf-8")
    return path


def test_the_third_marketing_message_in_a_week_waits_or_is_suppressed(
    tmp_path: Path, make_simulator: MakeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(T0)
    clock.point_simulator_at_it(monkeypatch)
    sim = make_simulator()
    out = tmp_path / "out"

    def send(campaign_id: str, days: int, wait: bool = False, message_type: str = "MKT") -> list[dict[str, object]]:
        file = write(tmp_path, campaign_id, clock.now() - timedelta(hours=1), days, message_type)
        options = SendOptions(
            ledger_url=shared_ledger_url(),
            outputs=out,
            clock=clock.now,
            sleep=clock.sleep,
            wait=wait,
            log_format="plain",
        )
        result = send_campaign(load(file), settings(sim), options)
        assert result.exit_code == 0, result
        return ledger_rows(out, campaign_id)

    send("first", days=1)
    clock.sleep(24 * 3600)
    send("second", days=1)
    clock.sleep(3600)
    # An order-tracking message is not marketing: the cap neither counts it nor holds it.
    send("order", days=1, message_type="ARN")
    assert [r.phone_number for r in sim.app.accepted()].count("12025550110") == 3

    # A third marketing campaign ending before the first message is a week old: suppressed.
    short = {r["phone"]: r for r in send("third", days=3)}
    assert short["+12025550110"]["state"] == "suppressed"
    assert "over max_per_phone = '2/7d' until after the schedule's end" in str(
        short["+12025550110"]["status_description"]
    )

    # One that lasts longer waits, then goes once the first is 7 days old (and in the window).
    rows = {r["phone"]: r for r in send("fourth", days=10, wait=True)}
    assert rows["+12025550110"]["state"] == "accepted"
    to_him = [accepted_at(r.accepted_at) for r in sim.app.accepted() if r.phone_number == "12025550110"]
    assert len(to_him) == 4
    first, fourth = to_him[0], to_him[-1]
    assert fourth - first >= timedelta(days=7)
    assert fourth - first < timedelta(days=7, hours=1)  # it went as soon as it was allowed
    # the other recipient has the same history: held back the same way, and sent once each allowed
    assert [r.phone_number for r in sim.app.accepted()].count("12025550120") == 4
    assert short["+12025550120"]["state"] == "suppressed"


def test_a_forecast_counts_what_the_policy_would_do_now(tmp_path: Path) -> None:
    from runner.policy.forecast import forecast
    from runner.policy.store import OptEvent, open_store

    file = write(tmp_path, "promo", T0 - timedelta(hours=1), days=5)
    store = open_store(tmp_path / "out", shared_ledger_url())
    store.record(OptEvent("manual:1", "+12025550120", "opt_out", T0, "manual"))
    store.close()
    at_night = forecast(
        load(file), tmp_path / "out", T0 + timedelta(hours=12), shared_ledger_url()
    )  # 22:00 in New York
    assert at_night.by_state == {"deferred": 1, "suppressed": 1}
    assert at_night.opted_out == 1
    assert at_night.first_deferred == datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    assert forecast(load(file), tmp_path / "out", T0, shared_ledger_url()).by_state == {"pending": 1, "suppressed": 1}
