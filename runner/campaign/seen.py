"""A set of strings in 8 bytes each, so de-duplicating a million-row audience stays in a few MB.

A Python set of a million phone strings costs ~100 MB; this open-addressing table of 64-bit
BLAKE2b fingerprints costs 16 MB at a million. Two different strings share a fingerprint with
probability ~n²/2^65 (3e-8 at a million): the cost of such a collision is one recipient reported
as a duplicate and not messaged, never a message sent twice.
"""

from __future__ import annotations

from array import array
from hashlib import blake2b

_EMPTY = 0


class FingerprintSet:
    def __init__(self, capacity: int = 1024):
        size = 1
        while size < capacity * 2:
            size *= 2
        self._table = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @staticmethod
    def _fingerprint(value: str) -> int:
        fp = int.from_bytes(blake2b(value.encode("utf-8"), digest_size=8).digest(), "little")
        return fp or 1  # 0 marks an empty slot

    def _slot(self, fp: int) -> int:
        """Where `fp` is, or the empty slot where it would go (linear probing)."""
        table, mask = self._table, self._mask
        slot = fp & mask
        while table[slot] != _EMPTY and table[slot] != fp:
            slot = (slot + 1) & mask
        return slot

    fingerprint = _fingerprint  # the public name: processes that check rows hand these to the one that dedups

    def add(self, value: str) -> bool:
        """Add `value`; True if it was new, False if it was already there."""
        return self.add_fingerprint(self._fingerprint(value))

    def contains_fingerprint(self, fp: int) -> bool:
        return self._table[self._slot(fp)] == fp

    def add_fingerprint(self, fp: int) -> bool:
        slot = self._slot(fp)
        if self._table[slot] == fp:
            return False
        self._table[slot] = fp
        self._count += 1
        if self._count * 2 > len(self._table):
            self._grow()
        return True

    def __contains__(self, value: str) -> bool:
        fp = self._fingerprint(value)
        return self._table[self._slot(fp)] == fp

    def _grow(self) -> None:
        old = self._table
        self._table = array("Q", bytes(16 * len(old)))
        self._mask = len(self._table) - 1
        for fp in old:
            if fp != _EMPTY:
                self._table[self._slot(fp)] = fp
