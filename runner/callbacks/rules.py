"""What the callbacks say about one message: the merge rules, as pure functions (no I/O).

Telesign posts several callbacks per message (reference_id): in progress, failed within the
fallback time on Viber, delivered by SMS, read... They arrive in any order and may repeat (its
Transaction Callback Service retries a callback that was not acknowledged). The rules
(docs/callbacks.md, "The merge rules"):

1. Callbacks are ordered by status.updated_on; equal times are ordered by arrival (the order
   they were read from the logs).
2. A final code (3000 delivered, 3003 delivery error, 3005 read, 3006 no channel enabled, 3033
   expired, ... and any code that is not intermediate) is never replaced by a later intermediate
   one (3001 in progress, 3002 delivered to gateway, 3056 failed within the fallback time, and the
   per-channel 3100, 3101, 3200, 3202, 3306 after which the next channel is tried): late or
   retried "in progress" callbacks are common. Which codes are intermediate is
   runner.telesign.codes's table, shared with the client and the simulator.
3. 3005 read may follow 3000 delivered, but nothing replaces 3005: a message that was read was
   delivered, whatever a later callback says (nor does a 3000 retried after the read undo it).
4. Each channel (viber, sms...) keeps its own latest status by the same rules, ordered by that
   channel's own updated_on (the callback's when the channel gives none).
5. `callbacks` counts distinct callbacks: a repeat (same content hash) counts once, and takes
   part once, as the copy that arrived first (a retry logged later must not win a tie by arrival).
6. What the message cost (additional_info's price, currency and SMS parts) is the one carried by
   the greatest status report, by the same order, that carries a price: a read receipt repeating
   the delivered price changes nothing, and a later report without a price cannot erase it. A
   polled status (runner.callbacks.poll) is one more status report, merged by these same rules.

Applying these rules in time order is the same as taking, among all the statuses seen, the
greatest by (rank, updated_on, arrival), where rank is intermediate < final < read: the state can
only move up in rank, and within a rank the latest wins. `apply` keeps that maximum, so the
result does not depend on the order callbacks are fed in, and `fold` over any permutation (or a
log re-read with its duplicates) gives the same Delivery. A status without a readable
updated_on ranks before every timed one of its rank: only its arrival orders it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from runner.callbacks.log import Callback
from runner.callbacks.timeparse import to_micros
from runner.telesign import codes

# The codes these rules name; what each means, and which are intermediate, is runner.telesign.codes.
IN_PROGRESS = codes.IN_PROGRESS
DELIVERED_TO_GATEWAY = codes.DELIVERED_TO_GATEWAY
FAILED_WITHIN_FALLBACK_TIME = codes.FAILED_WITHIN_FALLBACK_TIME
DELIVERED = codes.DELIVERED
DELIVERY_ERROR = codes.DELIVERY_ERROR
READ = codes.READ
NO_CHANNEL_ENABLED = codes.NO_CHANNEL_ENABLED
CHANNEL_NOT_SUPPORTED = codes.CHANNEL_NOT_SUPPORTED

INTERMEDIATE_CODES = codes.INTERMEDIATE

is_final = codes.is_final  # (re-exported: callers ask the rules whether a status is final)


def rank(code: int) -> int:
    """0 intermediate, 1 final, 2 read: a status is only ever replaced by one of equal or higher
    rank."""
    if code in INTERMEDIATE_CODES:
        return 0
    return 2 if code == READ else 1


class Status(NamedTuple):
    """The status that won for a message or for one of its channels, with where it came from.
    (A NamedTuple rather than a frozen dataclass: as immutable, and three times faster to make,
    which counts when enrichment merges millions of callbacks.)"""

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


def _order_key(status: Status) -> OrderKey:
    return _key(status.code, status.updated_on, status.arrival, status.content_hash)


OrderKey = tuple[int, int, str]


def _key(code: int, updated_on: datetime | None, arrival: int, digest: str) -> OrderKey:
    return (order_head(code, None if updated_on is None else to_micros(updated_on)), arrival, digest)


# Microseconds from year 1 to year 9999 fit in 59 bits; rank and "timed" go above them.
_TIME_BITS = 59
_TIMED = 1 << _TIME_BITS
_TIME_MASK = _TIMED - 1
_RANKED = {code: rank(code) << (_TIME_BITS + 1) for code in (*INTERMEDIATE_CODES, READ)}
_FINAL = 1 << (_TIME_BITS + 1)


def order_head(code: int, updated_on_micros: int | None) -> int:
    """(rank, timed, updated_on) packed into one non-negative int (under 2**62) that orders like
    them: the part of a status's order that comes before its arrival. `updated_on_micros` is
    timeparse.to_micros of the status's time, None when it had none (an untimed status ranks
    before every timed one of its rank). Enrichment (runner.callbacks.enrichment) keeps millions of these in
    arrays; `outranks` and `apply` use it too, so that both order statuses by one definition."""
    ranked = _RANKED.get(code, _FINAL)  # rank(code), looked up: enrichment calls this per status
    return ranked if updated_on_micros is None else ranked | _TIMED | updated_on_micros


def order_micros(head: int) -> int | None:
    """The updated_on (microseconds) an `order_head` was made with; None if it had none."""
    return head & _TIME_MASK if head & _TIMED else None


class Cost(NamedTuple):
    """What a message cost, as the status report that won rule 6 told it."""

    price: str  # as Telesign wrote it ("0.0050")
    currency: str | None
    parts: int | None  # the SMS's parts, where told
    key: OrderKey  # the order of the report that carried it


class Delivery(NamedTuple):
    """All the callbacks of one message, merged. `Delivery()` is a message with none yet.
    (A NamedTuple too; it holds the content hashes it has seen, a few per message.)"""

    status: Status | None = None  # the message's overall status (Telesign's `status`)
    last_channel: str | None = None  # the channel of that status ("viber", "sms")
    channels: tuple[tuple[str, Status], ...] = ()  # each channel's own status, sorted by name
    seen: frozenset[str] = frozenset()  # content hashes of the callbacks merged
    cost: Cost | None = None  # rule 6

    @property
    def callbacks(self) -> int:
        """Distinct callbacks merged (repeats count once)."""
        return len(self.seen)

    @property
    def code(self) -> int | None:
        return self.status.code if self.status is not None else None

    @property
    def description(self) -> str | None:
        return self.status.description if self.status is not None else None

    @property
    def updated_on(self) -> datetime | None:
        return self.status.updated_on if self.status is not None else None

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
    """`delivery` with one more callback merged in (it may change nothing). A repeat of a callback
    already merged changes nothing: the copy merged first is the one kept."""
    if callback.content_hash in delivery.seen:
        return delivery
    # Enrichment applies millions of callbacks: compare order keys first, and build a Status
    # (or a new channels tuple) only for what wins.
    arrival, digest, moment = callback.arrival, callback.content_hash, callback.updated_on
    status, last_channel = delivery.status, delivery.last_channel
    if status is None or _key(callback.code, moment, arrival, digest) > _order_key(status):
        status = Status(
            callback.code,
            callback.description,
            moment,
            callback.updated_on_raw,
            callback.reference_id,
            arrival,
            digest,
        )
        last_channel = callback.last_channel

    channels: dict[str, Status] | None = None
    for entry in callback.channels:
        if entry.code is None:
            continue  # a channel listed without a code says nothing to merge
        timed = entry.updated_on is not None
        when = entry.updated_on if timed else moment
        current = delivery.channel(entry.channel) if channels is None else channels.get(entry.channel)
        if current is None or _key(entry.code, when, arrival, digest) > _order_key(current):
            if channels is None:
                channels = dict(delivery.channels)
            channels[entry.channel] = Status(
                entry.code,
                entry.description,
                when,
                entry.updated_on_raw if timed else callback.updated_on_raw,
                entry.reference_id,
                arrival,
                digest,
            )

    cost = delivery.cost
    if callback.price is not None:
        key = _key(callback.code, moment, arrival, digest)
        if cost is None or key > cost.key:
            cost = Cost(callback.price, callback.currency, callback.parts, key)
    return Delivery(
        status,
        last_channel,
        delivery.channels if channels is None else tuple(sorted(channels.items())),
        delivery.seen | {digest},
        cost,
    )


NO_CALLBACKS = Delivery()  # a message with no callback yet (immutable, so one serves every default)


def fold(callbacks: Iterable[Callback], start: Delivery = NO_CALLBACKS) -> Delivery:
    """All of one message's callbacks merged, in any order: of several copies of one callback (a
    retry, a log read twice), the one that arrived first takes part, whichever is fed first."""
    first: dict[str, Callback] = {}
    for callback in callbacks:
        kept = first.get(callback.content_hash)
        if kept is None or callback.arrival < kept.arrival:
            first[callback.content_hash] = callback
    delivery = start
    for callback in first.values():
        delivery = apply(delivery, callback)
    return delivery
