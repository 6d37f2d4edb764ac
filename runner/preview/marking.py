"""Which parts of a rendered text came from variables, for the preview page to mark.

How: each template is rendered a second time, in the same sandbox, with every variable's value
wrapped in invisible markers (Unicode private-use characters, which no campaign text contains): the
recipient's columns in one pair, campaign-wide values ([vars], campaign.id / campaign.name) in
another. Where a marker pair survives into the output, the text between came from that variable.
The markers are then removed and the result compared with the real render: only if the two are
identical are the marks used. A template that does more than print a value (slices it, counts it,
compares it, truncates it) renders differently with markers and is shown unmarked, never wrong.

Why not track variables inside Jinja: values leave the sandbox through filters and string methods
as plain `str`; a marker survives all of those that keep the text (upper, title, replace, join,
format, string concatenation), and the comparison catches the rest. The real render stays the
only source of what the recipient receives.

`urlencode` turns a marker into its percent-encoded UTF-8 bytes: those are recognised too, so that
`?u={{ customer_ref | urlencode }}` is marked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import jinja2

from runner.campaign.audience import Recipient
from runner.campaign.render import Renderer, Texts

Kind = Literal["personal", "campaign"]
OPEN: dict[Kind, str] = {"personal": "\ue000", "campaign": "\ue002"}
CLOSE: dict[Kind, str] = {"personal": "\ue001", "campaign": "\ue003"}
_KIND_OF = {mark: kind for kind, mark in OPEN.items()}
_MARKS = frozenset(OPEN.values()) | frozenset(CLOSE.values())
_PERCENT = {quote(mark): mark for mark in _MARKS} | {quote(mark).lower(): mark for mark in _MARKS}


@dataclass(frozen=True)
class Piece:
    text: str
    kind: Kind | None  # None: the template's own text


Pieces = tuple[Piece, ...]


@dataclass(frozen=True)
class MarkedTexts:
    """Each field as pieces; None where the field could not be marked (shown plain)."""

    viber_text: Pieces | None
    url: Pieces | None
    url_text: Pieces | None
    sms_text: Pieces | None


def _wrap(value: Any, kind: Kind, numbers: bool) -> Any:
    if isinstance(value, str) and value:
        return OPEN[kind] + value + CLOSE[kind]
    if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        return OPEN[kind] + str(value) + CLOSE[kind]
    return value


def _context(renderer: Renderer, recipient: Recipient, numbers: bool) -> dict[str, Any]:
    spec = renderer.campaign.spec
    context = dict(renderer.base)
    for name, value in spec.vars.items():
        context[name] = _wrap(value, "campaign", numbers)
    context["campaign"] = {k: _wrap(v, "campaign", numbers) for k, v in renderer.base["campaign"].items()}
    for name, value in recipient.variables.items():
        context[name] = _wrap(value, "personal", numbers)
    return context


def pieces(marked: str) -> Pieces | None:
    """Split a marked render into pieces; None if the markers do not pair up."""
    for encoded, mark in _PERCENT.items():
        if encoded in marked:
            marked = marked.replace(encoded, mark)
    out: list[Piece] = []
    kind: Kind | None = None
    start = 0
    for i, char in enumerate(marked):
        if char not in _MARKS:
            continue
        if i > start:
            out.append(Piece(marked[start:i], kind))
        if char in _KIND_OF:
            if kind is not None:
                return None  # a value inside a value: cannot happen by printing, so do not guess
            kind = _KIND_OF[char]
        elif kind is None or CLOSE[kind] != char:
            return None
        else:
            kind = None
        start = i + 1
    if kind is not None:
        return None
    if start < len(marked):
        out.append(Piece(marked[start:], None))
    return tuple(out)


def plain(parts: Pieces) -> str:
    return "".join(p.text for p in parts)


def mark(renderer: Renderer, recipient: Recipient, texts: Texts) -> MarkedTexts:
    """The recipient's texts with their variables marked, each field checked against `texts`."""
    compiled = {field.shown: field.template for field in renderer.fields}
    fields: list[tuple[jinja2.Template | None, str | None, Callable[[str], str]]] = [
        (compiled.get(("viber", "text")), texts.viber_text, str),
        (compiled.get(("viber", "url")), texts.url, str.strip),
        (compiled.get(("viber", "url_text")), texts.url_text, str),
        (compiled.get(("sms", "text")), texts.sms_text, str),
    ]
    contexts = [_context(renderer, recipient, numbers=True), _context(renderer, recipient, numbers=False)]
    result: list[Pieces | None] = []
    for template, real, finish in fields:
        result.append(None if template is None or real is None else _marked(renderer, template, real, finish, contexts))
    return MarkedTexts(*result)


def _marked(
    renderer: Renderer,
    template: jinja2.Template,
    real: str,
    finish: Callable[[str], str],
    contexts: list[dict[str, Any]],
) -> Pieces | None:
    for context in contexts:  # numbers marked too; if that changes the text, strings only
        renderer.env.budget.reset()  # the sandbox's bounds apply to this render as to the real one
        try:
            rendered = template.render(context)
        except Exception:  # any failure only means "not marked": the real render succeeded
            continue
        parts = pieces(rendered)
        if parts is None:
            continue
        parts = _finish(parts, finish)
        if plain(parts) == real:
            return parts
    return None


def _finish(parts: Pieces, finish: Callable[[str], str]) -> Pieces:
    """Apply the real render's final touch (the url is stripped) to the pieces, at their ends."""
    if finish is str or not parts:
        return parts
    text = plain(parts)
    done = finish(text)
    lead = text.index(done) if done else len(text)
    cut_start, cut_end = lead, len(text) - (lead + len(done))
    out: list[Piece] = []
    position = 0
    for p in parts:
        begin, end = position, position + len(p.text)
        position = end
        keep_from, keep_to = max(begin, cut_start), min(end, len(text) - cut_end)
        if keep_to > keep_from:
            out.append(Piece(text[keep_from:keep_to], p.kind))
    return tuple(out)
