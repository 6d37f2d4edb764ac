"""Frequency caps: `max_per_phone = "2/7d"`, at most 2 accepted marketing messages to one phone
across every campaign of the repository in any 7 days (docs/policy.md, "Frequency caps")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

_CAP = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": ("hour", timedelta(hours=1)), "d": ("day", timedelta(days=1)), "w": ("week", timedelta(weeks=1))}


class BadCap(ValueError):
    pass


@dataclass(frozen=True)
class Cap:
    count: int
    period: timedelta
    text: str  # as written: "2/7d"

    def describe(self) -> str:
        plural = "s" if self.count != 1 else ""
        return f"at most {self.count} marketing message{plural} per phone in any {self.text.split('/')[1]}"

    def at_least_as_strict_as(self, other: Cap) -> bool:
        """Whether every sequence this cap allows, `other` allows too."""
        return self.count <= other.count and self.period >= other.period

    def allowed_at(self, now: datetime, sent: Sequence[datetime]) -> datetime:
        """The first moment at or after `now` when one more message is within the cap, given the
        acceptance times of the messages already sent to the phone (any order)."""
        recent = sorted(t for t in sent if t > now - self.period)
        if len(recent) < self.count:
            return now
        # The oldest of the `count` most recent must leave the sliding period first.
        return recent[len(recent) - self.count] + self.period


def parse_cap(text: str) -> Cap:
    match = _CAP.match(text)
    if not match:
        raise BadCap(
            f'{text!r} is not a frequency cap: write "<messages>/<period>" with the period in h, d or w (e.g. "2/7d")'
        )
    count, amount, unit = int(match.group(1)), int(match.group(2)), match.group(3)
    if count < 1 or amount < 1:
        raise BadCap(
            f"{text!r}: the count and the period must be at least 1 (to send nothing, do not run the campaign)"
        )
    if amount * _UNITS[unit][1] > timedelta(days=366):
        raise BadCap(f"{text!r}: the period is at most a year (366d)")
    return Cap(count, amount * _UNITS[unit][1], f"{count}/{amount}{unit}")
