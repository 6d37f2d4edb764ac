"""`campaign send --sandbox FILE`: a campaign sent end to end on this machine, nothing real.

The simulator and the callback receiver run in this process on free loopback ports with demo
credentials; the campaign is sent to the simulator, its signed callbacks are received and
logged, the report is enriched, and a summary a marketer reads at a glance is printed, with what
the campaign would cost at the simulator's prices. Outputs go to <outputs>/sandbox/<campaign-id>/,
fresh each time, so a rehearsal never touches the real campaign's ledger.

With `--no-callbacks` no receiver runs, as on a host Telesign cannot reach: the simulator keeps its
journal in the sandbox folder instead, and `campaign poll --sandbox FILE` later starts a simulator
on that journal and asks it for every message's status (GET /v1/omnichannel/{reference_id}), as
`campaign poll` asks Telesign (docs/simulator.md, "The sandbox")."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from runner import terminal
from runner.callbacks.enrichment import enrich
from runner.callbacks.receiver import create_receiver
from runner.campaign.schema import Campaign
from runner.errors import ExitCode
from runner.ledger.backend import open_ledger
from runner.ledger.lock import CampaignLock
from runner.outputs import SANDBOX_FOLDER, campaign_folder
from runner.policy.gate import record_settled
from runner.policy.replies import ReplyRecorder
from runner.policy.rules import rules_for
from runner.policy.store import STORE_FILE, open_store
from runner.report import files as report_files
from runner.report.cost import CostLine, describe_totals, summarize
from runner.report.csv import ROW_DESCRIPTION
from runner.sending.run import SendOptions, send_campaign
from runner.serving import BackgroundServer
from runner.simulator import SimulatorConfig, create_app
from runner.telesign.auth import DEMO_API_KEY, DEMO_CUSTOMER_ID, Credentials
from runner.telesign.settings import TelesignSettings

# Simulated delays are real Telesign delays times this; the longest (a Viber fallback_time) is
# compressed to about FALLBACK_SECONDS so that the whole rehearsal takes seconds.
FALLBACK_SECONDS = 1.5
SETTLE_TIMEOUT = 20.0
JOURNAL = "simulator.jsonl"  # what a --no-callbacks rehearsal leaves for `campaign poll --sandbox`
CREDENTIALS = Credentials(DEMO_CUSTOMER_ID, DEMO_API_KEY)
REHEARSALS = ".rehearsals"  # <outputs>/sandbox/.rehearsals/<campaign-id>/lock: one rehearsal at a time


def run_sandbox(
    campaigns: list[Campaign], outputs: Path, log_format: str, limit: int | None = None, callbacks: bool = True
) -> int:
    if any(name.startswith("TELESIGN_") for name in os.environ):
        terminal.err("sandbox: ignoring TELESIGN_* settings; sending to a local simulator with demo credentials")
    worst = 0
    for campaign in campaigns:
        worst = max(worst, rehearse(campaign, outputs / SANDBOX_FOLDER, log_format, limit, callbacks))
    return worst


def time_scale(campaign: Campaign) -> float:
    return min(1.0, FALLBACK_SECONDS / campaign.spec.viber.fallback_time)


def rehearse(
    campaign: Campaign, outputs: Path, log_format: str, limit: int | None = None, callbacks: bool = True
) -> int:
    # One rehearsal of a campaign at a time: a second one would empty the folder under the first
    # (its ledger, its lock) and each would report the other's counts. The lock lives outside the
    # folder that is emptied; the send inside takes the folder's own lock as a real send does.
    with CampaignLock(outputs / REHEARSALS / campaign.id, campaign.id, "send --sandbox"):
        return _rehearse(campaign, outputs, log_format, limit, callbacks)


def _rehearse(campaign: Campaign, outputs: Path, log_format: str, limit: int | None, callbacks: bool) -> int:
    folder = campaign_folder(outputs, campaign.id)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    credentials = CREDENTIALS
    scale = time_scale(campaign)
    if not callbacks:
        return rehearse_without_callbacks(campaign, folder, outputs, log_format, limit)
    log = folder / "callbacks.jsonl"
    # Replies go to the sandbox's own opt-out store, <outputs>/sandbox/recipients.sqlite, which the
    # next rehearsal reads too (never the real one): a STOP here suppresses the phone there.
    replies_store = open_store(outputs, None)  # (SQLite: a rehearsal never touches a shared ledger)
    rules = rules_for(campaign)
    recorder = ReplyRecorder(replies_store, rules.keywords)
    receiver = create_receiver(log, DEMO_API_KEY, on_reply=recorder.take)
    with BackgroundServer(receiver) as callback_server:
        simulator = create_app(
            SimulatorConfig(
                credentials=credentials, callback_url=callback_server.url + "/telesign/callbacks", time_scale=scale
            )
        )
        with BackgroundServer(simulator) as telesign:
            terminal.err(f"sandbox: simulator on {telesign.url}, callbacks to {callback_server.url}, time x{scale:g}")
            settings = TelesignSettings(credentials, telesign.url, "basic")
            result = send_campaign(
                campaign, settings, SendOptions(outputs=outputs, log_format=log_format, limit=limit, checked=True)
            )
            started = time.monotonic()
            settled = simulator.wait_callbacks_settled(SETTLE_TIMEOUT)
            waited = time.monotonic() - started
    ledger = open_ledger(folder, campaign.id)
    try:
        enriched = enrich(
            ledger,
            [log],
            folder / "report.csv",
            lambda: replies_store.replies_to(campaign.id),
            on_settled=lambda settled: record_settled(replies_store, rules, settled),
        )
        counts, delivery, attempted = ledger.counts(), ledger.delivery_counts(), ledger.attempted()
        deferred = ledger.deferred()
        opted_out = sum(1 for row in ledger.report_rows() if str(row[ROW_DESCRIPTION] or "").startswith("opted out"))
        cost = summarize(ledger.cost_rows())
    finally:
        ledger.close()
        replies_store.close()
    refused = counts["rejected"] + counts["failed"] + counts["unknown"]
    skipped = {state: counts[state] for state in ("suppressed", "duplicate", "invalid") if counts[state]}
    split = ", ".join(f"{n} {state}" for state, n in skipped.items())
    delivered = delivery["delivered_viber"] + delivery["delivered_sms"]
    lines = [
        f"sandbox {campaign.id}: {counts['accepted']} accepted, {refused} refused or not sent"
        + (f", {sum(skipped.values())} skipped ({split})" if skipped else ""),
        *delivery_lines(delivery, cost, "" if settled else f" (stopped waiting after {waited:.0f}s)"),
        f"  funnel: {sum(counts.values())} recipients -> {attempted} sent -> {counts['accepted']} accepted"
        f" -> {delivered} delivered -> {delivery['read']} read",
        f"  {enriched.callbacks} callbacks received; report {folder / 'report.csv'}",
        f"  its outputs are under {outputs}: campaign status {campaign.path} --outputs {outputs}",
    ]
    stops = recorder.counts.get("opt_out", 0)
    if stops:
        lines.insert(-1, f"  {stops} replied STOP: opted out (kept in {outputs / STORE_FILE} for the next rehearsal)")
    others = sum(recorder.counts.values()) - stops
    if others:
        lines.insert(-1, f"  {others} other replies")
    if opted_out:
        lines.insert(1, f"  not sent, opted out earlier:  {opted_out}")
    if deferred:
        lines.insert(
            1, f"  deferred to their send window: {sum(n for _, n in deferred)} (the first at {deferred[0][0]})"
        )
    # Last, so that a terminal or a script finds the page to open on the final line.
    lines.append(f"  open the summary page: {report_files.html_path(folder / 'report.csv')}")
    for line in lines:
        terminal.out(line)
    return result.exit_code


def delivery_lines(delivery: dict[str, int], cost: list[CostLine], late: str) -> list[str]:
    return [
        f"  delivered on Viber:          {delivery['delivered_viber']}",
        f"  fell back to SMS, delivered: {delivery['delivered_sms']}",
        f"  failed on every channel:     {delivery['failed']}",
        f"  read on Viber:               {delivery['read']}",
        f"  still in progress:           {delivery['in_progress']}{late}",
        f"  cost (simulator's prices):   {describe_totals(cost)}",
    ]


def rehearse_without_callbacks(
    campaign: Campaign, folder: Path, outputs: Path, log_format: str, limit: int | None
) -> int:
    """No receiver: the simulator's journal is kept for `campaign poll --sandbox`."""
    scale = time_scale(campaign)
    simulator = create_app(SimulatorConfig(credentials=CREDENTIALS, time_scale=scale, journal_path=folder / JOURNAL))
    with BackgroundServer(simulator) as telesign:
        terminal.err(f"sandbox: simulator on {telesign.url}, no callbacks, time x{scale:g}")
        settings = TelesignSettings(CREDENTIALS, telesign.url, "basic")
        options = SendOptions(outputs=outputs, log_format=log_format, limit=limit, checked=True)
        result = send_campaign(campaign, settings, options)
    ledger = open_ledger(folder, campaign.id)
    try:
        counts = ledger.counts()
    finally:
        ledger.close()
    terminal.out(f"sandbox {campaign.id}: {counts['accepted']} sent, no callbacks")
    terminal.out(f"  delivery statuses: campaign poll --sandbox {campaign.path} --outputs {outputs.parent}")
    return result.exit_code


