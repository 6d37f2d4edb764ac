"""Callback logs read by a second process while enrichment merges: both cores at work.

Reading is a third of an enrichment's time (a million lines: decoding each, hashing its payload,
parsing its times; runner.callbacks.log), and the merge cannot start a line before it is read. So
for logs big enough to be worth it, a forked child reads them with the one reader there is
(`Batches`) and hands each list of records over a pipe; the parent merges one list while the
child reads the next. The records, their order and their arrival numbers are those `Batches` gives
in-process, so the merge, the ledger and the report are the same (tests/callbacks/test_read_ahead.py
compares the records; tests/enrich/test_enrich.py enriches both ways).

What crosses the pipe: a list of only Callbacks (nearly all) as msgpack, which msgspec decodes
back into Callback structs in C; any other list (a malformed line, a reply) pickled whole. The
pipe holds a few lists at most (the child waits when it is full), so memory stays flat whatever
the logs' size. The child leaves Ctrl-C and errors to the parent: an error reading a log (one that
cannot be opened) is raised by the parent at the same point of the stream as in-process.
"""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from runner.callbacks.log import Batches, LogRecord
from runner.callbacks.payload import Callback
from runner.errors import CannotProceed, InvalidInput
from runner.policy.replies import Reply

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

# Logs smaller than this together are read in-process: starting the child and the pipe's traffic
# cost more than they save below a few tens of thousands of lines.
READ_AHEAD_BYTES = 8 * 1024 * 1024

_CALLBACKS, _MIXED, _FAILED, _INVALID, _DONE = b"C", b"M", b"F", b"I", b"D"
_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder(list[Callback]).decode

Records = list[LogRecord | Reply]


def batches(paths: Iterable[Path], first_arrival: int, replies: bool) -> Batches | ReadAhead:
    """`Batches` of the logs, read in a second process where that is worth it."""
    paths = list(paths)
    if _cores() < 2 or not hasattr(os, "fork") or _size(paths) < READ_AHEAD_BYTES:
        return Batches(paths, first_arrival, replies)
    return ReadAhead(paths, first_arrival, replies)


def _cores() -> int:
    """The cores this process may run on (taskset and cgroup cpusets included, where Linux says)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _size(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            pass  # (the reader says why it cannot be read, at its turn)
    return total


class ReadAhead:
    """`Batches`, read by a forked child: the same lists in the same order; `arrival` is the next
    arrival number once they are all read."""

    def __init__(self, paths: list[Path], first_arrival: int, replies: bool) -> None:
        self.paths, self.arrival, self.replies = paths, first_arrival, replies

    def __iter__(self) -> Iterator[Records]:
        import multiprocessing  # (here: only an enrichment of big logs pays for importing it)

        context = multiprocessing.get_context("fork")  # (what the parent has imported, the child has)
        receiving, sending = context.Pipe(duplex=False)
        child = context.Process(
            target=_read, args=(receiving, sending, self.paths, self.arrival, self.replies), daemon=True
        )
        # Ctrl-C is the parent's to answer (it stops the child): the child ignores it from its first
        # step. SIGINT is held back across the fork so that one pressed meanwhile neither kills the
        # child with a traceback nor is lost: the parent gets it once the fork is done, here.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            try:
                child.start()
            finally:
                sending.close()  # (the child's end: the parent reads EOF if the child dies)
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            self.arrival = yield from _receive(receiving)
        finally:
            receiving.close()
            if child.pid is not None:  # (started)
                if child.is_alive():
                    child.kill()  # (stopped early: Ctrl-C, or an error in the merge)
                child.join()


def _receive(receiving: Connection) -> Generator[Records, None, int]:
    """The child's lists as they come; returns the next arrival number once they are all read."""
    while True:
        try:
            frame = receiving.recv_bytes()
        except EOFError:  # (the child ended without a last word: killed, out of memory)
            raise CannotProceed(
                "the process reading the callback logs ended unexpectedly (killed?): nothing was merged; "
                "run enrich again"
            ) from None
        kind, body = frame[:1], memoryview(frame)[1:]
        if kind == _CALLBACKS:
            yield _DECODE(body)  # type: ignore[misc]  # (list[Callback] is a list of records)
        elif kind == _MIXED:
            yield pickle.loads(body)
        elif kind == _INVALID:
            problems, conclusion = pickle.loads(body)
            raise InvalidInput(problems, conclusion)
        elif kind == _FAILED:
            raise pickle.loads(body)
        else:
            return int(bytes(body))


def _read(receiving: Connection, sending: Connection, paths: list[Path], first_arrival: int, replies: bool) -> None:
    """The child: every list of records into the pipe, then the next arrival number."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    # SIGTERM (cron's timeout to the whole group; multiprocessing's own at the parent's exit) ends
    # the reader at once: not the parent's handler, inherited, that raises for a clean stop.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # The parent's end, inherited by the fork: closed, so that once the parent is gone (kill -9)
    # a write finds no reader and the child ends, instead of filling a pipe only it could read.
    receiving.close()
    reader = Batches(paths, first_arrival, replies)
    send = sending.send_bytes
    try:
        for batch in reader:
            if all(type(record) is Callback for record in batch):
                send(_CALLBACKS + _ENCODE(batch))
            else:
                send(_MIXED + pickle.dumps(batch, pickle.HIGHEST_PROTOCOL))
        send(_DONE + str(reader.arrival).encode())
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent stopped reading: it has gone, or is going
    except InvalidInput as error:  # (rebuilt by the parent: its own pickling loses the problems)
        send(_INVALID + pickle.dumps((error.problems, error.conclusion)))
    except Exception as error:  # e.g. an OSError reading a file: the parent raises it as its own
        try:
            told = pickle.dumps(error)
        except Exception:  # (an exception that does not pickle: its text, at least)
            told = pickle.dumps(RuntimeError(f"reading the callback logs: {error!r}"))
        send(_FAILED + told)
    finally:
        sending.close()
