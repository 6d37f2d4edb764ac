"""Progress of a send: a live line on a terminal, a plain line every few seconds under cron, or
JSON lines for machines (`--log-format`). Output only; it never sees credentials."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import TextIO

from runner.ledger.states import OUTCOMES, State
from runner.terminal import is_terminal


class Progress:
    def __init__(
        self, campaign_id: str, total: int, log_format: str = "auto", stream: TextIO | None = None, every: float = 5.0
    ):
        self.campaign_id = campaign_id
        self.total = total
        self.stream = stream or sys.stderr
        self.mode = ("live" if is_terminal() else "plain") if log_format == "auto" else log_format
        self.every = 0.2 if self.mode == "live" else every
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self._last = self.started  # the first line after `every`, so a short run prints only its summary

    def note(self, state: State) -> None:
        self.counts[state] += 1
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._emit(final=False)

    def event(self, message: str, **fields: object) -> None:
        """A notable event (a pause for 429, a stop): one line in every mode."""
        if self.mode == "json":
            self._write(json.dumps({"event": message, "campaign": self.campaign_id, **fields}))
        else:
            self._clear_live()
            self._write(f"{self.campaign_id}: {message}")

    def finish(self) -> None:
        self._emit(final=True)

    @property
    def done(self) -> int:
        return sum(self.counts[s] for s in OUTCOMES)

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def _emit(self, final: bool) -> None:
        if self.mode == "json":
            self._write(
                json.dumps(
                    {
                        "event": "summary" if final else "progress",
                        "campaign": self.campaign_id,
                        "total": self.total,
                        "done": self.done,
                        "rate": round(self.rate(), 1),
                        **{s.value: self.counts[s] for s in OUTCOMES},
                    }
                )
            )
            return
        parts = ", ".join(f"{self.counts[s]} {s}" for s in OUTCOMES if self.counts[s] or s == State.ACCEPTED)
        line = f"{self.campaign_id}: {self.done}/{self.total} done ({parts}) at {self.rate():.1f}/s"
        if self.mode == "live" and not final:
            width = 24
            filled = int(width * self.done / self.total) if self.total else width
            self.stream.write("\r\x1b[2K[" + "#" * filled + "." * (width - filled) + "] " + line)
            self.stream.flush()
            return
        self._clear_live()
        self._write(line)

    def _clear_live(self) -> None:
        if self.mode == "live":
            self.stream.write("\r\x1b[2K")

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
