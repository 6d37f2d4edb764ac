"""Rates shared by every sender using one ledger database (docs/scaling-out.md, "One account,
one rate"): Telesign's TPS is per account, so senders on several hosts must draw their request
starts from one schedule, not each pace itself (Mailtrain's per-worker throttle let five workers
send five times the limit, mailtrain#1173).

Each schedule (the account's TPS, a campaign's rate) is a row in the database holding its next
free start time; a sender reserves a few consecutive slots, 1/rate apart, in one statement
(runner.ledger.interface.Slots), so the database is touched once per BATCH_SECONDS of sending,
not once per message. A slot is a start time, valid for TOLERANCE of the interval after it: a
sender that is late for a slot (a slow loop, a pause) lets it go unused rather than starting
late, since a late start could share a second with the next slots. Every start then falls within
[slot, slot + max(interval/2, LATE_FLOOR)), so any one-second window holds at most rate + 1
starts, whatever the number of senders."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

from runner.ledger.interface import Slots

BATCH_SECONDS = 0.1  # slots reserved at a time: about this much sending (at least one slot, at most 64)
TOLERANCE = 0.5  # of an interval: how late a slot may still be used
# ... and at least this late, whatever the rate: an event loop's timers wake a millisecond or more
# late (epoll counts in milliseconds), and at 1,000/s and over half an interval is less, so nearly
# every slot went unused; a sender then reserved again and again, holding the schedule's next
# stretch of time (its other senders waiting for it) for slots it could not use. Any one-second
# window still holds at most rate + 1 starts: they come from slots in a stretch of 1 s + LATE_FLOOR,
# 1.05/rate apart, (1 + LATE_FLOOR) / 1.05 < 1 (JITTER_MARGIN).
LATE_FLOOR = 0.010
LEAD = 0.002  # seconds: slots start this far ahead, so the reservation's round trip does not eat the first
# Slots are spaced 5% wider than 1/rate: requests started on time still reach Telesign bunched by
# the network and each host's loop (tens of ms under load, measured at the simulator in
# tests/reliability/test_shared_ledger.py), and its TPS limit counts arrivals. 5% of the rate is
# the price of keeping every second within rate + 1 across hosts.
JITTER_MARGIN = 0.05


def account_schedule(customer_id: str) -> str:
    """The account's schedule's name: a digest, since the customer id is a secret."""
    return "account:" + hashlib.sha256(customer_id.encode()).hexdigest()[:16]


def campaign_schedule(campaign_id: str) -> str:
    return "campaign:" + campaign_id


class SharedSchedule:
    def __init__(
        self,
        slots: Slots,
        name: str,
        rate: float,
        call: Callable[..., Awaitable[tuple[float, float]]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots, self.name, self.rate = slots, name, rate
        self.interval = (1.0 + JITTER_MARGIN) / rate
        self.tolerance = max(self.interval * TOLERANCE, LATE_FLOOR)  # how late a slot may still be used
        self.batch = max(1, min(64, math.ceil(rate * BATCH_SECONDS)))
        self.call, self.clock = call, clock
        self._granted: deque[float] = deque()  # local clock times of the slots reserved, unused yet
        self._refilling = asyncio.Lock()
        self.reservations = 0
        self.wasted = 0

    async def wait_turn(self) -> float:
        """Wait for this sender's next slot; how many seconds that took (then the policy is asked
        again: a window may have closed meanwhile)."""
        waited = 0.0
        while True:
            if not self._granted:
                async with self._refilling:
                    if not self._granted:
                        await self._refill()
                continue
            slot = self._granted[0]
            now = self.clock()
            if now < slot:
                await asyncio.sleep(slot - now)
                waited += slot - now
                continue  # (another worker may have taken it meanwhile)
            self._granted.popleft()
            if now - slot <= self.tolerance:
                return waited
            self.wasted += 1

    async def _refill(self) -> None:
        first, db_now = await self.call(self.slots.reserve, self.name, 1.0 / self.interval, self.batch, LEAD)
        local = self.clock()
        self.reservations += 1
        # The database's clock is the one every sender shares: slots are mapped to ours through
        # the time it gave with them (off by at most the round trip).
        start = local + (first - db_now)
        self._granted.extend(start + i * self.interval for i in range(self.batch))
