"""Never twice, with the policy in the way (docs/reliability.md, docs/policy.md): a send killed -9
while some recipients are deferred to their morning and others are going out, then re-run, messages
each recipient at most once and none outside their window; a deferred message sent later is sent
once. Counted from the simulator's side. The real clock decides here, so recipients are placed in
zones where it is surely day or surely night right now."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

from runner.policy.windows import zone
from tests.fixtures.simulator import MakeSimulator
from tests.policy.campaigns import offer
from tests.sending.helpers import campaign, ledger_rows, phone, start_send, telesign_env, wait_for_accepted

CANDIDATES = [
    "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver", "America/Chicago",
    "America/New_York", "America/Sao_Paulo", "Atlantic/Azores", "Europe/London", "Europe/Berlin",
    "Europe/Athens", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi", "Asia/Dhaka", "Asia/Bangkok",
    "Asia/Shanghai", "Asia/Tokyo", "Australia/Brisbane", "Pacific/Noumea", "Pacific/Auckland", "Pacific/Tongatapu",
]  # fmt: skip


def zone_where(hours: range) -> str:
    now = datetime.now(UTC)
    for name in CANDIDATES:
        if now.astimezone(zone(name)).hour in hours:
            return name
    raise AssertionError(f"no candidate zone has its local hour in {hours}")


def test_kill_9_while_some_are_deferred_then_rerun_sends_each_once(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    day, night = zone_where(range(10, 18)), zone_where(range(1, 5))  # hours of margin either side
    sim = make_simulator(latency_ms=20)
    folder = tmp_path / "c"
    folder.mkdir()
    rows = ["id,phone,timezone"] + [f"r-{i:03d},{phone(i, i % 9)},{day if i % 2 == 0 else night}" for i in range(120)]
    (folder / "audience.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    file = folder / "promo.toml"
    file.write_text(offer("promo", "audience.csv", "[sending]\nrate = 40\nconcurrency = 4\n"), encoding="utf-8")
    out = tmp_path / "out"
    process = start_send(file, out, sim.url, quiet=True)
    wait_for_accepted(sim.app, 15)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert len(sim.app.accepted()) < 60  # killed part-way

    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))

    assert "60 deferred until" in result.output
    by_phone = sim.app.accepted_by_phone()
    assert max(by_phone.values()) == 1  # nobody twice
    states = {r["recipient_id"]: r for r in ledger_rows(out, "promo")}
    for i in range(120):
        row = states[f"r-{i:03d}"]
        digits = "".join(ch for ch in phone(i, i % 9) if ch.isdigit())
        if i % 2:  # at night: deferred, never sent
            assert row["state"] == "deferred" and digits not in by_phone, row
            assert row["not_before"] > datetime.now(UTC).isoformat()[:19]
        else:  # by day: sent, except those in flight at the kill: `sending`, never resent blindly
            assert row["state"] in ("accepted", "sending"), row
    in_flight = sum(1 for r in states.values() if r["state"] == "sending")
    assert result.exit_code == (3 if in_flight else 0), result.output  # deferral alone is not failure
