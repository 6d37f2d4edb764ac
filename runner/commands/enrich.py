"""`campaign enrich FILE --callbacks LOG...`: fill the report's delivery columns from callback logs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from runner import terminal
from runner.callbacks.enrichment import EnrichResult, enrich
from runner.campaign.schema import load
from runner.commands.outputs_hint import sandbox_hint
from runner.errors import ExitCode
from runner.ledger.backend import campaign_lock, describe, open_existing, shared_ledger_url
from runner.outputs import campaign_folder
from runner.policy.gate import record_settled
from runner.policy.replies import Reply, apply_reply
from runner.policy.rules import rules_for
from runner.policy.store import open_store, where


def run(file: Path, logs: list[Path], outputs: Path, ledger_option: str | None = None) -> int:
    url = shared_ledger_url(ledger_option)
    campaign = load(file)
    folder = campaign_folder(outputs, campaign.id)
    ledger = open_existing(folder, campaign.id, url)
    if ledger is None:
        hint = sandbox_hint(outputs, campaign.id, "enrich", file) or "send the campaign first"
        terminal.err(
            f"{campaign.id}: nothing sent yet (no ledger in {describe(folder, url)}); {hint}", "error", "error"
        )
        return ExitCode.INVALID
    store = open_store(outputs, url)
    try:
        with campaign_lock(folder, campaign.id, "enrich", url):
            run_id = ledger.runs.start("enrich")
            # Replies, in the same read of the logs: STOP and START into the repository's opt-out
            # store (docs/policy.md), all recorded before the report counts them
            rules = rules_for(campaign)
            keywords = rules.keywords
            meanings: Counter[str] = Counter()

            def take_reply(reply: Reply) -> None:
                meanings[apply_reply(store, reply, keywords)] += 1

            result = enrich(
                ledger,
                logs,
                folder / "report.csv",
                lambda: store.replies_to(campaign.id),
                on_reply=take_reply,
                # messages whose answer was lost, now known accepted: counted by the caps from now on
                on_settled=lambda settled: record_settled(store, rules, settled),
            )
            ledger.runs.finish(
                run_id,
                ExitCode.OK,
                {"callbacks": result.callbacks, "malformed": result.malformed, "unmatched": result.unmatched},
            )
    finally:
        ledger.close()
        store.close()
    show(campaign.id, result, folder / "report.csv")
    if meanings:
        terminal.out(
            f"{campaign.id}: {sum(meanings.values())} replies read: {meanings['opt_out']} opted out, "
            f"{meanings['opt_in']} opted back in ({where(outputs, url)})"
        )
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
