"""`campaign enrich FILE --callbacks LOG...`: fill the report's delivery columns from callback logs."""

from __future__ import annotations

from pathlib import Path

from runner import terminal
from runner.callbacks.enrichment import EnrichResult, enrich
from runner.campaign.schema import load
from runner.commands.outputs_hint import sandbox_hint
from runner.errors import ExitCode
from runner.ledger.backend import open_existing
from runner.ledger.lock import CampaignLock
from runner.sending.run import campaign_folder


def run(file: Path, logs: list[Path], outputs: Path) -> int:
    campaign = load(file)
    folder = campaign_folder(outputs, campaign.id)
    ledger = open_existing(folder, campaign.id)
    if ledger is None:
        hint = sandbox_hint(outputs, campaign.id, "enrich", file) or "send the campaign first"
        terminal.err(f"{campaign.id}: nothing sent yet (no ledger in {folder}); {hint}", "error", "error")
        return ExitCode.INVALID
    try:
        with CampaignLock(folder, campaign.id, "enrich"):
            run_id = ledger.runs.start("enrich")
            result = enrich(ledger, logs, folder / "report.csv")
            ledger.runs.finish(
                run_id,
                ExitCode.OK,
                {"callbacks": result.callbacks, "malformed": result.malformed, "unmatched": result.unmatched},
            )
    finally:
        ledger.close()
    show(campaign.id, result, folder / "report.csv")
    return ExitCode.OK


def show(campaign_id: str, result: EnrichResult, report_path: Path) -> None:
    for line in result.problems:
        terminal.err(line)
    hidden = result.malformed + result.unmatched - len(result.problems)
    if hidden > 0:
        terminal.err(f"... and {hidden} more lines skipped")
    terminal.out(
        f"{campaign_id}: read {result.lines} lines: {result.callbacks} callbacks for {result.messages} messages"
        + (f" ({result.settled} unknown settled as accepted)" if result.settled else "")
        + f", {result.malformed} malformed, {result.unmatched} not of this campaign; report {report_path}"
    )
