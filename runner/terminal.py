"""All terminal output goes through here: one place to keep secrets out, stdout and stderr apart,
and every line in the format the user chose (docs/commands.md, "Output and log formats").

Results (what a script pipes on) go to stdout, problems and progress to stderr. The commands with
`--log-format` (send, run) set the format once, in runner.main:

- human (auto, on a terminal): lines as written, and a live progress bar (`LiveBar`);
- plain (auto under cron, or `plain`): every line starts with its ISO 8601 UTC time;
- json: every line, on either stream, is one JSON object with `time`, `level`, `event`,
  `message` and the event's own fields (a summary's counts, an error's file and line).

The other commands print human lines: their output is the result itself (a preview, a status).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import click

from runner.errors import InvalidInput, RunnerError

if TYPE_CHECKING:
    from rich.console import Console

Format = Literal["human", "plain", "json"]
Level = Literal["info", "warning", "error"]

_format: Format = "human"
_lock = threading.Lock()  # the receiver's and the sandbox's threads print too: whole lines only


def configure(log_format: str | None) -> Format:
    """Choose the format for this process from `--log-format` (None: a command without it)."""
    global _format
    _format = chosen(log_format)
    return _format


def chosen(log_format: str | None) -> Format:
    if log_format is None:
        return "human"
    if log_format == "auto":
        return "human" if is_terminal() else "plain"
    if log_format in ("plain", "json"):
        return log_format  # type: ignore[return-value]
    raise ValueError(f"unknown log format {log_format!r}")


def current() -> Format:
    return _format


def is_terminal() -> bool:
    return sys.stderr.isatty()


def out(text: str = "", event: str = "result", fmt: Format | None = None, **fields: Any) -> None:
    """A result line on stdout (what a script pipes on)."""
    _emit(text, "info", event, fields, err=False, fmt=fmt)


def err(text: str, level: Level = "info", event: str = "message", fmt: Format | None = None, **fields: Any) -> None:
    """A problem or progress line on stderr."""
    _emit(text, level, event, fields, err=True, fmt=fmt)


def error(problem: RunnerError) -> None:
    """A RunnerError as the user reads it: the one place errors are printed (runner.main)."""
    if isinstance(problem, InvalidInput):
        for item in problem.problems:
            err(str(item), "error", "error", file=item.path or None, line=item.line, reason=item.message)
        if problem.conclusion:
            err(problem.conclusion, "error", "error")
        return
    for line in problem.lines():
        err(line, "error", "error", exit_code=int(problem.exit_code))


def count(n: int, noun: str, plural: str | None = None) -> str:
    """ "1 duplicate", "2 duplicates": a count with its noun in the right number."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def timestamp(now: datetime | None = None, precise: bool = False) -> str:
    """ISO 8601 in UTC with a Z, to the second (plain lines) or the millisecond (JSON)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds" if precise else "seconds").replace("+00:00", "Z")


def record(line: str, level: Level, event: str, fields: Mapping[str, Any]) -> str:
    """The JSON line for one output line."""
    data = {"time": timestamp(precise=True), "level": level, "event": event, "message": line}
    data.update({k: v for k, v in fields.items() if v is not None})
    return json.dumps(data, ensure_ascii=False, default=str)


def _emit(line: str, level: Level, event: str, fields: Mapping[str, Any], err: bool, fmt: Format | None) -> None:
    shape = fmt or _format
    if shape == "json":
        text = record(line, level, event, fields)
    elif shape == "plain":
        stamp = timestamp()
        text = "\n".join(f"{stamp} {part}" for part in (line.splitlines() or [""]))
    else:
        text = line
    with _lock:
        click.echo(text, err=err)


class LiveBar:
    """The live progress display on a terminal: rich's progress bar, with counts by state, the
    achieved rate, elapsed time and an ETA. `console` is for tests (Console(force_terminal=True))."""

    def __init__(self, description: str, total: int, console: Console | None = None):
        # Imported here: only a send on a terminal draws a bar, and `check` (a pre-commit hook)
        # should not pay for importing rich.
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console or Console(stderr=True)
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[states]}"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA {task.fields[eta]}"),
            console=self.console,
            # A refresh thread would draw between our updates; the sender updates often enough.
            auto_refresh=False,
            transient=False,
        )
        self.task = self.bar.add_task(description, total=total, states="", rate="", eta="-")
        self.bar.start()

    def update(self, done: int, states: str, rate: str, eta: str) -> None:
        self.bar.update(self.task, completed=done, states=states, rate=rate, eta=eta)
        self.bar.refresh()

    def print(self, line: str) -> None:
        """A line above the bar (an event: a pause for 429, a stop)."""
        self.bar.console.print(line, markup=False, highlight=False)

    def stop(self) -> None:
        self.bar.refresh()
        self.bar.stop()
