"""The command line: parses arguments and dispatches to one module per command under
`runner.commands`. Each command is a plain function returning an exit code; `dispatch` is the
one place where the project's own errors become messages and exit codes."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from runner import terminal
from runner.errors import CannotWrite, ExitCode, RunnerError, TerminationRequested
from runner.sending.signals import stops_raise


def dispatch(command: Callable[..., int], **kwargs: Any) -> None:
    # The commands with --log-format print every line in it, errors included (runner.terminal).
    terminal.configure(kwargs.get("log_format"))
    try:
        # SIGTERM (cron's timeout, systemd, kill) raises TerminationRequested from the start, as
        # Ctrl-C raises KeyboardInterrupt: stopped while it checks or reads, a command says so in
        # one line and exits 143 (Python's default ended it without a word in cron's log). A send
        # handles both itself (runner.sending.signals).
        with stops_raise():
            code = command(**kwargs)
    except RunnerError as error:
        terminal.error(error)
        code = int(error.exit_code)
    except OSError as error:
        # What reads the user's inputs names its own file; what is left is mostly a file or folder
        # the command writes (outputs, lock, report, a -o page): one line naming it, never a traceback.
        problem = CannotWrite.of_any(error)
        terminal.error(problem)
        code = int(problem.exit_code)
    except KeyboardInterrupt:
        terminal.err("interrupted", "error", "error", exit_code=int(ExitCode.INTERRUPTED))
        code = int(ExitCode.INTERRUPTED)
    except TerminationRequested:
        terminal.err("terminated")
        code = int(ExitCode.TERMINATED)
    sys.exit(code)


OUTPUTS = click.option(
    "--outputs",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("outputs"),
    show_default=True,
    help="Folder for ledgers and reports: <outputs>/<campaign-id>/.",
)
LEDGER = click.option(
    "--ledger",
    metavar="URL",
    default=None,
    help="A PostgreSQL ledger shared by every sender (default: $CAMPAIGN_LEDGER_URL, else SQLite files in --outputs).",
)
LOG_FORMAT = click.option(
    "--log-format",
    type=click.Choice(["auto", "plain", "json"]),
    default="auto",
    show_default=True,
    help="auto: a live bar on a terminal, time-stamped plain lines otherwise (cron); json: one JSON object a line.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="campaign-runner")
def cli() -> None:
    """Send Viber link-button campaigns with SMS fallback through Telesign, from TOML files."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--outputs",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("outputs"),
    show_default=True,
    help="Folder whose .cache/ remembers what was checked (safe to delete).",
)
def check(paths: tuple[Path, ...], outputs: Path) -> None:
    """Validate campaign files (default: campaigns/) and render every recipient."""
    from runner.commands import check as command

    dispatch(command.run, paths=list(paths) or [Path("campaigns")], outputs=outputs)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show the first N recipients.")
@click.option("--recipient", "recipient_id", default=None, help="Show only this recipient (id or phone).")
@click.option("--json", "as_json", is_flag=True, help="Print the exact request bodies, one per line.")
@click.option(
    "--html", is_flag=True, help="Write a page of phone-sized mocks (default outputs/<campaign-id>/preview.html)."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the --html page (implies --html).",
)
def preview(
    file: Path, limit: int | None, recipient_id: str | None, as_json: bool, html: bool, output: Path | None
) -> None:
    """Show what each recipient would receive."""
    from runner.commands import preview as command

    if as_json and (html or output is not None):
        raise click.UsageError("--json and --html show different things: choose one")
    dispatch(command.run, file=file, limit=limit, recipient_id=recipient_id, as_json=as_json, html=html, output=output)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Render and check everything, write dry-run.jsonl, send nothing.")
