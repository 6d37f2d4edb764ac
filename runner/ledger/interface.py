"""The ledger as the rest of the runner sees it: one small interface, by responsibility, that each
backend implements (SQLite files, runner.ledger.sqlite, the default). The sender, the run, cron,
enrichment, status and the report depend on these Protocols only, never on a backend.

What the states mean and when they change: docs/sending.md."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from runner.ledger.records import (
    NO_PROVENANCE,
    Batch,
    Claimed,
    Delivery,
    OnSettled,
    Planned,
    Provenance,
    RunInfo,
    Sendable,
    SkippedRow,
    TestSend,
)
from runner.ledger.states import State
from runner.policy.store import RecipientStore


class Runs(Protocol):
    """Every command that changed the ledger, when, and how it ended; and test sends, for audit."""

    def start(self, command: str, provenance: Provenance = NO_PROVENANCE) -> int: ...

    def finish(self, run_id: int, exit_code: int, counts: Mapping[str, int]) -> None: ...

    def last(self, command: str | None = None) -> RunInfo | None: ...

    def latest(self, command: str | None = None, limit: int = 10) -> list[RunInfo]:
        """The latest runs (of `command`, or of any), newest first."""
        ...

    def history(self, most: int) -> tuple[list[RunInfo], int]:
        """The latest `most` runs, newest first, and how many runs there were in all."""
        ...

    def record_test_send(self, send: TestSend) -> None: ...


class Audience(Protocol):
    """The campaign's recipients as the last send saw them."""

    def sync(
        self,
        run_id: int,
        items: Iterable[Planned | SkippedRow],
        fingerprint: str = "",
        campaign_commit: str | None = None,
    ) -> int:
        """Record this run's audience in one transaction (an exception from `items` rolls it back):
        new recipients become pending (state_after_sync); recipients not yet sent take the current
        body, phone and campaign commit;
        sent ones keep the body they were sent with; recipients removed from the file are left
        alone and not sent. A row whose phone this campaign already messaged (MESSAGED) under
        another key is a `duplicate` naming both keys, never a new message; an audience duplicate
        whose own key was messaged keeps that message in the audience instead. Returns the run whose
        audience to send: this one, or, where a backend shares a campaign between senders, the one that
        synced these very inputs (`fingerprint`) already, `items` then unread."""
        ...

    def expire(self, run_id: int) -> int:
        """After the schedule's end: what was never sent is `expired`. Returns how many."""
        ...

    def last_run(self) -> int | None:
        """The run whose audience was synced last."""
        ...

    def fingerprint(self) -> str | None:
        """What the campaign's inputs were at the last sync (runner.sending.run.source_fingerprint)."""
        ...


class Claims(Protocol):
    """What the sender reads and writes: a message is claimed (`sending`), committed, before its
    request leaves."""

    def sendable(
        self, run_id: int, states: Sequence[State], after_position: int, limit: int, due: str | None = None
    ) -> list[Sendable]:
        """Messages of the run's audience in one of `states`, past `after_position`, in audience
        order; a deferred one only if its not_before is at or before `due` (default: now)."""
        ...

    def with_recipients(self, store: RecipientStore) -> bool:
        """Whether `commit` can write `store`'s contact history and read its opt-outs inside its
        own transaction (`Batch.contacts`, `Batch.read_opt_outs`): the store is in this ledger's
        database. Then the caps' history and the ledger are written together, and a claim costs
        one round trip, not three (bench/postgres_senders.py)."""
        ...

    def commit(self, batch: Batch) -> Claimed:
        """One transaction: hold back messages the policy stops (deferred or suppressed, undoing
        their claim if they had one); record outcomes; give back claims whose request never left
        (key, the state it had); re-claim messages by key (state -> sending, attempts + 1) if they are still
        in one of the given states; then claim up to `batch.take` more, skipping any another sender
        is claiming at that moment. Nothing is claimed twice: a claim only takes a message in one
        of `batch.states` of the run's audience, and makes it `sending`."""
        ...


