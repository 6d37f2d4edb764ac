"""The callback logs read in a second process, beside the merge (`campaign enrich` on a big log).

Reading a log (lines split, each payload decoded and hashed: runner.callbacks.log) is most of an
enrichment's time, and merging the rest; one process does them one after the other, on one core.
Here a child process, forked, reads the logs as runner.callbacks.log.Batches would and hands each
batch of records over a pipe; the parent merges one batch while the child reads the next. The
records, their order and their arrival numbers are the very ones Batches gives (the child numbers
them as it reads, as Batches does), so the merge, and the report, cannot tell the difference.

Memory stays bounded: the pipe holds at most a batch or two, and the child waits while it is full.
The child never touches what it inherited besides the logs (the ledger's connection above all)
and leaves by os._exit, so nothing of the parent's is closed or flushed twice. Where fork is not
available, or the logs are small, the logs are read in this process."""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import msgspec

from runner.callbacks.log import Batches, LogRecord
from runner.callbacks.payload import Callback
from runner.policy.replies import Reply

# Logs smaller than this in all are read in this process: forking, and the records' trip through
# the pipe, cost more than they save on a few thousand lines.
BESIDE_FROM_BYTES = 16 * 1024 * 1024

_CALLBACKS, _MIXED, _FAILED, _END = b"C", b"M", b"X", b"Z"  # the kinds of frame the child writes
_HEADER = 5  # a frame's kind, then its length (4 bytes, big-endian)
_PIPE_BUFFER = 256 * 1024


def read_batches(paths: Iterable[Path], first_arrival: int, replies: bool) -> Batches | Beside:
    """What runner.callbacks.log.Batches gives, read beside this process where that pays."""
    paths = list(paths)
    if not hasattr(os, "fork") or (os.cpu_count() or 1) < 2 or _size(paths) < BESIDE_FROM_BYTES:
        return Batches(paths, first_arrival, replies)
    return Beside(paths, first_arrival, replies)


def _size(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            pass  # (the reading says why it cannot be read, at its turn)
    return total


class Beside:
    """Batches, read by a child process: iterate once; `arrival` is the next arrival number once all
    are read."""

    def __init__(self, paths: list[Path], first_arrival: int, replies: bool) -> None:
        self.paths, self.arrival, self.replies = paths, first_arrival, replies
        self.child: int | None = None  # the reading process, once started

    def __iter__(self) -> Iterator[list[LogRecord | Reply]]:
        read_end, write_end = os.pipe()
        self.child = child = os.fork()
        if child == 0:  # pragma: no cover  (the child: its coverage is not collected)
            os.close(read_end)
            _child(write_end, Batches(self.paths, self.arrival, self.replies))
        os.close(write_end)
        done = False
        try:
            with open(read_end, "rb", buffering=_PIPE_BUFFER) as pipe:
                for kind, frame in _frames(pipe):
                    if kind == _CALLBACKS:
                        yield _DECODE(frame)  # type: ignore[misc]  # (list[Callback] is such a list)
                    elif kind == _MIXED:
                        yield pickle.loads(frame)  # (our own child's records)
                    elif kind == _FAILED:
                        raise pickle.loads(frame)  # (the reading's exception, raised here)
                    else:
                        self.arrival = int.from_bytes(frame, "big", signed=True)
                        done = True
            if not done:
                raise RuntimeError("the process reading the callback logs stopped before their end")
        finally:
            if not done:  # (the merge stopped, or the child did: no reading goes on unread)
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.waitpid(child, 0)


def _frames(pipe: IO[bytes]) -> Iterator[tuple[bytes, bytes]]:
    read = pipe.read
    while header := read(_HEADER):
        yield header[:1], read(int.from_bytes(header[1:], "big"))


def _child(fd: int, batches: Batches) -> None:  # pragma: no cover  (runs in the child)
    """Read the logs into the pipe, then leave at once (see the module's docstring)."""
    status = 1
    try:
        with open(fd, "wb", buffering=_PIPE_BUFFER) as pipe:
            write, encode = pipe.write, msgspec.msgpack.Encoder().encode
            try:
                for batch in batches:
                    if all(type(record) is Callback for record in batch):
                        frame, kind = encode(batch), _CALLBACKS
                    else:  # (a malformed line or a reply among them: rare)
                        frame, kind = pickle.dumps(batch, pickle.HIGHEST_PROTOCOL), _MIXED
                    write(kind + len(frame).to_bytes(4, "big") + frame)
                frame, kind = batches.arrival.to_bytes(8, "big", signed=True), _END
            except Exception as error:  # (handed to the parent, which raises it where Batches would)
                frame, kind = _pickled(error), _FAILED
            write(kind + len(frame).to_bytes(4, "big") + frame)
        status = 0
    finally:
        os._exit(status)


def _pickled(error: Exception) -> bytes:
    try:
        frame = pickle.dumps(error, pickle.HIGHEST_PROTOCOL)
        pickle.loads(frame)  # (an exception that cannot be rebuilt is sent as its text)
        return frame
    except Exception:
        return pickle.dumps(RuntimeError(f"reading the callback logs failed: {error!r}"))


_DECODE = msgspec.msgpack.Decoder(list[Callback]).decode