@click.option("--sandbox", is_flag=True, help="Send to a local Telesign simulator with demo credentials.")
@click.option(
    "--no-callbacks", is_flag=True, help="With --sandbox: no callback receiver; `campaign poll --sandbox` asks later."
)
@click.option("--resend-unknown", is_flag=True, help="Also resend messages whose outcome is unknown.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most N messages this run.")
@click.option("--test-to", default=None, help="Send one rendered message to this phone only (a test).")
@click.option("--recipient", "recipient_id", default=None, help="With --test-to: whose message to render.")
@click.option("--wait", is_flag=True, help="Stay and send deferred messages as their send windows open.")
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Send exactly what this saved plan says, or nothing if anything changed since (campaign plan -o).",
)
@LEDGER
@OUTPUTS
@LOG_FORMAT
def send(
    files: tuple[Path, ...],
    dry_run: bool,
    sandbox: bool,
    no_callbacks: bool,
    resend_unknown: bool,
    limit: int | None,
    test_to: str | None,
    recipient_id: str | None,
    outputs: Path,
    log_format: str,
    wait: bool,
    plan_path: Path | None,
    ledger: str | None,
) -> None:
    """Send campaigns: each message at most once, whatever happens."""
    from runner.commands import send as command

    dispatch(
        command.run,
        files=list(files),
        dry_run=dry_run,
        sandbox=sandbox,
        no_callbacks=no_callbacks,
        resend_unknown=resend_unknown,
        limit=limit,
        test_to=test_to,
        recipient_id=recipient_id,
        outputs=outputs,
        log_format=log_format,
        wait=wait,
        plan_path=plan_path,
        ledger_option=ledger,
    )


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Save the plan (JSON) here."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="How to print the plan: markdown is made for a pull-request comment.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Plan a send with --limit N.")
@OUTPUTS
@LEDGER
def plan(
    files: tuple[Path, ...], output: Path | None, fmt: str, limit: int | None, outputs: Path, ledger: str | None
) -> None:
    """Show what a send would do now (counts, texts, cost, time, provenance); send nothing."""
    from runner.commands import plan as command

    dispatch(command.run, files=list(files), output=output, fmt=fmt, outputs=outputs, limit=limit, ledger_option=ledger)


@cli.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path), default=Path("campaigns"))
@OUTPUTS
@LEDGER
@LOG_FORMAT
def run(directory: Path, outputs: Path, ledger: str | None, log_format: str) -> None:
    """For cron: send every campaign under DIRECTORY whose schedule is due."""
    from runner.commands import run as command

    dispatch(command.run, directory=directory, outputs=outputs, log_format=log_format, ledger_option=ledger)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@OUTPUTS
@LEDGER
def status(file: Path, outputs: Path, ledger: str | None) -> None:
    """Counts by state and delivery, from the campaign's ledger."""
    from runner.commands import status as command

    dispatch(command.run, file=file, outputs=outputs, ledger_option=ledger)


@cli.group()
def callbacks() -> None:
    """Telesign delivery callbacks."""


@callbacks.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8081, show_default=True)
@click.option("--log", "log_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-verify", is_flag=True, help="Accept unsigned callbacks (local experiments only).")
@click.option(
    "--outputs",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Apply STOP/START replies to this outputs folder's opt-out store as they arrive.",
)
@LEDGER
def callbacks_serve(
    host: str, port: int, log_path: Path, no_verify: bool, outputs: Path | None, ledger: str | None
) -> None:
    """Receive callbacks, verify their signatures, append them durably to a log."""
    from runner.commands import callbacks_serve as command

    dispatch(
        command.run,
        host=host,
        port=port,
        log_path=log_path,
        no_verify=no_verify,
        outputs=outputs,
        ledger_option=ledger,
    )


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--sandbox", is_flag=True, help="Ask the simulator a `send --sandbox --no-callbacks` run left.")
@OUTPUTS
@LEDGER
def poll(file: Path, outputs: Path, sandbox: bool, ledger: str | None) -> None:
    """Ask Telesign for the delivery status of messages without a final one (12 hours back)."""
    from runner.commands import poll as command

    dispatch(command.run, file=file, outputs=outputs, sandbox=sandbox, ledger_option=ledger)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--callbacks",
    "logs",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A callback log (.jsonl or .gz); repeat for several.",
)
@OUTPUTS
@LEDGER
def enrich(file: Path, logs: tuple[Path, ...], outputs: Path, ledger: str | None) -> None:
    """Fill the report's delivery columns from callback logs."""
    from runner.commands import enrich as command

    dispatch(command.run, file=file, logs=list(logs), outputs=outputs, ledger_option=ledger)


