"""The campaign file: its schema (docs/campaign-file.md) and loading it with every problem
reported at once as `path:line: message`."""

from __future__ import annotations

import difflib
import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from runner.campaign.tomlpos import KeyLines
from runner.errors import InvalidInput, Problem
from runner.policy.checks import check_cap, check_days, check_timezone, check_window

POLICY_FILE = "policy.toml"
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
Scalar = str | int | float | bool


class Strict(BaseModel):
    # strict: `fallback_time = "600"` is a mistake to report, not a string to convert.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class WindowKeys(Strict):
    """The send-window keys, in each recipient's local time, shared by a campaign's [schedule] and the
    repository policy's (docs/policy.md); a campaign narrows the policy's."""

    window: str | None = None
    days: list[str] | None = None
    timezone: str | None = None

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        return None if value is None else check_window(value)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_days(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)


class Schedule(WindowKeys):
    start: datetime | None = None
    end: datetime | None = None

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # A time without an offset means a different moment on every machine cron runs on.
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time with its UTC offset, e.g. 2026-11-28T09:00:00+01:00")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Schedule:
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Sending(Strict):
    rate: float = Field(default=10, gt=0, le=10_000, description="messages per second")
    concurrency: int = Field(default=8, ge=1, le=512)
    max_attempts: int = Field(default=5, ge=1, le=50)
    max_per_run: int | None = Field(default=None, ge=1)
    max_per_phone: str | None = None  # "2/7d": narrows the policy's frequency cap (docs/policy.md)
    # `campaign run` polls delivery statuses (docs/callbacks.md, "Polling"); unset: the policy's
    poll: bool | None = None

    @field_validator("max_per_phone")
    @classmethod
    def _cap(cls, value: str | None) -> str | None:
        return None if value is None else check_cap(value)


class Audience(Strict):
    file: str | None = None
    default_region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    phone_check: Literal["valid", "possible"] = "valid"
    suppress: list[str] = []
    on_invalid: Literal["fail", "skip"] = "fail"
    recipients: list[dict[str, Scalar]] = []

    @model_validator(mode="after")
    def _someone(self) -> Audience:
        if self.file is None and not self.recipients:
            raise ValueError('name an audience: `file = "audiences/x.csv"` or inline `recipients`')
        return self


class Viber(Strict):
    # url_action is the link-button template of the seed; the only one the runner builds.
    template: Literal["url_action"] = "url_action"
    text: str | None = None
    text_template: str | None = None
    url: str
    url_text: str
    url_id: str
    fallback_time: int = Field(default=300, ge=30, le=3600, description="seconds (Telesign: 30..3600)")

    @model_validator(mode="after")
    def _one_text(self) -> Viber:
        _exactly_one_text(self.text, self.text_template)
        return self


class Sms(Strict):
    text: str | None = None
    text_template: str | None = None
    max_segments: int | None = Field(default=None, ge=1, le=255)

    @model_validator(mode="after")
    def _one_text(self) -> Sms:
        _exactly_one_text(self.text, self.text_template)
        return self


def _exactly_one_text(text: str | None, template: str | None) -> None:
    if (text is None) == (template is None):
        raise ValueError("give exactly one of `text` (inline) or `text_template` (a file under templates/)")


class CampaignFile(Strict):
    id: str
    name: str | None = None
    message_type: Literal["MKT", "ARN", "OTP"] = "MKT"
    schedule: Schedule = Schedule()
    sending: Sending = Sending()
    audience: Audience
    vars: dict[str, Scalar] = {}
    viber: Viber
    sms: Sms | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        # The id names the outputs folder and scopes "sent once": it must be a safe, stable name.
        if not _ID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a campaign id: use 1-64 lower-case letters, digits, '.', '_' or '-',"
                ' starting with a letter or digit (e.g. "order-tracking-2026-11")'
            )
        return value


