"""Injected faults (503/3500 and dropped connections), repeatable under a seed.

A fault is drawn from a hash of (seed, the request body, how many times this body was seen), not
from one random stream: concurrent clients interleave requests differently on every run, and a
stream would hand the faults to different messages each time. With the hash, the same campaign
meets the same faults on every run, and a resent request (the same body again) gets a fresh draw,
as a retry against Telesign would.
"""

from __future__ import annotations

import enum
import hashlib


class Fault(enum.Enum):
    FAIL = "fail"  # answered 503 with status 3500: not accepted, safe to resend
    DROP = "drop"  # accepted, then the connection is closed without an answer


class FaultDraw:
    def __init__(self, seed: int, fail_rate: float, drop_rate: float, memory: int | None = None) -> None:
        self.seed = seed.to_bytes(16, "big", signed=True)
        self.fail_rate = fail_rate
        self.drop_rate = drop_rate
        self.memory = memory
        self._seen: dict[bytes, int] = {}

    def draw(self, body: bytes) -> Fault | None:
        if self.fail_rate <= 0 and self.drop_rate <= 0:
            return None
        key = hashlib.blake2b(body, digest_size=16).digest()
        occurrence = self._seen.get(key, 0) + 1
        self._seen[key] = occurrence
        if self.memory is not None and len(self._seen) > self.memory:
            del self._seen[next(iter(self._seen))]
        digest = hashlib.blake2b(key + occurrence.to_bytes(8, "big"), key=self.seed, digest_size=16).digest()
        fail_draw = int.from_bytes(digest[:8], "big") / 2**64
        drop_draw = int.from_bytes(digest[8:], "big") / 2**64
        if fail_draw < self.fail_rate:
            return Fault.FAIL
        if drop_draw < self.drop_rate:
            return Fault.DROP
        return None
