"""The callback log: an append-only file where `append` returns only once the line is on disk,
with concurrent appends sharing one write and one fdatasync (group commit). The receiver
(runner.callbacks.receiver) answers 200 only after its line is here (docs/callbacks.md)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from runner import terminal
from runner.atomic import fsync_folder


class LogWriteFailed(Exception):
    pass


class DurableLog:
    """An append-only file where `append` returns only once the line is on disk, with concurrent
    appends sharing one write and one fdatasync (group commit)."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._reopen_requested = False
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="callback-log")
        self.flushes = 0  # disk flushes done: appends / flushes is the group-commit batch size
        self._open()

    def start(self) -> None:
        """Start the writer on the running loop (the app's lifespan startup does it; `append`
        does it too when an app is driven without lifespan events)."""
        loop = asyncio.get_running_loop()
        if self._writer is None or self._loop is not loop or self._writer.done():
            self._loop = loop
            self._wake = asyncio.Event()
            self._writer = loop.create_task(self._write_batches(), name="callback-log-writer")
            if self._reopen_requested:  # asked for while no writer ran
                self._wake.set()

    async def append(self, line: bytes) -> None:
        """Append one line; returns once it is durably on disk (raises LogWriteFailed if not)."""
        self.start()
        assert self._wake is not None and self._loop is not None
        done: asyncio.Future[None] = self._loop.create_future()
        self._pending.append((line, done))
        self._wake.set()
        await done

    def reopen(self) -> None:
        """Reopen the file by its path (after rotation). Safe from a signal handler or another
        thread: it only asks the writer, which reopens between two batches, so no batch is split
        between the old file and the new one, and no write races with the swap. Without a
        running writer, the next append's writer reopens first."""
        self._reopen_requested = True
        loop, wake, writer = self._loop, self._wake, self._writer
        if loop is not None and wake is not None and writer is not None and not writer.done():
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # that loop is closed: the next writer will see the request
                pass

    async def close(self) -> None:
        """Write what is pending, stop the writer and close the file (a later append reopens it)."""
        if self._writer is not None and not self._writer.done() and self._loop is asyncio.get_running_loop():
            self._closing = True
            assert self._wake is not None
            self._wake.set()
            await self._writer
        self._closing = False
        self._writer = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    async def _write_batches(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._reopen_requested:
                self._reopen_requested = False
                await loop.run_in_executor(self._thread, self._reopen_file)
            if self._pending:
                batch, self._pending = self._pending, []
                data = b"".join(line for line, _ in batch)
                try:
                    await loop.run_in_executor(self._thread, self._write_durably, data)
                except Exception as error:  # never leave requests waiting on a dead writer
                    reason = error.strerror if isinstance(error, OSError) and error.strerror else error
                    failure = LogWriteFailed(f"{self.path}: {reason}")
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(failure)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
                # Requests that arrived during this flush are the next batch: go round at once.
                if self._pending:
                    self._wake.set()
            if self._closing and not self._pending:
                return

    def _open(self) -> None:
        self._fd = open_for_append(self.path)

    def _reopen_file(self) -> None:
        try:
            fd = open_for_append(self.path)
        except OSError as error:
            terminal.err(f"cannot reopen {self.path} ({error.strerror}); still writing to the previous file")
            return
        old, self._fd = self._fd, fd
        if old is not None:
            os.close(old)

    def _write_durably(self, data: bytes) -> None:
        if self._fd is None:
            self._open()
        elif self._moved_away():
            # Rotated without SIGHUP (logrotate without a postrotate kill -HUP, or `compress`
            # without `delaycompress`; a hand-run `mv` and `gzip`): the open file is a renamed one,
            # or one gzip has already deleted. Writing on into it answered Telesign 200 for
            # callbacks that were then in no file at all, and Telesign does not send an
            # acknowledged callback again. So the path is reopened, as SIGHUP would.
            terminal.err(f"{self.path} was moved or deleted without SIGHUP: reopening it")
            self._reopen_file()
        fd = self._fd
        assert fd is not None
        size_before = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            _flush_to_disk(fd)
        except OSError:
            # Take back a partly written batch, so that the next line does not start in the
            # middle of one: those callbacks get a 500 and Telesign sends them again.
            try:
                os.ftruncate(fd, size_before)
            except OSError:
                pass
            raise
        self.flushes += 1

    def _moved_away(self) -> bool:
        """Whether the log's path no longer names the file open for writing (one stat and one
        fstat a batch: nothing beside the batch's fdatasync)."""
        assert self._fd is not None
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return True
        except OSError:
            return False  # (a folder that cannot be looked into now: keep the file we have)
        here = os.fstat(self._fd)
        return (on_disk.st_dev, on_disk.st_ino) != (here.st_dev, here.st_ino)


def open_for_append(path: Path) -> int:
    """A log's file descriptor for appending lines (the receiver's, `campaign poll`'s): a line a
    writer killed mid-write left unfinished is ended first, and a new file's folder is synced."""
    # Read access too: to look at the last byte (below). O_APPEND makes every write land at the end.
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | os.O_EXCL, 0o644)
    except FileExistsError:
        fd = os.open(path, flags, 0o644)
        _end_torn_line(fd)
        return fd
    # A new file: its directory entry must reach the disk too, or a crash could lose the file
    # along with the callbacks that were acknowledged into it.
    fsync_folder(path.parent if str(path.parent) else Path("."))
    return fd


def _end_torn_line(fd: int) -> None:
    """A receiver killed (kill -9) in the middle of writing a batch can leave a partial last line
    (the kernel may cut a large write short on a fatal signal; none of it was acknowledged).
    Close it with a newline, so that the next callback starts a line of its own instead of being
    glued to the fragment and lost with it."""
    try:
        size = os.fstat(fd).st_size
        if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")
    except OSError:
        pass  # not a regular file (a pipe, a device): nothing to repair


# fdatasync: the data and the file size, without the timestamps fsync would also write.
_flush_to_disk: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)
