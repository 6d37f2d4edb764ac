"""Sending a campaign, as a library: lock, ledger, audience sync, send, report.

Used by `campaign send`, `campaign run` (cron) and the sandbox; each returns a CampaignRun the
command turns into lines and an exit code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from runner.campaign.expansion import Expansion
from runner.campaign.schema import Campaign
from runner.errors import ExitCode, InvalidInput, RunnerError, TerminationRequested
from runner.ledger.backend import campaign_lock, ledger_exists, open_ledger
from runner.ledger.interface import Ledger
from runner.ledger.records import Provenance
from runner.ledger.states import NOT_ACCEPTED, State, claimable
from runner.outputs import campaign_folder
from runner.plan import git
from runner.policy.gate import Clock, Gate, system_clock
from runner.policy.schema import policy_for
from runner.policy.store import RecipientStore, open_store
from runner.policy.windows import parse_utc
from runner.report import files as report
from runner.sending.audience_pass import (
    CheckedAudience,
    check_every_row,
    rows_to_sync,
    source_fingerprint,
    with_opt_ins,
)
from runner.sending.decisions import run_cap, schedule_at
from runner.sending.progress import Progress
from runner.sending.sender import CampaignSender, SendPlan, SendResult
from runner.sending.sharing import SharedSchedule, account_schedule, campaign_schedule
from runner.sending.signals import stops_held, stops_raise
from runner.sending.stops import Interrupted, LedgerLost, ScheduleEnded, Stop, Terminated
from runner.telesign.client import OmnichannelClient
from runner.telesign.settings import TelesignSettings

if TYPE_CHECKING:
    from runner.plan.model import Plan

T = TypeVar("T")


@dataclass
class SendOptions:
    outputs: Path
    resend_unknown: bool = False
    limit: int | None = None
    log_format: str = "auto"
    grace: float = 5.0
    now: datetime | None = None  # the clock, for schedule decisions (tests set it)
    checked: bool = False  # the caller has rendered every row already and found no problem
    command: str = "send"  # the verb the user ran (`campaign run` for cron): named in the lock
    wait: bool = False  # `send --wait`: stay and send deferred messages as their windows open
    clock: Clock | None = None  # what time it is, for windows and caps (tests inject one)
    sleep: Callable[[float], None] = time.sleep  # how --wait waits (tests advance their clock)
    store: RecipientStore | None = None  # opt-outs and contact history; default <outputs>/recipients.sqlite
    plan: Plan | None = None  # `send --plan`: send only what it says, and only while it holds
    plan_path: str = ""
    ledger_url: str | None = None  # a shared PostgreSQL ledger (runner.ledger.backend), else SQLite files

    def the_clock(self) -> Clock:
        if self.clock is not None:
            return self.clock
        fixed = self.now
        return (lambda: fixed) if fixed is not None else system_clock


@dataclass
class CampaignRun:
    campaign_id: str
    exit_code: int
    counts: dict[str, int] = field(default_factory=dict)
    report_path: Path | None = None
    note: str = ""
    deferred: str = ""  # "N deferred until <first time>": not a failure (docs/policy.md)
    no_commit: str | None = None  # why no campaign commit was recorded (runner.plan.git.why_no_commit)


def send_campaign(
    campaign: Campaign, settings: TelesignSettings, options: SendOptions, checked: CheckedAudience | None = None
) -> CampaignRun:
    """`checked`: the campaign's rows as the caller checked them (check_every_row), for the sync;
    the caller closes it."""
    spec = campaign.spec
    now = options.the_clock()()
    start, end = spec.schedule.start, spec.schedule.end
    when = schedule_at(campaign, now)
    if when == "not_due":
        return CampaignRun(spec.id, ExitCode.CANNOT_PROCEED, note=f"not due: its schedule starts {start}")
    folder = campaign_folder(options.outputs, spec.id)
    # Template and policy problems surface here, before any lock or ledger.
    expansion = checked.expansion if checked is not None else Expansion(campaign)
    url = options.ledger_url
    own = None
    if checked is None and not options.checked and not ledger_exists(folder, spec.id, url):
        # A first send of a file with a bad row must leave nothing behind, not even an empty
        # ledger or a lock (docs/reliability.md); later sends roll their sync back instead.
        checked = own = check_every_row(campaign, expansion)
    try:
        with campaign_lock(folder, spec.id, options.command, url):
            ledger = open_ledger(folder, spec.id, url)
            store = options.store or open_store(options.outputs, url)
            writer = open_store(options.outputs, url) if options.store is None else None
            gate = Gate(expansion.rules, store, options.the_clock(), writer)
            gate.end = end
            try:
                if options.plan is not None:
                    options = _hold_to_plan(campaign, ledger, gate, options, now)
                expired = when == "ended"
                return _send_locked(campaign, ledger, expansion, checked, settings, options, folder, gate, expired)
            finally:
                ledger.close()
                if options.store is None:
                    store.close()
                if writer is not None:
                    writer.close()
    finally:
        if own is not None:
            own.close()


def _hold_to_plan(campaign: Campaign, ledger: Ledger, gate: Gate, options: SendOptions, now: datetime) -> SendOptions:
    """Under the campaign's lock, so no other run can change the ledger between the check and the
    send: the plan made again now, by the same code and with the send's own policy gate, must equal
    the saved one, else nothing is sent (PlanStale). The run then sends at most what the plan
    counted, to send now or deferred: which of them are inside their window is decided now
    (docs/plan.md, "The plan file")."""
    from runner.plan.compute import PlanOptions, make_plan  # (only `send --plan` needs them)
    from runner.plan.stale import PlanStale, budget, changes_since

    saved = options.plan
    assert saved is not None
    fresh = make_plan(
        campaign,
        ledger,
        PlanOptions(limit=saved.limit, now=now, outputs=options.outputs, ledger_url=options.ledger_url),
        gate,
    )
    changes = changes_since(saved, fresh, now, own_progress=_only_this_plan_since(ledger, saved))
    if changes:
        raise PlanStale(campaign.id, options.plan_path, changes)
    # What the plan counted, to send now and deferred together, less what its earlier runs sent
    # (runner.plan.stale.budget: a plan made with --limit N sends N in all, never the next N each
    # time it is applied), and never more than its own --limit in one run: deferred messages whose
    # window has opened since the plan was made join those to send now, and without the plan's cap
    # they would be sent past it (a plan made at night with --limit 100 would send the whole
    # morning's opening at once).
    counted = min(fresh.counts.to_send + fresh.counts.deferred, budget(saved, fresh))
    limit = counted if saved.limit is None else min(counted, saved.limit)
    return replace(options, limit=limit, resend_unknown=False)


SETTLING_COMMANDS = ("enrich", "poll")  # change a ledger only by settling answers: never more to send


def _only_this_plan_since(ledger: Ledger, saved: Plan) -> bool:
    """Whether every run that may have changed the ledger since the plan was made (finished after
    it, or never finished) applied this plan or only settled answers, and one at least applied it."""
    since = [
        run
        for run in ledger.runs.latest(None, 1000)
        if run.finished_at is None or datetime.fromisoformat(run.finished_at) >= saved.created_at
    ]
    applied = [run for run in since if run.plan_fingerprint == saved.fingerprint]
    return bool(applied) and all(run in applied or run.command in SETTLING_COMMANDS for run in since)


def _send_locked(
    campaign: Campaign,
    ledger: Ledger,
    expansion: Expansion,
    checked: CheckedAudience | None,
    settings: TelesignSettings,
    options: SendOptions,
    folder: Path,
    gate: Gate,
    expired: bool,
) -> CampaignRun:
    spec = campaign.spec
    # The campaign file's commit, recorded with the run and with each message it gives a body to
    # (docs/plan.md, "Git provenance"), so a report row says which reviewed version sent it.
    where = git.state_of(campaign.path)
    provenance = Provenance(
        where.commit if where else None,
        where.dirty if where else None,
        options.plan.fingerprint if options.plan else None,
    )
    run_id = ledger.runs.start("send", provenance)
    path = folder / "report.csv"
    outcome = _Outcome()
    counts: dict[str, int] = {}
    code: int = ExitCode.OK
    later = ""
    audience = run_id
    try:
        with stops_raise():
            try:
                # (with a shared ledger, maybe the audience another sender synced from these same
                # inputs: then no row is read)
                fingerprint = source_fingerprint(campaign, expansion.renderer.templates_folder)
                opt_ins = gate.store.opt_ins() if gate.store is not None else 0
                audience = ledger.audience.sync(
                    run_id,
                    rows_to_sync(campaign, expansion, checked, gate, fingerprint),
                    fingerprint=with_opt_ins(fingerprint, opt_ins),
                    campaign_commit=provenance.campaign_commit,
                )
            except InvalidInput:
                outcome.invalid = True
                raise
            if expired:
                n = ledger.audience.expire(audience)
                outcome.note = f"past its schedule's end: {n} unsent message(s) marked expired"
            else:
                outcome.stopped = _send_passes(campaign, ledger, settings, options, gate, audience)
                end = spec.schedule.end
                if isinstance(outcome.stopped, ScheduleEnded) or (
                    options.wait and outcome.stopped is None and end is not None and gate.clock() >= end
                ):
                    how = "waited until" if outcome.stopped is None else "reached"
                    outcome.stopped = None  # not a failure: the counts (expired) give the exit code
                    n = ledger.audience.expire(audience)
                    outcome.note = f"{how} its schedule's end: {n} unsent message(s) marked expired"
    except KeyboardInterrupt:
        outcome.stopped = Interrupted()  # a Ctrl-C outside the send loop (or asyncio's own)
    except TerminationRequested:
        outcome.stopped = Terminated()
    except BaseException as failure:
        outcome.error = failure
        raise
    finally:
        # Whatever ended the run, the report and the run's end are written (unless the file was
        # invalid: then nothing of it was recorded), and a second Ctrl-C waits for them.
        with stops_held():
            if isinstance(outcome.stopped, LedgerLost):
                pass  # the ledger's database is gone: nothing to count or report from (the error says so)
            elif outcome.invalid:
                ledger.runs.finish(run_id, ExitCode.INVALID, {})
            else:
                # Messages other live senders are still sending are theirs to report, not this run's:
                # read with the counts at one moment. Another sender that settles its last messages
                # and exits between the snapshot and the look at its lock would leave them counted
                # here; a second reading (a fresh snapshot) sees them settled, while a dead sender's
                # stay `sending` in every reading.
                for _ in range(2):
                    with ledger.one_reading():
                        counts = ledger.counts(audience)
                        deferred = ledger.deferred(audience)
                        mine = _less(counts, ledger.in_flight_elsewhere(audience))
                    code = exit_code(mine, outcome.stopped) if outcome.error is None else _error_code(outcome.error)
                    if code != ExitCode.INCOMPLETE:
                        break
                later = f"{sum(n for _, n in deferred)} deferred until {deferred[0][0]}" if deferred else ""
                # Finished before the report is written, so that report.html's run history shows
                # this run's exit code (the code depends on the ledger's counts only, not the report).
                ledger.runs.finish(run_id, code, counts)
                report.write(ledger, path, gate.store.replies_to(spec.id) if gate.store is not None else None)
    stopped = outcome.stopped
    error = stopped.error(spec.id, settings.base_url, path) if stopped is not None else None
    if error is not None:
        raise error
    return CampaignRun(
        spec.id, code, counts, path, outcome.note, later, no_commit=None if where else git.why_no_commit(campaign.path)
    )


@dataclass
class _Outcome:
    """How a campaign's run ended, gathered as it goes so that the report is written whatever ends it."""

    stopped: Stop | None = None
    note: str = ""
    invalid: bool = False
    error: BaseException | None = None


