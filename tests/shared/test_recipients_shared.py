"""With a shared ledger the recipient store (opt-outs, replies, contact history) is in its
database too (docs/scaling-out.md): a STOP the receiver on one host records stops that phone for
the senders of every host, and a frequency cap counts what every host sent. Each "host" here is
an outputs folder of its own; what was sent is read from the simulator's journal."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from runner.campaign.schema import load
from runner.ledger.backend import ENVIRONMENT
from runner.sending.run import SendOptions, send_campaign
from tests.fixtures.simulator import MakeSimulator
from tests.policy.clock import FakeClock
from tests.policy.test_caps import NEW_YORK, T0
from tests.policy.test_caps import write as write_capped
from tests.policy.test_send_windows import settings
from tests.policy.test_stop_while_sending import STOPPER, STOPPER_DIGITS, stop_from
from tests.policy.test_stop_while_sending import write as write_campaign
from tests.sending.helpers import campaign, ledger_rows, subprocess_env, telesign_env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_stop_received_on_one_host_stops_the_senders_of_every_host(
    tmp_path: Path, make_simulator: MakeSimulator, shared_ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT, shared_ledger_url)  # (for ledger_rows)
    sim = make_simulator()
    env = telesign_env(sim.url, CAMPAIGN_LEDGER_URL=shared_ledger_url)
    host_a, host_b = tmp_path / "host-a", tmp_path / "host-b"
    spring = write_campaign(host_a / "campaigns", "spring", [STOPPER, "+1 212 555 0110"])
    assert campaign("send", str(spring), "--outputs", str(host_a / "outputs"), env=env).exit_code == 0
    [earlier] = [r for r in sim.app.accepted() if r.phone_number == STOPPER_DIGITS]

    # Host A's receiver, given the shared ledger and no outputs folder, takes the STOP.
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "runner", "callbacks", "serve", "--port", str(port), "--no-verify",
         "--log", str(host_a / "callbacks.jsonl"), "--ledger", shared_ledger_url],
        cwd=host_a, env=subprocess_env(sim.url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        body = json.dumps(stop_from(STOPPER_DIGITS, earlier.reference_id)).encode()
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/cb", content=body, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and receiver.poll() is None, "the receiver did not start"
                time.sleep(0.1)
        assert answer.status_code == 200
    finally:
        receiver.terminate()
        output, _ = receiver.communicate(timeout=30)
    assert "replies (STOP, START) applied to the opt-out store in the shared ledger" in output, output
    assert "replies: " in output and "Traceback" not in output, output

    # Host B, with an outputs folder of its own, sends another campaign: not to the stopper.
    autumn = write_campaign(host_b / "campaigns", "autumn", ["+1 212 555 0120", STOPPER])
    assert campaign("send", str(autumn), "--outputs", str(host_b / "outputs"), env=env).exit_code == 0
    sent = [r.phone_number for r in sim.app.accepted() if (r.external_id or "").startswith("autumn.")]
    assert sent == ["12125550120"]
    rows = {r["phone"]: r for r in ledger_rows(host_b / "outputs", "autumn")}
    assert rows["+12125550100"]["state"] == "suppressed"
    assert rows["+12125550100"]["status_description"].endswith("by a STOP reply to spring")
    listed = campaign("optouts", "list", "--outputs", str(tmp_path / "host-c"), env=env)
    assert listed.output.startswith("+12125550100  opted out "), listed.output

    # Opted back in by hand on a third host, the phone is sent host B's campaign on its next run.
    back = campaign("optouts", "remove", STOPPER, "--outputs", str(tmp_path / "host-c"), env=env)
    assert back.output.strip() == "+12125550100: opted in"
    assert campaign("send", str(autumn), "--outputs", str(host_b / "outputs"), env=env).exit_code == 0
    assert sim.app.accepted_by_phone()[STOPPER_DIGITS] == 2  # spring's, and now autumn's


def test_a_frequency_cap_counts_what_every_host_sent(
    tmp_path: Path, make_simulator: MakeSimulator, shared_ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT, shared_ledger_url)
    clock = FakeClock(T0)
    clock.point_simulator_at_it(monkeypatch)
    sim = make_simulator()

    def send(host: str, campaign_id: str, days: int) -> dict[str, dict[str, object]]:
        root = tmp_path / host  # a checkout and an outputs folder of its own; max_per_phone = "2/7d"
        file = write_capped(root, campaign_id, clock.now() - timedelta(hours=1), days)
        options = SendOptions(
            outputs=root / "outputs", clock=clock.now, log_format="plain", ledger_url=shared_ledger_url
        )
        assert send_campaign(load(file), settings(sim), options).exit_code == 0
        return {str(r["phone"]): r for r in ledger_rows(root / "outputs", campaign_id)}

    send("host-a", "first", days=1)
    clock.sleep(24 * 3600)
    send("host-b", "second", days=1)
    clock.sleep(3600)
    third = send("host-c", "third", days=3)  # ends before the first message is a week old
    assert [r.phone_number for r in sim.app.accepted()].count("12025550110") == 2
    assert third["+12025550110"]["state"] == "suppressed"
    assert "over max_per_phone = '2/7d'" in str(third["+12025550110"]["status_description"])
    assert NEW_YORK.replace(" ", "") == "+12025550110"
