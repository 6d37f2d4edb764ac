"""A plan's counts are what the send that follows does, counted at the simulator: suppressions,
duplicates, invalid rows, a run cap and earlier partial runs included; and making a plan sends
nothing and leaves the ledger as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.fixtures.simulator import MakeSimulator
from tests.plan.helpers import mixed_campaign, plan_json
from tests.sending.helpers import campaign, ledger_states, telesign_env


def requests_answered(sim: object) -> int:
    outcomes = sim.app.journal.outcomes()  # type: ignore[attr-defined]
    return int(outcomes["200"] + outcomes["400"])


def test_plan_counts_are_what_the_send_does(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = mixed_campaign(tmp_path / "c")
    out = tmp_path / "out"

    plan = plan_json(file, out)
    counts = plan["counts"]
    assert counts["audience_rows"] == 12
    assert counts["to_send"] == 8
    assert counts["suppressed"] == {"opt-out.csv": 2}
    assert counts["duplicates"] == 1
    assert counts["invalid"] == 1
    assert counts["invalid_examples"][0].endswith("audience.csv:13: 'not a number': not a phone number")
    assert counts["already"] == {}
    assert not (out / "test-campaign").exists()  # planning made no ledger

    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 3, result.output  # one refused
    assert requests_answered(sim) == counts["to_send"]
    states = ledger_states(out)
    assert sum(1 for s in states.values() if s in ("accepted", "rejected")) == counts["to_send"]

    again = plan_json(file, out)["counts"]
    assert again["to_send"] == 0
    assert again["already"] == {"accepted": 7, "rejected": 1}


def test_after_a_partial_run_the_plan_counts_what_is_left(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = mixed_campaign(tmp_path / "c")
    out = tmp_path / "out"
    env = telesign_env(sim.url)
    assert campaign("send", str(file), "--limit", "3", "--outputs", str(out), env=env).exit_code == 3
    ledger = out / "test-campaign" / "ledger.sqlite"
    before = hashlib.sha256(ledger.read_bytes()).hexdigest()

    plan = plan_json(file, out)
    assert plan["counts"]["already"] == {"accepted": 2, "rejected": 1}
    assert plan["counts"]["to_send"] == 5
    assert hashlib.sha256(ledger.read_bytes()).hexdigest() == before  # read only
    assert requests_answered(sim) == 3  # planning sent nothing

    campaign("send", str(file), "--outputs", str(out), env=env)
    assert requests_answered(sim) == 3 + 5


def test_a_run_cap_is_planned_as_the_send_applies_it(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = mixed_campaign(tmp_path / "c", sending="rate = 1000\nconcurrency = 4\nmax_per_run = 5")
    out = tmp_path / "out"
    plan = plan_json(file, out)
    assert (plan["counts"]["to_send"], plan["counts"]["over_cap"]) == (5, 3)
    assert plan_json(file, out, "--limit", "2")["counts"]["to_send"] == 2

    campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert requests_answered(sim) == 5
    assert plan_json(file, out)["counts"]["to_send"] == 3


def test_resent_failures_are_planned(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    """Messages whose every attempt failed (503s) stay `failed` and the next send retries them:
    the plan counts them as to send, not as done."""
    failing = make_simulator(fail_rate=1.0)
    file = mixed_campaign(tmp_path / "c", sending="rate = 1000\nconcurrency = 4\nmax_attempts = 1")
    out = tmp_path / "out"
    campaign("send", str(file), "--outputs", str(out), env=telesign_env(failing.url))
    assert set(ledger_states(out).values()) >= {"failed"}
    plan = plan_json(file, out)
    failed = sum(1 for s in ledger_states(out).values() if s == "failed")
    assert plan["counts"]["to_send"] == failed

    sim = make_simulator()
    campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert requests_answered(sim) == failed


def test_a_campaign_the_send_would_refuse_gets_the_sends_errors(tmp_path: Path) -> None:
    file = mixed_campaign(tmp_path / "c")
    file.write_text(file.read_text(encoding="utf-8").replace('on_invalid = "skip"', 'on_invalid = "fail"'))
    result = campaign("plan", str(file), "--outputs", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "audience.csv:13: 'not a number': not a phone number" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_the_characters_that_force_ucs2_are_named(tmp_path: Path) -> None:
    file = mixed_campaign(tmp_path / "c")
    text = file.read_text(encoding="utf-8")
    file.write_text(text.replace('[sms]\ntext = "Your order', '[sms]\ntext = "Your order ✓ “shipped”', 1))
    plan = plan_json(file, tmp_path / "out")
    messages = plan["messages"]
    assert messages["sms_encodings"] == {"UCS-2": 8}
    assert [(c["character"], c["name"], c["messages"]) for c in messages["ucs2_characters"]] == [
        ("✓", "CHECK MARK", 8),
        ("“", "LEFT DOUBLE QUOTATION MARK", 8),
        ("”", "RIGHT DOUBLE QUOTATION MARK", 8),
    ]
    assert sum(messages["sms_segments"].values()) == 8
