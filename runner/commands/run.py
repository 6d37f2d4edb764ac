"""`campaign run [DIR]`, for cron: send every campaign under DIR whose schedule is due.

A campaign not yet due is skipped quietly; one past its end has what is unsent marked expired;
one locked by another run is skipped with a line; a complete one is left alone; two files with one
campaign id are both refused. A campaign with
`[sending] poll = true` (its own, or its policy.toml's) that was sent in the last 12 hours then has
the delivery statuses it lacks asked of Telesign, as `campaign poll` does (docs/callbacks.md,
"Polling"). The exit code is the worst (highest) of the campaigns'."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from runner import terminal
from runner.callbacks.poll import WINDOW
from runner.campaign.render import find_templates_folder
from runner.campaign.schema import Campaign, find_files, load
from runner.commands.poll import poll_campaign
from runner.commands.send import show
from runner.errors import CampaignLocked, CannotProceed, ExitCode, InvalidInput
from runner.ledger.backend import open_existing, shared_ledger_url
from runner.ledger.states import claimable
from runner.outputs import campaign_folder
from runner.plan import git
from runner.plan.inputs import plans_required
from runner.plan.model import plan_beside, read_plan
from runner.plan.stale import PlanStale
from runner.policy.schema import policy_for
from runner.policy.store import read_store
from runner.sending.audience_pass import source_fingerprint, with_opt_ins
from runner.sending.run import SendOptions, send_campaign
from runner.telesign import settings as config
from runner.telesign.settings import TelesignSettings


def run(
    directory: Path,
    outputs: Path,
    log_format: str,
    now: datetime | None = None,
    ledger_option: str | None = None,
) -> int:
    url = shared_ledger_url(ledger_option)
    settings = config.from_environment()
    fixed = now  # tests fix the clock; cron reads it live (below)
    campaigns, worst = load_campaigns(find_files([directory]))
    said: set[str] = set()
    for campaign in campaigns:
        # Each campaign is decided at the time it is reached, and sends under the live clock: a run
        # spends minutes or hours on the campaigns before it and on its own audience, and a time
        # read once at the run's start would send past a schedule's end and a recipient's send
        # window (21:00 in a clock stopped at 20:50), and record contacts at the wrong time.
        now = fixed or datetime.now(UTC)
        schedule = campaign.spec.schedule
        if schedule.start is not None and now < schedule.start:
            terminal.out(f"{campaign.id}: not due until {schedule.start.isoformat()}")
            continue
        if is_settled(outputs, campaign, url):
            terminal.out(f"{campaign.id}: complete")
            worst = max(worst, poll_if_asked(campaign, settings, outputs, now, url))
            continue
        options = SendOptions(outputs=outputs, log_format=log_format, now=fixed, command="run", ledger_url=url)
        if plans_required(campaign):
            try:
                options = with_committed_plan(campaign, options)
            except CannotProceed as error:
                terminal.err(str(error), "warning", "skipped", campaign=campaign.id)
                worst = max(worst, error.exit_code)
                continue
        try:
            result = send_campaign(campaign, settings, options)
        except PlanStale as error:
            for line in error.lines():
                terminal.err(line, "error", "error", campaign=campaign.id)
            worst = max(worst, error.exit_code)
            continue
        except CampaignLocked as error:
            # Another process is sending it (a long run, a manual send): this run has nothing to do
            # for it, which is not a failure; the next cron run takes it up (docs/sending.md).
            terminal.err(f"{campaign.id}: skipped: another process holds it ({error.holder}); the next run takes it up")
            continue
        except InvalidInput as error:
            terminal.error(error)
            worst = max(worst, ExitCode.INVALID)
            continue
        worst = max(worst, show(result, said))
        if result.exit_code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED):
            break  # a stop stops every campaign (and their polls), not just the one being sent
        worst = max(worst, poll_if_asked(campaign, settings, outputs, fixed or datetime.now(UTC), url))
    return worst


def load_campaigns(files: list[Path]) -> tuple[list[Campaign], int]:
    """Every campaign file that loads, once per campaign id, and the exit code so far. An id is the
    scope of "sent once" and names the campaign's one ledger (docs/campaign-file.md): two files with
    one id (a copy kept after a rename, an editor's hidden backup, a folder copied to start a new
    campaign) would take turns syncing their audiences and texts into that ledger, each run sending
    whichever file sorts first. Which one is meant cannot be known, so neither is sent, with a line
    naming both. A symbolic link to a campaign file is that same file: it is sent once."""
    worst: int = ExitCode.OK
    by_id: dict[str, dict[Path, Campaign]] = {}  # id -> the files it is read from (links: once), in order
    for file in files:
        try:
            campaign = load(file)
        except InvalidInput as error:
            terminal.error(error)
            worst = max(worst, ExitCode.INVALID)
            continue
        by_id.setdefault(campaign.id, {}).setdefault(campaign.path.resolve(), campaign)
    kept: list[Campaign] = []
    for same in by_id.values():
        if len(same) == 1:
            kept.extend(same.values())
            continue
        for campaign in same.values():
            others = ", ".join(str(other.path) for other in same.values() if other is not campaign)
            problem = (
                f"campaign id {campaign.id!r} is also the id of {others}: none of them is sent; keep one "
                "file per campaign (delete the copy), or give a new campaign its own id"
            )
            terminal.error(InvalidInput([campaign.problem(("id",), problem)]))
            worst = max(worst, ExitCode.INVALID)
    return kept, worst


def poll_if_asked(
    campaign: Campaign, settings: TelesignSettings, outputs: Path, now: datetime, url: str | None = None
) -> int:
    """Poll the campaign when its [sending] poll (else its policy's) says so and it was sent within
    Telesign's 12-hour status window; the exit code (OK when not polled)."""
    wanted = campaign.spec.sending.poll
    if wanted is None:
        wanted = policy_for(campaign.folder).spec.sending.poll
    if not wanted or not sent_since(outputs, campaign, now - WINDOW, url):
        return ExitCode.OK
    try:
        return poll_campaign(campaign, settings, outputs, now, url)
    except CampaignLocked as error:
        terminal.err(f"{campaign.id}: not polled: another process holds it ({error.holder}); the next run does")
        return ExitCode.OK


def sent_since(outputs: Path, campaign: Campaign, since: datetime, url: str | None = None) -> bool:
    ledger = open_existing(campaign_folder(outputs, campaign.id), campaign.id, url)
    if ledger is None:
        return False
    try:
        last = ledger.runs.last("send")
    finally:
        ledger.close()
    if last is None:
        return False
    started = datetime.fromisoformat(last.started_at)
    return (started if started.tzinfo else started.replace(tzinfo=UTC)) >= since


def with_committed_plan(campaign: Campaign, options: SendOptions) -> SendOptions:
    """`[sending] require_plan = true`: the plan beside the campaign, committed as it is, else the
    campaign is not sent (docs/plan.md, "Cron"); its freshness is the send's to check."""
    path = plan_beside(campaign.path)
    how = f"make one with `campaign plan {campaign.path} -o {path}`, review it and commit it"
    if not path.is_file():
        raise CannotProceed(f"{campaign.id}: skipped: the policy requires a reviewed plan and {path} is missing; {how}")
    state = git.state_of(path)
    why = git.unreadable(path) if state is None else None
    if why is not None:
        raise CannotProceed(
            f"{campaign.id}: skipped: the policy requires a committed plan and git cannot say whether {path} "
            f"is committed ({why}); {git.LET_GIT_READ} (the user cron runs as)"
        )
    if state is not None and state.dirty:
        raise CannotProceed(
            f"{campaign.id}: skipped: the policy requires a committed plan and {path} "
            + ("is not committed" if state.commit is None else "differs from its last commit")
            + "; commit it (or make it again and commit it)"
        )
    try:
        saved = read_plan(path)
    except InvalidInput as error:
        raise CannotProceed(f"{campaign.id}: skipped: {error}") from None
    return replace(options, plan=saved, plan_path=str(path))


def opt_ins(outputs: Path, url: str | None) -> int:
    store = read_store(outputs, url)
    if store is None:
        return 0
    try:
        return store.opt_ins()
    finally:
        store.close()


def is_settled(outputs: Path, campaign: Campaign, url: str | None = None) -> bool:
    """Nothing left to do: the files are as the last finished send saw them and no message is
    pending or failed. Skipping such a campaign spares cron a pass over a large audience."""
    folder = campaign_folder(outputs, campaign.id)
    ledger = open_existing(folder, campaign.id, url)
    if ledger is None:
        return False
    try:
        counts = ledger.counts()
        last = ledger.runs.last("send")
        seen = ledger.audience.fingerprint()
    finally:
        ledger.close()
    inputs = source_fingerprint(campaign, find_templates_folder(campaign.folder))
    if last is None or last.finished_at is None or seen != with_opt_ins(inputs, opt_ins(outputs, url)):
        return False
    return not any(counts[state] for state in claimable(resend_unknown=False))
