"""A virtual clock for asyncio: asyncio.sleep is replaced by a scheduler that moves a fake
monotonic clock to the next sleeper's wake-up time, so seconds of pacing run in milliseconds and
every start time is exact. Sleepers may be woken late, as a busy event loop wakes them."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

_real_sleep = asyncio.sleep


class VirtualTime:
    def __init__(
        self,
        lateness: Callable[[], float] = lambda: 0.0,
        start: float = 5000.0,
        stalled: Callable[[float], float] = lambda wake: wake,
    ):
        self.now = start
        self.lateness = lateness
        self.stalled = stalled  # a wake-up time -> when a stalled loop really wakes it
        self.sleeps = 0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float, result: Any = None) -> Any:
        self.sleeps += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        wake = self.stalled(self.now + max(0.0, delay) + self.lateness())
        heapq.heappush(self._sleepers, (wake, next(self._order), future))
        await future
        return result

    async def run(self, *jobs: Awaitable[None]) -> None:
        """Run the jobs to the end, advancing the clock whenever all of them are asleep."""
        tasks = [asyncio.ensure_future(job) for job in jobs]
        while not all(task.done() for task in tasks):
            for _ in range(4):  # let every woken task run up to its next sleep
                await _real_sleep(0)
            if all(task.done() for task in tasks):
                break
            assert self._sleepers, "every job is blocked on something other than the clock"
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            future.set_result(None)
        for task in tasks:
            task.result()


@pytest.fixture
def virtual(monkeypatch: pytest.MonkeyPatch) -> Callable[..., VirtualTime]:
    def make(**kwargs: Any) -> VirtualTime:
        time = VirtualTime(**kwargs)
        monkeypatch.setattr(asyncio, "sleep", time.sleep)
        return time

    return make