class Deliveries(Protocol):
    """What `enrich` (runner.callbacks.enrichment) reads and writes: for each message it touched, its
    merged delivery (runner.ledger.records.Delivery: the winners' fields the report shows, and what a
    later enrichment needs to go on merging where this one stopped), kept apart from the message's own
    row. Messages are named by an integer id the backend gives."""

    def enriching(self) -> AbstractContextManager[None]:
        """Held for the length of an enrichment (a backend may relax durability inside: what it
        writes is only ever what the callback logs still hold)."""
        ...

    def next_arrival(self) -> int:
        """The arrival number of the next callback read: they go on across enrichments."""
        ...

    def any_stored(self) -> bool: ...

    def by_reference(self, references: Collection[str]) -> list[tuple[str, int]]:
        """(reference_id, message) of the messages with these reference_ids, lowest id LAST (so that
        it wins where two messages have the same reference_id)."""
        ...

    def by_external_id(self, external_ids: Collection[str]) -> list[tuple[str, int, str | None]]:
        """(external_id, message, reference_id) of the messages with these external_ids."""
        ...

    def stored(self, messages: Collection[int]) -> list[Delivery]:
        """What earlier enrichments merged for these messages (those that have anything)."""
        ...

    def awaiting_status(self) -> Iterator[tuple[str, str | None]]:
        """(reference_id, submitted_at) of the accepted messages that have no final delivery status
        (none, or an intermediate one): what `campaign poll` asks about."""
        ...

    def save(
        self,
        rows: Iterable[Delivery],
        next_arrival: int,
        references: Mapping[int, str],
        on_settled: OnSettled = None,
    ) -> int:
        """One transaction: each message's merged delivery (pass `rows` in id order), and for a
        message that has none, the reference_id in `references` (message -> the winner's: one joined
        by external_id, its answer lost). A callback proves Telesign accepted the message: one in
        SETTLED_BY_CALLBACK becomes accepted and is never resent. Returns how many were settled so;
        `on_settled` is given them (few: the messages whose answer was lost; reference_id as
        `references` gives it where it had none) before the transaction commits, so that what it
        records of them is never missing once they are settled (it must take them twice alike)."""
        ...


class Slots(Protocol):
    """Start times shared by every sender of a backend that many senders use at once
    (runner.sending.sharing)."""

    def reserve(self, name: str, rate: float, count: int, lead: float) -> tuple[float, float]:
        """`count` consecutive slots of schedule `name`, 1/rate apart, none sooner than `lead`
        seconds from now: (the first slot's time, the backend's time now), in epoch seconds."""
        ...


class Ledger(Protocol):
    """One campaign's ledger."""

    @property
    def runs(self) -> Runs: ...

    @property
    def audience(self) -> Audience: ...

    @property
    def claims(self) -> Claims: ...

    @property
    def deliveries(self) -> Deliveries: ...

    @property
    def slots(self) -> Slots | None:
        """Shared start times, where several senders share this ledger (None: one sender per
        campaign, which paces itself)."""
        ...

    def counts(self, run_id: int | None = None) -> dict[str, int]:
        """Messages by state in the run's audience (default: the last synced one), plus its
        skipped rows; every state is present."""
        ...

    def one_reading(self) -> AbstractContextManager[None]:
        """The reads made inside it see the ledger as it was at one moment. A sender finishing beside
        others takes their live messages out of its counts (in_flight_elsewhere): read at two
        moments, another sender settling or claiming in between would leave a difference that
        looks like this run's unfinished business (a false exit 3)."""
        ...

    def in_flight_elsewhere(self, run_id: int) -> dict[str, int]:
        """Messages of the run's audience that another sender, alive now, claimed and has not
        settled yet (sending, or failed between its attempts), by state: a sender finishing beside
        others does not count them as its run's unfinished business. Always empty with SQLite
        files (one sender per campaign)."""
        ...

    def attempted(self) -> int:
        """Messages of the last synced audience for which at least one request was made."""
        ...

    def delivery_counts(self) -> dict[str, int]:
        """The last audience's accepted messages by what their callbacks say (runner.ledger.tally)."""
        ...

    def deferred(self, run_id: int | None = None) -> list[tuple[str, int]]:
        """The run's deferred messages as (not_before, how many), soonest first (docs/policy.md)."""
        ...

    def cost_rows(self) -> Iterator[tuple[str, str | None, str, str | None]]:
        """(phone, last_channel, price, currency) of the last audience's accepted messages whose
        cost Telesign reported (runner.report.cost sums them)."""
        ...

    def report_rows(self) -> Iterator[tuple[Any, ...]]:
        """The last run's audience in order, as report rows: messages and skipped rows (their reason
        as status_description) merged by audience position. Each row is `plain`, then its cells in
        runner.report.csv.COLUMNS' order, replied and opted_out 0 and '' (runner.ledger.report_query)."""
        ...

    def states_of(self, keys: Collection[str]) -> dict[str, State]:
        """key -> state of the messages the ledger has for these recipient keys (others absent):
        what `campaign plan` applies the send's rules to."""
        ...

    def phones_messaged(self, phones: Collection[str]) -> dict[str, str]:
        """phone -> key of a message this campaign sent, or may have sent, to it (MESSAGED): the
        sync makes a row with that phone and another key a duplicate; `campaign plan` says so too."""
        ...

    def state_digest(self) -> tuple[str, dict[str, int]]:
        """A digest of every message's state and attempts ("" for a ledger without messages), and
        the messages by state: a plan compares it to tell a run changed the ledger since."""
        ...

    def close(self) -> None: ...