def _less(counts: dict[str, int], others: dict[str, int]) -> dict[str, int]:
    return {state: n - others.get(state, 0) for state, n in counts.items()}


def _error_code(error: BaseException) -> int:
    return int(error.exit_code) if isinstance(error, RunnerError) else int(ExitCode.INVALID)


def _send_passes(
    campaign: Campaign, ledger: Ledger, settings: TelesignSettings, options: SendOptions, gate: Gate, run_id: int
) -> Stop | None:
    """Send what is due; with --wait, sleep until the first deferred message's window opens and
    send again, until none is left or the schedule ends. Each pass keeps the campaign's rate: a
    large time zone opening is sent at that pace, never as a burst. Returns why it stopped early."""
    spec = campaign.spec
    limit = run_cap(options.limit, spec.sending.max_per_run)
    while True:
        counts = ledger.counts(run_id)
        # (deferred messages are not due yet: the sync or the last pass just decided so)
        todo = sum(counts[state] for state in claimable(options.resend_unknown) if state != State.DEFERRED)
        due = sum(n for at, n in ledger.deferred(run_id) if parse_utc(at) <= gate.clock())
        total = min([todo + due, *([limit] if limit is not None else [])])
        progress = Progress(
            spec.id,
            total,
            options.log_format,
            rate=spec.sending.rate,
            later=_later(ledger, run_id, gate, options, spec.schedule.end),
        )
        account_rate = settings.account_tps or policy_for(campaign.folder).spec.sending.account_rate
        rate = spec.sending.rate
        if ledger.slots is None and account_rate is not None:
            rate = min(rate, account_rate) if rate else account_rate  # one sender: the account's TPS is its cap
        plan = SendPlan(
            run_id,
            rate,
            spec.sending.concurrency,
            spec.sending.max_attempts,
            options.resend_unknown,
            limit,
            options.grace,
            rate_shared=ledger.slots is not None and rate is not None,
        )
        schedules: list[tuple[str, float]] = []
        if ledger.slots is not None:
            if rate:
                schedules.append((campaign_schedule(spec.id), rate))
            if account_rate:
                schedules.append((account_schedule(settings.credentials.customer_id), account_rate))
        try:
            result = asyncio.run(_send(ledger, settings, plan, progress, gate, schedules))
        finally:
            progress.finish()  # a live bar gives the terminal back (its cursor) on every exit
        if result.stopped is not None or not options.wait:
            return result.stopped
        if limit is not None:
            limit -= result.claimed
            if limit <= 0:
                return None
        deferred = ledger.deferred(run_id)
        if not deferred:
            return None
        first = parse_utc(deferred[0][0])
        if spec.schedule.end is not None and first >= spec.schedule.end:
            return None
        progress.event(f"{sum(n for _, n in deferred)} deferred: waiting until {deferred[0][0]} (--wait)")
        options.sleep(max(0.0, (first - gate.clock()).total_seconds()))


