"""Rehearsals before a launch and runs spread over several sittings: `send --dry-run`,
`send --test-to PHONE [--recipient ID]`, `send --limit N` and `[sending] max_per_run`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, ledger_rows, ledger_states, phone, telesign_env, write_campaign

CAMPAIGN = "test-campaign"


def dry_run_bodies(out: Path, campaign_id: str = CAMPAIGN) -> list[dict[str, Any]]:
    lines = (out / campaign_id / "dry-run.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def sent_phones_in_order(sim: Any) -> list[str]:
    return [a.phone_number for a in sorted(sim.app.accepted(), key=lambda a: a.accepted_monotonic)]


def digits_of(e164_like: str) -> str:
    return "".join(c for c in e164_like if c.isdigit())


# -- --dry-run ---------------------------------------------------------------------------------


def test_dry_run_writes_exactly_the_bodies_preview_prints_and_touches_nothing_else(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    folder = tmp_path / "c"
    file = write_campaign(folder, digits=[1, 2, 3, 4])
    # a duplicate and a suppressed row: neither is a body in either output
    audience = folder / "audience.csv"
    audience.write_text(audience.read_text() + f"r-dup,{phone(0, 1)},Dup,1\nr-opt,{phone(9, 7)},Opt,2\n")
    (folder / "optout.csv").write_text(f"phone\n{phone(9, 7)}\n")
    file.write_text(
        file.read_text().replace('default_region = "US"', 'default_region = "US"\nsuppress = ["optout.csv"]')
    )
    out = tmp_path / "out"

    result = campaign("send", str(file), "--dry-run", "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output
    preview = campaign("preview", str(file), "--json")
    assert preview.exit_code == 0
    written = (out / CAMPAIGN / "dry-run.jsonl").read_bytes()
    assert written.decode("utf-8").splitlines() == preview.stdout.splitlines()
    assert len(written.splitlines()) == 4
    assert "dry-run.jsonl" in result.stdout

    assert sim.app.outcomes() == Counter()  # no request at all
    assert sorted(p.name for p in (out / CAMPAIGN).iterdir()) == ["dry-run.jsonl"]  # no ledger, no report


def test_dry_run_needs_no_credentials(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c", digits=[1, 2])
    env = {"TELESIGN_CUSTOMER_ID": "", "TELESIGN_API_KEY": ""}
    result = campaign("send", str(file), "--dry-run", "--outputs", str(tmp_path / "out"), env=env)
    assert result.exit_code == 0, result.output
    assert [b["external_id"].startswith(f"{CAMPAIGN}.") for b in dry_run_bodies(tmp_path / "out")] == [True, True]


def test_dry_run_of_a_bad_file_exits_1_naming_the_line_and_leaves_no_output(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    file = write_campaign(folder, digits=[1, 2])
    audience = folder / "audience.csv"
    audience.write_text(audience.read_text() + "r-bad,not a phone,Bad,3\n")
    out = tmp_path / "out"
    result = campaign("send", str(file), "--dry-run", "--outputs", str(out))
    assert result.exit_code == 1
    assert "audience.csv:4:" in result.stderr
    folder_out = out / CAMPAIGN
    assert not folder_out.exists() or list(folder_out.iterdir()) == []  # neither the file nor a temporary


def test_a_dry_run_after_a_real_send_leaves_the_ledger_as_it_was(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2, 3])
    out = tmp_path / "out"
    assert campaign("send", str(file), "--limit", "1", "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    before = ledger_rows(out)
    assert campaign("send", str(file), "--dry-run", "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    assert ledger_rows(out) == before
    assert len(sim.app.accepted()) == 1


# -- --test-to ---------------------------------------------------------------------------------

TEST_PHONE = "+1 202 555 0911"  # not in any audience below; ends in 1, which the simulator accepts


def test_test_to_sends_that_recipients_message_to_the_test_phone_only(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2, 3])
    out = tmp_path / "out"
    assert campaign("send", str(file), "--dry-run", "--outputs", str(out)).exit_code == 0
    expected = dry_run_bodies(out)[1]  # r-0001's message

    result = campaign(
        "send",
        str(file),
        "--test-to",
        TEST_PHONE,
        "--recipient",
        "r-0001",
        "--outputs",
        str(out),
        env=telesign_env(sim.url),
    )
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.split(" ", 1)[1].startswith("TEST ") and "r-0001" in result.stdout and "accepted" in result.stdout
    )
    [sent] = sim.app.accepted()
    assert sent.phone_number == digits_of(TEST_PHONE)
    body = sent.body
    assert body["message"] == expected["message"]  # that recipient's rendered texts, exactly
    assert body["channels"] == expected["channels"] and body["message_type"] == expected["message_type"]
    # not the real message's external_id: its callbacks must not settle the real recipient
    assert body["external_id"] != expected["external_id"]
    assert ledger_states(out) == {}  # the campaign itself has not started

    real = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert real.exit_code == 0, real.output
    counts = sim.app.accepted_by_phone()
    assert counts == Counter({digits_of(phone(i, d)): 1 for i, d in enumerate([1, 2, 3])} | {digits_of(TEST_PHONE): 1})
    assert set(ledger_states(out).values()) == {"accepted"}


def test_a_test_send_mid_campaign_changes_no_message_state(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2, 3, 4])
    out = tmp_path / "out"
    assert campaign("send", str(file), "--limit", "2", "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    before = ledger_rows(out)
    assert [r["state"] for r in before] == ["accepted", "accepted", "pending", "pending"]

    # without --recipient: the first recipient's message; already sent to them, but a test is a test
    result = campaign("send", str(file), "--test-to", TEST_PHONE, "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output
    assert "TEST" in result.stdout and "r-0000" in result.stdout
    assert ledger_rows(out) == before
    assert sim.app.accepted_by_phone()[digits_of(TEST_PHONE)] == 1

    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    counts = sim.app.accepted_by_phone()
    assert len(counts) == 5 and set(counts.values()) == {1}


def test_test_to_an_unknown_recipient_is_a_usage_error_and_sends_nothing(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2])
    result = campaign(
        "send",
        str(file),
        "--test-to",
        TEST_PHONE,
        "--recipient",
        "r-9999",
        "--outputs",
        str(tmp_path / "out"),
        env=telesign_env(sim.url),
    )
    assert result.exit_code == 2
    assert "r-9999" in result.stderr
    assert sim.app.outcomes() == Counter()


# -- --limit and max_per_run -------------------------------------------------------------------


def test_limit_caps_each_run_and_the_next_run_sends_the_next_ones(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    digits = [1, 2, 3, 4, 5, 6, 7]
    file = write_campaign(tmp_path / "c", digits=digits, sending="rate = 1000\nconcurrency = 4\nmax_attempts = 3")
    out = tmp_path / "out"
    phones = [digits_of(phone(i, d)) for i, d in enumerate(digits)]
    for sent_so_far in (3, 6, 7, 7):
        result = campaign("send", str(file), "--limit", "3", "--outputs", str(out), env=telesign_env(sim.url))
        assert result.exit_code == 0, result.output
        # audience order: the first ones first, and nobody twice
        assert sorted(sim.app.accepted_by_phone()) == sorted(phones[:sent_so_far])
        assert set(sim.app.accepted_by_phone().values()) == {1}
        states = [r["state"] for r in ledger_rows(out)]
        assert states == ["accepted"] * sent_so_far + ["pending"] * (7 - sent_so_far)


def test_max_per_run_caps_every_run_and_the_smaller_of_it_and_limit_wins(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(
        tmp_path / "c",
        digits=[1, 2, 3, 4, 5, 6, 7, 8],
        sending="rate = 1000\nconcurrency = 8\nmax_attempts = 3\nmax_per_run = 3",
    )
    out = tmp_path / "out"
    env = telesign_env(sim.url)

    def accepted_count() -> int:
        return sum(sim.app.accepted_by_phone().values())

    first = campaign("send", str(file), "--outputs", str(out), env=env)
    assert first.exit_code == 0 and accepted_count() == 3
    assert "5 pending" in first.stdout  # the run says what is left for the next one
    assert campaign("send", str(file), "--limit", "1", "--outputs", str(out), env=env).exit_code == 0
    assert accepted_count() == 4
    assert campaign("send", str(file), "--limit", "100", "--outputs", str(out), env=env).exit_code == 0
    assert accepted_count() == 7  # max_per_run still caps at 3
    assert campaign("send", str(file), "--outputs", str(out), env=env).exit_code == 0
    assert accepted_count() == 8 and set(sim.app.accepted_by_phone().values()) == {1}
    assert set(ledger_states(out).values()) == {"accepted"}


def test_limit_counts_messages_not_attempts_and_failed_ones_go_first_next_time(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    failing = make_simulator(fail_rate=1.0)
    file = write_campaign(
        tmp_path / "c", digits=[1, 2, 3, 4, 5], sending="rate = 1000\nconcurrency = 2\nmax_attempts = 2"
    )
    out = tmp_path / "out"
    result = campaign("send", str(file), "--limit", "2", "--outputs", str(out), env=telesign_env(failing.url))
    assert result.exit_code == 3
    assert failing.app.outcomes()["503"] == 4  # two messages, two attempts each
    assert [r["state"] for r in ledger_rows(out)] == ["failed", "failed", "pending", "pending", "pending"]

    healthy = make_simulator()
    assert (
        campaign("send", str(file), "--limit", "3", "--outputs", str(out), env=telesign_env(healthy.url)).exit_code == 0
    )
    assert [r["state"] for r in ledger_rows(out)] == ["accepted", "accepted", "accepted", "pending", "pending"]
