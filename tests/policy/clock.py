"""A clock for policy tests: it runs at the real pace from a chosen moment, and `sleep` jumps it
forward instead of waiting (what `campaign send --wait` does overnight takes a moment). The
simulator's wall clock is pointed at it too, so that its journal says when each message left in
the same (simulated) time the windows are checked in."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest


class FakeClock:
    def __init__(self, start: datetime):
        self.start = start
        self.offset = 0.0
        self._real = time.monotonic()
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._real + self.offset)

    def timestamp(self) -> float:
        return self.now().timestamp()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds

    def point_simulator_at_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import runner.simulator.app as app

        monkeypatch.setattr(app, "time", SimpleNamespace(time=self.timestamp, monotonic=time.monotonic))


def accepted_at(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)
