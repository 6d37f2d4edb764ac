"""The frequency caps count every message Telesign accepted, also those the sender never saw
accepted (docs/policy.md, "The contact history"): one whose answer was lost (`unknown`) and that a
delivery callback later settled, and one whose sender was killed after Telesign answered and
before the ledger recorded it. Before, neither reached the contact history, and the next campaign
sent the phone a message over its cap. Counted from the simulators' side."""

from __future__ import annotations

import signal
from pathlib import Path

from runner.callbacks.receiver import create_receiver
from runner.serving import BackgroundServer
from runner.simulator import SimulatorConfig, create_app
from runner.telesign.auth import DEMO_API_KEY
from tests.fixtures.simulator import MakeSimulator
from tests.policy.campaigns import offer
from tests.sending.helpers import campaign, ledger_rows, phone, telesign_env
from tests.sending.test_crashes import run_driver

PHONES = [phone(0, 1), phone(1, 2)]


def marketing(root: Path, campaign_id: str) -> Path:
    """A marketing campaign to PHONES under a repository policy of one marketing message per phone
    a week, at any hour (the real clock decides here)."""
    folder = root / "campaigns"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.toml").write_text(
        '[schedule]\nwindow = "any"\n[sending]\nmax_per_phone = "1/7d"\n', encoding="utf-8"
    )
    (folder / f"{campaign_id}.csv").write_text("phone\n" + "\n".join(PHONES) + "\n", encoding="utf-8")
    path = folder / f"{campaign_id}.toml"
    path.write_text(offer(campaign_id, f"{campaign_id}.csv"), encoding="utf-8")
    return path


def second_campaign_sends(root: Path, out: Path, make_simulator: MakeSimulator) -> int:
    """Messages a second marketing campaign to the same phones gets accepted now."""
    sim = make_simulator()
    result = campaign("send", str(marketing(root, "second")), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output
    return len(sim.app.accepted())


def test_a_lost_answer_settled_by_a_callback_counts_against_the_cap(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    log, out = tmp_path / "callbacks.jsonl", tmp_path / "out"
    first = marketing(tmp_path, "first")
    with BackgroundServer(create_receiver(log, DEMO_API_KEY)) as receiver:
        sim = create_app(SimulatorConfig(callback_url=receiver.url + "/cb", time_scale=0.002, drop_rate=1.0))
        with BackgroundServer(sim) as server:
            sent = campaign("send", str(first), "--outputs", str(out), env=telesign_env(server.url))
            assert sent.exit_code == 3, sent.output  # every answer lost: unknown
            assert sim.wait_callbacks_settled(20)
    assert len(sim.accepted()) == 2
    assert {r["state"] for r in ledger_rows(out, "first")} == {"unknown"}

    enriched = campaign("enrich", str(first), "--callbacks", str(log), "--outputs", str(out))
    assert "2 unknown settled as accepted" in enriched.output

    assert second_campaign_sends(tmp_path, out, make_simulator) == 0
    assert {r["state"] for r in ledger_rows(out, "second")} == {"deferred"}


def test_a_kill_right_after_the_ledger_records_an_accepted_message_leaves_it_counted(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    """kill -9 just after the transaction that records the first message as accepted commits: the
    contact history has it (it used to be written after that commit), so the next campaign waits
    for that phone and messages only the other; a re-run of the first sends nothing twice."""
    out = tmp_path / "out"
    first = marketing(tmp_path, "first")
    first.write_text(first.read_text(encoding="utf-8") + "[sending]\nconcurrency = 1\n", encoding="utf-8")
    sim = make_simulator()
    crashed = run_driver("after_outcome", 1, first, out, sim.url)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    one, two = (p.replace(" ", "") for p in PHONES)
    assert [a.phone_number for a in sim.app.accepted()] == [one.lstrip("+")]
    assert {r["phone"]: r["state"] for r in ledger_rows(out, "first")}[one] == "accepted"

    second = make_simulator()
    result = campaign("send", str(marketing(tmp_path, "second")), "--outputs", str(out), env=telesign_env(second.url))
    assert result.exit_code == 0, result.output
    assert [a.phone_number for a in second.app.accepted()] == [two.lstrip("+")]
    assert {r["phone"]: r["state"] for r in ledger_rows(out, "second")} == {one: "deferred", two: "accepted"}

    # The first campaign's second message (claimed or not when it died) is not sent over the cap
    # now, nor its first again.
    campaign("send", str(first), "--outputs", str(out), env=telesign_env(sim.url))
    assert len(sim.app.accepted()) == 1
