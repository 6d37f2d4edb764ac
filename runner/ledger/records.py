"""What goes into and comes out of a ledger, whatever its backend (runner.ledger.interface)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, NamedTuple

from runner.ledger.states import State
from runner.policy.store import Contact, OptOut


def now() -> str:
    """The ledger's timestamps: UTC, milliseconds, ISO 8601 with Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Planned:
    """A message to be in the ledger for this run."""

    key: str  # the recipient key: the `id` column, else the phone in E.164
    position: int  # in the audience
    external_id: str
    recipient_id: str | None
    phone: str
    body: bytes
    # What the policy decided at sync (runner.policy.gate): pending, deferred until not_before, or
    # suppressed (an opt-out); and the recipient's time zones, space-separated.
    state: State = State.PENDING
    reason: str | None = None
    not_before: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class SkippedRow:
    """An audience row of this run that is not a message: suppressed, invalid, duplicate."""

    position: int
    recipient_id: str | None
    phone: str
    state: State
    reason: str


SYNC_BATCH = 2000  # audience rows a sync writes at a time


def in_batches(items: Iterable[Planned | SkippedRow]) -> Iterator[tuple[list[Planned], list[SkippedRow]]]:
    """The audience a sync reads, in order, as (messages, skipped rows) of at most SYNC_BATCH each
    (and one last pair, maybe empty): a sync writes each pair at once, whatever its backend."""
    planned: list[Planned] = []
    skipped: list[SkippedRow] = []
    for item in items:
        if isinstance(item, Planned):
            planned.append(item)
        else:
            skipped.append(item)
        if len(planned) >= SYNC_BATCH or len(skipped) >= SYNC_BATCH:
            yield planned, skipped
            planned, skipped = [], []
    yield planned, skipped


@dataclass(frozen=True)
class Sendable:
    key: str
    position: int
    external_id: str
    body: bytes
    state: State  # the state it is claimed from (and given back as, if its request never leaves)
    phone: str = ""
    timezone: str | None = None


@dataclass(frozen=True)
class SetAside:
    """A message the policy holds back (runner.policy.gate): deferred until `not_before`, or
    suppressed. `claimed`: it was claimed already (its request never left: the claim is undone)."""

    key: str
    state: State
    reason: str
    not_before: str | None
    claimed: bool


@dataclass(frozen=True)
class Outcome:
    key: str
    state: State
    http_status: int | None = None
    status_code: int | None = None
    status_description: str | None = None
    reference_id: str | None = None
    submitted_at: str | None = None


@dataclass(frozen=True)
class Claimed:
    taken: list[Sendable]  # now `sending`, committed
    retried: list[bool]  # per re-claim: whether it was taken
    # The taken phones' opt-outs, read in the same transaction when the batch asked (read_opt_outs):
    # phone -> its opt-out, for those opted out.
    opt_outs: dict[str, OptOut] | None = None


@dataclass(frozen=True)
class Batch:
    """What one sender commits at a time (runner.sending.bookkeeping), in one transaction: its
    outcomes, claims given back, re-claims of messages it holds (retries), then up to `take`
    new messages of the run's audience past `after`, in audience order."""

    run_id: int
    states: Sequence[State]  # the states a message may be claimed from (runner.ledger.states.claimable)
    after: int = -1
    take: int = 0
    retries: Sequence[tuple[str, Sequence[State]]] = ()
    outcomes: Sequence[Outcome] = ()
    releases: Sequence[tuple[str, State]] = ()
    set_aside: Sequence[SetAside] = ()  # held back by the policy (runner.policy.gate)
    due: str | None = None  # a deferred message is taken once its not_before is at or before this (default: now)
    # Only for a backend whose database holds the recipient store (Claims.with_recipients): the
    # contact history's new rows, and whether to read the opt-outs of the phones it takes.
    contacts: Sequence[Contact] = ()
    read_opt_outs: bool = False


