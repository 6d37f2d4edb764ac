"""`campaign poll FILE [--outputs DIR] [--ledger URL] [--sandbox]`: ask Telesign for the delivery
status of every accepted message that has no final one yet (docs/callbacks.md, "Polling"). With a
shared ledger, its answers are merged there, as `enrich` does (one poll or enrich of a campaign at
a time); the poll log stays in this host's outputs folder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from runner import terminal
from runner.callbacks.poll import PollResult, poll
from runner.campaign.schema import Campaign, load
from runner.errors import ExitCode
from runner.ledger.backend import campaign_lock, describe, open_existing, shared_ledger_url
from runner.outputs import campaign_folder
from runner.telesign import settings as config
from runner.telesign.settings import TelesignSettings


def run(file: Path, outputs: Path, sandbox: bool, ledger_option: str | None = None) -> int:
    campaign = load(file)
    if sandbox:
        from runner.sandbox import poll_sandbox

        return poll_sandbox(campaign, outputs)
    url = shared_ledger_url(ledger_option)
    return poll_campaign(campaign, config.from_environment(), outputs, url=url)


def poll_campaign(
    campaign: Campaign,
    settings: TelesignSettings,
    outputs: Path,
    now: datetime | None = None,
    url: str | None = None,
) -> int:
    """Poll one campaign, print what came of it; the exit code. `url`: a shared ledger's."""
    folder = campaign_folder(outputs, campaign.id)
    ledger = open_existing(folder, campaign.id, url)
    if ledger is None:
        terminal.err(f"{campaign.id}: nothing sent yet (no ledger in {describe(folder, url)}); send the campaign first")
        return ExitCode.INVALID
    folder.mkdir(parents=True, exist_ok=True)  # (a shared ledger's campaign may never have been sent from this host)
    try:
        with campaign_lock(folder, campaign.id, "poll", url):
            run_id = ledger.runs.start("poll")
            result = poll(ledger, settings, campaign.spec.sending.rate, folder, now)
            code = ExitCode.CANNOT_PROCEED if result.unauthorized else ExitCode.OK
            ledger.runs.finish(run_id, code, counts(result))
    finally:
        ledger.close()
    show(campaign.id, result, folder / "report.csv")
    return code


def counts(result: PollResult) -> dict[str, int]:
    return {
        "asked": result.asked,
        "answered": result.answered,
        "no_longer_available": result.no_longer_available,
        "invalid": result.invalid,
        "failed": result.failed,
    }


def show(campaign_id: str, result: PollResult, report_path: Path) -> None:
    for line in result.problems[:20]:
        terminal.err(line)
    if result.unauthorized:
        terminal.err(f"{campaign_id}: Telesign refused the credentials ({result.unauthorized}); polling stopped")
    terminal.out(
        f"{campaign_id}: asked {result.asked}, {result.answered} answered"
        + (f", {result.failed} without an answer (asked again next time)" if result.failed else "")
        + (f", {result.invalid} unknown to Telesign" if result.invalid else "")
        + (
            f"; status no longer available for {result.no_longer_available} (sent over 12 hours ago)"
            if result.no_longer_available
            else ""
        )
    )
    enriched = result.enriched
    if enriched is not None:
        for line in enriched.problems:
            terminal.err(line)
        terminal.out(f"{campaign_id}: report {report_path}")
