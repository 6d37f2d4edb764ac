"""`campaign send FILE...`: send campaigns (or rehearse them: --dry-run, --sandbox, --test-to)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runner import terminal
from runner.atomic import atomic_write
from runner.campaign.audience import Recipient
from runner.campaign.expansion import Expansion, Message
from runner.campaign.schema import load
from runner.commands.check import describe
from runner.errors import EndpointUnreachable, ExitCode, InvalidInput, UsageProblem
from runner.ledger.store import Ledger
from runner.sending.run import CampaignRun, SendOptions, campaign_folder, send_campaign
from runner.telesign import settings as config
from runner.telesign.client import Answer, OmnichannelClient


def run(
    files: list[Path],
    dry_run: bool,
    sandbox: bool,
    resend_unknown: bool,
    limit: int | None,
    test_to: str | None,
    recipient_id: str | None,
    outputs: Path,
    log_format: str,
) -> int:
    if recipient_id is not None and test_to is None:
        raise UsageProblem(
            "--recipient goes with --test-to PHONE (to preview one recipient: campaign preview FILE --recipient ID)"
        )
    if test_to is not None and len(files) != 1:
        raise UsageProblem("--test-to sends one campaign's message: name exactly one FILE")
    if dry_run:
        return max(dry_run_one(file, outputs) for file in files)
    if sandbox:
        from runner.sandbox import run_sandbox

        return run_sandbox(files, outputs, log_format)
    settings = config.from_environment()  # missing credentials stop everything here (exit 4)
    if test_to is not None:
        return test_send(files[0], test_to, recipient_id, settings, outputs)
    options = SendOptions(outputs=outputs, resend_unknown=resend_unknown, limit=limit, log_format=log_format)
    worst = 0
    for file in files:
        worst = max(worst, show(send_campaign(load(file), settings, options)))
    return worst


def show(result: CampaignRun) -> int:
    if result.note:
        terminal.err(f"{result.campaign_id}: {result.note}")
    if result.counts:
        shown = ", ".join(f"{n} {state}" for state, n in result.counts.items() if n)
        terminal.out(f"{result.campaign_id}: {shown or 'nothing to send'}")
    if result.report_path is not None:
        terminal.out(f"{result.campaign_id}: report {result.report_path}")
    return result.exit_code


def dry_run_one(file: Path, outputs: Path) -> int:
    """Everything but the network and the ledger: the bodies that would be sent, to dry-run.jsonl."""
    campaign = load(file)
    expansion = Expansion(campaign)
    target = campaign_folder(outputs, campaign.id) / "dry-run.jsonl"
    with atomic_write(target) as handle:
        for item in expansion:
            if isinstance(item, Message):
                handle.write(item.body + b"\n")
        expansion.summary.raise_if_problems()  # before the rename: a failed dry run leaves no file
    terminal.out(f"{file}: dry run: {describe(expansion.summary)}; bodies in {target}")
    return ExitCode.OK


def test_send(
    file: Path, phone: str, recipient_id: str | None, settings: config.TelesignSettings, outputs: Path
) -> int:
    """One recipient's rendered message to a test phone, marked as a test; the campaign's ledger
    state is untouched (the send is kept apart, in test_sends, for audit)."""
    from runner.campaign.phones import BadNumber, to_e164

    campaign = load(file)
    try:
        destination = to_e164(phone, campaign.spec.audience.default_region, "possible")
    except BadNumber as error:
        raise UsageProblem(f"--test-to: {error}") from None
    expansion = Expansion(campaign)
    # Only the chosen recipient is rendered: the audience is read up to it, nothing more.
    chosen = next(
        (
            r
            for r in expansion.audience
            if isinstance(r, Recipient) and (recipient_id is None or recipient_id in (r.recipient_id, r.key, r.phone))
        ),
        None,
    )
    if chosen is None:
        raise UsageProblem(
            f"{file}: no recipient {recipient_id!r} to render" if recipient_id else f"{file}: no recipient to render"
        )
    # A test message must not share the real message's external_id, or its callbacks would
    # settle the real recipient's message.
    message = expansion.message(chosen, phone=destination, external_id=f"{campaign.id}.test")
    if not isinstance(message, Message):
        raise InvalidInput([message])
    body = message.body
    answer = asyncio.run(_post_once(settings, body))
    if answer.verdict == "retry" and answer.http_status is None:
        raise EndpointUnreachable(
            f"TEST {campaign.id}: could not reach {settings.base_url} ({answer.description}): "
            "check TELESIGN_BASE_URL and the network; nothing was sent"
        )
    ledger = Ledger.open(campaign_folder(outputs, campaign.id), campaign.id)
    try:
        ledger.record_test_send(
            chosen.key, destination, answer.http_status, answer.status_code, answer.reference_id, body
        )
    finally:
        ledger.close()
    who = chosen.recipient_id or chosen.phone
    terminal.out(
        f"TEST {campaign.id}: {who}'s message to {destination}: {answer.verdict} "
        f"({answer.http_status} {answer.status_code} {answer.description})"
        + (f", reference_id {answer.reference_id}" if answer.reference_id else "")
    )
    if answer.verdict == "unauthorized":
        return ExitCode.CANNOT_PROCEED
    return ExitCode.OK if answer.verdict == "accepted" else ExitCode.INCOMPLETE


async def _post_once(settings: config.TelesignSettings, body: bytes) -> Answer:
    client = OmnichannelClient(settings, 1)
    try:
        return await client.send(body)
    finally:
        await client.close()
