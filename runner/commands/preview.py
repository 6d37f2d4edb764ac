"""`campaign preview FILE`: what each recipient would receive, or (--json) the exact bodies, or
(--html) a page of phone-sized mocks (runner.preview.page; docs/commands.md)."""

from __future__ import annotations

from pathlib import Path

from runner import terminal
from runner.atomic import atomic_write
from runner.campaign.audience import Skipped
from runner.campaign.expansion import Expansion, Message
from runner.campaign.schema import load
from runner.commands.recipient_choice import RecipientChoice
from runner.errors import ExitCode, InvalidInput
from runner.preview import marking
from runner.preview import page as preview_page

# Without --limit the text and JSON views show every recipient; a page of a million phones is no
# review, so the page shows this many unless --limit says otherwise (and says how many there are).
HTML_DEFAULT_LIMIT = 50


def default_html_path(outputs: Path, campaign_id: str) -> Path:
    return outputs / campaign_id / "preview.html"


def run(
    file: Path,
    limit: int | None,
    recipient_id: str | None,
    as_json: bool,
    html: bool = False,
    output: Path | None = None,
) -> int:
    campaign = load(file)
    expansion = Expansion(campaign)
    choice = RecipientChoice(campaign, recipient_id) if recipient_id is not None else None
    html = html or output is not None
    if html and limit is None and recipient_id is None:
        limit = HTML_DEFAULT_LIMIT
    cards: list[preview_page.Shown] = []
    shown = 0
    for item in expansion:
        if isinstance(item, Skipped):
            if choice is not None:
                choice.note_skipped(item)
            continue
        if (limit is not None and shown >= limit) or (choice is not None and not choice.matches(item.recipient)):
            continue
        shown += 1
        if html:
            cards.append(preview_page.Shown(item, marking.mark(expansion.renderer, item.recipient, item.texts)))
        elif as_json:
            terminal.out(item.body.decode("utf-8"))
        else:
            terminal.out(readable(item))
    summary = expansion.summary
    if html and (shown or recipient_id is None):
        path = output or default_html_path(Path("outputs"), campaign.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "w", encoding="utf-8") as handle:
            handle.write(preview_page.render(campaign, cards, summary.messages))
        terminal.out(f"{campaign.id}: preview of {len(cards)} of {summary.messages} recipients written to {path}")
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
