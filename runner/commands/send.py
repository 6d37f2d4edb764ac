"""`campaign send FILE...`: send campaigns (or rehearse them: --dry-run, --sandbox, --test-to)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runner import terminal
from runner.atomic import atomic_write
from runner.campaign.expansion import Expansion, Message
from runner.campaign.schema import Campaign, load
from runner.errors import EndpointUnreachable, ExitCode, InvalidInput, Problem, UsageProblem, WrongEndpoint
from runner.ledger.backend import open_ledger, shared_ledger_url
from runner.ledger.records import TestSend
from runner.outputs import campaign_folder
from runner.sending.audience_pass import CheckedAudience, check_every_row
from runner.sending.run import CampaignRun, SendOptions, send_campaign
from runner.sending.stops import wrong_endpoint_line
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
    wait: bool = False,
    plan_path: Path | None = None,
    no_callbacks: bool = False,
    ledger_option: str | None = None,
) -> int:
    url = shared_ledger_url(ledger_option)
    if no_callbacks and not sandbox:
        raise UsageProblem(
            "--no-callbacks goes with --sandbox (a real send never runs a receiver: poll with `campaign poll FILE`)"
        )
    if plan_path is not None:
        return send_planned(
            files,
            plan_path,
            dry_run,
            sandbox,
            resend_unknown,
            limit,
            test_to,
            outputs,
            log_format,
            wait,
            url,
            recipient_id,
        )
    refuse_conflicts(files, dry_run, sandbox, resend_unknown, limit, test_to, recipient_id)
    if wait and (dry_run or sandbox or test_to is not None):
        raise UsageProblem(
            "--wait sends a campaign's deferred messages as their windows open; it goes with a real send only, "
            "not --dry-run, --sandbox or --test-to"
        )
    if test_to is not None:
        settings = config.from_environment()  # missing credentials stop everything here (exit 4)
        return test_send(files[0], test_to, recipient_id, settings, outputs, url)
    # One invalid file: nothing is sent (nor written), whatever the order. The rows are kept for
    # the ledger's sync; a dry run and a sandbox have no use for them.
    audiences = checked(files, keep=not (dry_run or sandbox))
    if dry_run:
        return max(dry_run_one(audience.expansion.campaign, outputs, limit) for audience in audiences)
    try:
        return send_checked(audiences, sandbox, no_callbacks, resend_unknown, limit, outputs, log_format, wait, url)
    finally:
        close_all(audiences)


def send_checked(
    audiences: list[CheckedAudience],
    sandbox: bool,
    no_callbacks: bool,
    resend_unknown: bool,
    limit: int | None,
    outputs: Path,
    log_format: str,
    wait: bool,
    url: str | None,
) -> int:
    campaigns = [audience.expansion.campaign for audience in audiences]
    if sandbox:
        from runner.sandbox import run_sandbox

        return run_sandbox(campaigns, outputs, log_format, limit, callbacks=not no_callbacks)
    settings = config.from_environment()
    options = SendOptions(
        outputs=outputs,
        resend_unknown=resend_unknown,
        limit=limit,
        log_format=log_format,
        checked=True,
        wait=wait,
        ledger_url=url,
    )
    worst = 0
    said: set[str] = set()
    for audience in audiences:
        worst = max(worst, show(send_campaign(audience.expansion.campaign, settings, options, audience), said))
        if worst in (ExitCode.INTERRUPTED, ExitCode.TERMINATED):
            break  # a stop stops every campaign, not just the one being sent
    return worst


def send_planned(
    files: list[Path],
    plan_path: Path,
    dry_run: bool,
    sandbox: bool,
    resend_unknown: bool,
    limit: int | None,
    test_to: str | None,
    outputs: Path,
    log_format: str,
    wait: bool = False,
    url: str | None = None,
    recipient_id: str | None = None,
) -> int:
    """`send FILE --plan PLAN.json`: the reviewed plan, or nothing (docs/plan.md); with --wait, its
    deferred messages as their windows open."""
    from runner.plan.model import read_plan

    if len(files) != 1:
        raise UsageProblem("--plan applies one campaign's plan: name exactly one FILE")
    clashing = [
        name
        for name, given in (
            ("--dry-run", dry_run),
            ("--sandbox", sandbox),
            ("--resend-unknown", resend_unknown),
            ("--limit", limit is not None),
            ("--test-to", test_to is not None),
            # (refused, not ignored: a user naming one recipient must not send the whole campaign)
            ("--recipient", recipient_id is not None),
        )
        if given
    ]
    if clashing:
        # Only --limit has a plan-side equivalent; the others are rehearsals or one-recipient
        # sends, which a plan is not.
        how = "; to cap the send, make the plan with `campaign plan FILE --limit N -o PLAN.json`" if limit else ""
        raise UsageProblem(f"--plan sends exactly what the plan says: drop {', '.join(clashing)}{how}")
    saved = read_plan(plan_path)
    settings = config.from_environment()
    options = SendOptions(
        outputs=outputs, log_format=log_format, plan=saved, plan_path=str(plan_path), wait=wait, ledger_url=url
    )
    return show(send_campaign(load(files[0]), settings, options))


def refuse_conflicts(
    files: list[Path],
    dry_run: bool,
    sandbox: bool,
    resend_unknown: bool,
    limit: int | None,
    test_to: str | None,
    recipient_id: str | None,
) -> None:
    """Options that cannot mean anything together are a usage error (exit 2), never silently
    ignored: the table in docs/sending.md ("Options together") is this function."""
    modes = [name for name, on in (("--dry-run", dry_run), ("--sandbox", sandbox), ("--test-to", test_to)) if on]
    if len(modes) > 1:
        raise UsageProblem(
            f"{' and '.join(modes)} cannot be used together: --dry-run sends nothing, --sandbox sends to a local "
            "simulator, --test-to sends one message to a test phone; pick one"
        )
    if resend_unknown and modes:
        raise UsageProblem(
            f"--resend-unknown resends messages of the campaign's ledger, which {modes[0]} does not use: "
            "drop one of them"
        )
    if recipient_id is not None and test_to is None:
        raise UsageProblem(
            "--recipient goes with --test-to PHONE (to preview one recipient: campaign preview FILE --recipient ID)"
        )
    if test_to is not None and limit is not None:
        raise UsageProblem("--limit does not apply to --test-to, which sends exactly one message")
    if test_to is not None and len(files) != 1:
        raise UsageProblem("--test-to sends one campaign's message: name exactly one FILE")


def checked(files: list[Path], keep: bool = True) -> list[CheckedAudience]:
    """Every file loaded and every row rendered before anything is sent: a problem in any file
    means nothing is sent from any of them, and nothing is written (docs/sending.md). With `keep`
    the rows are kept (runner.sending.audience_pass) so that the ledger's sync does not render
    them again; the caller closes them."""
    audiences: list[CheckedAudience] = []
    problems: list[Problem] = []
    invalid = 0
    try:
        for file in files:
            try:
                audiences.append(check_every_row(load(file), keep=keep))
            except InvalidInput as error:
                invalid += 1
                problems.extend(error.problems)
    except BaseException:
        close_all(audiences)
        raise
    if problems:
        close_all(audiences)
        raise InvalidInput(
            problems,
            f"{invalid} of {len(files)} campaign file(s) have problems: nothing was sent" if len(files) > 1 else None,
        )
    return audiences


def close_all(audiences: list[CheckedAudience]) -> None:
    for audience in audiences:
        audience.close()


def show(result: CampaignRun, said: set[str] | None = None) -> int:
    """The run's lines; `said` holds what this command already said once (outside git: once per
    command, not once per campaign, docs/plan.md)."""
    campaign = result.campaign_id
    if result.note:
        terminal.err(f"{campaign}: {result.note}", "warning", "notice", campaign=campaign)
    if result.no_commit is not None:
        line = f"{result.no_commit}: runs record no campaign commit (report column campaign_commit empty)"
        if said is None or line not in said:
            terminal.err(line, "info", "notice")
            if said is not None:
                said.add(line)
    if result.counts:
        shown = ", ".join(f"{n} {state}" for state, n in result.counts.items() if n)
        counts = {state: n for state, n in result.counts.items() if n}
        terminal.out(f"{campaign}: {shown or 'nothing to send'}", "counts", campaign=campaign, counts=counts)
    if result.deferred:
        terminal.out(
            f"{campaign}: {result.deferred} (their send window; see docs/policy.md)", "deferred", campaign=campaign
        )
    if result.report_path is not None:
        page = result.report_path.with_name("report.html")
        terminal.out(
            f"{campaign}: report {result.report_path} (summary page {page})",
            "report",
            campaign=campaign,
            report=result.report_path,
            page=page,
        )
    return result.exit_code


def dry_run_one(campaign: Campaign, outputs: Path, limit: int | None) -> int:
    """Everything but the network and the ledger: the bodies that would be sent, to dry-run.jsonl.
    Every row is checked, as a send would; with --limit N only the first N bodies are written
    (a dry run has no ledger, so these are the audience's first N messages)."""
    # (imported here: a send does without them, and starts sooner)
    from runner.campaign import parallel
    from runner.campaign.cache import Cache, folder_for
    from runner.commands.check import describe

    expansion = Expansion(campaign)
    target = campaign_folder(outputs, campaign.id) / "dry-run.jsonl"
    written = 0
    with atomic_write(target) as handle:

        def write(body: bytes) -> None:
            nonlocal written
            if limit is None or written < limit:
                handle.write(body + b"\n")
                written += 1

        # A large audience on every core, its verdicts remembered as `check` does (docs/commands.md).
        cache = Cache(folder_for(outputs))
        if parallel.wanted(expansion) is None or not parallel.expand(expansion, cache, write):
            for item in expansion:
                if isinstance(item, Message):
                    write(item.body)
        expansion.summary.raise_if_problems()  # before the rename: a failed dry run leaves no file
    first = f" (the first {written} of them written, --limit {limit})" if limit is not None else ""
    terminal.out(f"{campaign.path}: dry run: {describe(expansion.summary)}{first}; bodies in {target}")
    return ExitCode.OK


def test_send(
    file: Path,
    phone: str,
    recipient_id: str | None,
    settings: config.TelesignSettings,
    outputs: Path,
    url: str | None = None,
) -> int:
    """One recipient's rendered message to a test phone, marked as a test; the campaign's ledger
    state is untouched (the send is kept apart, in test_sends, for audit)."""
    from runner.campaign.audience import Recipient, Skipped
    from runner.campaign.phones import BadNumber, to_e164
    from runner.commands.recipient_choice import RecipientChoice

    campaign = load(file)
    try:
        destination = to_e164(phone, campaign.spec.audience.default_region, "possible")
    except BadNumber as error:
        raise UsageProblem(f"--test-to: {error}") from None
    expansion = Expansion(campaign)
    choice = RecipientChoice(campaign, recipient_id) if recipient_id is not None else None
    chosen: Recipient | None = None
    # Only the chosen recipient is rendered: the audience is read up to it, nothing more.
    for row in expansion.audience:
        if isinstance(row, Recipient) and (choice is None or choice.matches(row)):
            chosen = row
            break
        if isinstance(row, Skipped) and choice is not None:
            choice.note_skipped(row)
    if chosen is None:
        raise UsageProblem(choice.not_found() if choice is not None else f"{file}: no recipient to render")
    # A test message must not share the real message's external_id, or its callbacks would
    # settle the real recipient's message.
    message = expansion.message(chosen, phone=destination, external_id=f"{campaign.id}.test")
    if not isinstance(message, Message):
        raise InvalidInput([message])
    body = message.body
    answer = asyncio.run(_post_once(settings, body))
    if answer.verdict == "wrong_endpoint":
        raise WrongEndpoint(
            wrong_endpoint_line(settings.base_url, answer.description, f"to TEST {campaign.id}") + "; nothing was sent"
        )
    if answer.verdict == "retry" and answer.http_status is None:
        raise EndpointUnreachable(
            f"TEST {campaign.id}: could not reach {settings.base_url} ({answer.description}): "
            "check TELESIGN_BASE_URL and the network; nothing was sent"
        )
    ledger = open_ledger(campaign_folder(outputs, campaign.id), campaign.id, url)
    try:
        ledger.runs.record_test_send(
            TestSend(chosen.key, destination, answer.http_status, answer.status_code, answer.reference_id, body)
        )
    finally:
        ledger.close()
    who = chosen.recipient_id or chosen.phone
    said = " ".join(str(part) for part in (answer.http_status, answer.status_code) if part is not None)
    answered = f"{said} {answer.description}" if said else answer.description  # no HTTP answer: just why
    terminal.out(
        f"TEST {campaign.id}: {who}'s message to {destination}: {answer.verdict} ({answered})"
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
