"""Rendering a campaign's texts per recipient: a bounded Jinja sandbox (runner.campaign.bounds) with
StrictUndefined, templates compiled once per campaign, every rendered message checked before
anything is sent (docs/campaign-file.md, "Templates").

A problem is reported as a `RenderProblem`: the field (`viber.url`), a `kind` that is the same for
every recipient with the same cause, and this recipient's own `detail`. The expansion groups them:
a cause every recipient shares is the campaign file's error, at the key's line; the rest are rows.
A template that cannot depend on the recipient (syntax, or no per-recipient variable) is checked
once here, not once per row."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2 import meta, nodes

from runner.campaign.audience import Recipient
from runner.campaign.bounds import BoundedSandbox, RenderBound
from runner.campaign.schema import Campaign
from runner.errors import Problem

# Telesign refuses Viber links to other messengers (Engage API: Line, Signal and Telegram links are
# not allowed in a Viber message).
_FORBIDDEN_HOSTS = (
    "line.me",
    "lin.ee",
    "line.naver.jp",
    "signal.me",
    "signal.org",
    "signal.group",
    "t.me",
    "telegram.me",
    "telegram.org",
    "telegram.dog",
    "telegra.ph",
)
# Checked once per recipient over audiences of a million rows: one compiled pattern each, not a
# Python loop over characters or hosts.
_FORBIDDEN_HOST = re.compile(r"(?:^|\.)(?:" + "|".join(re.escape(h) for h in _FORBIDDEN_HOSTS) + r")$")
_WHITESPACE = re.compile(r"\s")
RECIPIENT_NAMES = frozenset({"id", "phone"})  # given per recipient by the audience (docs/campaign-file.md)
MEMO_SIZE = 4096  # distinct renders remembered per field
BOUND_STREAK = 20  # renders in a row over a bound, from the first, before a field is given up


@dataclass(frozen=True)
class Texts:
    """What one recipient receives, rendered."""

    viber_text: str
    url: str
    url_text: str
    url_id: str
    sms_text: str | None


@dataclass(frozen=True)
class RenderProblem:
    """Why one recipient's texts cannot be made. `kind` names the cause without the recipient's
    own values (rows sharing it are one line); `detail` is this recipient's message."""

    key: tuple[str, ...]  # the campaign-file key of the field: ("viber", "url")
    kind: str
    detail: str
    hint: str = ""
    where: Problem | None = None  # a template file's own line, where the cause is in that file

    @property
    def field(self) -> str:
        return ".".join(self.key)


def find_templates_folder(start: Path) -> Path | None:
    """The nearest `templates/` folder walking up from the campaign file's folder."""
    for folder in [start, *start.parents]:
        candidate = folder / "templates"
        if candidate.is_dir():
            return candidate.resolve()
    return None


# The usual link, `https://host[:port]/...`: its host read with one compiled pattern instead of
# urlsplit (a third of a rendered URL's cost over a million rows); anything else goes to urlsplit.
_PLAIN_URL = re.compile(r"https?://([A-Za-z0-9.-]+)(?::[0-9]*)?(?:[/?#]\S*)?", re.ASCII)


