"""An edit to policy.toml between runs is the policy the next run applies (docs/policy.md): the
messages it held back (deferred, suppressed for want of a time zone) are planned again under the
edited file, by `campaign send` and by cron's `campaign run`, with either ledger backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.commands import run as cron
from tests.fixtures.simulator import MakeSimulator
from tests.policy.campaigns import offer
from tests.sending.helpers import ledger_rows, telesign_env

NOON_NY = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 12:00 in New York, a Tuesday
FREEPHONE = "+800 1234 5678"  # a valid number phonenumbers places in no time zone


def write(folder: Path, policy: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.toml").write_text(policy, encoding="utf-8")
    (folder / "audience.csv").write_text(f"id,phone\nfree,{FREEPHONE}\n", encoding="utf-8")
    start, end = NOON_NY - timedelta(days=1), NOON_NY + timedelta(days=5)
    schedule = f"[schedule]\nstart = {start.isoformat()}\nend = {end.isoformat()}\n"
    (folder / "promo.toml").write_text(offer("promo", "audience.csv", schedule), encoding="utf-8")


def test_a_fallback_time_zone_added_to_the_policy_lifts_no_known_time_zone(
    tmp_path: Path, make_simulator: MakeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_simulator()
    for name, value in telesign_env(sim.url).items():
        monkeypatch.setenv(name, value)
    folder, out = tmp_path / "campaigns", tmp_path / "out"
    write(folder, '[schedule]\nwindow = "08:00-21:00"\n')

    assert cron.run(folder, out, "plain", now=NOON_NY) == 0
    [row] = ledger_rows(out, "promo")
    assert row["state"] == "suppressed" and "no known time zone" in str(row["status_description"])

    # What the reason says to do: a fallback zone in policy.toml. Before, cron called the campaign
    # complete (its inputs' fingerprint did not cover policy.toml) and a shared ledger kept the
    # old plan, so the message stayed suppressed whatever the policy now said.
    (folder / "policy.toml").write_text(
        '[schedule]\nwindow = "08:00-21:00"\ntimezone = "America/New_York"\n', encoding="utf-8"
    )
    assert cron.run(folder, out, "plain", now=NOON_NY + timedelta(minutes=5)) == 0
    assert [r.phone_number for r in sim.app.accepted()] == ["80012345678"]
    [row] = ledger_rows(out, "promo")
    assert row["state"] == "accepted" and row["timezone"] == "America/New_York"


def test_a_window_widened_in_the_policy_sends_what_the_narrower_one_deferred(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    from runner.campaign.schema import load
    from runner.ledger.backend import shared_ledger_url
    from runner.sending.run import SendOptions, send_campaign
    from tests.policy.test_send_windows import settings

    sim = make_simulator()
    folder, out = tmp_path / "campaigns", tmp_path / "out"
    write(folder, '[schedule]\nwindow = "09:00-17:00"\ntimezone = "America/New_York"\n')
    evening = NOON_NY + timedelta(hours=6)  # 18:00 in New York

    def send(at: datetime) -> None:
        options = SendOptions(ledger_url=shared_ledger_url(), outputs=out, now=at, log_format="plain")
        assert send_campaign(load(folder / "promo.toml"), settings(sim), options).exit_code == 0

    send(evening)
    [row] = ledger_rows(out, "promo")
    assert row["state"] == "deferred" and row["not_before"] == "2026-12-02T14:00:00.000Z"  # 09:00 EST

    (folder / "policy.toml").write_text(
        '[schedule]\nwindow = "08:00-21:00"\ntimezone = "America/New_York"\n', encoding="utf-8"
    )
    send(evening + timedelta(minutes=5))
    assert [r.phone_number for r in sim.app.accepted()] == ["80012345678"]
    assert ledger_rows(out, "promo")[0]["state"] == "accepted"
