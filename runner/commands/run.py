"""`campaign run [DIR]`, for cron: send every campaign under DIR whose schedule is due.

A campaign not yet due is skipped quietly; one past its end has what is unsent marked expired;
one locked by another run is skipped with a line; a complete one is left alone. The exit code
is the worst (highest) of the campaigns'."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from runner import terminal
from runner.campaign.schema import Campaign, find_files, load
from runner.commands.send import show
from runner.errors import CampaignLocked, ExitCode, InvalidInput
from runner.ledger.backend import open_existing
from runner.ledger.states import claimable
from runner.sending.run import SendOptions, campaign_folder, send_campaign, source_fingerprint
from runner.telesign import settings as config


def run(directory: Path, outputs: Path, log_format: str, now: datetime | None = None) -> int:
    settings = config.from_environment()
    now = now or datetime.now(UTC)
    worst: int = ExitCode.OK
    for file in find_files([directory]):
        try:
            campaign = load(file)
        except InvalidInput as error:
            terminal.error(error)
            worst = max(worst, ExitCode.INVALID)
            continue
        schedule = campaign.spec.schedule
        if schedule.start is not None and now < schedule.start:
            terminal.out(f"{campaign.id}: not due until {schedule.start.isoformat()}")
            continue
        if is_settled(outputs, campaign):
            terminal.out(f"{campaign.id}: complete")
            continue
        try:
            options = SendOptions(outputs=outputs, log_format=log_format, now=now, command="run")
            result = send_campaign(campaign, settings, options)
        except CampaignLocked as error:
            # Another process is sending it (a long run, a manual send): this run has nothing to do
            # for it, which is not a failure; the next cron run takes it up (docs/sending.md).
            terminal.err(f"{campaign.id}: skipped: another process holds it ({error.holder}); the next run takes it up")
            continue
        except InvalidInput as error:
            terminal.error(error)
            worst = max(worst, ExitCode.INVALID)
            continue
        worst = max(worst, show(result))
    return worst


def is_settled(outputs: Path, campaign: Campaign) -> bool:
    """Nothing left to do: the files are as the last finished send saw them and no message is
    pending or failed. Skipping such a campaign spares cron a pass over a large audience."""
    folder = campaign_folder(outputs, campaign.id)
    ledger = open_existing(folder, campaign.id)
    if ledger is None:
        return False
    try:
        counts = ledger.counts()
        last = ledger.runs.last("send")
        seen = ledger.audience.fingerprint()
    finally:
        ledger.close()
    if last is None or last.finished_at is None or seen != source_fingerprint(campaign):
        return False
    return not any(counts[state] for state in claimable(resend_unknown=False))