@dataclass(frozen=True)
class RunInfo:
    id: int
    command: str
    started_at: str
    finished_at: str | None
    exit_code: int | None
    counts: dict[str, int]
    campaign_commit: str | None = None  # the campaign file's last commit when the run started
    tree_dirty: bool | None = None  # the work tree differed from it; None: not in a git repository
    plan_fingerprint: str | None = None  # the reviewed plan the run applied (send --plan)

    # The columns both ledgers' `runs` tables give it, in this order.
    COLUMNS: ClassVar[str] = (
        "id, command, started_at, finished_at, exit_code, counts, campaign_commit, tree_dirty, plan_fingerprint"
    )

    @classmethod
    def of_row(cls, row: Sequence[Any]) -> RunInfo:
        run_id, command, started_at, finished_at, exit_code, counts, commit, dirty, plan = row
        return cls(
            int(run_id), command, started_at, finished_at, exit_code, json.loads(counts) if counts else {}, commit,
            None if dirty is None else bool(dirty), plan,
        )  # fmt: skip


@dataclass(frozen=True)
class Provenance:
    """Where a run's campaign file stands in git (runner.plan.git), and the plan it applies
    (docs/plan.md, "Git provenance")."""

    campaign_commit: str | None = None
    tree_dirty: bool | None = None
    plan_fingerprint: str | None = None


NO_PROVENANCE = Provenance()  # a run outside git that applies no plan (enrich, tests)


@dataclass(frozen=True)
class TestSend:
    """A `send --test-to` message: kept for audit, never part of the campaign's state."""

    __test__ = False  # (not a pytest class)

    recipient_key: str
    phone: str
    http_status: int | None
    status_code: int | None
    reference_id: str | None
    body: bytes


# The deliveries are NamedTuples rather than frozen dataclasses: as immutable and as well named, and
# several times cheaper to make, which counts when `enrich` writes 250,000 of them in a run.


class Delivery(NamedTuple):
    """A message's merged delivery as the ledger keeps it: one `deliveries` row, field for field in
    the order of DELIVERY_COLUMNS after the message's id (runner.ledger.interface.Deliveries). First
    the winners' fields the report shows, then what a later enrichment needs to go on merging where
    this one stopped. Flat, so that a backend writes a quarter of a million of them as they are."""

    message: int  # the message's id in the ledger (runner.ledger.interface.Deliveries)
    code: int  # the winning status's
    description: str | None
    last_channel: str | None
    viber_code: int | None  # the Viber channel's winning status (None: none yet)
    viber_description: str | None
    sms_code: int | None
    sms_description: str | None
    updated_on: str | None  # the winner's time, as the report shows it
    callbacks: int  # distinct callbacks merged
    price: str | None  # what the message cost (runner.callbacks.rules, rule 6), as Telesign wrote it
    currency: str | None
    sms_parts: int | None
    seen: bytes  # the first bytes of each merged callback's sha256, end to end
    status_order: int  # runner.callbacks.rules.order_head of the winning status, and its arrival
    status_arrival: int
    viber_order: int | None
    viber_arrival: int | None
    sms_order: int | None
    sms_arrival: int | None
    other_channels: str | None  # JSON {channel: [order, arrival, code, description]}: channels without columns
    price_order: int | None  # the order and arrival of the status report the cost came from
    price_arrival: int | None


class Settled(NamedTuple):
    """A message that was `unknown` or `sending` (its answer lost, or its sender killed) and that a
    callback showed Telesign accepted: the contact history the frequency caps count never had it
    (runner.policy.gate.record_settled)."""

    message: int  # its id in the ledger
    external_id: str
    phone: str
    reference_id: str | None
    sent_at: str | None  # when its request left, as near as the ledger knows: its updated_at before the settle


OnSettled = Callable[[list[Settled]], object] | None  # (runner.ledger.interface.Deliveries.save)


def with_references(settled: list[Settled], references: Mapping[int, str]) -> list[Settled]:
    """The settled messages, each with the reference_id `references` gives it where it had none
    (joined by external_id: its answer, and its reference_id, were lost)."""
    return [s._replace(reference_id=references.get(s.message)) if s.reference_id is None else s for s in settled]


# The `deliveries` table's columns (after the message's key or id) in Delivery's order: the names
# the messages' delivery columns had before they moved there (ledger version 7 / schema 4), so the
# report's columns read the same.
DELIVERY_COLUMNS = (
    "delivery_status_code", "delivery_status_description", "last_channel", "viber_status_code",
    "viber_status_description", "sms_status_code", "sms_status_description", "status_updated_on", "callbacks",
    "price", "currency", "sms_parts",
    "seen", "status_order", "status_arrival", "viber_order", "viber_arrival", "sms_order", "sms_arrival",
    "other_channels", "price_order", "price_arrival",
)  # fmt: skip
