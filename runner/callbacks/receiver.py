"""The callback receiver: an ASGI app that takes Telesign's delivery callbacks and logs them
durably (docs/callbacks.md).

A raw ASGI callable rather than a framework: it has one job, and every microsecond per request
is a callback acknowledged sooner. For each request:

- not POST: 405. Any path is accepted (Telesign posts to whatever callback URL was configured).
- a body over 64 KB: 413, decided from Content-Length before reading anything, or as soon as a
  chunked body passes the limit; the connection is then closed rather than drained.
- a body not complete BODY_SECONDS after its headers: 408, and the connection closed (a client
  that stalls or trickles must not hold a connection and its file descriptor for ever).
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
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner import terminal
from runner.callbacks.durable_log import DurableLog, LogWriteFailed
from runner.callbacks.log import receiver_line
from runner.callbacks.timeparse import format_utc
from runner.telesign.auth import verify_callback

MAX_BODY_BYTES = 64 * 1024
# Telesign's Transaction Callback Service waits a few seconds for an answer before it counts a try
# as failed and retries later (the simulator waits 5 s, docs/simulator.md), and a callback is a few
# hundred bytes: a body still unfinished after this long comes from no sender worth waiting for.
BODY_SECONDS = 10.0
OnReply = Callable[[dict[str, Any]], object]  # what to do with an inbound reply once it is logged

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
TOO_SLOW = "too_slow"  # 408: the body did not come within BODY_SECONDS


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
_TOO_SLOW = _response(408, {"error": f"the body did not arrive within {BODY_SECONDS:g} seconds"}, close=True)


class Receiver:
    """The ASGI app. `accepted` and `refused` (by reason) count what it answered."""

    def __init__(
        self,
        log_path: Path,
        api_key: str | None,
        verify: bool = True,
        on_reply: OnReply | None = None,
    ):
        if verify and not api_key:
            raise ValueError("verifying callbacks needs the API key")
        self.log_path = log_path
        # Inbound replies (status 1500, sub_resource mo_*), handed on once logged: opt-outs in the
        # recipient store (runner.policy.replies.ReplyRecorder; docs/policy.md).
        self.on_reply = on_reply
        self._reply_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replies") if on_reply else None
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

        try:
            # Without a deadline, a client that sent its headers and then stalled (or a connection
            # half-dead since a network fault) kept its connection, file descriptor and task for ever:
            # enough of them and the receiver could accept no more, Telesign's callbacks included.
            async with asyncio.timeout(BODY_SECONDS):
                body = await _read_body(receive)
        except TimeoutError:
            return await self._refuse(send, TOO_SLOW, _TOO_SLOW)
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
        if self.on_reply is not None and self._reply_thread is not None and _inbound(payload):
            try:  # the log has it whatever happens here: `campaign enrich` applies it again
                await asyncio.get_running_loop().run_in_executor(self._reply_thread, self.on_reply, payload)
            except Exception as error:
                terminal.err(f"reply logged but not applied to the opt-out store: {error}")
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


def _inbound(payload: dict[str, Any]) -> bool:
    sub = payload.get("sub_resource")
    return isinstance(sub, str) and sub.startswith("mo_")


def create_receiver(
    log_path: Path, api_key: str | None, verify: bool = True, on_reply: OnReply | None = None
) -> Receiver:
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
    return Receiver(log_path, api_key, verify, on_reply)
