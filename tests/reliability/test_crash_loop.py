"""Crash safety, the long way: start `campaign send`, SIGKILL it at a random moment under random
faults, re-run, many rounds. From the simulator's side: no recipient ever got two messages, and
every recipient ends accepted, rejected or reported unknown.

CI runs RELIABILITY_ROUNDS=20 (the default); by hand: RELIABILITY_ROUNDS=500 pytest tests/reliability
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, ledger_states, start_send, telesign_env, write_campaign

ROUNDS = int(os.environ.get("RELIABILITY_ROUNDS", "20"))
RECIPIENTS = 30

pytestmark = pytest.mark.reliability


def test_random_kills_under_random_faults_never_send_twice(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "2026")))
    duplicates = kills = 0
    for round_number in range(ROUNDS):
        faults = {
            "latency_ms": rng.choice([0, 5, 20, 50]),
            "fail_rate": rng.choice([0.0, 0.1, 0.3]),
            "drop_rate": rng.choice([0.0, 0.05, 0.2]),
            "tps": rng.choice([None, None, 40]),
            "seed": round_number,
        }
        sim = make_simulator(**faults)
        folder = tmp_path / f"round-{round_number}"
        file = write_campaign(
            folder / "c",
            digits=[rng.randrange(10) for _ in range(RECIPIENTS)],
            sending=f"rate = {rng.choice([50, 200, 1000])}\nconcurrency = {rng.choice([2, 4, 8])}\nmax_attempts = 3",
        )
        out = folder / "out"
        for _ in range(rng.choice([1, 2])):  # one or two kills before the clean run
            proc = start_send(file, out, sim.url, quiet=True)
            time.sleep(rng.uniform(0.3, 1.2))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        healthy = make_simulator(seed=round_number)
        final = campaign("send", str(file), "--outputs", str(out), env=telesign_env(healthy.url))
        assert final.exit_code in (0, 3), final.output
        per_phone: Counter[str] = Counter()
        for server in (sim, healthy):
            per_phone.update(server.app.accepted_by_phone())
        states = ledger_states(out)
        assert len(states) == RECIPIENTS
        assert set(states.values()) <= {"accepted", "rejected", "unknown", "sending"}, states
        duplicates += sum(1 for n in per_phone.values() if n > 1)
        assert duplicates == 0, f"round {round_number} ({faults}): a recipient got two messages"
    print(f"\n{ROUNDS} rounds, {kills} kills, {duplicates} duplicates")
