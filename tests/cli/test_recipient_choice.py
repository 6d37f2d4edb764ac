"""Issue 9 item 14: `--recipient` takes a phone as people write it (read with the campaign's
default_region), and a suppressed recipient is named as such, with the list that holds it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.campaign.helpers import MESSAGE_TABLES, write
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import telesign_env
from tests.testing.cli import invoke

UK_CAMPAIGN = (
    """\
id = "uk-1"
message_type = "MKT"

[audience]
file = "audiences/people.csv"
suppress = ["audiences/opt-out.csv"]
default_region = "GB"
phone_check = "possible"

"""
    + MESSAGE_TABLES
)


@pytest.fixture
def uk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "campaigns/audiences/people.csv", "id,phone,order_id\nann,07911 123410,1\nbob,07911 123411,2\n")
    write(tmp_path, "campaigns/audiences/opt-out.csv", "phone\n+44 7911 123411\n")
    return write(tmp_path, "campaigns/uk.toml", UK_CAMPAIGN)


@pytest.mark.parametrize("written", ["07911 123410", "+44 7911 123410", "+447911123410", "ann"])
def test_a_phone_written_any_usual_way_finds_the_recipient(uk: Path, written: str) -> None:
    result = invoke("preview", str(uk), "--json", "--recipient", written)
    assert result.exit_code == 0, result.output
    [body] = [json.loads(line) for line in result.stdout.splitlines()]
    assert body["phone_number"] == "447911123410"


@pytest.mark.parametrize("written", ["bob", "07911 123411"])
def test_a_suppressed_recipient_is_said_to_be_suppressed_by_its_list(uk: Path, written: str) -> None:
    result = invoke("preview", str(uk), "--recipient", written)
    assert result.exit_code == 1
    assert result.stderr == (
        f"{uk}: recipient bob (campaigns/audiences/people.csv:3) is suppressed by audiences/opt-out.csv: "
        "no message for it\n"
    )


def test_a_test_send_finds_its_recipient_by_a_local_phone(uk: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    env = telesign_env(sim.url)
    result = invoke("send", str(uk), "--test-to", "07700 900123", "--recipient", "07911 123410", env=env)
    assert result.exit_code == 0, result.output
    assert "ann's message to +447700900123" in result.stdout
    suppressed = invoke("send", str(uk), "--test-to", "07700 900123", "--recipient", "bob", env=env)
    assert suppressed.exit_code == 2 and "is suppressed by audiences/opt-out.csv" in suppressed.stderr
    assert len(sim.app.accepted()) == 1
