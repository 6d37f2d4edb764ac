"""The policy at the moment a message is claimed, and again just before its request is written
(docs/policy.md): an opted-out phone is suppressed, a recipient outside their window or a phone
over its frequency cap is deferred until the first moment both allow. The sender asks `verdict`
for each message; None means it may leave now.

Why twice: a message waits for its turn in the rate limit after it is claimed; a STOP may arrive,
or 21:00 may strike, meanwhile. Both checks read the recipient store (a query on an index), so a
STOP the receiver recorded a moment ago stops the very next claim. The opt-outs of the messages
a claim took are read with it, on the ledger's thread (in the claim's own statement with a
shared ledger, else in one query right after it commits: runner.sending.bookkeeping) and used
once, by the check before each request is written: with a shared ledger the store is a database
away, and one round trip per message on the event loop would cost more than the sending
(bench/postgres_senders.py). A check after a wait asks the store afresh."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from runner.ledger.records import Settled
from runner.policy.rules import Rules
from runner.policy.store import Contact, OptOut, RecipientStore, moment
from runner.policy.windows import zone
from runner.policy.zones import parse_zones

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Verdict:
    state: str  # "deferred" or "suppressed"
    reason: str
    not_before: datetime | None = None


class Gate:
    def __init__(
        self,
        rules: Rules,
        store: RecipientStore | None,
        clock: Clock = system_clock,
        writer: RecipientStore | None = None,
    ):
        self.rules = rules
        self.store = store  # read on the event loop
        self.writer = writer or store  # the contact history's writes, from the ledger's thread
        self.clock = clock
        self.end: datetime | None = None  # the schedule's end: a cap that cannot be met before it suppresses
        self._pending_contacts: list[Contact] = []
        self._lock = threading.Lock()  # appended on the event loop, written from the ledger thread
        self._read: dict[str, OptOut | None] = {}  # phones just claimed -> their opt-out, read with the claim

    def read_with_claim(self, phones: list[str]) -> None:
        """Read the opt-outs of the phones a claim (or a chunk of the audience) just took, in one
        query; the next check of each phone uses it, once."""
        store = self.writer
        if store is None or not phones:
            return
        self.opt_outs_read(phones, store.opted_out_among(phones))

    def opt_outs_read(self, phones: list[str], found: dict[str, OptOut]) -> None:
        """The opt-outs of `phones` as just read (by `read_with_claim`, or by the claim's own
        transaction in a shared ledger: runner.sending.bookkeeping)."""
        with self._lock:
            for phone in phones:
                self._read[phone] = found.get(phone)

    def _opted_out(self, phone: str, fresh: bool) -> OptOut | None:
        if not fresh:
            with self._lock:
                if phone in self._read:
                    return self._read.pop(phone)
        assert self.store is not None
        return self.store.opted_out(phone)

    def verdict(self, phone: str, zones_text: str | None, fresh: bool = False, opt_out: bool = True) -> Verdict | None:
        """`fresh`: ask the store now, even for a phone whose opt-out was read with its claim;
        `opt_out=False`: the window and the cap only (the opt-out was checked a moment ago)."""
        now = self.clock()
        if self.store is not None and opt_out:
            out = self._opted_out(phone, fresh)
            if out is not None:
                return Verdict("suppressed", out.reason)
        opens = now
        why = ""
        if self.rules.window is not None:
            names = parse_zones(zones_text)
            if not names:
                return Verdict("suppressed", NO_ZONE)
            found = self.rules.window.next_open(now, [zone(n) for n in names])
            if found is None:
                return Verdict("suppressed", no_overlap(self.rules, names))
            if found > now:
                opens, why = found, f"outside {self.rules.window.describe()} ({' '.join(names)})"
        cap = self.rules.cap
        if cap is not None and self.store is not None:
            sent = self.store.contacts_since(phone, now - cap.period)
            with self._lock:
                sent += [c.accepted_at for c in self._pending_contacts if c.phone == phone]
            allowed = cap.allowed_at(max(opens, now), sent)
            if allowed > opens:
                opens, why = allowed, f"over max_per_phone = {cap.text!r}"
                if self.end is not None and allowed >= self.end:
                    return Verdict("suppressed", f"over max_per_phone = {cap.text!r} until after the schedule's end")
        if opens > now:
            # After a cap's wait the window may be closed again: the first moment both allow.
            if self.rules.window is not None:
                names = parse_zones(zones_text)
                again = self.rules.window.next_open(opens, [zone(n) for n in names])
                if again is None:
                    return Verdict("suppressed", no_overlap(self.rules, names))
                opens = again
            return Verdict("deferred", f"deferred: {why}", opens)
        return None

    def accepted(self, phone: str, external_id: str, reference_id: str | None) -> None:
        """An accepted message, for the contact history (written by `write_contacts`)."""
        contact = contact_of(self.rules, external_id, phone, reference_id, self.clock())
        with self._lock:
            self._pending_contacts.append(contact)

    def contacts_to_write(self) -> list[Contact]:
        """The accepted messages not yet in the contact history. They stay counted by the caps
        here until `contacts_written` says they are in the store: counted twice for a moment,
        a cap waits a little longer, never less (docs/policy.md, "Frequency caps")."""
        with self._lock:
            return list(self._pending_contacts)

    def contacts_written(self, count: int) -> None:
        """The first `count` of `contacts_to_write` are committed to the contact history."""
        with self._lock:
            del self._pending_contacts[:count]

    def write_contacts(self) -> None:
        """Write the accepted messages to the contact history, in one transaction of the store's
        own (from the ledger's thread, before the commit that records them:
        runner.sending.bookkeeping)."""
        taken = self.contacts_to_write()
        if taken and self.writer is not None:
            self.writer.record_contacts(taken)
            self.contacts_written(len(taken))


def record_settled(store: RecipientStore, rules: Rules, settled: list[Settled]) -> None:
    """Add to the contact history the messages callbacks settled as accepted: sent, but their
    answer lost (`unknown`) or their sender killed (`sending`), they never passed `accepted`, and
    the frequency caps would not count them (docs/policy.md, "Frequency caps"). Each at the time
    its request left, as near as the ledger knows (else now: a cap then waits longer, never less).
    Recorded by external_id: taken twice, the same row."""
    store.record_contacts(
        contact_of(rules, s.external_id, s.phone, s.reference_id, moment(s.sent_at) if s.sent_at else datetime.now(UTC))
        for s in settled
    )


def contact_of(rules: Rules, external_id: str, phone: str, reference_id: str | None, at: datetime) -> Contact:
    """A row of the contact history: an accepted message of this campaign, at `at`."""
    return Contact(external_id, phone, rules.campaign_id, rules.message_type, reference_id, at)


NO_ZONE = "no known time zone: add a `timezone` column or set [schedule] timezone (docs/policy.md)"


def no_overlap(rules: Rules, names: tuple[str, ...]) -> str:
    window = rules.window.describe() if rules.window else "any"
    return f"no moment of {window} holds in all of its time zones ({' '.join(names)}): add a `timezone` column"
