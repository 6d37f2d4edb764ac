"""Shared rates (runner.sending.sharing) on a virtual clock (tests.sending.virtual_time): senders
drawing request starts from one schedule, through an in-memory stand-in for the database's pace
row that gives slots exactly as the shared ledger's statement does (runner.ledger.postgres.slots).
Each worker's wake-ups are late by up to a few milliseconds, as a real event loop's are."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from runner.sending.sharing import SharedSchedule
from runner.simulator.journal import busiest_second
from tests.sending.virtual_time import VirtualTime


class PaceRow:
    """The `pace` table's rows, on the virtual clock: each schedule's next free start time."""

    def __init__(self, time: VirtualTime) -> None:
        self.time = time
        self.next_slot: dict[str, float] = {}
        self.reservations = 0

    def reserve(self, name: str, rate: float, count: int, lead: float) -> tuple[float, float]:
        now = self.time.clock()
        first = max(self.next_slot.get(name, 0.0), now + lead)
        self.next_slot[name] = first + count / rate
        self.reservations += 1
        return first, now


async def direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


async def sender_starts(
    schedule: SharedSchedule, time: VirtualTime, workers: int, until: float, request: float
) -> list[float]:
    """Each worker: wait for a turn, start a request (taking `request` seconds), until `until`."""
    starts: list[float] = []

    async def worker() -> None:
        while time.clock() < until:
            await schedule.wait_turn()
            if time.clock() >= until:
                return
            starts.append(time.clock())
            await asyncio.sleep(request)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return starts


def senders(time: VirtualTime, rate: float, count: int) -> tuple[PaceRow, list[SharedSchedule]]:
    row = PaceRow(time)
    return row, [SharedSchedule(row, "campaign:c", rate, direct, clock=time.clock) for _ in range(count)]


async def run_senders(
    time: VirtualTime, schedules: list[SharedSchedule], workers: int, seconds: float, request: float
) -> list[list[float]]:
    until = time.clock() + seconds
    results: list[list[float]] = [[] for _ in schedules]

    async def one(index: int, schedule: SharedSchedule) -> None:
        results[index] = await sender_starts(schedule, time, workers, until, request)

    await time.run(*(one(i, s) for i, s in enumerate(schedules)))
    return results


async def test_two_senders_at_a_rate_above_what_either_can_do_both_keep_sending(virtual: Any) -> None:
    """A campaign rate of 5,000/s on a shared ledger, two senders each able to start about 1,000
    requests a second (8 workers, 8 ms a request). The rate is not the limit, so two senders start
    about twice what one does. Before, a slot was usable only half an interval (0.1 ms) after its
    time: an event loop never wakes that precisely, so nearly every slot went unused, and each
    sender held the schedule's next stretch of time for slots it could not use, while the other
    waited for it: two senders together started no more than one."""
    rng = random.Random(7)
    time = virtual(lateness=lambda: rng.uniform(0, 0.002))
    _, [alone] = senders(time, 5000, 1)
    [one] = await run_senders(time, [alone], workers=8, seconds=2, request=0.008)
    _, pair = senders(time, 5000, 2)
    both = await run_senders(time, pair, workers=8, seconds=2, request=0.008)
    assert len(one) > 1500  # (8 workers, a request each 8 ms and a late wake-up: about 1,600 in 2 s)
    assert len(both[0]) + len(both[1]) >= 1.8 * len(one)
    assert min(len(both[0]), len(both[1])) >= 0.8 * len(one)  # neither waits for the other


@pytest.mark.parametrize("rate", [2, 20, 50, 400, 5000])
async def test_late_wake_ups_keep_every_second_within_the_rate(virtual: Any, rate: int) -> None:
    """Two senders with more workers than the rate needs, waking a few milliseconds late, and
    their loop stalled once for 300 ms (whoever was due meanwhile wakes at its end; their slots
    must go unused, or they would all start at once): at any rate, no one-second window holds
    more than rate + 1 starts of the two together, as Telesign counts them, and the rate is still
    nearly reached."""
    rng = random.Random(rate)

    def stalled(wake: float) -> float:
        return 5002.7 if 5002.4 <= wake < 5002.7 else wake

    time = virtual(lateness=lambda: rng.uniform(0, 0.003), stalled=stalled)
    row, pair = senders(time, rate, 2)
    workers = max(4, rate // 20)
    both = await run_senders(time, pair, workers=workers, seconds=6, request=0.001)
    starts = both[0] + both[1]
    assert busiest_second(starts) <= rate + 1
    assert len(starts) >= 0.8 * rate * 6
    if rate >= 50:  # (a reservation holds about 0.1 s of slots: below 10/s, one each)
        assert row.reservations * 4 <= len(starts)  # the database is not touched once per start
