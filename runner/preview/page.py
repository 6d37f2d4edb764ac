"""preview.html: for each chosen recipient, a phone-sized mock of what they receive.

The Viber message (its text, the link button with its caption as Viber shows it, the URL the
button opens) and the SMS fallback (its encoding, characters and segments, runner.campaign.sms),
with the parts that came from variables marked (runner.preview.marking) and a visible warning
wherever Viber will cut the caption or the text.

One self-contained file: inline CSS, no script, no font, no image, nothing fetched, so it opens from
file:// and sends no request anywhere. Every text from the campaign, its audience or its templates
is HTML-escaped: a hostile template or column is shown as text, never run."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from runner.campaign.expansion import Message
from runner.campaign.request import VIBER_CAPTION_LIMIT, VIBER_TEXT_LIMIT
from runner.campaign.schema import Campaign
from runner.campaign.sms import (
    GSM7_PART,
    GSM7_SINGLE,
    UCS2_PART,
    UCS2_SINGLE,
    ucs2_characters,
)
from runner.preview.marking import MarkedTexts, Piece, Pieces
from runner.preview.style import CSS


def esc(value: object) -> str:
    return escape(str(value), quote=True)


@dataclass(frozen=True)
class Shown:
    """One recipient on the page: the message a send would post, and its texts with marks."""

    message: Message
    marked: MarkedTexts


def cut(parts: Pieces, limit: int) -> tuple[Pieces, Pieces]:
    """The pieces within the first `limit` characters, and the rest."""
    shown: list[Piece] = []
    hidden: list[Piece] = []
    room = limit
    for p in parts:
        if room >= len(p.text):
            shown.append(p)
            room -= len(p.text)
        elif room > 0:
            shown.append(Piece(p.text[:room], p.kind))
            hidden.append(Piece(p.text[room:], p.kind))
            room = 0
        else:
            hidden.append(p)
    return tuple(shown), tuple(hidden)


def spans(parts: Sequence[Piece]) -> str:
    out = []
    for p in parts:
        if p.kind is None:
            out.append(esc(p.text))
        else:
            title = "from the recipient's row" if p.kind == "personal" else "from [vars] or the campaign"
            out.append(f'<mark class="var {p.kind}" title="{title}">{esc(p.text)}</mark>')
    return "".join(out)


def _or_plain(parts: Pieces | None, real: str) -> tuple[Pieces, bool]:
    return (parts, True) if parts is not None else ((Piece(real, None),), False)


# Characters listed by name in the UCS-2 note; past this many, "and N more".
UCS2_NAMED = 5


def shown_character(char: str) -> str:
    """A character as the note names it: in quotes where it can be seen, else by code point and
    name. A zero-width space, a no-break space, a direction mark or a lone combining accent shows
    as nothing (or moves the text around it) between quotes, so a reviewer would not see what to
    remove."""
    if char.isprintable() and not unicodedata.category(char).startswith(("M", "Z")):
        return f"“{char}”"
    return f"U+{ord(char):04X} {unicodedata.name(char, '(unnamed)')}"


def ucs2_note(text: str) -> str | None:
    """Why the SMS goes as UCS-2: every distinct character outside GSM-7 (runner.campaign.sms's
    tables), not only the first: with more than one, removing the first does not make it GSM-7.
    None for a text that is GSM-7."""
    found = ucs2_characters(text)
    if not found:
        return None
    first_at = text.index(found[0])
    named = ", ".join(shown_character(c) for c in found[:UCS2_NAMED])
    more = f" and {len(found) - UCS2_NAMED} more" if len(found) > UCS2_NAMED else ""
    if len(found) == 1:
        return (
            f"UCS-2 because of {named} (character {first_at + 1}), the only character outside GSM-7: "
            "without it the text could go as GSM-7."
        )
    return (
        f"UCS-2 because of {len(found)} different characters outside GSM-7, the first at character "
        f"{first_at + 1}: {named}{more}. The text could go as GSM-7 only without all of them."
    )


def _warning(key: str, text: str) -> str:
    return f'<p class="warning" data-warning="{key}" role="alert">⚠ {esc(text)}</p>'


def viber(shown: Shown, campaign: Campaign) -> str:
    # dir="auto" on the texts and the caption: a phone sets a message's direction from its first
    # strong character, so a Hebrew or Arabic text is right-to-left, its final "." or "!" on the left.
    texts, marked = shown.message.texts, shown.marked
    body, body_marked = _or_plain(marked.viber_text, texts.viber_text)
    caption, caption_marked = _or_plain(marked.url_text, texts.url_text)
    url, _ = _or_plain(marked.url, texts.url)
    warnings = []
    visible, lost = cut(body, VIBER_TEXT_LIMIT)
    text_html = spans(visible)
    if lost:
        text_html += (
            f'<span class="cut" title="not shown: past Viber\'s {VIBER_TEXT_LIMIT:,} characters">{spans(lost)}</span>'
        )
        warnings.append(
            _warning(
                "text",
                f"The text is {len(texts.viber_text):,} characters; Viber shows {VIBER_TEXT_LIMIT:,}: "
                f"the struck-through part (the last {len(texts.viber_text) - VIBER_TEXT_LIMIT:,}) is cut.",
            )
        )
    on_button, past = cut(caption, VIBER_CAPTION_LIMIT)
    button_html = spans(on_button)
    if past:
        button_html = spans(cut(caption, VIBER_CAPTION_LIMIT - 1)[0]) + "…"
        warnings.append(
            _warning(
                "caption",
                f"The button caption is {len(texts.url_text)} characters; Viber shows {VIBER_CAPTION_LIMIT}: "
                f"“{texts.url_text[: VIBER_CAPTION_LIMIT - 1]}…”.",
            )
        )
    notes = []
    if not body_marked or not caption_marked:
        notes.append("Some variables are not marked: the template does more than print them.")
    name = campaign.spec.name or campaign.spec.id
    return (
        '<div class="phone viber" data-channel="viber"><div class="bar"><span class="dot"></span>'
        f'<span class="sender"><bdi>{esc(name)}</bdi></span><span class="app">Viber</span></div><div class="screen">'
        f'<div class="bubble"><p class="text" dir="auto" data-length="{len(texts.viber_text)}">{text_html}</p>'
        f'<a class="button" dir="auto" href="{esc(texts.url)}" rel="noreferrer noopener" target="_blank" '
        f'title="{esc(texts.url_text)}" data-length="{len(texts.url_text)}">{button_html}</a></div>'
        f'<p class="opens">The button opens<br><code class="url">{spans(url)}</code></p>'
        f'<p class="facts">url_id <code>{esc(texts.url_id)}</code> · {len(texts.viber_text):,} / '
        f"{VIBER_TEXT_LIMIT:,} characters · fallback to SMS after {campaign.spec.viber.fallback_time} s</p>"
        + "".join(warnings)
        + "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
        + "</div></div>"
    )


def sms(shown: Shown) -> str:
    texts, shape = shown.message.texts, shown.message.sms
    if texts.sms_text is None or shape is None:
        return '<div class="phone sms none" data-channel="sms"><p class="note">No SMS fallback: Viber only.</p></div>'
    body, _ = _or_plain(shown.marked.sms_text, texts.sms_text)
    single, part = (GSM7_SINGLE, GSM7_PART) if shape.encoding == "GSM-7" else (UCS2_SINGLE, UCS2_PART)
    unit = "septets" if shape.encoding == "GSM-7" else "UTF-16 units"
    plural = "s" if shape.segments != 1 else ""
    facts = (
        f'<p class="sms-facts" data-encoding="{shape.encoding}" data-characters="{shape.characters}" '
        f'data-units="{shape.units}" data-segments="{shape.segments}">'
        f"<b>{shape.encoding}</b> · {shape.characters} characters ({shape.units} {unit}) · "
        f"<b>{shape.segments} segment{plural}</b> ({single} in one SMS, {part} per part of a longer one)</p>"
    )
    extra = ""
    if shape.encoding == "UCS-2":
        note = ucs2_note(texts.sms_text)
        if note is not None:
            extra = f'<p class="note" data-note="ucs2">{esc(note)}</p>'
    return (
        '<div class="phone sms" data-channel="sms"><div class="bar"><span class="dot"></span>'
        '<span class="sender">SMS fallback</span><span class="app">Messages</span></div><div class="screen">'
        f'<div class="bubble"><p class="text" dir="auto">{spans(body)}</p></div>{facts}{extra}</div></div>'
    )


def recipient(shown: Shown, campaign: Campaign) -> str:
    # The page's own texts isolate each value in <bdi>: a row's id holding a right-to-left override
    # (U+202E) or Hebrew would otherwise reorder what follows it, showing the phone number reversed.
    r = shown.message.recipient
    who = f"<bdi>{esc(r.recipient_id)}</bdi> · {esc(r.phone)}" if r.recipient_id else esc(r.phone)
    return (
        f'<article class="recipient" data-recipient="{esc(r.recipient_id or r.phone)}">'
        f'<h2>{who} <span class="where"><bdi>{esc(r.source)}</bdi>:{r.line}</span></h2>'
        f'<div class="phones">{viber(shown, campaign)}{sms(shown)}</div></article>'
    )


def render(campaign: Campaign, shown: Sequence[Shown], total_messages: int, now: datetime | None = None) -> str:
    spec = campaign.spec
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    count = (
        f"{len(shown)} of {total_messages:,} recipients"
        if len(shown) < total_messages
        else f"{len(shown)} recipient{'s' if len(shown) != 1 else ''}"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Preview: {esc(spec.id)}</title><style>{CSS}</style></head><body>"
        f'<header><h1>Preview <span class="id">{esc(spec.id)}</span></h1>'
        f'<p class="meta"><bdi>{esc(spec.name or "")}</bdi> · {esc(spec.message_type)} · '
        f"<bdi>{esc(str(campaign.path))}</bdi> · "
        f'<span data-n="shown">{esc(count)}</span> · made {esc(when)}</p>'
        '<p class="legend"><mark class="var personal">from the recipient\'s row</mark> '
        '<mark class="var campaign">from [vars] or the campaign</mark> '
        "the rest is the template's own text</p></header><main>"
        + "".join(recipient(s, campaign) for s in shown)
        + ("" if shown else '<p class="none">No recipient to show.</p>')
        + "</main></body></html>\n"
    )
