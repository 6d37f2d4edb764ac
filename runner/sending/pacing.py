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

# From 10/s up, the hard cap counts starts over slightly more than a second: requests that leave
# on time can still reach Telesign bunched by a few milliseconds of network or scheduler delay,
# and its TPS limit counts arrivals. 10 ms of margin costs at most 1% of the rate
# (bench/rate_accuracy.py); below 10/s, starts are 100 ms or more apart and need none.
JITTER_MARGIN = 0.01


class Pacer:
    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.interval = 1.0 / rate if rate else 0.0
        self.clock = clock
        # ceil, not floor: a cap of floor(2.5) = 2 a second would hold a 2.5/s campaign to 2/s;
        # ceil keeps every window within rate + 1, as the contract allows.
        self._cap = max(1, math.ceil(rate)) if rate else 0
        self._window = 1.0 + (JITTER_MARGIN if rate and rate >= 10 else 0.0)
        self._recent: deque[float] = deque(maxlen=self._cap or 1)
        self._next = 0.0
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Telesign asked everyone to slow down (429 + Retry-After): no one starts until then."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    def earliest_start(self, now: float) -> float:
        start = max(now, self._paused_until)
        if self.rate:
            start = max(start, self._next)
            if len(self._recent) == self._cap:
                start = max(start, self._recent[0] + self._window)
        return start

    async def wait_turn(self) -> None:
        while True:
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
                return
            await asyncio.sleep(start - now)
