"""Progress of a send: a live bar on a terminal (rich, through runner.terminal), a plain line
every few seconds under cron, or JSON lines for machines (`--log-format`; docs/sending.md,
"Progress"). Output only; it never sees credentials.

The counts follow the ledger: a message whose attempt failed and is retried counts as `failed`
until its retry settles it, so that a run stopped meanwhile (endpoint down, Ctrl-C) ends with the
counts `campaign status` then shows. The ETA is the messages left over the campaign's `rate`, or
over the achieved rate when the run is clearly slower than that (a slow endpoint, 429 pauses); with
`send --wait` it also counts the deferred messages, each batch sent at that pace once its recipients'
send window opens (docs/policy.md)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runner import terminal
from runner.ledger.states import OUTCOMES, State

if TYPE_CHECKING:
    from rich.console import Console

SHOWN: tuple[State, ...] = OUTCOMES  # the outcomes a line counts, in this order
SLOWER_AFTER = 10.0  # seconds: from then on an achieved rate below the campaign's rate drives the ETA


class Progress:
    def __init__(
        self,
        campaign_id: str,
        total: int,
        log_format: str = "auto",
        every: float = 5.0,
        rate: float | None = None,
        console: Console | None = None,
        later: Sequence[tuple[float, int]] = (),
    ):
        """`later`: with `send --wait`, the deferred messages this run will send after this pass, as
        (seconds from now until their window opens, how many), soonest first."""
        self.campaign_id = campaign_id
        self.total = total
        self.rate_limit = rate
        self.later = sorted(later)
        self.format = terminal.chosen(log_format)
        live = console is not None or self.format == "human"
        self.mode = "live" if live else self.format
        self.every = 0.1 if live else every
        self.counts: Counter[State] = Counter()
        self.started = time.monotonic()
        self._last = self.started  # the first line after `every`, so a short run prints only its summary
        self._last_line: str | None = None
        self._bar = terminal.LiveBar(campaign_id, total, console) if live else None
        if self._bar is not None:
            self._bar.update(0, self._states(), "", self._eta_text())

    def note(self, state: State) -> None:
        """One message reached `state` in this run."""
        self.counts[state] += 1
        self._maybe_emit()

    def moved(self, before: State, after: State) -> None:
        """A message counted as `before` (a failed attempt) is now `after` (its retry's outcome)."""
        self.counts[before] -= 1
        self.counts[after] += 1
        self._maybe_emit()

    def event(self, message: str, **fields: object) -> None:
        """A notable event (a pause for 429, a stop): one line in every mode."""
        line = f"{self.campaign_id}: {message}"
        if self._bar is not None:
            self._bar.print(line)
        else:
            terminal.err(line, "warning", "notice", fmt=self.format, campaign=self.campaign_id, **fields)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.update(self.done, self._states(), self._rate_text(), self._eta_text())
            self._bar.stop()
            return
        line, fields = self._line(final=True)
        if line != self._last_line or self.format == "json":
            self._write(line, "summary", fields)

    @property
    def done(self) -> int:
        return sum(self.counts[s] for s in SHOWN)

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        """Seconds until the last message of this run has an outcome; None when unknown."""
        left = max(0, self.total - self.done)
        if left == 0 and not self.later:
            return 0.0
        pace = self.rate_limit
        achieved = self.rate()
        elapsed = time.monotonic() - self.started
        if pace is None or (elapsed >= SLOWER_AFTER and 0 < achieved < pace):
            pace = achieved or pace
        if not pace:
            return None
        eta = left / pace
        for opens, count in self.later:  # a window opening later than the pass ends sets the clock
            eta = max(eta, opens - elapsed) + count / pace
        return eta

    def _maybe_emit(self) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        if self._bar is not None:
            self._bar.update(self.done, self._states(), self._rate_text(), self._eta_text())
        elif self.done < self.total:  # the last message's line is the summary's: printed once
            line, fields = self._line(final=False)
            self._write(line, "progress", fields)

    def _write(self, line: str, event: str, fields: dict[str, Any]) -> None:
        self._last_line = line
        terminal.err(line, "info", event, fmt=self.format, **fields)

    def _line(self, final: bool) -> tuple[str, dict[str, Any]]:
        eta = None if final else self.eta()
        line = f"{self.campaign_id}: {self.done}/{self.total} done ({self._states()}) at {self._rate_text()}"
        if not final:
            line += f", ETA {_clock(eta)}"
        fields: dict[str, Any] = {
            "campaign": self.campaign_id,
            "total": self.total,
            "done": self.done,
            "rate": round(self.rate(), 1),
            **{s.value: self.counts[s] for s in SHOWN},
        }
        if not final:
            fields["eta_seconds"] = None if eta is None else round(eta)
        return line, fields

    def _states(self) -> str:
        return ", ".join(f"{self.counts[s]} {s}" for s in SHOWN if self.counts[s] or s == State.ACCEPTED)

    def _rate_text(self) -> str:
        return f"{self.rate():.1f}/s"

    def _eta_text(self) -> str:
        return _clock(self.eta())


def _clock(seconds: float | None) -> str:
    """1:02:03 / 2:03 / 0:05, as rich shows elapsed time; "-" when unknown."""
    if seconds is None:
        return "-"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
