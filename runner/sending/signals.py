"""Ctrl-C and SIGTERM around one campaign's send, so that a run ends in Python on every stop.

The send loop handles both itself (runner.sending.sender: stop claiming, let requests in flight
finish). Outside it, while the audience syncs or asyncio winds down, Ctrl-C raises
KeyboardInterrupt and SIGTERM raises TerminationRequested (Python's default for SIGTERM would end the
process at once, with no report and the run never finished). While the report and the run's end
are written, both are held back and raised once that is done: a second Ctrl-C never costs the
report (docs/sending.md, "Re-running never sends twice")."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from runner.errors import TerminationRequested

Handler = Callable[[int, FrameType | None], Any] | int | None


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise TerminationRequested


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def stops_raise() -> Iterator[None]:
    """For the length of a campaign's send: SIGTERM raises TerminationRequested, as Ctrl-C raises
    KeyboardInterrupt (Python's own handler, left as it is). Only the main thread can handle
    signals: elsewhere this does nothing."""
    if not _main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN:  # started with SIGTERM ignored (nohup and the like): keep it so
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def stops_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done, then raise (the first one that came)."""
    if not _main_thread():
        yield
        return
    held: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous = {sig: handler for sig, handler in previous.items() if handler != signal.SIG_IGN}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if held:
        if held[0] == signal.SIGTERM:
            raise TerminationRequested
        raise KeyboardInterrupt


def restore_after_loop(signums: list[signal.Signals], previous: dict[signal.Signals, Handler]) -> None:
    """asyncio's remove_signal_handler resets SIGTERM to SIG_DFL (the process would then die at
    once on a SIGTERM): give each signal back the handler it had before the loop took it."""
    if not _main_thread():
        return
    for signum in signums:
        handler = previous.get(signum)
        if handler is not None:
            signal.signal(signum, handler)
