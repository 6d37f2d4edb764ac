"""The callback receiver: an ASGI app that takes Telesign's delivery callbacks and logs them
durably (docs/callbacks.md).

A raw ASGI callable rather than a framework: it has one job, and every microsecond per request
is a callback acknowledged sooner. For each request:

- not POST: 405. Any path is accepted (Telesign posts to whatever callback URL was configured).
- a body over 64 KB: 413, decided from Content-Length before reading anything, or as soon as a
  chunked body passes the limit; the connection is then closed rather than drained.
- verification (unless `verify=False`): HMAC-SHA256 of the raw body under the base64-decoded API
  key, compared in constant time with the signature in `Authorization: TSA <customer_id>:<sig>`
  or `X-TS-Authorization` (`runner.telesign.auth.verify_callback`). Unsigned or wrong: 401.
- a body that is not a JSON object: 400.
- otherwise the callback is appended to the log as one line, {"received_at": ..., "payload": ...}
  (`runner.callbacks.log.receiver_line`), and flushed to disk (fdatasync) BEFORE the 200 goes out:
  Telesign stops retrying a callback once it gets a 200, so an acknowledged callback that was
  still in a buffer would be lost for good if the process were killed. If the disk write fails,
  the answer is 500 and Telesign retries later.

Durability at speed comes from group commit: requests hand their line to one writer task and wait;
the writer writes everything pending in one write() and one fdatasync() (in a worker thread, so
the event loop keeps accepting requests meanwhile) and then releases all those requests at once.
One disk flush thus acknowledges as many callbacks as arrived during the previous one.

`reopen()` closes and reopens the log by its path, for rotation (logrotate renames the file, then
sends SIGHUP; `campaign callbacks serve` wires SIGHUP to it). It is safe to call from a signal
handler or another thread.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner import terminal
from runner.callbacks.log import receiver_line
from runner.callbacks.timeparse import format_utc
from runner.telesign.auth import verify_callback

MAX_BODY_BYTES = 64 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Reasons a request was refused, as counted in Receiver.refused.
METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
TOO_LARGE = "too_large"  # 413
UNSIGNED = "unsigned"  # 401
BAD_SIGNATURE = "bad_signature"  # 401
NOT_JSON = "not_json"  # 400
NOT_STORED = "not_stored"  # 500: the disk refused the write; Telesign will retry


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
        self._fd = _open_for_append(self.path)

    def _reopen_file(self) -> None:
        try:
            fd = _open_for_append(self.path)
        except OSError as error:
            terminal.err(f"cannot reopen {self.path} ({error.strerror}); still writing to the previous file")
            return
        old, self._fd = self._fd, fd
        if old is not None:
            os.close(old)

    def _write_durably(self, data: bytes) -> None:
        if self._fd is None:
            self._open()
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


def _open_for_append(path: Path) -> int:
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
    _sync_directory(path.parent)
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


def _sync_directory(folder: Path) -> None:
    try:
        dir_fd = os.open(folder if str(folder) else Path("."), os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the file's own flush still happens
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# fdatasync: the data and the file size, without the timestamps fsync would also write.
_flush_to_disk: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


def _response(status: int, body: dict[str, Any], close: bool = False) -> tuple[Message, Message]:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if status == 405:
        headers.append((b"allow", b"POST"))
    if status == 401:
        headers.append((b"www-authenticate", b"TSA"))
    if close:
        headers.append((b"connection", b"close"))
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": payload},
    )


# Prepared once: these are the answers to thousands of requests a second.
_OK = _response(200, {"status": "logged"})
_METHOD = _response(405, {"error": "callbacks are taken on POST only"})
_TOO_LARGE = _response(413, {"error": f"a callback body is at most {MAX_BODY_BYTES} bytes"}, close=True)
_UNSIGNED = _response(401, {"error": "unsigned: Authorization: TSA <customer_id>:<signature> expected"})
_UNSIGNED_CLOSE = _response(
    401, {"error": "unsigned: Authorization: TSA <customer_id>:<signature> expected"}, close=True
)
_BAD_SIGNATURE = _response(401, {"error": "the signature does not match the body"})
_NOT_JSON = _response(400, {"error": "the body is not a JSON object"})
_NOT_STORED = _response(500, {"error": "the callback could not be stored; send it again"})


class Receiver:
    """The ASGI app. `accepted` and `refused` (by reason) count what it answered."""

    def __init__(self, log_path: Path, api_key: str | None, verify: bool = True):
        if verify and not api_key:
            raise ValueError("verifying callbacks needs the API key")
        self.log_path = log_path
        self.verify = verify
        self._api_key = api_key or ""
        self.log = DurableLog(log_path)
        self.accepted = 0
        self.refused: Counter[str] = Counter()

    def __repr__(self) -> str:  # never the key
        return f"Receiver(log_path={str(self.log_path)!r}, verify={self.verify})"

    def reopen(self) -> None:
        """Reopen the log by its path (log rotation); safe from a signal handler."""
        self.log.reopen()

    async def aclose(self) -> None:
        await self.log.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._callback(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.log.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _callback(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            return await self._refuse(send, METHOD_NOT_ALLOWED, _METHOD)
        length: bytes | None = None
        authorization: str | None = None
        ts_authorization: str | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-ts-authorization":
                ts_authorization = value.decode("latin-1")
        # (A malformed Content-Length never gets here: the HTTP parser answers 400 itself.)
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return await self._refuse(send, TOO_LARGE, _TOO_LARGE)
        if self.verify and authorization is None and ts_authorization is None:
            # Nothing to verify against: no need to read the body at all.
            return await self._refuse(send, UNSIGNED, _UNSIGNED_CLOSE)

        body = await _read_body(receive)
        if body is _TOO_LARGE_BODY:
            return await self._refuse(send, TOO_LARGE, _TOO_LARGE)
        if body is _DISCONNECTED:
            return  # the sender is gone: nothing was acknowledged, so Telesign will send it again
        if self.verify and not verify_callback(self._api_key, body, authorization, ts_authorization):
            return await self._refuse(send, BAD_SIGNATURE, _BAD_SIGNATURE)
        try:
            payload = json.loads(body, parse_constant=_no_constants)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's parser goes
            return await self._refuse(send, NOT_JSON, _NOT_JSON)
        if not isinstance(payload, dict):
            return await self._refuse(send, NOT_JSON, _NOT_JSON)

        line = receiver_line(format_utc(datetime.now(UTC)), payload)
        try:
            await self.log.append(line)
        except LogWriteFailed as error:
            terminal.err(f"callback not stored: {error}")
            return await self._refuse(send, NOT_STORED, _NOT_STORED)
        self.accepted += 1
        start, end = _OK
        await send(start)
        await send(end)

    async def _refuse(self, send: Send, reason: str, response: tuple[Message, Message]) -> None:
        self.refused[reason] += 1
        await send(response[0])
        await send(response[1])


_TOO_LARGE_BODY = b"<too large>"
_DISCONNECTED = b"<disconnected>"


async def _read_body(receive: Receive) -> bytes:
    """The request body; or _TOO_LARGE_BODY as soon as it passes MAX_BODY_BYTES (the rest is
    not read), or _DISCONNECTED if the client went away first (both compared by identity)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return _DISCONNECTED
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return _TOO_LARGE_BODY
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python's parser accepts them by default.
    raise ValueError(f"{name} is not JSON")


def create_receiver(log_path: Path, api_key: str | None, verify: bool = True) -> Receiver:
    """The receiver app, its log opened (created if need be) for appending.

    `api_key`: the Telesign API key callbacks are signed with (base64, as Telesign issues it).
    `verify=False` accepts unsigned callbacks: for local experiments only, and it says so.
    Raises OSError when the log cannot be opened.
    """
    if not verify:
        terminal.err(
            "WARNING: callback signatures are NOT verified (--no-verify): anyone who can reach this "
            "port can write to the log. Use this for local experiments only."
        )
    return Receiver(log_path, api_key, verify)
