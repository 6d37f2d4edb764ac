"""What the simulator saw and did, observable from outside: every accepted request, answers by
outcome, callbacks sent and how the receiver answered them. Tests read it to check a client from
the other side of the wire ("no recipient got two messages", "never more than N a second").

The server mutates it on its event loop while a test reads it from another thread, so every access
holds a lock. Memory: with `limit` set, only the latest `limit` requests (and 4 x `limit` callback
attempts) are kept; counts by outcome are always complete. The optional journal file gets one JSON
line per accepted request, flushed at once, so a test can count across processes.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from runner.simulator.outcomes import StatusChange, in_progress, plan
from runner.simulator.validation import Channel, OmnichannelRequest, parse


@dataclass(frozen=True, slots=True)
class AcceptedRequest:
    """One accepted request. The body is kept as the bytes received (a parsed body costs several
    times more memory) and parsed when asked for; the status changes are recomputed from the
    phone number and channels, as they were planned at acceptance."""

    reference_id: str
    external_id: str | None
    phone_number: str
    raw_body: bytes
    accepted_monotonic: float  # time.monotonic() at acceptance (system-wide on Linux)
    accepted_at: float  # wall clock, seconds since the epoch
    dropped: bool  # accepted, then the connection was closed without an answer
    channels: tuple[Channel, ...]
    channel_refs: tuple[str, ...]
    sms_parts: int = 1  # parts the SMS channel's text takes (what an SMS delivery is charged for)

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.raw_body)
        return parsed

    @property
    def changes(self) -> list[StatusChange]:
        """The planned status changes, in time order."""
        return plan(self.phone_number, self.channels, self.channel_refs, self.sms_parts)

    def status_at(self, monotonic_now: float, time_scale: float) -> StatusChange:
        """The latest status change that has happened by `monotonic_now`."""
        elapsed = monotonic_now - self.accepted_monotonic
        current = in_progress(self.channels[0], self.channel_refs[0])
        for change in self.changes:
            if change.at_s * time_scale <= elapsed:
                current = change
        return current

    def record(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """The journal file's line for this request (`body`: the parsed body, if at hand)."""
        return {
            "reference_id": self.reference_id,
            "external_id": self.external_id,
            "phone_number": self.phone_number,
            "accepted_at": datetime.fromtimestamp(self.accepted_at, tz=UTC).isoformat(),
            "monotonic": self.accepted_monotonic,
            "accepted_epoch": self.accepted_at,
            "channel_refs": list(self.channel_refs),
            "sms_parts": self.sms_parts,
            "dropped": self.dropped,
            "body": self.body if body is None else body,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any], monotonic_now: float, wall_now: float) -> AcceptedRequest | None:
        """A request as a journal file line recorded it, its age kept: a simulator started later on
        the same journal answers GET status for it as the first one would have (the sandbox's
        `campaign poll --sandbox`). None for a line that is not such a record."""
        try:
            raw = json.dumps(record["body"]).encode()
            request = parse(raw)
            accepted_at = float(record["accepted_epoch"])
            refs = tuple(str(ref) for ref in record["channel_refs"])
        except (KeyError, TypeError, ValueError):
            return None
        if not isinstance(request, OmnichannelRequest) or len(refs) != len(request.channels):
            return None
        return cls(
            reference_id=str(record["reference_id"]),
            external_id=request.external_id,
            phone_number=request.phone_number,
            raw_body=raw,
            accepted_monotonic=monotonic_now - (wall_now - accepted_at),
            accepted_at=accepted_at,
            dropped=bool(record.get("dropped")),
            channels=request.channels,
            channel_refs=refs,
            sms_parts=int(record.get("sms_parts", 1)),
        )


@dataclass(frozen=True, slots=True)
class CallbackAttempt:
    reference_id: str
    url: str
    attempt: int  # 1 for the first try
    payload: dict[str, Any]
    sent_at: float  # wall clock
    status_code: int | None  # the receiver's HTTP status, None when it could not be reached
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code == 200


@dataclass
class Journal:
    limit: int | None = None
    path: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _accepted: deque[AcceptedRequest] = field(init=False, repr=False)
    _by_reference: dict[str, AcceptedRequest] = field(default_factory=dict, repr=False)
    _outcomes: Counter[str] = field(default_factory=Counter, repr=False)
    _callbacks: deque[CallbackAttempt] = field(init=False, repr=False)
    _status_asked: deque[float] = field(init=False, repr=False)  # time.monotonic() of each GET status
    _file: IO[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._accepted = deque(maxlen=self.limit)
        self._callbacks = deque(maxlen=None if self.limit is None else 4 * self.limit)
        self._status_asked = deque(maxlen=self.limit)

    # --- written by the server ---------------------------------------------------------------
    def open(self) -> None:
        if self.path is not None and self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def count(self, outcome: str) -> None:
        with self._lock:
            self._outcomes[outcome] += 1

    def accept(self, request: AcceptedRequest, body: dict[str, Any] | None = None) -> None:
        line = json.dumps(request.record(body), ensure_ascii=False) + "\n" if self.path is not None else None
        with self._lock:
            if self.limit is not None and len(self._accepted) == self.limit:
                self._by_reference.pop(self._accepted[0].reference_id, None)
            self._accepted.append(request)
            self._by_reference[request.reference_id] = request
            self._outcomes["dropped" if request.dropped else "200"] += 1
            if line is not None:
                if self._file is None:
                    self.open()
                assert self._file is not None
                self._file.write(line)
                self._file.flush()

    def status_asked(self, moment: float) -> None:
        with self._lock:
            self._outcomes["status"] += 1
            self._status_asked.append(moment)

    def callback_attempted(self, attempt: CallbackAttempt) -> None:
        with self._lock:
            self._callbacks.append(attempt)

    # --- read by tests and the status endpoint -----------------------------------------------------
    def find(self, reference_id: str) -> AcceptedRequest | None:
        with self._lock:
            return self._by_reference.get(reference_id)

    def accepted(self) -> list[AcceptedRequest]:
        with self._lock:
            return list(self._accepted)

    def accepted_by_phone(self) -> Counter[str]:
        """Accepted requests per phone number (dropped ones included: they were accepted)."""
        return Counter(r.phone_number for r in self.accepted())

    def accepted_per_second(self) -> dict[int, int]:
        """Accepted requests per whole second of time.monotonic()."""
        return dict(Counter(int(r.accepted_monotonic) for r in self.accepted()))

    def most_accepted_in_one_second(self) -> int:
        """The most acceptances in any one-second span (sliding, stricter than whole seconds)."""
        return busiest_second(r.accepted_monotonic for r in self.accepted())

    def most_status_asked_in_one_second(self) -> int:
        """The most GET status questions answered 200 in any one-second span (sliding)."""
        with self._lock:
            moments = list(self._status_asked)
        return busiest_second(moments)

    def outcomes(self) -> Counter[str]:
        """Answers by outcome: "200", "400", "401", "404", "413", "429", "503", "dropped", and
        "status" for GET status questions answered 200."""
        with self._lock:
            return Counter(self._outcomes)

    def callbacks(self) -> list[CallbackAttempt]:
        with self._lock:
            return list(self._callbacks)


def read_journal_file(path: Path) -> Iterator[dict[str, Any]]:
    """The accepted requests a simulator wrote to its journal file, one dict per line, streamed."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def busiest_second(moments: Iterable[float]) -> int:
    """The most moments (seconds) in any window [t, t + 1s): sliding, stricter than whole seconds,
    so it is how a TPS limit is checked from the receiving side."""
    times = sorted(moments)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most
