"""The campaign's pace: at most `rate` request starts in any one-second window, and a pause for
everyone when Telesign answers 429/3204.

Starts follow a schedule spaced 1/rate apart (so the achieved rate matches the asked one even
when the event loop wakes late), and a sliding log of the last `rate` starts holds the hard cap:
no start is allowed until the start `rate` places earlier is a full second old. A token bucket
(aiolimiter and the like) lets a whole bucket through at a window's edge, up to twice the rate
inside one second, which is what Telesign's TPS limit punishes."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

# The hard cap counts starts over slightly more than a second: requests that leave on time can
# still reach Telesign bunched by a few milliseconds of network or scheduler delay, and its TPS
# limit counts arrivals in a sliding second (429/3204). From 10/s up, 10 ms, which costs at most
# 1% of the rate (bench/rate_accuracy.py). Below 10/s a margin is needed too: the cap compares a
# start with the one ceil(rate) places earlier, exactly one second before it whatever the
# spacing, so at 3/s against an account TPS of 3 a millisecond of jitter made a 429 (and a pause
# for everyone) every few seconds, counted at the simulator. 5 ms there: where the cap allows one
# start a second (1/s) it holds every start, and 10 ms, with late wake-ups, cost over 2% of it.
JITTER_MARGIN = 0.01
LOW_RATE_MARGIN = 0.005


class Pacer:
    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.interval = 1.0 / rate if rate else 0.0
        self.clock = clock
        # ceil, not floor: a cap of floor(2.5) = 2 a second would hold a 2.5/s campaign to 2/s;
        # ceil keeps every window within rate + 1, as the contract allows.
        self._cap = max(1, math.ceil(rate)) if rate else 0
        self._window = 1.0 + (JITTER_MARGIN if rate and rate >= 10 else LOW_RATE_MARGIN)
        self._recent: deque[float] = deque(maxlen=self._cap or 1)
        # When the last requests were written: at most the contract's rate + 1 in a window, one
        # more than the turns, so that a write late by its claim does not hold back the ones after.
        self._written: deque[float] = deque(maxlen=self._cap + 1)
        self._next = 0.0
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Telesign asked everyone to slow down (a 429): no one starts until then."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)
        # The schedule restarts at the pause's end: the first start then, the next one interval
        # later. Left as it was, the slots missed during the pause were banked (wait_turn keeps one
        # and the cap allows ceil(rate) at once), and the workers held by the pause left together:
        # at 0.5/s five starts in four seconds, at 2.5/s three at the same instant, right after
        # Telesign had asked everyone to slow down.
        self._next = max(self._next, self._paused_until)

    def earliest_start(self, now: float) -> float:
        start = max(now, self._paused_until)
        if self.rate:
            start = max(start, self._next, self._window_after(self._recent))
        return start

    def _window_after(self, log: deque[float]) -> float:
        """The hard cap over `log` (the last starts, or writes): a full log's oldest entry must be a
        whole window old before the next; 0.0 while the log is not full."""
        return log[0] + self._window if len(log) == log.maxlen else 0.0

    async def before_write(self) -> None:
        """Right before a request is written: the hard cap again, over the times requests were
        really written, at most rate + 1 in a window (the contract). A turn comes before its
        message is claimed, and a claim's commit takes a variable time (a few ms, or tens behind
        another commit on a loaded host): requests whose turns were 1/rate apart were written
        together, 22 in one second at 20/s at the simulator. (A wait here is that variation: the
        message is claimed meanwhile, so a pause, which may last seconds, is waited for at the
        turn alone.)"""
        if not self.rate:
            return
        while (start := self._window_after(self._written)) > (now := self.clock()):
            await asyncio.sleep(start - now)
        self._written.append(now)

    async def wait_turn(self, give_up: Callable[[], bool] | None = None) -> bool:
        """Until the caller may start (True); with `give_up`, asked at every wake-up, until it says
        there is nothing left to start (False, and no slot taken). Waiting workers take the slots
        one after another: at 0.5/s, without it, eight idle workers each waited for a slot of
        their own before learning the campaign was done, ending the run 16 s late."""
        while True:
            if give_up is not None and give_up():
                return False
            now = self.clock()
            start = self.earliest_start(now)
            if start <= now:
                if self.rate:
                    self._recent.append(now)
                    # Keep to the schedule, but never bank more than one missed slot (after a
                    # pause, starts resume at the rate rather than in a burst).
                    self._next = (
                        max(self._next + self.interval, now - self.interval) if self._next else now + self.interval
                    )
                return True
            await asyncio.sleep(start - now)