class Campaign:
    """A loaded, schema-valid campaign file and where it came from."""

    def __init__(self, path: Path, spec: CampaignFile, key_lines: KeyLines):
        self.path = path
        self.spec = spec
        self.key_lines = key_lines

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def folder(self) -> Path:
        return self.path.parent

    def line_of(self, *key: str | int) -> int | None:
        return self.key_lines.line_of(key)

    def problem(self, key: tuple[str | int, ...], message: str) -> Problem:
        return Problem(str(self.path), self.key_lines.line_of(key), message)

    def resolve(self, relative: str) -> Path:
        return (self.folder / relative).resolve()

    @property
    def repository(self) -> Path:
        return repository_root(self.folder)

    def resolve_inside(self, key: tuple[str | int, ...], relative: str) -> Path:
        """A file the campaign names (`audience.file`, `audience.suppress`), relative to the campaign
        file and inside the campaign repository, as templates are: a campaign file cannot make the
        runner read (and quote in its errors) any other file on the machine."""
        where = ".".join(str(k) for k in key)
        if Path(relative).is_absolute() or relative.startswith("~"):
            raise InvalidInput(
                [
                    self.problem(
                        key, f"`{where}`: {relative!r} is an absolute path; give it relative to the campaign file"
                    )
                ]
            )
        target = self.resolve(relative)
        root = self.repository
        if not target.is_relative_to(root):
            raise InvalidInput(
                [
                    self.problem(
                        key,
                        f"`{where}`: {relative!r} is outside the campaign repository ({root});"
                        " keep audiences inside it, beside the campaign files",
                    )
                ]
            )
        return target


def repository_root(folder: Path) -> Path:
    """The campaign repository a campaign file belongs to: the nearest folder up with `.git`;
    outside git, the folder holding the nearest `templates/` up; else the campaign file's folder."""
    folder = folder.resolve()
    for candidate in [folder, *folder.parents]:
        if (candidate / ".git").exists():
            return candidate
    for candidate in [folder, *folder.parents]:
        if (candidate / "templates").is_dir():
            return candidate
    return folder


def load(path: Path) -> Campaign:
    """Read and validate one campaign file; raise InvalidInput with every problem found."""
    data, lines = read_toml(path)
    try:
        spec = CampaignFile.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(validation_problems(path, lines, error, CampaignFile)) from None
    builtin = [
        Problem(
            str(path),
            lines.line_of(("vars", name)),
            f"`vars.{name}`: `{name}` is "
            + ("the built-in variable (campaign.id, campaign.name)" if name == "campaign" else "each recipient's own")
            + "; rename this entry",
        )
        for name in sorted(set(spec.vars) & VARIABLES_PROVIDED)
    ]
    if builtin:
        raise InvalidInput(builtin)
    return Campaign(path, spec, lines)


