"""Send windows while sending, with an injected clock (docs/policy.md): a marketing campaign across
nine recipients in more than five time zones (one with eleven), started just before a DST change,
sent with `--wait` through the nights; then the window's edge; then cron sending deferred messages
on the run after their window opens. What left when is read from the simulator's journal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.campaign.schema import load
from runner.commands import run as cron
from runner.ledger.backend import shared_ledger_url
from runner.policy.windows import parse_window, zone
from runner.policy.zones import zones_of
from runner.sending.run import SendOptions, send_campaign
from runner.telesign.auth import DEMO_API_KEY, DEMO_CUSTOMER_ID, Credentials
from runner.telesign.settings import TelesignSettings
from tests.fixtures.simulator import MakeSimulator, SimulatorServer
from tests.policy.clock import FakeClock, accepted_at
from tests.sending.helpers import ledger_rows, telesign_env

TCPA = parse_window("08:00-21:00", None)

# (id, phone, timezone column): the zone from the number, except where a column gives it
PEOPLE = [
    ("ny", "+1 202 555 0110", ""),  # America/New_York
    ("la", "+1 213 555 0101", ""),  # America/Los_Angeles
    ("ldn", "+44 20 7123 4560", ""),  # Europe/London (and the Crown dependencies)
    ("ber", "+49 30 123456700", ""),  # Europe/Berlin
    ("tok", "+81 3 1234 5670", ""),  # Asia/Tokyo
    ("syd", "+61 2 1234 5670", ""),  # Australia/Sydney
    ("del", "+91 98765 43210", ""),  # Asia/Calcutta, no DST
    ("ru", "+7 916 123 45 60", ""),  # eleven zones, Europe/Bucharest .. Asia/Anadyr
    ("akl", "+1 202 555 0121", "Pacific/Auckland"),  # a Washington number living in Auckland
]


def write_campaign(
    folder: Path, start: datetime, rate: float = 50, people: list[tuple[str, str, str]] = PEOPLE
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["id,phone,timezone,first_name"] + [f"{i},{p},{z},Name" for i, p, z in people]
    (folder / "audience.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = folder / "sale.toml"
    path.write_text(
        f"""id = "sale"
message_type = "MKT"

[schedule]
start = {start.isoformat()}
end = {(start + timedelta(days=3)).isoformat()}

[sending]
rate = {rate}

[audience]
file = "audience.csv"