def _later(
    ledger: Ledger, run_id: int, gate: Gate, options: SendOptions, end: datetime | None
) -> list[tuple[float, int]]:
    """For the ETA of `send --wait`: the deferred messages still to come in this run, as (seconds
    until their window opens, how many). Nothing without --wait (they wait for a later run), nor
    what opens after the schedule's end (it expires)."""
    if not options.wait:
        return []
    now = gate.clock()
    return [
        ((opens - now).total_seconds(), n)
        for opens, n in ((parse_utc(at), n) for at, n in ledger.deferred(run_id))
        if opens > now and (end is None or opens < end)
    ]


async def _send(
    ledger: Ledger,
    settings: TelesignSettings,
    plan: SendPlan,
    progress: Progress,
    gate: Gate | None = None,
    schedules: Sequence[tuple[str, float]] = (),
) -> SendResult:
    client = OmnichannelClient(settings, plan.concurrency)
    try:
        slots = ledger.slots
        shared = [] if slots is None else [SharedSchedule(slots, name, rate, to_thread) for name, rate in schedules]
        return await CampaignSender(ledger.claims, client, plan, progress, shared, gate).run()
    finally:
        await client.close()


async def to_thread(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)


def exit_code(counts: dict[str, int], stopped: Stop | None) -> int:
    if stopped is not None:
        return stopped.exit_code
    if any(counts.get(state, 0) for state in NOT_ACCEPTED):
        return ExitCode.INCOMPLETE
    return ExitCode.OK
