"""Several senders on one campaign through one PostgreSQL ledger (docs/scaling-out.md), the hard
way: three `campaign send` processes on one campaign, random kill -9s and restarts of them, and
one restart of PostgreSQL itself mid-send. From the simulator's side: no phone gets two
messages, every recipient ends accounted for, and all the senders together never start more
than the account's TPS + 1 requests in any one-second window.

CI runs SHARED_LEDGER_RECIPIENTS=600 (the default); the full size by hand:
SHARED_LEDGER_RECIPIENTS=3000 pytest tests/reliability/test_shared_ledger.py

The restart of the local cluster (pg_ctlcluster) happens in CI (CI_REQUIRE_POSTGRES=1, where the
run has the machine to itself) or with SHARED_LEDGER_RESTART=1: on a machine where others run
tests against the same server, restarting it would fail theirs."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from runner.simulator.journal import busiest_second
from tests.fixtures.ledger import SERVER
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import ROOT, campaign, subprocess_env, write_campaign

RECIPIENTS = int(os.environ.get("SHARED_LEDGER_RECIPIENTS", "600"))
TPS = int(os.environ.get("SHARED_LEDGER_TPS", "60"))
SENDERS = 3
SETTLED = {"accepted", "rejected", "sending", "unknown"}  # may be left by a kill: reported, never resent

pytestmark = pytest.mark.reliability


def states(url: str, campaign_id: str) -> Counter[str]:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            rows = conn.execute(
                "SELECT state, COUNT(*) FROM messages WHERE campaign = %s GROUP BY state", (campaign_id,)
            ).fetchall()
    except psycopg.Error:  # (mid-restart, or not made yet)
        return Counter()
    return Counter({state: int(n) for state, n in rows})


def restart_asked() -> bool:
    return "1" in (os.environ.get("CI_REQUIRE_POSTGRES"), os.environ.get("SHARED_LEDGER_RESTART"))


def server_started_at() -> str | None:
    """When the server's postmaster started (None while it is down): a restart changes it."""
    import psycopg

    try:
        with psycopg.connect(SERVER, connect_timeout=3) as conn:
            row = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


def restart_postgres() -> bool:
    """Restart the local cluster; whether the server really went down and came back (its start
    time changed); False where this machine cannot or may not (module docstring)."""
    if not restart_asked():
        return False
    before = server_started_at()
    tool = shutil.which("pg_ctlcluster")
    clusters = Path("/etc/postgresql")
    if tool is None or not clusters.is_dir():
        return False
    version = sorted(p.name for p in clusters.iterdir())[0]
    done = subprocess.run(
        [tool, "--skip-systemctl-redirect", version, "main", "restart"],
        capture_output=True,
        timeout=60,
    )
    after = server_started_at()
    return done.returncode == 0 and after is not None and after != before


def ensure_postgres_running() -> None:
    tool = shutil.which("pg_ctlcluster")
    clusters = Path("/etc/postgresql")
    if tool is None or not clusters.is_dir():
        return
    version = sorted(p.name for p in clusters.iterdir())[0]
    subprocess.run([tool, "--skip-systemctl-redirect", version, "main", "start"], capture_output=True, timeout=60)


def test_three_senders_kills_and_a_database_restart(
    tmp_path: Path, make_simulator: MakeSimulator, shared_ledger_url: str
) -> None:
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "2026")))
    sim = make_simulator(latency_ms=15)
    file = write_campaign(
        tmp_path / "c",
        digits=[rng.randrange(9) for _ in range(RECIPIENTS)],  # (9 is refused: every one here is accepted)
        campaign_id="shared",
        sending="rate = 1000\nconcurrency = 8\nmax_attempts = 3",
    )
    out = tmp_path / "out"
    env = subprocess_env(sim.url, CAMPAIGN_LEDGER_URL=shared_ledger_url, TELESIGN_ACCOUNT_TPS=str(TPS))
    logs = tmp_path / "logs"
    logs.mkdir()
    started = 0

    def spawn() -> subprocess.Popen[bytes]:
        nonlocal started
        started += 1
        log = (logs / f"sender-{started}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "runner", "send", str(file), "--outputs", str(out), "--log-format", "plain"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    began = time.monotonic()
    senders = [spawn() for _ in range(SENDERS)]
    kills = 0
    restarted = False
    database_restarted = False
    exits: Counter[int] = Counter()
    deadline = time.monotonic() + 60 + RECIPIENTS / TPS * 4
    try:
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.3, 0.9))
            sent = len(sim.app.accepted())
            if not restarted and sent >= RECIPIENTS // 3:
                database_restarted = restart_postgres()  # (once, where the machine may)
                restarted = True
            elif sent < RECIPIENTS * 0.8 and rng.random() < 0.5:
                victim = rng.choice([p for p in senders if p.poll() is None] or senders)
                if victim.poll() is None:
                    victim.send_signal(signal.SIGKILL)
                    victim.wait(timeout=30)
                    kills += 1
            left = states(shared_ledger_url, "shared")
            work = left["pending"] + left["failed"] + left["deferred"]
            for i, proc in enumerate(senders):
                code = proc.poll()
                if code is not None:
                    exits[code] += 1
                    if work or not left:  # something left to send (or the database was away)
                        senders[i] = spawn()
            if left and not work and all(p.poll() is not None for p in senders):
                break
    finally:
        for proc in senders:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        ensure_postgres_running()

    # One more run, as cron would start: it finds nothing left to send.
    again = campaign("send", str(file), "--outputs", str(out), env=env)
    assert again.exit_code in (0, 3), again.output

    by_phone = sim.app.accepted_by_phone()
    assert max(by_phone.values()) == 1, "a phone got two messages"
    final = states(shared_ledger_url, "shared")
    assert sum(final.values()) == RECIPIENTS
    assert set(final) <= SETTLED, final
    # What the ledger calls accepted reached Telesign; what else reached it was claimed by a sender
    # killed before it could record the answer (left `sending`, reported).
    assert final["accepted"] <= len(by_phone) <= final["accepted"] + final["sending"] + final["unknown"]
    assert final["accepted"] >= RECIPIENTS * 0.5, (final, kills)
    moments = [request.accepted_monotonic for request in sim.app.accepted()]
    assert busiest_second(moments) <= TPS + 1
    print(
        f"\nshared ledger: {RECIPIENTS} recipients, {SENDERS} senders at once, {started} started in all, "
        f"{kills} kill -9s, database restarted: {database_restarted}; exits {dict(sorted(exits.items()))}; "
        f"final {dict(sorted(final.items()))}; phones messaged {len(by_phone)}, most to one phone "
        f"{max(by_phone.values())}; busiest second {busiest_second(moments)} (account TPS {TPS}); "
        f"{time.monotonic() - began:.0f} s"
    )
    assert kills >= 2 and started > SENDERS
    if restart_asked():
        assert database_restarted, "PostgreSQL was to be restarted mid-send (pg_ctlcluster) and was not"
    assert server_started_at() is not None, "PostgreSQL is not up again after the test"
