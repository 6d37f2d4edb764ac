"""Sending a campaign, as a library: lock, ledger, audience sync, send, report.

Used by `campaign send`, `campaign run` (cron) and the sandbox; each returns a CampaignRun the
command turns into lines and an exit code."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from runner.campaign.audience import Skipped
from runner.campaign.expansion import Expansion, Message
from runner.campaign.render import find_templates_folder
from runner.campaign.schema import Campaign
from runner.errors import ExitCode, InvalidInput
from runner.ledger.backend import ledger_exists, open_ledger
from runner.ledger.interface import Claims, Ledger
from runner.ledger.lock import CampaignLock
from runner.ledger.records import Planned, Provenance, SkippedRow
from runner.ledger.states import NOT_ACCEPTED, State, claimable
from runner.plan import git
from runner.plan.compute import PlanOptions, make_plan
from runner.plan.model import Plan
from runner.plan.stale import PlanStale, changes_since
from runner.report import csv as report
from runner.sending.decisions import run_cap, schedule_at
from runner.sending.progress import Progress
from runner.sending.sender import CampaignSender, SendPlan, SendResult
from runner.sending.stops import Stop
from runner.telesign.client import OmnichannelClient
from runner.telesign.settings import TelesignSettings


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
    plan: Plan | None = None  # `send --plan`: send only what it says, and only while it holds
    plan_path: str = ""


@dataclass
class CampaignRun:
    campaign_id: str
    exit_code: int
    counts: dict[str, int] = field(default_factory=dict)
    report_path: Path | None = None
    note: str = ""
    in_git: bool = True  # False: the campaign file is not in a git repository, no commit recorded


SANDBOX_FOLDER = "sandbox"  # a rehearsal's outputs: <outputs>/sandbox/<campaign-id>/ (runner.sandbox)


def campaign_folder(outputs: Path, campaign_id: str) -> Path:
    return outputs / campaign_id


def planned_rows(expansion: Expansion) -> Iterator[Planned | SkippedRow]:
    """The audience as ledger rows; raises InvalidInput at the end if any row had a problem, which
    rolls back the ledger's sync: nothing from a file with an error is recorded or sent."""
    for item in expansion:
        if isinstance(item, Message):
            r = item.recipient
            yield Planned(r.key, r.position, item.external_id, r.recipient_id, r.phone, item.body)
        elif isinstance(item, Skipped):
            yield SkippedRow(item.position, item.recipient_id, item.phone, State(item.state), item.reason)
    expansion.summary.raise_if_problems()


def check_every_row(campaign: Campaign) -> None:
    """Render every row; raises InvalidInput for the problems a send would stop on."""
    expansion = Expansion(campaign)
    for _ in expansion:
        pass
    expansion.summary.raise_if_problems()


def source_fingerprint(campaign: Campaign) -> str:
    """What the campaign's messages are made of: the campaign file's bytes and the size and
    modification time of its audience, suppression and template files."""
    digest = hashlib.sha256(campaign.path.read_bytes())
    spec = campaign.spec
    names = [n for n in (spec.audience.file, *spec.audience.suppress) if n]
    paths = [campaign.resolve(n) for n in names]
    templates = find_templates_folder(campaign.folder)
    if templates is not None:
        paths += [templates / n for n in (spec.viber.text_template, spec.sms.text_template if spec.sms else None) if n]
    for path in paths:
        try:
            info = path.stat()
            digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}".encode())
        except OSError:
            digest.update(f"{path}:missing".encode())
    return digest.hexdigest()


