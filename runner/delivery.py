"""What the callbacks say about one message: the merge rules, as pure functions (no I/O).

Telesign posts several callbacks per message (reference_id): in progress, failed within the
fallback time on Viber, delivered by SMS, read... They arrive in any order and may repeat (its
Transaction Callback Service retries a callback that was not acknowledged). The rules
(DESIGN.md, "Callbacks"):

1. Callbacks are ordered by status.updated_on; equal times are ordered by arrival (the order
   they were read from the logs).
2. A final code (3000 delivered, 3003 delivery error, 3005 read, 3006 no channel enabled, 3055
   channel not supported, and any code that is not intermediate) is never replaced by a later
   intermediate one (3001 in progress, 3002 delivered to gateway, 3056 failed within the fallback
   time, next channel tried): late or retried "in progress" callbacks are common.
3. 3005 read may follow 3000 delivered, but nothing replaces 3005: a message that was read was
   delivered, whatever a later callback says (nor does a 3000 retried after the read undo it).
4. Each channel (viber, sms...) keeps its own latest status by the same rules, ordered by that
   channel's own updated_on (the callback's when the channel gives none).
5. `callbacks` counts distinct callbacks: a repeat (same content hash) counts once.

Applying these rules in time order is the same as taking, among all the statuses seen, the
greatest by (rank, updated_on, arrival), where rank is intermediate < final < read: the state can
only move up in rank, and within a rank the latest wins. `apply` keeps that maximum, so the
result does not depend on the order callbacks are fed in, and `fold` over any permutation (or a
log re-read with its duplicates) gives the same Delivery. A status without a readable
updated_on ranks before every timed one of its rank: only its arrival orders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from runner.callback_log import Callback

IN_PROGRESS = 3001
DELIVERED_TO_GATEWAY = 3002
FAILED_WITHIN_FALLBACK_TIME = 3056
DELIVERED = 3000
DELIVERY_ERROR = 3003
READ = 3005
NO_CHANNEL_ENABLED = 3006
CHANNEL_NOT_SUPPORTED = 3055

INTERMEDIATE_CODES = frozenset({IN_PROGRESS, DELIVERED_TO_GATEWAY, FAILED_WITHIN_FALLBACK_TIME})


def is_final(code: int) -> bool:
    """Whether Telesign will say nothing more about this message (or channel) after `code`."""
    return code not in INTERMEDIATE_CODES


def rank(code: int) -> int:
    """0 intermediate, 1 final, 2 read: a status is only ever replaced by one of equal or higher
    rank."""
    if code in INTERMEDIATE_CODES:
        return 0
    return 2 if code == READ else 1


@dataclass(frozen=True, slots=True)
class Status:
    """The status that won for a message or for one of its channels, with where it came from."""

    code: int
    description: str | None
    updated_on: datetime | None  # aware UTC; None when the callback's time was missing or odd
    updated_on_raw: str | None  # as Telesign wrote it
    reference_id: str | None  # the message's, or for a channel, that channel's send
    arrival: int  # of the callback that carried it
    content_hash: str  # of the callback that carried it: the last tie-break, so merges are total

    @property
    def final(self) -> bool:
        return is_final(self.code)

    def outranks(self, other: Status) -> bool:
        """Whether this status replaces `other` under the rules above."""
        return _order_key(self) > _order_key(other)


def _order_key(status: Status) -> tuple[int, bool, datetime | None, int, str]:
    # (updated_on is not None) comes first, so None is never compared with a datetime.
    timed = status.updated_on is not None
    return (rank(status.code), timed, status.updated_on if timed else None, status.arrival, status.content_hash)


@dataclass(frozen=True, slots=True)
class Delivery:
    """All the callbacks of one message, merged. `Delivery()` is a message with none yet."""

    status: Status | None = None  # the message's overall status (Telesign's `status`)
    last_channel: str | None = None  # the channel of that status ("viber", "sms")
    channels: tuple[tuple[str, Status], ...] = ()  # each channel's own status, sorted by name
    seen: frozenset[str] = frozenset()  # content hashes of the callbacks merged

    @property
    def callbacks(self) -> int:
        """Distinct callbacks merged (repeats count once)."""
        return len(self.seen)

    @property
    def code(self) -> int | None:
        return self.status.code if self.status else None

    @property
    def description(self) -> str | None:
        return self.status.description if self.status else None

    @property
    def updated_on(self) -> datetime | None:
        return self.status.updated_on if self.status else None

    @property
    def final(self) -> bool:
        """Whether the message has reached a final status (Telesign will not change it)."""
        return self.status is not None and self.status.final

    def channel(self, name: str) -> Status | None:
        for channel, status in self.channels:
            if channel == name:
                return status
        return None

    @property
    def viber(self) -> Status | None:
        return self.channel("viber")

    @property
    def sms(self) -> Status | None:
        return self.channel("sms")


def apply(delivery: Delivery, callback: Callback) -> Delivery:
    """`delivery` with one more callback merged in (it may change nothing)."""
    status, last_channel = delivery.status, delivery.last_channel
    candidate = Status(
        code=callback.code,
        description=callback.description,
        updated_on=callback.updated_on,
        updated_on_raw=callback.updated_on_raw,
        reference_id=callback.reference_id,
        arrival=callback.arrival,
        content_hash=callback.content_hash,
    )
    if status is None or candidate.outranks(status):
        status, last_channel = candidate, callback.last_channel

    channels = dict(delivery.channels)
    for entry in callback.channels:
        if entry.code is None:
            continue  # a channel listed without a code says nothing to merge
        timed = entry.updated_on is not None
        candidate = Status(
            code=entry.code,
            description=entry.description,
            updated_on=entry.updated_on if timed else callback.updated_on,
            updated_on_raw=entry.updated_on_raw if timed else callback.updated_on_raw,
            reference_id=entry.reference_id,
            arrival=callback.arrival,
            content_hash=callback.content_hash,
        )
        current = channels.get(entry.channel)
        if current is None or candidate.outranks(current):
            channels[entry.channel] = candidate

    # A repeat still takes part in the comparison above (so that which copy is fed first cannot
    # matter), but counts once.
    seen = delivery.seen if callback.content_hash in delivery.seen else delivery.seen | {callback.content_hash}
    return Delivery(status, last_channel, tuple(sorted(channels.items())), seen)


def fold(callbacks: Iterable[Callback], start: Delivery = Delivery()) -> Delivery:
    """All of one message's callbacks merged, in any order."""
    delivery = start
    for callback in callbacks:
        delivery = apply(delivery, callback)
    return delivery