def url_refusal(url: str) -> tuple[str, str] | None:
    """Why Telesign would refuse this link-button URL, as (kind, detail), or None."""
    plain = _PLAIN_URL.fullmatch(url) if url.isascii() else None  # (no invisible character is ASCII)
    if plain is not None and plain.group(1).strip("."):
        if not _FORBIDDEN_HOST.search(plain.group(1).lower().rstrip(".")):
            return None
    shown = repr(url if len(url) <= 80 else url[:77] + "...")
    invisible = next((c for c in url if unicodedata.category(c) == "Cf"), None)
    if invisible is not None:
        # A format character shows nothing, or turns what follows around (U+202E): the link reads
        # as another on the phone and in the preview ("https://ok.example/\u202emoc.live//:sptth"
        # shows ".../https://evil.com"), and one in a host slips past the refusal below ("t.me"
        # with a zero-width space). No real link needs one.
        name = unicodedata.name(invisible, "a format character")
        return (
            "url contains an invisible character",
            f"url {shown} contains an invisible character (U+{ord(invisible):04X} {name}): it can make the link "
            "read as another; remove it",
        )
    if not url or _WHITESPACE.search(url):
        return (
            "url is empty or contains whitespace",
            f"url {shown} is empty or contains whitespace; URL-encode spaces as %20",
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # "http://[": an IPv6 bracket left open
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        return (
            "url is not an absolute http(s) URL with a host",
            f"url {shown} must be an absolute http(s) URL with a host",
        )
    if _FORBIDDEN_HOST.search(host.lower().rstrip(".")):
        return (
            "url links to Line, Signal or Telegram, which Telesign refuses in Viber messages",
            f"url {shown} links to Line, Signal or Telegram, which Telesign refuses in Viber messages",
        )
    return None


def url_problem(url: str) -> str | None:
    """Why Telesign would refuse this link-button URL, or None."""
    refusal = url_refusal(url)
    return refusal[1] if refusal else None


@dataclass
class _Field:
    key: tuple[str, ...]  # where the template is written: ("viber", "text") or ("viber", "text_template")
    shown: tuple[str, ...]  # the field it fills: ("viber", "text")
    template: jinja2.Template | None
    streams: bool = False  # has loops or macros: rendered piece by piece, output bounded as it grows
    tried: int = 0
    bound_hits: int = 0
    # Renders remembered by the values of the recipient variables the template reads: a text that
    # reads `first_name` renders once per distinct first name, not once per row of a million.
    memo_names: tuple[str, ...] = ()
    reads_only_names: bool = False  # its render depends on the values of memo_names alone
    memo: dict[tuple[str | None, ...], str | RenderProblem] | None = None
    memo_misses: int = 0


class Renderer:
    """The campaign's templates, compiled once; `render` fills them for one recipient.
    `broken` holds the fields whose problem is the same for every recipient (found before any row)."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        spec = campaign.spec
        self.templates_folder = find_templates_folder(campaign.folder)
        loader = jinja2.FileSystemLoader(str(self.templates_folder)) if self.templates_folder else None
        self.env = BoundedSandbox(
            undefined=jinja2.StrictUndefined, loader=loader, autoescape=False, keep_trailing_newline=False
        )
        # Jinja's helpers (the sandbox's bounded `range`, `cycler`, `namespace`...) travel in each
        # recipient's context instead of as globals: every render merges a template's globals
        # through a ChainMap, which cost more than the rendering itself over a million rows.
        helpers = dict(self.env.globals)
        self.env.globals.clear()
        self.base: dict[str, Any] = {**helpers, **spec.vars}
        self.base["campaign"] = {"id": spec.id, "name": spec.name or spec.id}
        self.broken: dict[tuple[str, ...], RenderProblem] = {}
        sms = spec.sms
        self.fields = [
            self._field(("viber", "text"), spec.viber.text, spec.viber.text_template),
            self._field(("viber", "url"), spec.viber.url, None),
            self._field(("viber", "url_text"), spec.viber.url_text, None),
            self._field(("viber", "url_id"), spec.viber.url_id, None),
        ]
        if sms is not None:
            self.fields.append(self._field(("sms", "text"), sms.text, sms.text_template))
        self.has_sms = sms is not None

    def location(self, problem: RenderProblem) -> Problem:
        """Where the cause of a template-wide problem is written: the template file's line, or the
        line of the field's key in the campaign file."""
        if problem.where is not None:
            return problem.where
        for field in self.fields:
            if field.shown == problem.key:
                return self.campaign.problem(field.key, "")
        return self.campaign.problem(problem.key, "")

    def _field(self, shown: tuple[str, ...], inline: str | None, file_name: str | None) -> _Field:
        key = shown if inline is not None else shown[:-1] + (shown[-1] + "_template",)
        field = _Field(key, shown, None)
        template, source = self._compile(field, inline, file_name)
        if template is None:
            return field
        field.template = template
        tree = self.env.parse(source)
        field.streams = any(True for _ in tree.find_all((nodes.For, nodes.Macro, nodes.CallBlock, nodes.FilterBlock)))
        uses_other_files = any(
            True for _ in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))
        )
        names = meta.find_undeclared_variables(tree)
        uses_random = any(f.name == "random" for f in tree.find_all(nodes.Filter))
        if not uses_other_files and not uses_random:  # what it reads is all in `names`
            field.memo_names = tuple(sorted(names - self.base.keys()))
            field.memo = {}
            field.reads_only_names = True
        if not uses_other_files and names <= (self.base.keys() - RECIPIENT_NAMES):
            # The same for every recipient: checked once, here.
            self.env.budget.reset()
            problem = self._check(field, self._fill(field, dict(self.base)))
            if problem is not None:  # said with this render's own values: they are every row's
                own = problem.kind if problem.kind in problem.detail else problem.detail.split("`: ", 1)[-1]
                self.broken[shown] = RenderProblem(shown, own, problem.detail, problem.hint)
        return field

    def _compile(self, field: _Field, inline: str | None, file_name: str | None) -> tuple[jinja2.Template | None, str]:
        shown = ".".join(field.shown)
        if inline is not None:
            try:
                return self.env.from_string(inline), inline
            except jinja2.TemplateSyntaxError as error:
                self._broke(field, f"template syntax: {error.message}")
                return None, inline
        assert file_name is not None
        if self.templates_folder is None:
            self._broke(field, f"no templates/ folder found above {self.campaign.folder} for {file_name!r}")
            return None, ""
        target = (self.templates_folder / file_name).resolve()
        if not target.is_relative_to(self.templates_folder) or Path(file_name).is_absolute():
            self._broke(field, f"{file_name!r} is outside {self.templates_folder}; name a file under templates/")
            return None, ""
        if not target.is_file():
            self._broke(field, f"template {file_name!r} not found in {self.templates_folder}")
            return None, ""
        try:
            source = target.read_text(encoding="utf-8")
            return self.env.get_template(target.relative_to(self.templates_folder).as_posix()), source
        except jinja2.TemplateSyntaxError as error:
            where = Problem(str(target), error.lineno, f"`{shown}`: template syntax: {error.message}")
            self._broke(field, f"template syntax in {file_name}: {error.message}", where)
        except UnicodeDecodeError:
            where = Problem(str(target), None, f"`{shown}`: not UTF-8 text; save the template as UTF-8")
            self._broke(field, f"{file_name} is not UTF-8 text; save the template as UTF-8", where)
        except OSError as error:  # there, but not readable (chmod 000, another user's file)
            reason = f"cannot read {file_name} ({error.strerror}); make it readable to the user running campaign"
            self._broke(field, reason, Problem(str(target), None, f"`{shown}`: {reason}"))
        return None, ""

    def _broke(self, field: _Field, kind: str, where: Problem | None = None) -> None:
        self.broken[field.shown] = RenderProblem(field.shown, kind, kind, where=where)

    def render(self, recipient: Recipient) -> Texts | RenderProblem:
        """The recipient's texts, or the first problem found."""
        context = {**self.base, **recipient.variables}
        values: list[str] = []
        broken = self.broken
        for field in self.fields:
            if broken and field.shown in broken:
                return broken[field.shown]
            value = self._remembered(field, recipient, context)
            if isinstance(value, RenderProblem):
                return value
            values.append(value)
        return Texts(
            viber_text=values[0],
            url=values[1].strip(),
            url_text=values[2],
            url_id=values[3],
            sms_text=values[4] if self.has_sms else None,
        )

    def render_field(self, field: _Field, recipient: Recipient) -> str | RenderProblem:
        """One field's text for one recipient, checked as `render` checks it."""
        broken = self.broken.get(field.shown)
        if broken is not None:
            return broken
        return self._remembered(field, recipient, None)

    def _remembered(self, field: _Field, recipient: Recipient, context: dict[str, Any] | None) -> str | RenderProblem:
        """The field's render, remembered; `context` is made only when it must be rendered."""
        memo = field.memo
        if memo is None:
            return self._render_field(field, context or {**self.base, **recipient.variables})
        variables = recipient.variables
        key = tuple([variables.get(name) for name in field.memo_names])
        value = memo.get(key)
        if value is None:
            value = memo[key] = self._render_field(field, context or {**self.base, **recipient.variables})
            field.memo_misses += 1
            if field.memo_misses > MEMO_SIZE:
                field.memo = None  # mostly distinct values: remembering them costs more than it saves
        return value

    def _render_field(self, field: _Field, context: dict[str, Any]) -> str | RenderProblem:
        self.env.budget.reset()
        value = self._fill(field, context)
        if isinstance(value, RenderProblem):
            return self._count(field, value)
        field.tried += 1
        problem = self._check(field, value)
        return value if problem is None else problem

    def _count(self, field: _Field, problem: RenderProblem) -> RenderProblem:
        field.tried += 1
        if problem.kind.startswith("over a render bound"):
            field.bound_hits += 1
            # Each render over a bound costs the bound's whole work: once the first renders all hit
            # it, the field is given up instead of spending that on every row of a million.
            if field.bound_hits == field.tried == BOUND_STREAK:
                self.broken[field.shown] = problem
        return problem

    def _check(self, field: _Field, value: str | RenderProblem) -> RenderProblem | None:
        if isinstance(value, RenderProblem):
            return value
        shown = ".".join(field.shown)
        if field.shown == ("viber", "url"):
            refusal = url_refusal(value.strip())
            if refusal is not None:
                return RenderProblem(field.shown, refusal[0], f"`{shown}`: {refusal[1]}")
        elif not value.strip():
            return RenderProblem(field.shown, "renders empty", f"`{shown}` renders empty for this recipient")
        return None

    def _fill(self, field: _Field, context: dict[str, Any]) -> str | RenderProblem:
        template = field.template
        assert template is not None
        shown = ".".join(field.shown)
        try:
            if field.streams:
                return _bounded_output(template.generate(context))
            return template.render(context)
        except jinja2.UndefinedError as error:
            message = str(error.message)
            return RenderProblem(field.shown, message, f"`{shown}`: template: {message}", _undefined_hint(message))
        except RenderBound as error:
            return RenderProblem(
                field.shown, f"over a render bound: {error}", f"`{shown}`: over a render bound: {error}"
            )
        except jinja2.exceptions.SecurityError as error:
            message = f"template refused by the sandbox: {error}"
            return RenderProblem(field.shown, message, f"`{shown}`: {message}")
        except jinja2.TemplateNotFound as error:
            # (its own text is the bare name where the name has a '..': "template: ../x.txt")
            message = f"template {error.name!r} not found; include, import or extend only files under templates/"
            return RenderProblem(field.shown, message, f"`{shown}`: {message}")
        except jinja2.TemplateError as error:
            return RenderProblem(field.shown, f"template: {error}", f"`{shown}`: template: {error}")
        except RecursionError:
            # a macro or an include that calls itself: Python's own words name the interpreter
            message = "over a render bound: the template calls itself (a macro or an include) without end"
            return RenderProblem(field.shown, message, f"`{shown}`: {message}")
        except (ArithmeticError, TypeError, ValueError) as error:
            message = f"template: {type(error).__name__}: {error}"
            return RenderProblem(field.shown, message, f"`{shown}`: {message}")


def _undefined_hint(message: str) -> str:
    if message.endswith("is undefined"):
        return "add that column or a [vars] entry"
    return ""


def _bounded_output(pieces: Iterator[str]) -> str:
    """A streamed render's output, refused as soon as it grows past the bound (a loop's body is
    template text that no value charge sees)."""
    from runner.campaign.bounds import MAX_CHARACTERS

    out: list[str] = []
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > MAX_CHARACTERS:
            raise RenderBound(f"the template produces over {MAX_CHARACTERS:,} characters in one render")
        out.append(piece)
    return "".join(out)
