"""Computing a plan: the send's own expansion and the send's own rules for what a run claims,
applied to the ledger as it stands (read only), with nothing sent (docs/plan.md).

The messages come from runner.campaign.expansion (what `check` and `send` iterate); what the
policy makes of each (pending, deferred to its window, opted out) from the send's own
`plan_message` and policy gate; whether it is sent from the ledger's `state_after_sync` and
`claimable` and the run's `run_cap`: the very functions the send's sync and sender use. So a plan
and the send that follows it cannot disagree except where the inputs changed, which the
fingerprint catches, or where time moved a window, which the send decides when it runs."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runner.campaign.audience import SUPPRESSED_BY, Skipped
from runner.campaign.expansion import Expansion, Message
from runner.campaign.schema import Campaign
from runner.ledger.interface import Ledger
from runner.ledger.states import REPLANNED, State, claimable, state_after_sync
from runner.plan import git
from runner.plan.inputs import describe, opt_outs, runner_version, sources
from runner.plan.messages import MessageStats
from runner.plan.model import VALID_FOR, Counts, Plan, Timing
from runner.plan.prices import CostTally, find_price_table, load_prices
from runner.policy.gate import Gate
from runner.policy.store import read_store
from runner.sending.decisions import plan_message, run_cap, schedule_at

CHUNK = 1000  # ledger lookups per query
INVALID_EXAMPLES = 5


@dataclass(frozen=True)
class PlanOptions:
    resend_unknown: bool = False
    limit: int | None = None
    now: datetime | None = None
    valid_for: timedelta = VALID_FOR
    outputs: Path | None = None  # where the repository's recipient store (opt-outs) is
    ledger_url: str | None = None  # ... or the shared ledger's database, when there is one


OPTED_OUT = "opted out"  # how the plan counts the policy's opt-out suppressions, whatever their date


class _Tally:
    """What the policy and the ledger make of each message: the send's rules, one chunk of ledger
    look-ups at a time."""

    def __init__(
        self,
        ledger: Ledger | None,
        gate: Gate | None,
        options: PlanOptions,
        cap: int | None,
        take: Callable[[Message], None],
    ):
        self.ledger = ledger
        self.gate = gate
        self.states = tuple(s for s in claimable(options.resend_unknown) if s != State.DEFERRED)
        self.cap = cap
        self.take = take
        self.chunk: list[Message] = []
        self.already: Counter[str] = Counter()
        self.messaged_elsewhere = 0  # rows whose phone an earlier message under another key reached
        self.deferred: Counter[str] = Counter()  # not_before (UTC) -> messages
        self.opted_out: Counter[str] = Counter()  # the policy's suppressions, by reason
        self.sendable = 0
        self.to_send = 0
        self.send_digest = hashlib.sha256()

    def add(self, message: Message) -> None:
        self.chunk.append(message)
        if len(self.chunk) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        chunk, self.chunk = self.chunk, []
        prior = self.ledger.states_of([m.recipient.key for m in chunk]) if self.ledger and chunk else {}
        messaged = self.ledger.phones_messaged([m.recipient.phone for m in chunk]) if self.ledger and chunk else {}
        for message in chunk:
            planned = plan_message(message, self.gate)
            state = state_after_sync(prior.get(message.recipient.key), planned.state)
            if (
                state in REPLANNED
                and messaged.get(message.recipient.phone, message.recipient.key) != message.recipient.key
            ):
                # Its phone was messaged under another key: the sync makes it a duplicate, never
                # a message (docs/reliability.md, "The phone is the identity").
                self.messaged_elsewhere += 1
                continue
            if state == State.DEFERRED:
                # Time-dependent: which messages are inside their window is decided when the send
                # runs, so the digest holds every message that would go now or later alike; the
                # figures (texts, cost) count them too: this campaign sends them as windows open.
                self.deferred[planned.not_before or ""] += 1
                self._digest(message)
                self.take(message)
                continue
            if state == State.SUPPRESSED:
                reason = planned.reason or ""
                self.opted_out[OPTED_OUT if reason.startswith(OPTED_OUT) else reason] += 1
                continue
            if state not in self.states:
                self.already[state] += 1
                continue
            self.sendable += 1
            self._digest(message)
            if self.cap is None or self.to_send < self.cap:
                self.to_send += 1
                self.take(message)

    def _digest(self, message: Message) -> None:
        self.send_digest.update(message_digest(message))


def message_digest(message: Message) -> bytes:
    """What a digest of messages takes of one: its external id and its exact body."""
    return f"{message.external_id}\0".encode() + hashlib.sha256(message.body).digest()


def make_plan(
    campaign: Campaign, ledger: Ledger | None, options: PlanOptions = PlanOptions(), gate: Gate | None = None
) -> Plan:
    """The plan of a send of `campaign` now. Raises InvalidInput where the send would (a row with a
    problem under on_invalid = "fail"), after the whole audience is read, as the send does. `gate`:
    the send's own policy gate (send --plan); without one, the plan makes one as the send does, on
    the recipient store if there is one (never creating it)."""
    spec = campaign.spec
    now = options.now or datetime.now(UTC)
    expansion = Expansion(campaign)
    store = None
    if gate is None:
        store = read_store(options.outputs, options.ledger_url)
        gate = Gate(expansion.rules, store, lambda: now)
        gate.end = spec.schedule.end
    try:
        return _make_plan(campaign, ledger, options, gate, expansion, now)
    finally:
        if store is not None:
            store.close()


def _make_plan(
    campaign: Campaign, ledger: Ledger | None, options: PlanOptions, gate: Gate, expansion: Expansion, now: datetime
) -> Plan:
    spec = campaign.spec
    stats = MessageStats(expansion.renderer)
    price_path = find_price_table(campaign)
    prices = load_prices(price_path, git.shown(price_path)) if price_path is not None else None
    cost = CostTally(prices)

    def take(message: Message) -> None:
        stats.add(message)
        cost.add(message.recipient.phone, message.sms.segments if message.sms else 0)

    tally = _Tally(ledger, gate, options, run_cap(options.limit, spec.sending.max_per_run), take)
    suppressed: Counter[str] = Counter()
    every_message = hashlib.sha256()
    for item in expansion:
        if isinstance(item, Message):
            every_message.update(message_digest(item))
            tally.add(item)
        elif isinstance(item, Skipped) and item.state == "suppressed":
            suppressed[item.reason.removeprefix(SUPPRESSED_BY)] += 1
    tally.flush()
    summary = expansion.summary
    summary.raise_if_problems()

    audience = expansion.audience
    rows = {"audience": summary.recipients - len(spec.audience.recipients)}
    inputs = []
    names = dict(zip([campaign.resolve(n) for n in spec.audience.suppress], spec.audience.suppress, strict=True))
    for role, path in sources(campaign):
        count = rows.get(role) if role == "audience" else None
        if role == "suppression":
            count = audience.suppression_rows.get(names.get(path, ""), 0)
        inputs.append(describe(role, path, count))
    in_git = any(i.dirty is not None for i in inputs)
    version = runner_version()
    ledger_digest, ledger_states = ledger.state_digest() if ledger is not None else ("", {})
    opted_out, opt_outs_digest = opt_outs(options.outputs, options.ledger_url)
    to_send_digest = tally.send_digest.hexdigest()
    fingerprint = hashlib.sha256(
        json.dumps(
            {
                "inputs": [[i.role, i.path, i.sha256] for i in inputs],
                "runner": version,
                "ledger": ledger_digest,
                "opt_outs": opt_outs_digest,
                "to_send": to_send_digest,
                "messages": every_message.hexdigest(),
                "options": [options.resend_unknown, options.limit],
            }
        ).encode()
    ).hexdigest()
    return Plan(
        campaign_id=spec.id,
        campaign_file=git.shown(campaign.path),
        created_at=now,
        valid_until=now + options.valid_for,
        runner_version=version,
        limit=options.limit,
        fingerprint=fingerprint,
        ledger_digest=ledger_digest,
        ledger_states=dict(sorted(ledger_states.items())),
        opt_outs=opted_out,
        opt_outs_digest=opt_outs_digest,
        to_send_digest=to_send_digest,
        messages_digest=every_message.hexdigest(),
        schedule=schedule_note(campaign, now),
        counts=Counts(
            audience_rows=summary.recipients,
            messages=summary.messages,
            to_send=tally.to_send,
            over_cap=tally.sendable - tally.to_send,
            deferred=sum(tally.deferred.values()),
            deferred_until=dict(sorted(tally.deferred.items())),
            already=dict(sorted(tally.already.items())),
            suppressed=dict(suppressed) | dict(tally.opted_out),
            duplicates=summary.by_state["duplicate"] + tally.messaged_elsewhere,
            invalid=summary.by_state["invalid"],
            invalid_examples=[
                str(replace(p, path=git.shown(Path(p.path)))) for p in summary.skipped[:INVALID_EXAMPLES]
            ],
        ),
        messages=stats.result(),
        cost=cost.result(),
        timing=timing(spec.sending.rate, tally.to_send, tally.deferred, now),
        inputs=inputs,
        git=None if in_git else f"{git.why_no_commit(campaign.path)}: no commits to show",
        at_send_time=at_send_time(campaign, gate),
    )


def schedule_note(campaign: Campaign, now: datetime) -> str | None:
    schedule = campaign.spec.schedule
    when = schedule_at(campaign, now)
    if when == "not_due" and schedule.start is not None:
        return f"not due yet: its schedule starts {schedule.start.isoformat()}; a send before then sends nothing"
    if when == "ended" and schedule.end is not None:
        return (
            f"past its schedule's end ({schedule.end.isoformat()}): a send marks what is unsent expired, sends nothing"
        )
    return None


def timing(rate: float, now_count: int, deferred: Counter[str], now: datetime) -> Timing:
    """How long the messages due now take at the campaign's rate, and when the last deferred ones
    would be sent if each batch goes as its window opens (send --wait, or cron's next runs)."""
    seconds = now_count / rate
    finish = now + timedelta(seconds=seconds)
    for at, n in sorted(deferred.items()):
        opens = datetime.fromisoformat(at.replace("Z", "+00:00")) if at else finish
        finish = max(finish, opens) + timedelta(seconds=n / rate)
    return Timing(rate=rate, seconds=seconds, finishes_at=finish if deferred else None)


def at_send_time(campaign: Campaign, gate: Gate) -> list[str]:
    """What the send decides when it runs rather than when the plan is made (docs/plan.md)."""
    schedule = campaign.spec.schedule
    notes = []
    if schedule.start is not None or schedule.end is not None:
        notes.append("whether the campaign's [schedule] has started or ended")
    if gate.rules.window is not None:
        notes.append(f"which messages are inside their send window ({gate.rules.window.describe()}, recipient's time)")
    if gate.rules.cap is not None:
        notes.append(f"the frequency cap ({gate.rules.cap.describe()})")
    return notes
