"""`campaign callbacks serve`: run the callback receiver in the foreground (runner.callbacks.receiver).

The API key comes from the environment only (TELESIGN_API_KEY), as for sending; it is never
printed. SIGHUP reopens the log, so that logrotate (or `mv` + `kill -HUP`) can rotate it.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from runner import terminal
from runner.callbacks.receiver import create_receiver
from runner.errors import CannotProceed, ExitCode, MissingCredentials
from runner.ledger.backend import shared_ledger_url
from runner.policy.keywords import Keywords
from runner.policy.replies import ReplyRecorder
from runner.policy.schema import policy_for
from runner.policy.store import open_store, where
from runner.serving import serve_forever

API_KEY_VARIABLE = "TELESIGN_API_KEY"
CUSTOMER_ID_VARIABLE = "TELESIGN_CUSTOMER_ID"


def run(
    host: str, port: int, log_path: Path, no_verify: bool, outputs: Path | None = None, ledger_option: str | None = None
) -> int:
    url = shared_ledger_url(ledger_option)
    api_key = os.environ.get(API_KEY_VARIABLE, "").strip() or None
    if api_key is None and not no_verify:
        # Only the key signs callbacks; the customer id in `Authorization: TSA <id>:<sig>` is not
        # needed to check them, so a receiver host need not be given it.
        raise MissingCredentials(
            f"{API_KEY_VARIABLE} is not set: the receiver needs your Telesign API key to verify "
            f"callback signatures ({CUSTOMER_ID_VARIABLE} is not needed). Set it in the "
            "environment, or pass --no-verify for a local experiment."
        )
    _check_can_listen(host, port)
    # With a shared ledger, replies go to its database: a STOP received here stops every host's senders.
    replies = _reply_recorder(outputs or Path("outputs"), url) if outputs is not None or url is not None else None
    recorder = replies[0] if replies is not None else None
    try:
        receiver = create_receiver(
            log_path, api_key, verify=not no_verify, on_reply=recorder.take if recorder else None
        )
    except OSError as error:
        raise CannotProceed(f"{log_path}: cannot open the callback log for appending ({error.strerror})") from None

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda signum, frame: receiver.reopen())
    # uvicorn shuts down gracefully on SIGTERM (requests in flight get their fsync and their 200),
    # then re-raises the signal to the handler it found: this one, so that we end with a summary
    # and the conventional exit code instead of dying silently.
    signal.signal(signal.SIGTERM, _raise_terminated)
    verifying = "signatures verified" if not no_verify else "signatures NOT verified"
    terminal.err(f"receiving callbacks on http://{host}:{port}/ (POST, any path; {verifying})")
    terminal.err(f"appending them to {log_path} (SIGHUP reopens it; Ctrl-C stops)")
    if replies is not None:
        store = where(outputs or Path("outputs"), url)
        terminal.err(f"replies (STOP, START) applied to the opt-out store in {store} as they arrive, {replies[1]}")
    try:
        serve_forever(receiver, host, port)
    except SystemExit as stop:  # uvicorn's way of saying it could not start (e.g. port in use)
        if stop.code:
            raise CannotProceed(f"cannot serve on {host}:{port}: is another program using this port?") from None
    except _Terminated:
        return int(ExitCode.TERMINATED)
    finally:
        refused = ", ".join(f"{count} {reason}" for reason, count in sorted(receiver.refused.items()))
        terminal.err(
            f"stopped: {receiver.accepted} callbacks logged in {receiver.log.flushes} disk flushes; "
            f"refused: {refused or 'none'}"
            + (f"; replies: {recorder.counts}" if recorder is not None and recorder.counts else "")
        )
    return 0


def _reply_recorder(outputs: Path, url: str | None) -> tuple[ReplyRecorder, str]:
    """Replies go to the outputs folder's opt-out store, read with the keywords of the policy of
    the campaigns folder here (campaigns/policy.toml), or the defaults (docs/policy.md); with the
    words that say which, for the start-up line. (A receiver started in another folder, by a
    service manager say, used to fall back to the defaults without a word, so the policy's own
    keywords, "ARRET" or "BAJA", opted nobody out until `campaign enrich` read the log.)"""
    policy = policy_for(Path("campaigns"))
    keywords = Keywords.of(policy.spec.opt_out.keywords, policy.spec.opt_out.opt_in)
    if policy.path is not None:
        said = f"with the keywords of {policy.path}"
    else:
        said = f"with the default keywords: no campaigns/policy.toml in {Path.cwd()}"
    return ReplyRecorder(open_store(outputs, url), keywords), said


def _check_can_listen(host: str, port: int) -> None:
    """Fail with a clear line, before announcing anything, when the address is taken."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as error:
        raise CannotProceed(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


class _Terminated(Exception):
    pass


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated()
