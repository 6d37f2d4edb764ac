"""`campaign preview FILE`: what each recipient would receive, or (--json) the exact bodies."""

from __future__ import annotations

from pathlib import Path

from runner import terminal
from runner.campaign.audience import Skipped
from runner.campaign.expansion import Expansion, Message
from runner.campaign.schema import load
from runner.commands.recipient_choice import RecipientChoice
from runner.errors import ExitCode, InvalidInput


def run(file: Path, limit: int | None, recipient_id: str | None, as_json: bool) -> int:
    campaign = load(file)
    expansion = Expansion(campaign)
    choice = RecipientChoice(campaign, recipient_id) if recipient_id is not None else None
    shown = 0
    for item in expansion:
        if isinstance(item, Skipped):
            if choice is not None:
                choice.note_skipped(item)
            continue
        if (limit is not None and shown >= limit) or (choice is not None and not choice.matches(item.recipient)):
            continue
        shown += 1
        if as_json:
            terminal.out(item.body.decode("utf-8"))
        else:
            terminal.out(readable(item))
    summary = expansion.summary
    if summary.problems:
        raise InvalidInput(summary.problems)
    if choice is not None and shown == 0:
        terminal.err(choice.not_found())
        return ExitCode.INVALID
    return ExitCode.OK


def readable(message: Message) -> str:
    r, t = message.recipient, message.texts
    who = f"{r.recipient_id} ({r.phone})" if r.recipient_id else r.phone
    lines = [
        f"── {who}  [{r.source}:{r.line}]",
        "Viber:",
        *("  " + line for line in t.viber_text.splitlines() or [""]),
        f"  [ {t.url_text} ] -> {t.url}  (url_id {t.url_id})",
    ]
    if t.sms_text is not None and message.sms is not None:
        s = message.sms
        lines.append(
            f"SMS fallback ({s.encoding}, {s.characters} characters, "
            f"{s.segments} segment{'s' if s.segments != 1 else ''}):"
        )
        lines.extend("  " + line for line in t.sms_text.splitlines() or [""])
    else:
        lines.append("No SMS fallback: Viber only")
    return "\n".join(lines) + "\n"
