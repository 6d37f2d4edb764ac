"""Files that appear whole or not at all: the report, dry-run.jsonl, a new ledger.

The content goes to a temporary file in the target's folder, is flushed to disk (fsync), then
takes the target's name in one rename (or link), and the folder entry is flushed too, so that
after a crash a reader finds either the previous file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_path(target: Path, keep_existing: bool = False, durable: bool = True) -> Iterator[Path]:
    """A temporary path beside `target` to write by name (e.g. for SQLite); on a clean exit it is
    fsynced and put in place. `keep_existing`: if `target` exists by then (another process made
    it first), theirs is kept and ours dropped, so two processes never both create it.
    `durable=False` skips the fsyncs, for a file that checks itself (a torn one reads as absent)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=target.suffix, dir=target.parent)
    except OSError as error:
        # named by the file the user asked for, not by the hidden temporary one beside it
        raise OSError(error.errno, error.strerror, str(target)) from None
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        if durable:
            _fsync_file(temp)
        if keep_existing:
            try:
                os.link(temp, target)
            except FileExistsError:
                pass
        else:
            os.replace(temp, target)
        if durable:
            fsync_folder(target.parent)
    finally:
        temp.unlink(missing_ok=True)


@contextmanager
def atomic_write(target: Path, mode: str = "wb", durable: bool = True, **open_args: Any) -> Iterator[IO[Any]]:
    """An open file whose content replaces `target` when the block ends without an error; on an
    error `target` is left as it was. `mode` and `open_args` are open()'s ("w", newline="", ...)."""
    with atomic_path(target, durable=durable) as temp, open(temp, mode, **open_args) as handle:
        yield handle


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Make a file's creation or rename in FOLDER durable (its entry lives in the folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the file's own fsync has happened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