def poll_sandbox(campaign: Campaign, outputs: Path) -> int:
    """`campaign poll --sandbox FILE`: a simulator on the journal a --no-callbacks rehearsal left,
    asked for every message's status once its planned statuses have all happened."""
    from runner.commands.poll import poll_campaign

    folder = campaign_folder(outputs / SANDBOX_FOLDER, campaign.id)
    journal = folder / JOURNAL
    if not journal.exists():
        terminal.err(
            f"{campaign.id}: no sandbox rehearsal without callbacks in {folder}; "
            "run `campaign send --sandbox --no-callbacks FILE` first"
        )
        return ExitCode.INVALID
    simulator = create_app(SimulatorConfig(credentials=CREDENTIALS, time_scale=time_scale(campaign)))
    simulator.restore(journal)
    wait = min(SETTLE_TIMEOUT, max(0.0, simulator.last_change_at() - simulator.clock()))
    if wait:
        terminal.err(f"sandbox: waiting {wait:.1f}s for the simulated deliveries to happen")
        time.sleep(wait)
    with BackgroundServer(simulator) as telesign:
        terminal.err(f"sandbox: simulator on {telesign.url}, restored from {journal}")
        settings = TelesignSettings(CREDENTIALS, telesign.url, "basic")
        code = poll_campaign(campaign, settings, outputs / SANDBOX_FOLDER)
    ledger = open_ledger(folder, campaign.id)
    try:
        delivery, cost = ledger.delivery_counts(), summarize(ledger.cost_rows())
    finally:
        ledger.close()
    terminal.out(f"sandbox {campaign.id}:")
    for line in delivery_lines(delivery, cost, ""):
        terminal.out(line)
    return code
