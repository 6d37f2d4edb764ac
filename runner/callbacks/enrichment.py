"""Enrichment: callback logs merged into each message's delivery columns, then the report rewritten.

Logs are streamed (runner.callbacks.log.Batches, a list of records per block of lines; big ones
read ahead by a second process, runner.callbacks.read_ahead). Callbacks are joined to their
messages (by reference_id, or by external_id where the send's answer was lost; those of messages
not seen yet a batch at a time, in one query) and merged in memory by
runner.callbacks.rules's rules: a message's status, and each channel's, is the greatest by
(rules.order_head: rank, timed, updated_on), then arrival; a repeat (the same content digest) takes
part once, as first read. The merge keeps a few numbers per message in arrays rather than Python
objects, so that a campaign of 250,000 messages merges in tens of MB; past MAX_MESSAGES what is
merged is written out and merging goes on from the ledger, so memory stays bounded whatever the
campaign's size. A million callbacks are never held: each is merged as it is read.

Merged deliveries go to the ledger in one transaction (runner.ledger.interface.Deliveries.save), a
narrow row per message beside its own (runner.ledger.records.Delivery): the winners' fields the
report shows, and what a later enrichment needs to go on merging (the winners' orders, the digests
merged). So re-reading a log changes nothing, and enriching twice, or with logs repeated
or reordered, gives a byte-identical report.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path

from runner.callbacks import read_ahead
from runner.callbacks.payload import Callback, Malformed
from runner.callbacks.rules import ORDER_OF_CODE, ORDER_OF_FINAL, ORDER_TIMED, order_micros
from runner.callbacks.timeparse import format_micros
from runner.ledger.interface import Deliveries, Ledger
from runner.ledger.records import Delivery, OnSettled
from runner.policy.replies import INBOUND_CODE as INBOUND
from runner.policy.replies import Reply
from runner.report import files as report

BATCH = 2_000  # callbacks of messages not seen yet, joined to them at a time
MAX_MESSAGES = 250_000  # messages merged in memory (~330 bytes each) before being written out
LISTED = 20  # problems listed in full; the rest are counted

_NONE = -1  # the order of "no status yet": below every order_head
# Bytes of each callback's sha256 kept to tell repeats: a collision within one message's few
# callbacks is beyond unlikely (2**-64 a pair).
_DIGEST = 8


@dataclass
class EnrichResult:
    lines: int = 0
    callbacks: int = 0
    malformed: int = 0
    unmatched: int = 0
    messages: int = 0
    settled: int = 0  # unknown / sending turned accepted by a callback (each given to `on_settled`)
    replies: int = 0  # inbound (MO) callbacks: runner.policy.replies reads them (docs/policy.md)
    problems: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        if len(self.problems) < LISTED:
            self.problems.append(line)


def enrich(
    ledger: Ledger,
    logs: Iterable[Path],
    report_path: Path,
    replies: Callable[[], Mapping[str, tuple[int, bool]]] | None = None,
    on_reply: Callable[[Reply], object] | None = None,
    on_settled: OnSettled = None,
) -> EnrichResult:
    """Merge the logs' delivery callbacks into the ledger and rewrite the report (with `replies`,
    the store's reply counts for this campaign, read once merged). `on_reply`: each inbound reply
    as the read comes to it (runner.policy.replies.apply_reply); `on_settled`: the messages the
    callbacks settled as accepted (runner.policy.gate.record_settled), before the ledger commits."""
    result = EnrichResult()
    with ledger.deliveries.enriching():
        run = _Run(ledger.deliveries, result, on_settled)
        first = run.next_arrival
        batches = read_ahead.batches(logs, first, on_reply is not None)
        # The hot loop, a million records a run: a callback whose message has a slot already (most
        # of them) is merged here at once; `run.take` does the rest (runner.callbacks.enrichment._Run).
        # Callbacks are counted once read, from their arrival numbers: consecutive, one each.
        merged = run.merged
        by_reference, add = merged.by_reference, merged.add
        for batch in batches:
            for record in batch:
                if type(record) is Callback:
                    if record.code == INBOUND:  # a reply, not a delivery status: no message's status changes
                        result.replies += 1
                        continue
                    reference = record.reference_id
                    slot = None if reference is None else by_reference.get(reference)
                    if slot is not None:
                        add(slot, record)
                        continue
                    run.next_arrival = record.arrival + 1  # (what a write-out in take records)
                    run.take(record)
                    merged = run.merged  # (a new one once MAX_MESSAGES were written out)
                    by_reference, add = merged.by_reference, merged.add
                elif type(record) is Malformed:
                    result.malformed += 1
                    result.note(str(record))
                elif on_reply is not None:
                    on_reply(record)  # type: ignore[arg-type]  # (a Reply: nothing else is read)
        run.next_arrival = batches.arrival
        result.lines = batches.arrival - first + result.malformed
        result.callbacks = batches.arrival - first - result.replies
        by_reference = {}  # (let go: Merged.save frees the joins' memory for the writing, ~20 MB at 250,000)
        run.finish()
    report.write(ledger, report_path, replies() if replies is not None else None)
    return result


class _Run:
    """Callbacks, in read order, into `Merged`. One whose message has a slot is merged at once; the
    others wait, BATCH at a time, to be joined to their messages in one query. (Order within a
    batch does not matter: ties are broken by arrival numbers, fixed as read, and the copies of a
    callback carry the same ids, so they wait, or not, together, and the first read goes first.)"""

    def __init__(self, deliveries: Deliveries, result: EnrichResult, on_settled: OnSettled) -> None:
        self.deliveries, self.result, self.on_settled = deliveries, result, on_settled
        self.merged = Merged(stored=deliveries.any_stored())
        self.next_arrival = deliveries.next_arrival()
        self.waiting: list[Callback] = []

    def take(self, entry: Callback) -> None:
        merged = self.merged
        if entry.reference_id is not None:
            slot = merged.by_reference.get(entry.reference_id)
        else:
            slot = merged.by_external_id.get(entry.external_id or "")  # (a Callback has one id at least)
        if slot is not None:
            merged.add(slot, entry)
            return
        self.waiting.append(entry)
        if len(self.waiting) >= BATCH:
            self._join()

    def finish(self) -> None:
        self._join()
        self.result.messages += self.merged.size
        self.result.settled += self.merged.save(self.deliveries, self.next_arrival, self.on_settled)

    def _join(self) -> None:
        merged, result = self.merged, self.result
        merged.join(self.deliveries, self.waiting)
        for entry in self.waiting:
            slot = merged.slot_of(entry)
            if slot is None:
                result.unmatched += 1
                result.note(
                    f"{entry.path}:{entry.line}: callback for {entry.reference_id or entry.external_id}, "
                    "which is not a message of this campaign"
                )
            else:
                merged.add(slot, entry)
        self.waiting.clear()
        if merged.size >= MAX_MESSAGES:  # write out, and go on from the ledger
            result.messages += merged.size
            result.settled += merged.save(self.deliveries, self.next_arrival, self.on_settled)
            self.merged = Merged(stored=True)


# What is merged for each message (a "slot"), laid out for a million merges over 250,000 messages:
# plain Python objects would take ~550 bytes a message, and scattered arrays a cache miss each.
# In `numbers` (int64), _WIDTH numbers side by side: the order (rules.order_head; _NONE when
# no status yet), arrival and code of the message's status, then of Viber's, then of SMS's (the
# channels the report has columns for). In `texts`, _TEXTS side by side: the status's description
# and last_channel, Viber's description, SMS's description.
_STATUS, _VIBER, _SMS, _WIDTH = 0, 3, 6, 9
_DESCRIPTION, _LAST_CHANNEL, _VIBER_DESCRIPTION, _SMS_DESCRIPTION, _TEXTS = 0, 1, 2, 3, 4
# rules.order_head, written out in `add`
_RANKED, _FINAL, _TIMED = ORDER_OF_CODE.get, ORDER_OF_FINAL, ORDER_TIMED
_EMPTY = array("q", [_NONE, 0, 0] * 3)
_NO_TEXTS = [None] * _TEXTS


class Merged:
    """The deliveries merged in this enrichment, one slot per message touched."""

    def __init__(self, stored: bool) -> None:
        self.stored = stored  # whether the ledger may hold earlier merges to go on from
        self.by_reference: dict[str, int] = {}  # reference_id -> slot, for messages that have it
        self.by_external_id: dict[str, int] = {}  # external_id -> slot, where the reference_id did not join
        self.joined_by_external_id: dict[int, int] = {}  # message -> slot of those (few: lost answers)
        self.message = array("q")  # the message's id in the ledger (runner.ledger.interface.Deliveries)
        self.changed = bytearray()  # 1 where a callback was merged in (what to write out)
        self.seen: list[bytes] = []  # _DIGEST bytes of each callback merged, end to end
        self.numbers = array("q")  # see _WIDTH
        self.texts: list[str | None] = []  # see _TEXTS
        # rare, so kept aside: an untimed status's updated_on as written; the winner's reference_id
        # where the message was joined by external_id; channels the report has no columns for
        self.raw_time: dict[int, str | None] = {}
        self.reference: dict[int, str] = {}
        self.others: dict[int, dict[str, tuple[int, int, int, str | None]]] = {}
        # what each message cost (rule 6), kept aside too: (order, arrival, price, currency, parts)
        self.priced: dict[int, tuple[int, int, str | None, str | None, int | None]] = {}

    @property
    def size(self) -> int:
        return len(self.message)

    # -- joining -------------------------------------------------------------------------------

    def join(self, deliveries: Deliveries, batch: list[Callback]) -> None:
        """Find the messages of a batch's callbacks that have no slot yet, and give them one: by
        reference_id, else by external_id (the messages as the ledger has them now)."""
        by_reference, by_external_id = self.by_reference, self.by_external_id
        new: list[int] = []
        references = {
            e.reference_id for e in batch if e.reference_id is not None and e.reference_id not in by_reference
        }
        if references:
            # (lowest id last, so that it wins where two messages had the same reference_id)
            for reference, message in deliveries.by_reference(references):
                # the message may have a slot already, joined by its external_id
                slot = self.joined_by_external_id.get(message)
                if slot is None:
                    slot = self._new_slot(message, new)
                by_reference[reference] = slot
        external_ids = {
            e.external_id for e in batch
            if e.external_id is not None and e.external_id not in by_external_id
            and (e.reference_id is None or e.reference_id not in by_reference)
        }  # fmt: skip
        if external_ids:
            for external_id, message, its_reference in deliveries.by_external_id(external_ids):
                slot = by_reference.get(its_reference) if its_reference is not None else None
                if slot is None:
                    slot = self._new_slot(message, new)
                by_external_id[external_id] = slot
                self.joined_by_external_id[message] = slot
        if new and self.stored:
            slot_of = {self.message[slot]: slot for slot in new}
            for stored in deliveries.stored(list(slot_of)):
                self._load(slot_of[stored.message], stored)

    def slot_of(self, entry: Callback) -> int | None:
        if entry.reference_id is not None:
            slot = self.by_reference.get(entry.reference_id)
            if slot is not None:
                return slot
        return None if entry.external_id is None else self.by_external_id.get(entry.external_id)

    def _new_slot(self, message: int, new: list[int]) -> int:
        slot = len(self.message)
        self.message.append(message)
        self.changed.append(0)
        self.seen.append(b"")
        self.numbers.extend(_EMPTY)
        self.texts.extend(_NO_TEXTS)
        new.append(slot)
        return slot

    def _load(self, slot: int, stored: Delivery) -> None:
        self.seen[slot] = stored.seen
        at, text_at = slot * _WIDTH, slot * _TEXTS
        numbers, texts = self.numbers, self.texts
        numbers[at + _STATUS : at + _STATUS + 3] = array("q", (stored.status_order, stored.status_arrival, stored.code))
        texts[text_at + _DESCRIPTION] = _shared(stored.description)
        texts[text_at + _LAST_CHANNEL] = _shared(stored.last_channel)
        if order_micros(stored.status_order) is None:
            self.raw_time[slot] = stored.updated_on
        for offset, text_offset, order, arrival, code, description in (
            (_VIBER, _VIBER_DESCRIPTION, stored.viber_order, stored.viber_arrival, stored.viber_code,
             stored.viber_description),
            (_SMS, _SMS_DESCRIPTION, stored.sms_order, stored.sms_arrival, stored.sms_code, stored.sms_description),
        ):  # fmt: skip
            if order is not None and arrival is not None and code is not None:
                numbers[at + offset : at + offset + 3] = array("q", (order, arrival, code))
                texts[text_at + text_offset] = _shared(description)
        if stored.other_channels:
            self.others[slot] = {name: (o, a, c, d) for name, (o, a, c, d) in json.loads(stored.other_channels).items()}
        if stored.price_order is not None and stored.price_arrival is not None and stored.price is not None:
            self.priced[slot] = (
                stored.price_order,
                stored.price_arrival,
                stored.price,
                stored.currency,
                stored.sms_parts,
            )

    # -- merging -------------------------------------------------------------------------------

    def add(self, slot: int, entry: Callback) -> None:
        """Merge one callback into its message's slot (the hot path: a million calls a run; hence
        rules.order_head written out, and every name looked up once)."""
        digest = entry.digest[:_DIGEST]
        seen = self.seen[slot]
        if seen and digest in seen and _holds(seen, digest):
            return  # a repeat: the copy read first took part
        self.seen[slot] = seen + digest
        self.changed[slot] = 1
        numbers, texts = self.numbers, self.texts
        at, text_at = slot * _WIDTH, slot * _TEXTS
        micros, arrival, code = entry.updated_on, entry.arrival, entry.code
        order = _RANKED(code, _FINAL) if micros is None else _RANKED(code, _FINAL) | _TIMED | micros
        if entry.price is not None:  # rule 6: the greatest priced report's cost
            priced = self.priced.get(slot)
            if priced is None or (order, arrival) > priced[:2]:
                self.priced[slot] = (order, arrival, entry.price, entry.currency, entry.parts)
        current = numbers[at]
        if order > current or (order == current and arrival > numbers[at + 1]):
            numbers[at] = order
            numbers[at + 1] = arrival
            numbers[at + 2] = code
            description, last_channel = entry.description, entry.last_channel
            texts[text_at] = None if description is None else _intern(description)
            texts[text_at + _LAST_CHANNEL] = None if last_channel is None else _intern(last_channel)
            if micros is None:  # (read only while the winner is untimed: no need to clear it)
                self.raw_time[slot] = entry.updated_on_raw
            reference = entry.reference_id
            if reference is not None and reference not in self.by_reference:
                self.reference[slot] = reference  # joined by external_id: the reference to settle it with
            elif self.reference:
                self.reference.pop(slot, None)
        for channel in entry.channels:
            # a channel without its own time takes the callback's (reference.apply does the same)
            when, code = channel.updated_on, channel.code
            if when is None:
                when = micros
            order = _RANKED(code, _FINAL) if when is None else _RANKED(code, _FINAL) | _TIMED | when
            name = channel.channel
            offset = _VIBER if name == "viber" else _SMS if name == "sms" else -1
            if offset < 0:
                self._add_other(slot, name, order, arrival, code, channel.description)
                continue
            current = numbers[at + offset]
            if order > current or (order == current and arrival > numbers[at + offset + 1]):
                numbers[at + offset] = order
                numbers[at + offset + 1] = arrival
                numbers[at + offset + 2] = code
                description = channel.description
                texts[text_at + (_VIBER_DESCRIPTION if offset == _VIBER else _SMS_DESCRIPTION)] = (
                    None if description is None else _intern(description)
                )

    def _add_other(self, slot: int, name: str, order: int, arrival: int, code: int, description: str | None) -> None:
        channels = self.others.setdefault(slot, {})
        current = channels.get(name)
        if current is None or (order, arrival) > current[:2]:
            channels[name] = (order, arrival, code, description)

    # -- writing out ---------------------------------------------------------------------------

    def save(self, deliveries: Deliveries, next_arrival: int, on_settled: OnSettled) -> int:
        """Write the merged deliveries of the messages that changed; returns how many settled
        (given to `on_settled` before the ledger commits: runner.ledger.interface.Deliveries.save)."""
        self.by_reference = self.by_external_id = {}  # done joining: their memory goes to the writing
        message = self.message
        changed = sorted(compress(range(self.size), self.changed), key=message.__getitem__)
        # (a slot has a reference only once a callback was merged into it: it changed)
        references = {message[slot]: reference for slot, reference in self.reference.items()}
        return deliveries.save(map(self._row, changed), next_arrival, references, on_settled)

    def _row(self, slot: int) -> Delivery:
        at, text_at = slot * _WIDTH, slot * _TEXTS
        order, arrival, code, viber_order, viber_arrival, viber_code, sms_order, sms_arrival, sms_code = self.numbers[
            at : at + _WIDTH
        ]
        description, last_channel, viber_description, sms_description = self.texts[text_at : text_at + _TEXTS]
        micros = order_micros(order)
        others = self.others.get(slot) if self.others else None
        priced = self.priced.get(slot) if self.priced else None
        seen = self.seen[slot]
        viber, sms = viber_order != _NONE, sms_order != _NONE
        price_order, price_arrival, price, currency, parts = _UNPRICED if priced is None else priced
        return Delivery(
            self.message[slot], code, description, last_channel,
            viber_code if viber else None, viber_description, sms_code if sms else None, sms_description,
            self.raw_time.get(slot) if micros is None else format_micros(micros), len(seen) // _DIGEST,
            price, currency, parts,
            seen, order, arrival,
            viber_order if viber else None, viber_arrival if viber else None,
            sms_order if sms else None, sms_arrival if sms else None,
            json.dumps(others, sort_keys=True) if others else None,
            price_order, price_arrival,
        )  # fmt: skip


_UNPRICED = (None, None, None, None, None)


def _holds(seen: bytes, digest: bytes) -> bool:
    """Whether `digest` is one of the _DIGEST-byte digests laid end to end in `seen`."""
    at = seen.find(digest)
    while at >= 0 and at % _DIGEST:
        at = seen.find(digest, at + 1)
    return at >= 0


_intern = sys.intern  # each line decodes its own "Delivered" (so does each ledger row): a slot keeps one


def _shared(text: str | None) -> str | None:
    return None if text is None else _intern(text)
