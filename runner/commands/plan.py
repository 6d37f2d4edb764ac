"""`campaign plan FILE... [-o PLAN.json] [--format text|markdown|json]`: what a send would do now,
sending nothing and changing no ledger (docs/plan.md)."""

from __future__ import annotations

from pathlib import Path

from runner import terminal
from runner.atomic import atomic_write
from runner.campaign.schema import load
from runner.errors import ExitCode, UsageProblem
from runner.ledger.backend import open_read_only, shared_ledger_url
from runner.outputs import campaign_folder
from runner.plan import formats
from runner.plan.compute import PlanOptions, make_plan
from runner.plan.model import Plan


def run(
    files: list[Path],
    output: Path | None,
    fmt: str,
    outputs: Path,
    limit: int | None = None,
    ledger_option: str | None = None,
) -> int:
    url = shared_ledger_url(ledger_option)
    if output is not None and len(files) != 1:
        raise UsageProblem("-o PLAN.json saves one campaign's plan: name exactly one FILE")
    for file in files:
        plan = plan_file(file, outputs, PlanOptions(limit=limit, outputs=outputs, ledger_url=url))
        if output is not None:
            save(plan, output)
            terminal.err(
                f"{plan.campaign_id}: plan saved to {output} (valid until {plan.valid_until:%Y-%m-%d %H:%M} UTC)"
            )
        terminal.out(show(plan, fmt).rstrip("\n"))
    return ExitCode.OK


def plan_file(file: Path, outputs: Path, options: PlanOptions) -> Plan:
    campaign = load(file)
    ledger = open_read_only(campaign_folder(outputs, campaign.id), campaign.id, options.ledger_url)
    try:
        return make_plan(campaign, ledger, options)
    finally:
        if ledger is not None:
            ledger.close()


def show(plan: Plan, fmt: str) -> str:
    if fmt == "json":
        return plan.to_json()
    return formats.markdown(plan) if fmt == "markdown" else formats.text(plan)


def save(plan: Plan, path: Path) -> None:
    """Atomically: a send (or cron) never reads half a plan."""
    with atomic_write(path, "w", encoding="utf-8") as handle:
        handle.write(plan.to_json())
