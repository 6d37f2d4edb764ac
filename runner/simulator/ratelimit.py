"""The TPS limit: Telesign answers 429 with status 3204 when an account sends faster than its
allowed requests per second. The window slides, so no one-second span ever holds more than `tps`
accepted requests (a fixed window would let 2 x tps through across a second's boundary)."""

from __future__ import annotations

import math
from collections import deque


class AcceptanceWindow:
    def __init__(self, tps: int) -> None:
        self.tps = tps
        self._accepted: deque[float] = deque()

    def retry_after(self, now: float) -> int | None:
        """None when one more request may be accepted at `now`, else whole seconds to wait
        (what Retry-After carries: HTTP allows only whole seconds)."""
        window = self._accepted
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) < self.tps:
            return None
        return max(1, math.ceil(window[0] + 1.0 - now))

    def record(self, now: float) -> None:
        self._accepted.append(now)
