"""Rendering a campaign's texts per recipient: Jinja2's SandboxedEnvironment with StrictUndefined,
templates compiled once per campaign, every rendered message checked before anything is sent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from runner.campaign.audience import Recipient
from runner.campaign.schema import Campaign
from runner.errors import InvalidInput, Problem

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


@dataclass(frozen=True)
class Texts:
    """What one recipient receives, rendered."""

    viber_text: str
    url: str
    url_text: str
    url_id: str
    sms_text: str | None


def find_templates_folder(start: Path) -> Path | None:
    """The nearest `templates/` folder walking up from the campaign file's folder."""
    for folder in [start, *start.parents]:
        candidate = folder / "templates"
        if candidate.is_dir():
            return candidate.resolve()
    return None


def url_problem(url: str) -> str | None:
    """Why Telesign would refuse this link-button URL, or None."""
    if not url or _WHITESPACE.search(url):
        return f"url {url!r} is empty or contains whitespace; URL-encode spaces as %20"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"url {url!r} must be an absolute http(s) URL with a host"
    host = parts.hostname.lower().rstrip(".")
    if _FORBIDDEN_HOST.search(host):
        return f"url {url!r} links to Line, Signal or Telegram, which Telesign refuses in Viber messages"
    return None


MAX_EXPONENT = 64
MAX_REPEAT_CHARS = 10 * 1024  # nothing longer fits in a Telesign request anyway


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, plus bounds on the two operators that can hang or exhaust memory with a
    one-line template (`{{ 2**10**9 }}`, `{{ 'x' * 10**9 }}`): the rest the sandbox already bounds."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise jinja2.exceptions.SecurityError(f"exponent {right} is over {MAX_EXPONENT}")
        if operator == "*":
            text, times = (left, right) if isinstance(left, (str, list)) else (right, left)
            if isinstance(text, (str, list)) and isinstance(times, int) and len(text) * times > MAX_REPEAT_CHARS:
                raise jinja2.exceptions.SecurityError(
                    f"repeating {len(text)} characters {times} times is over {MAX_REPEAT_CHARS}"
                )
        return super().call_binop(context, operator, left, right)


class Renderer:
    """The campaign's templates, compiled once; `render` fills them for one recipient."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        spec = campaign.spec
        self.templates_folder = find_templates_folder(campaign.folder)
        loader = jinja2.FileSystemLoader(str(self.templates_folder)) if self.templates_folder else None
        self.env = _Sandbox(
            undefined=jinja2.StrictUndefined, loader=loader, autoescape=False, keep_trailing_newline=False
        )
        # Jinja's helpers (the sandbox's bounded `range`, `cycler`, `namespace`...) travel in each
        # recipient's context instead of as globals: every render merges a template's globals
        # through a ChainMap, which cost more than the rendering itself over a million rows.
        helpers = dict(self.env.globals)
        self.env.globals.clear()
        self.base: dict[str, Any] = {**helpers, **spec.vars}
        self.base["campaign"] = {"id": spec.id, "name": spec.name or spec.id}
        problems: list[Problem] = []
        self.viber_text = self._compile(
            ("viber", "text"), spec.viber.text, ("viber", "text_template"), spec.viber.text_template, problems
        )
        self.url = self._compile(("viber", "url"), spec.viber.url, None, None, problems)
        self.url_text = self._compile(("viber", "url_text"), spec.viber.url_text, None, None, problems)
        self.url_id = self._compile(("viber", "url_id"), spec.viber.url_id, None, None, problems)
        self.sms_text = None
        if spec.sms is not None:
            self.sms_text = self._compile(
                ("sms", "text"), spec.sms.text, ("sms", "text_template"), spec.sms.text_template, problems
            )
        if problems:
            raise InvalidInput(problems)

    def _compile(
        self,
        key: tuple[str, ...],
        inline: str | None,
        file_key: tuple[str, ...] | None,
        file_name: str | None,
        problems: list[Problem],
    ) -> jinja2.Template | None:
        if inline is not None:
            try:
                return self.env.from_string(inline)
            except jinja2.TemplateSyntaxError as error:
                problems.append(self.campaign.problem(key, f"template syntax: {error.message}"))
                return None
        assert file_key is not None and file_name is not None
        where = self.campaign.problem(file_key, "")
        if self.templates_folder is None:
            problems.append(
                Problem(
                    where.path, where.line, f"no templates/ folder found above {self.campaign.folder} for {file_name!r}"
                )
            )
            return None
        target = (self.templates_folder / file_name).resolve()
        if not target.is_relative_to(self.templates_folder) or Path(file_name).is_absolute():
            problems.append(
                Problem(
                    where.path,
                    where.line,
                    f"{file_name!r} is outside {self.templates_folder}; name a file under templates/",
                )
            )
            return None
        if not target.is_file():
            problems.append(
                Problem(where.path, where.line, f"template {file_name!r} not found in {self.templates_folder}")
            )
            return None
        try:
            return self.env.get_template(target.relative_to(self.templates_folder).as_posix())
        except jinja2.TemplateSyntaxError as error:
            problems.append(Problem(str(target), error.lineno, f"template syntax: {error.message}"))
            return None
        except UnicodeDecodeError:
            problems.append(Problem(str(target), None, "not UTF-8 text; save the template as UTF-8"))
            return None

    def render(self, recipient: Recipient) -> Texts | Problem:
        """The recipient's texts, or the first problem found, located at the recipient's row."""
        context = {**self.base, **recipient.variables}
        try:
            texts = Texts(
                viber_text=self._fill(self.viber_text, context),
                url=self._fill(self.url, context).strip(),
                url_text=self._fill(self.url_text, context),
                url_id=self._fill(self.url_id, context),
                sms_text=self._fill(self.sms_text, context) if self.sms_text is not None else None,
            )
        except jinja2.UndefinedError as error:
            return Problem(
                recipient.source, recipient.line, f"template: {error.message}; add that column or a [vars] entry"
            )
        except jinja2.exceptions.SecurityError as error:
            return Problem(recipient.source, recipient.line, f"template refused by the sandbox: {error}")
        except jinja2.TemplateError as error:
            return Problem(recipient.source, recipient.line, f"template: {error}")
        except (ArithmeticError, TypeError, ValueError) as error:
            return Problem(recipient.source, recipient.line, f"template: {type(error).__name__}: {error}")
        for name, value in (
            ("viber text", texts.viber_text),
            ("url_text", texts.url_text),
            ("url_id", texts.url_id),
            ("sms text", texts.sms_text),
        ):
            if value is not None and not value.strip():
                return Problem(recipient.source, recipient.line, f"{name} renders empty for this recipient")
        problem = url_problem(texts.url)
        if problem:
            return Problem(recipient.source, recipient.line, problem)
        return texts

    @staticmethod
    def _fill(template: jinja2.Template | None, context: dict[str, Any]) -> str:
        assert template is not None
        return template.render(context)