@cli.group()
def optouts() -> None:
    """The repository's opt-outs (STOP replies, and those added by hand)."""


REGION = click.option("--region", default=None, help="Region (US, GB) for a PHONE written without its country code.")
NOTE = click.option("--note", default=None, help="Why, for the record (a ticket number); never a reply's text.")


@optouts.command("list")
@OUTPUTS
@LEDGER
def optouts_list(outputs: Path, ledger: str | None) -> None:
    """Every phone opted out now, since when and how."""
    from runner.commands import optouts as command

    dispatch(command.list_optouts, outputs=outputs, ledger_option=ledger)


@optouts.command("add")
@click.argument("phone")
@REGION
@NOTE
@OUTPUTS
@LEDGER
def optouts_add(phone: str, region: str | None, note: str | None, outputs: Path, ledger: str | None) -> None:
    """Opt PHONE out of every campaign (a complaint by e-mail, a support ticket)."""
    from runner.commands import optouts as command

    dispatch(command.add, phone=phone, region=region, outputs=outputs, note=note, ledger_option=ledger)


@optouts.command("remove")
@click.argument("phone")
@REGION
@NOTE
@OUTPUTS
@LEDGER
def optouts_remove(phone: str, region: str | None, note: str | None, outputs: Path, ledger: str | None) -> None:
    """Opt PHONE back in (the person asked to receive messages again)."""
    from runner.commands import optouts as command

    dispatch(command.remove, phone=phone, region=region, outputs=outputs, note=note, ledger_option=ledger)


@optouts.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@OUTPUTS
@LEDGER
def optouts_export(file: Path, outputs: Path, ledger: str | None) -> None:
    """Write the opted-out phones to FILE.csv."""
    from runner.commands import optouts as command

    dispatch(command.export, file=file, outputs=outputs, ledger_option=ledger)


SIMULATE_HELP = """Run a local stand-in for Telesign's POST /v1/omnichannel.

\b
Outcome by the phone number's last digit:
  0-5  Viber delivered (3000); even digits then read (3005)
  6-7  Viber fails within fallback_time (3056), SMS delivered (3000)
  8    Viber fails, SMS fails (3003)
  9    refused at once: 400, invalid phone number
"""


@cli.command(help=SIMULATE_HELP)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--callback-url", default=None, help="Where to POST signed delivery callbacks.")
@click.option("--time-scale", type=float, default=1.0, show_default=True, help="Multiply every delay.")
@click.option("--tps", type=int, default=None, help="Accepted requests per second before 429/3204.")
@click.option("--latency-ms", type=float, default=0.0, show_default=True, help="Real time added before every answer.")
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of valid requests answered 503/3500 (retryable: nothing was created).",
)
@click.option(
    "--drop-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of valid requests accepted, then cut off without an answer (the sender sees `unknown`).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Makes faults repeatable.")
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append one JSON line per accepted request to FILE (flushed at once).",
)
def simulate(**options: Any) -> None:
    # (the options are typed once, by runner.commands.simulate.run's signature, which they reach as they are)
    from runner.commands import simulate as command

    dispatch(command.run, **options)


def main() -> None:
    """The process's entry point (`campaign`, `python -m runner`); tests call `cli` in-process."""
    try:
        cli(prog_name="campaign")
    finally:
        # The process ends: its shutdown need not walk every object alive first (runner.heap),
        # some 50-100 ms of a one-second send (bench/sdk_compare.py). Atexit handlers still run.
        gc.freeze()
