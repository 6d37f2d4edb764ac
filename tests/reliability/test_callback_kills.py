"""Callbacks under load with kills, the long way: the receiver is SIGKILLed at a random moment
of a load, restarted on the same log, loaded again, killed again... Every callback that was
answered 200 is in the log, once, whatever the round.

RELIABILITY_ROUNDS (default 20) sets the crash loop's rounds; this test runs a fifth of them."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pytest

from runner.callbacks.log import read_log
from runner.callbacks.payload import Callback
from tests.callbacks.test_receiver_process import ReceiverProcess, signed_requests
from tests.fixtures.receiver import post_over_connections

pytestmark = pytest.mark.reliability
ROUNDS = max(2, int(os.environ.get("RELIABILITY_ROUNDS", "20")) // 5)
PER_ROUND = 1500


async def test_acknowledged_callbacks_survive_repeated_kills(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "2026")))
    log = tmp_path / "callbacks.log"
    acknowledged: set[str] = set()
    for round_number in range(ROUNDS):
        receiver = ReceiverProcess(log)
        kill_after = rng.randrange(50, PER_ROUND - 100)
        answered_now = 0

        def on_status(
            index: int, status: int, receiver: ReceiverProcess = receiver, kill_after: int = kill_after
        ) -> None:
            nonlocal answered_now
            answered_now += status == 200
            if answered_now == kill_after:
                receiver.process.send_signal(signal.SIGKILL)

        first = round_number * PER_ROUND
        statuses = await post_over_connections(
            receiver.url, signed_requests(first, PER_ROUND), rng.choice([8, 32, 64]), on_status
        )
        receiver.process.wait()
        acknowledged |= {f"{first + i:032X}" for i, status in enumerate(statuses) if status == 200}
    logged = [r.reference_id for r in read_log(log) if isinstance(r, Callback)]
    lost = acknowledged - set(logged)
    print(f"\n{ROUNDS} receiver kills, {len(acknowledged)} callbacks acknowledged, {len(lost)} lost")
    assert not lost
    assert len(logged) == len(set(logged))