[viber]
text = "Hello {{{{ first_name }}}}: 30% off today"
url = "https://shop.example/sale"
url_text = "Shop"
url_id = "sale"
fallback_time = 60
""",
        encoding="utf-8",
    )
    return path


def settings(server: SimulatorServer) -> TelesignSettings:
    return TelesignSettings(Credentials(DEMO_CUSTOMER_ID, DEMO_API_KEY), server.url, "basic")


def zones_by_phone() -> dict[str, list[str]]:
    found = {}
    for _, phone, column in PEOPLE:
        e164 = "+" + "".join(ch for ch in phone if ch.isdigit())
        found[e164.lstrip("+")] = list(zones_of(e164, column or None, None).names)
    return found


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 3, 8, 6, 30, tzinfo=UTC),  # New York springs forward at 07:00 UTC
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # New York falls back at 06:00 UTC
        datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Sydney falls back at 16:00 UTC; Auckland at 14:00
    ],
    ids=["us-spring-forward", "us-fall-back", "southern-fall-back"],
)
def test_no_message_leaves_outside_its_recipients_window(
    start: datetime, tmp_path: Path, make_simulator: MakeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(start)
    clock.point_simulator_at_it(monkeypatch)
    sim = make_simulator()
    file = write_campaign(tmp_path / "campaigns", start)
    options = SendOptions(
        ledger_url=shared_ledger_url(),
        outputs=tmp_path / "out",
        clock=clock.now,
        sleep=clock.sleep,
        wait=True,
        log_format="plain",
    )

    result = send_campaign(load(file), settings(sim), options)

    assert result.exit_code == 0, result
    assert result.counts["accepted"] == len(PEOPLE)
    zones = zones_by_phone()
    sent = sim.app.accepted()
    assert sorted(r.phone_number for r in sent) == sorted(zones)  # each once
    for request in sent:
        moment = accepted_at(request.accepted_at)
        names = zones[request.phone_number]
        assert TCPA.holds(moment, [zone(n) for n in names]), (request.phone_number, moment, names)
    # the nights were slept through (by the clock), not sent through
    assert len(clock.sleeps) >= 2
    first = min(accepted_at(r.accepted_at) for r in sent)
    last = max(accepted_at(r.accepted_at) for r in sent)
    assert last - first > timedelta(hours=6)


def test_a_message_whose_turn_comes_after_21_00_is_deferred_not_sent(
    tmp_path: Path, make_simulator: MakeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20:59:58.5 in New York; at 0.5 messages a second the second one's turn is at 21:00:00.5
    start = datetime(2026, 12, 2, 1, 59, 58, 500_000, tzinfo=UTC)
    clock = FakeClock(start)
    clock.point_simulator_at_it(monkeypatch)
    sim = make_simulator()
    people = [("a", "+1 202 555 0110", ""), ("b", "+1 202 555 0120", ""), ("c", "+1 202 555 0130", "")]
    file = write_campaign(tmp_path / "campaigns", start - timedelta(hours=1), rate=0.5, people=people)
    options = SendOptions(ledger_url=shared_ledger_url(), outputs=tmp_path / "out", clock=clock.now, log_format="plain")

    result = send_campaign(load(file), settings(sim), options)

    assert result.exit_code == 0  # deferral is not failure
    sent = sim.app.accepted()
    assert len(sent) == 1
    assert accepted_at(sent[0].accepted_at) < datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    assert result.deferred == "2 deferred until 2026-12-02T13:00:00.000Z"  # 08:00 EST
    # (which of the three goes first is the pacing's choice: several senders' slots need not
    # follow the audience's order)
    rows = {r["recipient_id"]: r for r in ledger_rows(tmp_path / "out", "sale")}
    [first] = [r for r in rows.values() if r["state"] == "accepted"]
    assert first["phone"] == "+" + sent[0].phone_number
    held = [r for r in rows.values() if r is not first]
    assert [r["state"] for r in held] == ["deferred", "deferred"]
    assert [r["attempts"] for r in held] == [0, 0]  # their claims were undone: nothing left
    assert {r["timezone"] for r in held} == {"America/New_York"}

    # The next morning's run sends the two deferred ones, once each; the first is not resent.
    clock.sleep((datetime(2026, 12, 2, 13, 0, 5, tzinfo=UTC) - clock.now()).total_seconds())
    again = send_campaign(load(file), settings(sim), options)
    assert again.exit_code == 0 and again.counts["accepted"] == 3 and not again.deferred
    assert sorted(sim.app.accepted_by_phone().values()) == [1, 1, 1]
    for request in sim.app.accepted():
        assert TCPA.holds(accepted_at(request.accepted_at), [zone("America/New_York")])


def test_cron_sends_deferred_messages_on_the_run_after_their_window_opens(
    tmp_path: Path, make_simulator: MakeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_simulator()
    night = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)  # 23:00 in New York
    write_campaign(tmp_path / "campaigns", night - timedelta(hours=2), people=PEOPLE[:1])
    for name, value in telesign_env(sim.url).items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "out"

    assert cron.run(tmp_path / "campaigns", out, "plain", now=night) == 0
    assert sim.app.accepted() == []
    assert [r["state"] for r in ledger_rows(out, "sale")] == ["deferred"]
    assert not cron.is_settled(out, load(tmp_path / "campaigns" / "sale.toml"))  # cron comes back

    assert cron.run(tmp_path / "campaigns", out, "plain", now=night + timedelta(hours=5)) == 0  # 04:00
    assert sim.app.accepted() == []

    assert cron.run(tmp_path / "campaigns", out, "plain", now=night + timedelta(hours=9, minutes=10)) == 0  # 08:10
    assert [r.phone_number for r in sim.app.accepted()] == ["12025550110"]
    assert [r["state"] for r in ledger_rows(out, "sale")] == ["accepted"]


def test_what_is_still_deferred_at_the_end_expires(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    night = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    file = write_campaign(tmp_path / "campaigns", night - timedelta(days=3) + timedelta(hours=1), people=PEOPLE[:1])
    first = send_campaign(
        load(file),
        settings(sim),
        SendOptions(ledger_url=shared_ledger_url(), outputs=tmp_path / "out", now=night - timedelta(hours=1)),
    )
    assert first.deferred
    after = send_campaign(
        load(file),
        settings(sim),
        SendOptions(ledger_url=shared_ledger_url(), outputs=tmp_path / "out", now=night + timedelta(hours=1)),
    )
    assert after.counts["expired"] == 1 and after.counts["deferred"] == 0
    assert after.exit_code == 3
    assert sim.app.accepted() == []
