"""Each exit code docs/sending.md promises, through the command line a script or cron sees:
0 all done; 1 invalid input, nothing sent; 2 usage; 3 finished but not all accepted;
4 could not proceed (credentials, endpoint unreachable, campaign locked)."""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path

import pytest

from runner.ledger.lock import CampaignLock
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, has_ledger, ledger_states, telesign_env, write_campaign


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_0_when_every_campaign_named_is_fully_accepted(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    one = write_campaign(tmp_path / "one", digits=[1, 2], campaign_id="one")
    two = write_campaign(tmp_path / "two", digits=[3, 4], campaign_id="two")
    result = campaign("send", str(one), str(two), "--outputs", str(tmp_path / "out"), env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output
    assert len(sim.app.accepted()) == 4


def test_1_for_a_campaign_file_that_is_not_valid_toml_and_nothing_is_sent(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1])
    file.write_text(file.read_text().replace('url_text = "Track"', 'url_text = "Track'))
    result = campaign("send", str(file), "--outputs", str(tmp_path / "out"), env=telesign_env(sim.url))
    assert result.exit_code == 1
    assert str(file) in result.stderr and "Traceback" not in result.output
    assert sim.app.outcomes() == Counter()


def test_1_for_a_template_with_an_undefined_variable(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2], text="Hello {{ nickname }}")
    result = campaign("send", str(file), "--outputs", str(tmp_path / "out"), env=telesign_env(sim.url))
    assert result.exit_code == 1
    assert "nickname" in result.stderr
    assert sim.app.outcomes() == Counter()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--bogus"], "--bogus"),
        (["--recipient", "r-0000"], "--test-to"),
        (["--limit", "0"], "--limit"),
        (["--log-format", "xml"], "--log-format"),
        (["EXTRA_FILE", "--test-to", "+1 202 555 0911"], "exactly one"),
    ],
    ids=["unknown-option", "recipient-without-test-to", "limit-0", "bad-log-format", "test-to-with-two-files"],
)
def test_2_for_a_usage_error_and_nothing_is_sent(
    args: list[str], says: str, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2])
    args = [str(file) if a == "EXTRA_FILE" else a for a in args]
    out = tmp_path / "out"
    result = campaign("send", str(file), *args, "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 2
    assert says in result.stderr
    assert sim.app.outcomes() == Counter()
    assert not has_ledger(out)


def test_2_for_an_unknown_command(tmp_path: Path) -> None:
    result = campaign("sned", "x.toml")
    assert result.exit_code == 2


def test_3_is_the_worst_of_several_campaigns(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    fine = write_campaign(tmp_path / "fine", digits=[1, 2], campaign_id="fine")
    refused = write_campaign(tmp_path / "refused", digits=[3, 9], campaign_id="refused")  # 9: invalid number
    out = tmp_path / "out"
    result = campaign("send", str(fine), str(refused), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 3, result.output
    assert "1 rejected" in result.stdout
    assert set(ledger_states(out, "fine").values()) == {"accepted"}


def test_3_when_answers_were_lost_even_though_telesign_accepted(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator(drop_rate=1.0)
    file = write_campaign(tmp_path / "c", digits=[1])
    result = campaign("send", str(file), "--outputs", str(tmp_path / "out"), env=telesign_env(sim.url))
    assert result.exit_code == 3
    assert "1 unknown" in result.stdout


def test_4_when_the_endpoint_is_unreachable_and_messages_stay_sendable(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    file = write_campaign(tmp_path / "c", digits=[1, 2, 3], sending="rate = 1000\nconcurrency = 2\nmax_attempts = 2")
    out = tmp_path / "out"
    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(closed_port_url()))
    assert result.exit_code == 4, result.output
    assert "reach" in result.stderr and "TELESIGN_BASE_URL" in result.stderr
    # nothing left the machine: every message can be sent by the next run, nothing is `unknown`
    assert set(ledger_states(out).values()) <= {"pending", "failed"}
    sim = make_simulator()
    again = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert again.exit_code == 0 and len(sim.app.accepted()) == 3


@pytest.mark.one_sender
def test_4_when_another_process_holds_the_campaign(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2])
    out = tmp_path / "out"
    with CampaignLock(out / "test-campaign", "test-campaign", "send"):
        result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 4
    assert "being sent by another process" in result.stderr
    assert sim.app.outcomes() == Counter()


def test_4_when_a_test_send_meets_wrong_credentials(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1])
    env = telesign_env(sim.url, TELESIGN_CUSTOMER_ID="someone-else")
    result = campaign("send", str(file), "--test-to", "+1 202 555 0911", "--outputs", str(tmp_path / "out"), env=env)
    assert result.exit_code == 4
    assert len(sim.app.accepted()) == 0


def test_4_when_a_test_send_cannot_reach_the_endpoint(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c", digits=[1])
    result = campaign(
        "send",
        str(file),
        "--test-to",
        "+1 202 555 0911",
        "--outputs",
        str(tmp_path / "out"),
        env=telesign_env(closed_port_url()),
    )
    assert result.exit_code == 4
    assert "TEST" in result.stderr and "could not reach" in result.stderr
