"""Issue 9 item 13: what used to end in a traceback ends in one clear line (or a 400)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.receiver import ServedReceiver
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, telesign_env, write_campaign
from tests.testing.cli import invoke


@pytest.mark.parametrize("damage", ["corrupt", "folder"])
@pytest.mark.parametrize("command", ["send", "status"])
def test_a_damaged_ledger_is_one_line_naming_it_and_nothing_is_sent(
    damage: str, command: str, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2])
    out = tmp_path / "out"
    ledger = out / "test-campaign" / "ledger.sqlite"
    ledger.parent.mkdir(parents=True)
    if damage == "corrupt":
        ledger.write_bytes(b"this is not SQLite " * 100)
    else:
        ledger.mkdir()
    result = campaign(command, str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 4, result.output
    assert f"{ledger}: not a readable campaign ledger" in result.stderr
    assert "Traceback" not in result.output
    assert sim.app.outcomes() == Counter()


def test_status_on_another_campaigns_ledger_names_both_ids(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    out = tmp_path / "out"
    first = write_campaign(tmp_path / "a", digits=[1], campaign_id="alpha")
    assert campaign("send", str(first), "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    second = write_campaign(tmp_path / "b", digits=[1], campaign_id="beta")
    shutil.copytree(out / "alpha", out / "beta")
    for command in ("status", "send"):
        result = campaign(command, str(second), "--outputs", str(out), env=telesign_env(sim.url))
        assert result.exit_code == 4
        assert "is the ledger of campaign 'alpha', not 'beta'" in result.stderr
    assert len(sim.app.accepted()) == 1


@pytest.mark.parametrize("command", [["simulate"], ["callbacks", "serve", "--log", "x.jsonl"]])
def test_a_port_out_of_range_is_a_usage_error(command: list[str]) -> None:
    result = invoke(*command, "--port", "99999")
    assert result.exit_code == 2
    assert "99999" in result.output and "0<=x<=65535" in result.output


def test_a_signed_but_deeply_nested_callback_is_answered_400(served_receiver: ServedReceiver) -> None:
    nested = b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"  # 60 KB: under the 64 KB limit
    response = served_receiver.post(nested)
    assert response.status_code == 400
    assert served_receiver.logged() == []
    assert served_receiver.post({"status": {"code": 200}}).status_code == 200  # and it goes on


def test_the_simulator_answers_400_to_a_deeply_nested_body(make_simulator: MakeSimulator) -> None:
    import httpx

    from runner.simulator import DEMO_CREDENTIALS
    from runner.telesign.auth import basic_authorization

    sim = make_simulator()
    nested = b'{"a": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"  # deeper than Python's parser goes
    headers = {"Authorization": basic_authorization(DEMO_CREDENTIALS), "Content-Type": "application/json"}
    response = httpx.post(sim.url + "/v1/omnichannel", content=nested, headers=headers)
    assert response.status_code == 400