def send_campaign(campaign: Campaign, settings: TelesignSettings, options: SendOptions) -> CampaignRun:
    spec = campaign.spec
    now = options.now or datetime.now(UTC)
    when = schedule_at(campaign, now)
    if when == "not_due":
        start = spec.schedule.start.isoformat() if spec.schedule.start else ""
        return CampaignRun(spec.id, ExitCode.CANNOT_PROCEED, note=f"not due: its schedule starts {start}")
    folder = campaign_folder(options.outputs, spec.id)
    expansion = Expansion(campaign)  # template problems surface here, before any lock or ledger
    if not options.checked and not ledger_exists(folder, spec.id):
        # A first send of a file with a bad row must leave nothing behind, not even an empty
        # ledger or a lock (docs/reliability.md); later sends roll their sync back instead.
        check_every_row(campaign)
    with CampaignLock(folder, spec.id, options.command):
        ledger = open_ledger(folder, spec.id)
        try:
            if options.plan is not None:
                options = _hold_to_plan(campaign, ledger, options, now)
            return _send_locked(campaign, ledger, expansion, settings, options, folder, expired=when == "ended")
        finally:
            ledger.close()


def _hold_to_plan(campaign: Campaign, ledger: Ledger, options: SendOptions, now: datetime) -> SendOptions:
    """Under the campaign's lock, so no other run can change the ledger between the check and the
    send: the plan made again now must equal the saved one, else nothing is sent (PlanStale). The
    run then sends at most the plan's count (docs/plan.md, "The plan file")."""
    saved = options.plan
    assert saved is not None
    fresh = make_plan(campaign, ledger, PlanOptions(limit=saved.limit, now=now, outputs=options.outputs))
    changes = changes_since(saved, fresh, now)
    if changes:
        raise PlanStale(campaign.id, options.plan_path, changes)
    return replace(options, limit=saved.counts.to_send, resend_unknown=False)


def _send_locked(
    campaign: Campaign,
    ledger: Ledger,
    expansion: Expansion,
    settings: TelesignSettings,
    options: SendOptions,
    folder: Path,
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
    try:
        ledger.audience.sync(
            run_id,
            planned_rows(expansion),
            fingerprint=source_fingerprint(campaign),
            campaign_commit=provenance.campaign_commit,
        )
    except InvalidInput:
        ledger.runs.finish(run_id, ExitCode.INVALID, {})
        raise
    note = ""
    stopped: Stop | None = None
    if expired:
        n = ledger.audience.expire(run_id)
        note = f"past its schedule's end: {n} unsent message(s) marked expired"
    else:
        counts = ledger.counts(run_id)
        todo = sum(counts[state] for state in claimable(options.resend_unknown))
        limit = run_cap(options.limit, spec.sending.max_per_run)
        total = todo if limit is None else min(todo, limit)
        progress = Progress(spec.id, total, options.log_format, rate=spec.sending.rate)
        plan = SendPlan(
            run_id,
            spec.sending.rate,
            spec.sending.concurrency,
            spec.sending.max_attempts,
            options.resend_unknown,
            limit,
            options.grace,
        )
        try:
            result = asyncio.run(_send(ledger.claims, settings, plan, progress))
        finally:
            progress.finish()  # a live bar gives the terminal back (its cursor) on every exit
        stopped = result.stopped
    counts = ledger.counts(run_id)
    path = folder / "report.csv"
    report.write(ledger, path)
    code = exit_code(counts, stopped)
    ledger.runs.finish(run_id, code, counts)
    error = stopped.error(spec.id, settings.base_url, path) if stopped is not None else None
    if error is not None:
        raise error
    return CampaignRun(spec.id, code, counts, path, note, in_git=where is not None)


async def _send(claims: Claims, settings: TelesignSettings, plan: SendPlan, progress: Progress) -> SendResult:
    client = OmnichannelClient(settings, plan.concurrency)
    try:
        return await CampaignSender(claims, client, plan, progress).run()
    finally:
        await client.close()


def exit_code(counts: dict[str, int], stopped: Stop | None) -> int:
    if stopped is not None:
        return stopped.exit_code
    if any(counts.get(state, 0) for state in NOT_ACCEPTED):
        return ExitCode.INCOMPLETE
    return ExitCode.OK