def read_toml(path: Path) -> tuple[dict[str, Any], KeyLines]:
    """A TOML file's data and where each key is; InvalidInput (path:line) when it cannot be read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput.at(path, None, "no such file") from None
    except IsADirectoryError:
        # `send campaigns/` as one sends with `check campaigns/`: say which command takes a folder
        what = "name a .toml file in it (`campaign run` sends every due campaign of a folder)"
        raise InvalidInput.at(path, None, f"a folder, not a campaign file: {what}") from None
    except OSError as error:
        raise InvalidInput.at(path, None, f"cannot read: {error.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InvalidInput.at(path, line, "not UTF-8 text; save the file as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput.at(path, _toml_error_line(error), f"TOML syntax: {_toml_error_text(error)}") from None
    return data, KeyLines(text)


def validation_problems(path: Path, lines: KeyLines, error: ValidationError, root: type[BaseModel]) -> list[Problem]:
    """A model's validation errors as `path:line: message`, by line; a problem without one (a
    missing top-level key) first. (Problem's own ordering would compare None with int and fail.)"""
    found = _problems(path, lines, error, root)
    return sorted(found, key=lambda p: (p.line or 0, p.message))


VARIABLES_PROVIDED = frozenset({"campaign", "id", "phone"})  # template names a [vars] entry cannot take


def _toml_error_line(error: tomllib.TOMLDecodeError) -> int | None:
    lineno = getattr(error, "lineno", None)  # Python 3.14 adds it; older ones put it in the text
    if isinstance(lineno, int):
        return lineno
    text = str(error)
    marker = "(at line "
    if marker in text:
        return int(text.split(marker, 1)[1].split(",", 1)[0])
    return None


def _toml_error_text(error: tomllib.TOMLDecodeError) -> str:
    text = str(error).split(" (at line ", 1)[0].split(" (at end of document)", 1)[0]
    hint = next((hint for start, hint in _TOML_HINTS if text.startswith(start)), None)
    return f"{text}; {hint}" if hint else text


# What to do about tomllib's messages for the mistakes people make in these files: its own words
# ("Cannot overwrite a value", an "Illegal character" for a quote left open) name the parser's state, not the fix.
_TOML_HINTS = (
    ("Illegal character '\\n'", 'a quoted text must end on its own line: close its quote (""" for several lines)'),
    ("Cannot overwrite a value", "this key is already set above: keep one of the two"),
    ("Cannot declare", "this [table] is already declared above: merge the two into one"),
    ("Duplicate inline table key", "a key is given twice inside these { }: keep one"),
    ("Invalid value", 'quote text with straight double quotes ("..."); write numbers, true/false and times bare'),
    ("Unescaped '\\'", "write a path with / (or a backslash as \\\\)"),
    ("Expected '=' after a key", "write `key = value`"),
    ("Expected newline or end of document", "one `key = value` a line; quote text that has spaces"),
    ("Unterminated string", 'a """ text is not closed before the end of the file: add its closing """'),
    ("Unclosed array", "a [ list is not closed before the end of the file: add its ]"),
    ("Unclosed inline table", "a { table is not closed on its line: add its }"),
)


def _problems(path: Path, lines: KeyLines, error: ValidationError, root: type[BaseModel]) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        if loc and loc[-1] in _SCALAR_BRANCHES:  # one message for a value that fits no branch
            if loc[-1] != "str":
                continue
            loc = loc[:-1]
            item = {**item, "type": "scalar", "msg": "must be text, a number or true/false"}
        line = lines.line_of(loc)
        where = ".".join(str(p) for p in loc)
        if item["type"] == "extra_forbidden":
            message = f"unknown key `{where}`" + _did_you_mean(loc, root)
        elif item["type"] == "missing":
            line = lines.line_of(loc[:-1]) or line
            message = f"missing required key `{where}`"
        elif item["type"] == "datetime_type":  # a date alone, or a time in quotes: TOML text, not a time
            message = f"`{where}`: {TIME_WANTED}"
        else:
            msg = str(item["msg"]).removeprefix("Value error, ")
            message = f"`{where}`: {msg}" if where else msg
        problems.append(Problem(str(path), line, message))
    return problems


_SCALAR_BRANCHES = ("str", "int", "float", "bool")
TIME_WANTED = "write a date and time with its UTC offset, without quotes, e.g. 2026-11-28T09:00:00+01:00"


def _did_you_mean(loc: tuple[Any, ...], root: type[BaseModel]) -> str:
    model: type[BaseModel] | None = root
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if model else None
        annotation = field.annotation if field else None
        model = _model_in(annotation)
    if model is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else f"; known keys: {', '.join(model.model_fields)}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def find_files(paths: list[Path]) -> list[Path]:
    """Campaign files named directly, and every *.toml under the folders named, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            # policy.toml is the repository policy, not a campaign (docs/policy.md)
            found.extend(sorted(p for p in path.rglob("*.toml") if p.is_file() and p.name != POLICY_FILE))
        elif path.exists():
            found.append(path)
        else:
            raise InvalidInput.at(path, None, "no such file or folder")
    return found
