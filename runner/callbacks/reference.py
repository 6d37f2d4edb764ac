"""The merge rules of docs/callbacks.md, stated plainly: the reference model, used by the tests only.

runner.callbacks.enrichment merges a million callbacks into compact arrays and the ledger; this
module says what that merge must give, one message at a time, in the plainest terms: `apply` one
callback to a `Delivery`, `fold` a message's callbacks. The tests hold enrichment to it
(tests/enrich/test_merge.py) and the rules to their wording (tests/callbacks/test_delivery.py).
Both order statuses by one definition, runner.callbacks.rules.order_head.

`apply` keeps the greatest status by (rank, updated_on, arrival), so the result does not depend on
the order callbacks are fed in, and `fold` over any permutation (or a log re-read with its
duplicates) gives the same Delivery.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from runner.callbacks.payload import Callback
from runner.callbacks.rules import is_final, order_head
from runner.callbacks.timeparse import from_micros


class Status(NamedTuple):
    """The status that won for a message or for one of its channels, with where it came from."""

    code: int
    description: str | None
    updated_on_micros: int | None  # timeparse.to_micros; None when the callback's time was missing or odd
    updated_on_raw: str | None  # as Telesign wrote it (the callback's own, for the message's status)
    arrival: int  # of the callback that carried it
    content_hash: str  # of the callback that carried it: the last tie-break, so merges are total

    @property
    def updated_on(self) -> datetime | None:
        """Aware UTC."""
        return None if self.updated_on_micros is None else from_micros(self.updated_on_micros)

    @property
    def final(self) -> bool:
        return is_final(self.code)

    def outranks(self, other: Status) -> bool:
        """Whether this status replaces `other` under the rules."""
        return _order_key(self) > _order_key(other)


def _order_key(status: Status) -> tuple[int, int, str]:
    return (order_head(status.code, status.updated_on_micros), status.arrival, status.content_hash)


class Cost(NamedTuple):
    """What a message cost, as the status report that won rule 6 told it."""

    price: str  # as Telesign wrote it ("0.0050")
    currency: str | None
    parts: int | None  # the SMS's parts, where told
    key: tuple[int, int, str]  # the order of the report that carried it


class Delivery(NamedTuple):
    """All the callbacks of one message, merged. `Delivery()` is a message with none yet."""

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
    digest = callback.content_hash
    if digest in delivery.seen:
        return delivery
    arrival, moment = callback.arrival, callback.updated_on
    status, last_channel = delivery.status, delivery.last_channel
    candidate = Status(callback.code, callback.description, moment, callback.updated_on_raw, arrival, digest)
    if status is None or candidate.outranks(status):
        status, last_channel = candidate, callback.last_channel
    channels = dict(delivery.channels)
    for entry in callback.channels:
        # a channel without its own time takes the callback's
        timed = entry.updated_on is not None
        found = Status(
            entry.code,
            entry.description,
            entry.updated_on if timed else moment,
            None if timed else callback.updated_on_raw,
            arrival,
            digest,
        )
        current = channels.get(entry.channel)
        if current is None or found.outranks(current):
            channels[entry.channel] = found
    cost = delivery.cost
    if callback.price is not None and (cost is None or _order_key(candidate) > cost.key):
        cost = Cost(callback.price, callback.currency, callback.parts, _order_key(candidate))
    return Delivery(status, last_channel, tuple(sorted(channels.items())), delivery.seen | {digest}, cost)


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
