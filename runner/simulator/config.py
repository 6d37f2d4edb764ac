"""What a simulator is told at start: whose credentials it accepts, where callbacks go, how fast
time runs, and which faults it injects."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from runner.telesign.auth import DEMO_API_KEY, DEMO_CUSTOMER_ID, Credentials

DEMO_CREDENTIALS = Credentials(DEMO_CUSTOMER_ID, DEMO_API_KEY)


@dataclass(frozen=True)
class SimulatorConfig:
    """Settings of one simulator.

    time_scale multiplies every simulated delay (delivery, read, fallback_time, callback retry
    backoff): 1.0 is Telesign's pace, 0.001 turns a 600 s fallback into 0.6 s. latency_ms is real
    time, added before every answer. tps=None means no rate limit. fail_rate and drop_rate are
    shares of valid requests answered 503/3500, or accepted and then cut off without an answer.
    history_limit bounds what is remembered in memory (journal, statuses for GET); None keeps
    everything, which is what tests want; the long-running CLI sets a bound.
    """

    credentials: Credentials = DEMO_CREDENTIALS
    callback_url: str | None = None
    time_scale: float = 1.0
    tps: int | None = None
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    seed: int = 0
    journal_path: Path | None = None
    history_limit: int | None = None
    callback_attempts: int = 5  # the first try and Telesign's 4 retries (docs/simulator.md)
    callback_concurrency: int = 32

    def __post_init__(self) -> None:
        problems = []
        if not (math.isfinite(self.time_scale) and self.time_scale >= 0):
            problems.append(f"time scale must be 0 or more, not {self.time_scale}")
        if self.tps is not None and self.tps < 1:
            problems.append(f"tps must be at least 1, not {self.tps}")
        if not (math.isfinite(self.latency_ms) and self.latency_ms >= 0):
            problems.append(f"latency must be 0 ms or more, not {self.latency_ms}")
        for name in ("fail_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name.replace('_', ' ')} must be between 0 and 1, not {value}")
        if self.history_limit is not None and self.history_limit < 1:
            problems.append(f"history limit must be at least 1, not {self.history_limit}")
        if self.callback_attempts < 1:
            problems.append("callback attempts must be at least 1")
        if self.callback_concurrency < 1:
            problems.append("callback concurrency must be at least 1")
        if self.callback_url is not None and not self.callback_url.startswith(("http://", "https://")):
            problems.append(f"callback URL must start with http:// or https://, not {self.callback_url!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def scaled(self, seconds: float) -> float:
        """A simulated duration in real seconds."""
        return seconds * self.time_scale
