"""`campaign status FILE`: counts by state, delivery once callbacks are in, what it cost (summed per
channel and country, docs/report.md "Cost"), and the last runs."""

from __future__ import annotations

from pathlib import Path

from runner import terminal
from runner.campaign.schema import load
from runner.commands.outputs_hint import sandbox_hint
from runner.errors import ExitCode, InvalidInput
from runner.ledger.backend import describe, open_existing, shared_ledger_url
from runner.ledger.records import RunInfo
from runner.outputs import campaign_folder
from runner.plan.model import plan_beside, read_plan
from runner.policy.store import read_store
from runner.report.cost import describe_totals, summarize

RUNS_SHOWN = 10
# A run stopped by Ctrl-C or SIGTERM still finishes (runner.sending.signals): say how it ended.
STOPPED = {int(ExitCode.INTERRUPTED): " (interrupted)", int(ExitCode.TERMINATED): " (terminated)"}


def describe_run(info: RunInfo) -> str:
    stopped = STOPPED.get(info.exit_code or 0, "")
    finished = f"{info.finished_at}{stopped}" if info.finished_at else "not finished (killed, or still running)"
    code = info.exit_code if info.exit_code is not None else "-"
    line = f"#{info.id} started {info.started_at}, finished {finished}, exit {code}"
    if info.tree_dirty is not None:
        commit = info.campaign_commit[:12] if info.campaign_commit else "never committed"
        differed = " (work tree differed)" if info.tree_dirty and info.campaign_commit else ""
        line += f", campaign commit {commit}{differed}"
    if info.plan_fingerprint:
        line += f", plan {info.plan_fingerprint[:16]}"
    return line


def plan_estimate(file: Path, fingerprint: str | None) -> str:
    """The cost the reviewed plan the last send applied expected, when that plan is the one beside
    the campaign (`<campaign>.plan.json`), to read beside what Telesign billed (docs/plan.md)."""
    path = plan_beside(file)
    if fingerprint is None or not path.is_file():
        return ""
    try:
        plan = read_plan(path)
    except InvalidInput:
        return ""
    cost = plan.cost
    if plan.fingerprint != fingerprint or cost.best is None or cost.worst is None:
        return ""
    return (
        f"plan estimate ({path.name}): {cost.best:.4f} to {cost.worst:.4f} {cost.currency or ''}".rstrip()
        + " (best: every Viber message delivered; worst: every one also sent by SMS)"
    )


def run(file: Path, outputs: Path, ledger_option: str | None = None) -> int:
    url = shared_ledger_url(ledger_option)
    campaign = load(file)
    folder = campaign_folder(outputs, campaign.id)
    ledger = open_existing(folder, campaign.id, url)
    if ledger is None:
        hint = sandbox_hint(outputs, campaign.id, "status", file)
        terminal.out(
            f"{campaign.id}: never sent (no ledger in {describe(folder, url)})" + (f"; {hint}" if hint else "")
        )
        return ExitCode.OK
    try:
        counts = ledger.counts()
        delivery = ledger.delivery_counts()
        send_runs = ledger.runs.latest("send", RUNS_SHOWN)
        enrich_run = ledger.runs.last("enrich")
        deferred = ledger.deferred()
        poll_run = ledger.runs.last("poll")
        cost = summarize(ledger.cost_rows())
    finally:
        ledger.close()
    store = read_store(outputs, url)
    replies = store.replies_to(campaign.id) if store is not None else {}
    if store is not None:
        store.close()
    terminal.out(f"{campaign.id}: " + (", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no messages"))
    if counts.get("sending") or counts.get("unknown"):
        terminal.out(
            f"  {counts.get('sending', 0) + counts.get('unknown', 0)} may have reached Telesign without an answer: "
            "enrich with callback logs to settle them, "
            "or resend with --resend-unknown if you accept a possible duplicate"
        )
    if deferred:
        # by the hour their window opens (UTC), soonest first (docs/policy.md)
        by_hour: dict[str, int] = {}
        for at, n in deferred:
            hour = at[:13] + ":00Z"
            by_hour[hour] = by_hour.get(hour, 0) + n
        shown = ", ".join(f"{n} at {hour}" for hour, n in list(by_hour.items())[:8])
        more = f", and {len(by_hour) - 8} later hours" if len(by_hour) > 8 else ""
        terminal.out(f"  deferred to their send window: {shown}{more}")
    if replies:
        stops = sum(1 for _, stopped in replies.values() if stopped)
        terminal.out(
            f"  replies: {sum(n for n, _ in replies.values())} from {len(replies)} recipient(s), {stops} opted out"
        )
    if delivery["with_callbacks"]:
        terminal.out(
            f"  delivery: {delivery['delivered_viber']} on Viber, {delivery['delivered_sms']} by SMS fallback, "
            f"{delivery['read']} read, {delivery['failed']} failed, {delivery['in_progress']} awaiting a final status"
        )
    if cost:
        terminal.out(f"  cost: {describe_totals(cost)}, as Telesign reported it")
        for line in cost:
            terminal.out(
                f"    {line.channel:<6} {line.country:<3} {line.messages:>7} messages"
                f" {line.total:>12.4f} {line.currency}"
            )
    if send_runs:
        terminal.out('  sends, newest first (docs/plan.md, "Git provenance"):')
        for info in send_runs:
            terminal.out(f"    {describe_run(info)}")
        if all(info.tree_dirty is None for info in send_runs):
            terminal.out("  (not in a git repository when sent: no campaign commits recorded)")
        estimate = plan_estimate(file, send_runs[0].plan_fingerprint)
        if estimate:
            terminal.out(f"  {estimate}")
    if enrich_run is not None:
        terminal.out(f"  last enrich: {enrich_run.finished_at or enrich_run.started_at}")
    if poll_run is not None:
        terminal.out(f"  last poll: {poll_run.finished_at or poll_run.started_at}")
    return ExitCode.OK
