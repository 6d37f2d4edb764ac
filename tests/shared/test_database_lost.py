"""The ledger's database goes away under a sender (a network cut, a failover: here the server
drops the sender's connections, pg_terminate_backend, mid-send): the sender stops claiming at once,
says so in one line and exits 4; the re-run goes on where the ledger stands, and no phone gets
two messages (counted by the simulator)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.fixtures.ledger import SERVER
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import ROOT, campaign, subprocess_env, telesign_env, wait_for_accepted, write_campaign

RECIPIENTS = 120


def states(url: str, campaign_id: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT state, COUNT(*) FROM messages WHERE campaign = %s GROUP BY state", (campaign_id,)
        ).fetchall()
    return {state: int(n) for state, n in rows}


def test_a_dropped_connection_stops_the_sender_and_a_rerun_goes_on(
    tmp_path: Path, make_simulator: MakeSimulator, shared_ledger_url: str
) -> None:
    import psycopg

    sim = make_simulator(latency_ms=20)
    file = write_campaign(
        tmp_path / "c",
        digits=[i % 9 for i in range(RECIPIENTS)],
        campaign_id="cut",
        sending="rate = 40\nconcurrency = 4\nmax_attempts = 3",
    )
    out = tmp_path / "out"
    name = "cut-" + uuid.uuid4().hex[:12]  # this sender's connections, and only them
    url = shared_ledger_url + "&application_name=" + name
    env = subprocess_env(sim.url, CAMPAIGN_LEDGER_URL=url)
    sender = subprocess.Popen(
        [sys.executable, "-m", "runner", "send", str(file), "--outputs", str(out), "--log-format", "plain"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_accepted(sim.app, 20)
    with psycopg.connect(SERVER, autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchall()
    assert dropped, "the sender had no connection to drop"
    output, _ = sender.communicate(timeout=60)
    assert sender.returncode == 4, output
    assert "cannot be reached" in output and "Traceback" not in output
    sent_before = len(sim.app.accepted())
    assert sent_before < RECIPIENTS  # it stopped claiming: the rest was not sent

    rerun = campaign("send", str(file), "--outputs", str(out), env=env)
    assert rerun.exit_code in (0, 3), rerun.output
    by_phone = sim.app.accepted_by_phone()
    assert max(by_phone.values()) == 1
    final = states(url, "cut")
    assert sum(final.values()) == RECIPIENTS
    assert set(final) <= {"accepted", "sending"}, final  # `sending`: answers the lost connection could not record
    assert final.get("sending", 0) <= 4 * 2  # at most what its workers held (claimed or answered, unrecorded)
    assert final["accepted"] <= len(by_phone) <= final["accepted"] + final.get("sending", 0)


@pytest.mark.parametrize("command", [["send"], ["status"], ["enrich", "--callbacks", "log.jsonl"], ["plan"]])
def test_a_database_that_cannot_be_reached_at_the_start_is_said_for_what_it_is(
    command: list[str], tmp_path: Path
) -> None:
    """Nothing listens where CAMPAIGN_LEDGER_URL points: every command says so in one line, with
    what to check, and none speaks of a send that never started (it said "nothing more is sent"
    and what becomes of messages left `sending`, to `status` and `optouts` too)."""
    file = write_campaign(tmp_path / "c", digits=[1])
    (tmp_path / "log.jsonl").write_text("", encoding="utf-8")
    url = "postgresql://nobody:secret@127.0.0.1:1/ledger"
    name, *rest = command
    args = [name, str(file), *[str(tmp_path / a) if a.endswith(".jsonl") else a for a in rest]]
    result = campaign(*args, "--outputs", str(tmp_path / "out"), env={**telesign_env("http://127.0.0.1:9"),
                      "CAMPAIGN_LEDGER_URL": url})  # fmt: skip
    assert result.exit_code == 4, result.output
    output = result.stdout + result.stderr
    assert "the ledger database postgresql://nobody:***@127.0.0.1:1/ledger cannot be reached" in output
    assert "nothing was done" in output and "CAMPAIGN_LEDGER_URL" in output
    assert "nothing more is sent" not in output and "secret" not in output and "Traceback" not in output
