"""The simulator itself: a raw ASGI application standing in for Telesign's omnichannel endpoint.

Raw ASGI, without a web framework: it serves two routes, and every microsecond per request counts
toward the thousands of requests a second a send benchmark needs from it on two cores.

POST /v1/omnichannel goes through the steps Telesign's answers imply, each with its own answer:
body size (413/3116) -> authentication (401/3400) -> JSON and validation (400) -> invalid number
(400, last digit 9) -> TPS limit (429/3204 + Retry-After) -> injected faults (503/3500, or accept
and drop) -> accepted (200/3001, callbacks planned). Refusals echo the request's external_id
(runner.simulator.statuses). GET /v1/omnichannel/{reference_id} answers the message's current
status, shaped like its callbacks with `additional_info`, as Telesign's getMessagingStatus:
400/3311 for a reference_id it does not know, 404/-10004 once the message is over 12 hours old.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx

from runner.campaign.sms import measure
from runner.simulator import statuses as s
from runner.simulator.auth import Authenticator
from runner.simulator.callbacks import CallbackDispatcher
from runner.simulator.config import SimulatorConfig
from runner.simulator.faults import Fault, FaultDraw
from runner.simulator.journal import AcceptedRequest, CallbackAttempt, Journal, read_journal_file
from runner.simulator.outcomes import refused_at_once, status_payload
from runner.simulator.ratelimit import AcceptanceWindow
from runner.simulator.statuses import Refusal
from runner.simulator.validation import MAX_BODY_BYTES, OmnichannelRequest, invalid_phone_number, parse
from runner.telesign import codes as c

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ENDPOINT = "/v1/omnichannel"
JSON_HEADERS = [(b"content-type", b"application/json")]


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised where the server's transport cannot be reached (httpx.ASGITransport): the client sees
    the same exception type it would get from a real connection closed without an answer."""


class ClientGone(Exception):
    """The client disconnected before its request was read."""


class Simulator:
    """The ASGI callable, and what it observed (see Journal) for tests run from outside.

    Over 200 lines because it is one HTTP endpoint per Telesign route (POST and GET
    /v1/omnichannel) with their shared request handling (authentication, the TPS limit, faults,
    callbacks); validation, outcomes, callbacks and the journal are modules of their own."""

    def __init__(self, config: SimulatorConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        # The monotonic clock behind the TPS window and message ages; tests may pass their own.
        self.clock = clock
        self.journal = Journal(limit=config.history_limit, path=config.journal_path)
        self.callbacks = CallbackDispatcher(config, self.journal)
        self._auth = Authenticator(config.credentials)
        self._window = AcceptanceWindow(config.tps) if config.tps is not None else None
        self._faults = FaultDraw(config.seed, config.fail_rate, config.drop_rate, config.history_limit)
        self._latency_s = config.latency_ms / 1000.0

    # --- observable state ------------------------------------------------------------------------
    def accepted(self) -> list[AcceptedRequest]:
        return self.journal.accepted()

    def accepted_by_phone(self) -> Counter[str]:
        return self.journal.accepted_by_phone()

    def accepted_per_second(self) -> dict[int, int]:
        return self.journal.accepted_per_second()

    def most_accepted_in_one_second(self) -> int:
        return self.journal.most_accepted_in_one_second()

    def most_status_asked_in_one_second(self) -> int:
        return self.journal.most_status_asked_in_one_second()

    def outcomes(self) -> Counter[str]:
        return self.journal.outcomes()

    def callbacks_sent(self) -> list[CallbackAttempt]:
        return self.journal.callbacks()

    def status_of(self, reference_id: str) -> dict[str, Any] | None:
        """What GET /v1/omnichannel/{reference_id} would answer now, or None if unknown."""
        request = self.journal.find(reference_id)
        if request is None:
            return None
        change = request.status_at(self.clock(), self.config.time_scale)
        return status_payload(
            request.reference_id, request.external_id, change, request.accepted_at, self.config.time_scale
        )

    def restore(self, path: Path) -> int:
        """Take back the requests an earlier simulator wrote to its journal file, with their ages, so
        that GET status answers for them (the sandbox's `campaign poll --sandbox`). Returns how many."""
        restored = 0
        monotonic_now, wall_now = self.clock(), time.time()
        for record in read_journal_file(path):
            request = AcceptedRequest.from_record(record, monotonic_now, wall_now)
            if request is not None:
                self.journal.accept(request)
                restored += 1
        return restored

    def last_change_at(self) -> float:
        """The clock() time at which the last planned status change of any request has happened."""
        latest = 0.0
        for request in self.journal.accepted():
            changes = request.changes
            if changes:
                latest = max(latest, request.accepted_monotonic + self.config.scaled(changes[-1].at_s))
        return latest

    def wait_callbacks_settled(self, timeout: float = 10.0) -> bool:
        """From another thread: block until every planned callback was answered 200 or given up."""
        return self.callbacks.wait_settled(timeout)

    async def callbacks_settled(self, timeout: float = 10.0) -> bool:
        """The same, awaited on the simulator's own loop (httpx.ASGITransport tests)."""
        return await self.callbacks.settled(timeout)

    async def aclose(self) -> None:
        """Cancel callbacks not yet sent and close the journal file (lifespan shutdown does it)."""
        await self.callbacks.aclose()
        self.journal.close()

    # --- ASGI ------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                await self._http(scope, receive, send)
            except ClientGone:
                return
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.journal.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.rstrip("/") == ENDPOINT:
            if method == "POST":
                await self._send_message(scope, receive, send)
            else:
                await self._answer(
                    send, Refusal(405, c.INVALID_REQUEST, "Method not allowed: use POST"), [(b"allow", b"POST")]
                )
        elif path.startswith(ENDPOINT + "/") and method == "GET":
            await self._get_status(scope, send, path[len(ENDPOINT) + 1 :])
        else:
            await self._answer(send, s.not_found(f"{method} {path}"))

    async def _send_message(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        raw = await _read_body(receive, headers)
        if raw is None:
            await self._refuse(send, s.payload_too_large(MAX_BODY_BYTES), [(b"connection", b"close")])
            return
        external_id = _external_id_of(raw)
        reason = self._auth.refusal_reason("POST", scope["path"], headers, raw)
        if reason is not None:
            await self._refuse(send, s.not_authorized(reason).echoing(external_id))
            return
        if not headers.get("content-type", "").lower().startswith("application/json"):
            refusal = s.bad_request(c.INVALID_REQUEST, "Invalid request: Content-Type must be application/json")
            await self._refuse(send, refusal.echoing(external_id))
            return
        request = parse(raw)
        if isinstance(request, Refusal):
            await self._refuse(send, request.echoing(external_id))
            return
        if refused_at_once(request.phone_number):
            await self._refuse(send, invalid_phone_number(request.phone_number).echoing(external_id))
            return
        now = self.clock()
        if self._window is not None:
            wait = self._window.retry_after(now)
            if wait is not None:
                await self._refuse(send, s.rate_limited(wait).echoing(external_id))
                return
        fault = self._faults.draw(raw)
        if fault is Fault.FAIL:
            await self._refuse(send, s.unavailable().echoing(external_id))
            return
        accepted = self._accept(request, raw, now, dropped=fault is Fault.DROP)
        if accepted.dropped:
            await self._drop(receive)
            return
        body = json.dumps(
            {
                "status": {"code": s.IN_PROGRESS, "description": s.IN_PROGRESS_TEXT},
                "reference_id": accepted.reference_id,
                "external_id": accepted.external_id,
            }
        ).encode()
        await self._respond(send, 200, body)

    def _accept(self, request: OmnichannelRequest, raw: bytes, now: float, dropped: bool) -> AcceptedRequest:
        accepted = AcceptedRequest(
            reference_id=_reference_id(),
            external_id=request.external_id,
            phone_number=request.phone_number,
            raw_body=raw,
            accepted_monotonic=now,
            accepted_at=time.time(),
            dropped=dropped,
            channels=request.channels,
            channel_refs=tuple(_reference_id() for _ in request.channels),
            sms_parts=_sms_parts(request.body),
        )
        if self._window is not None:
            self._window.record(now)
        self.journal.accept(accepted, request.body)
        url = request.callback_url or self.config.callback_url
        if url is not None:
            self.callbacks.schedule(url, accepted)
        return accepted

    async def _drop(self, receive: Receive) -> None:
        """Close the connection without an answer: the request was accepted, the client cannot
        know it (a timeout or reset after the request was written: it must not resend)."""
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        # Under uvicorn, `receive` is a method of the request cycle, which holds the transport.
        cycle: Any = getattr(receive, "__self__", None)
        transport: Any = getattr(cycle, "transport", None)
        # (uvloop's transports are not asyncio.BaseTransport subclasses: check by behaviour.)
        if not callable(getattr(transport, "close", None)) or not hasattr(cycle, "disconnected"):
            raise ConnectionDropped("Server disconnected without sending a response (simulated drop).")
        transport.close()
        # Let the server notice the lost connection before returning, or it would answer 500.
        try:
            await asyncio.wait_for(receive(), timeout=1.0)
        except TimeoutError:
            pass
        cycle.disconnected = True

    async def _get_status(self, scope: Scope, send: Send, reference_id: str) -> None:
        reason = self._auth.refusal_reason("GET", scope["path"], _headers(scope), b"")
        if reason is not None:
            await self._answer(send, s.status_unauthorized(reason))
            return
        request = self.journal.find(reference_id) if _REFERENCE_ID.fullmatch(reference_id) else None
        if request is None:
            await self._answer(send, s.invalid_reference_id())
            return
        if self.clock() - request.accepted_monotonic > s.STATUS_WINDOW_S:
            await self._answer(send, s.reference_expired())
            return
        payload = self.status_of(reference_id)
        self.journal.status_asked(time.monotonic())  # (real time: the pace a client keeps)
        await self._respond(send, 200, json.dumps(payload).encode())

    async def _refuse(self, send: Send, refusal: Refusal, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        self.journal.count(str(refusal.http_status))
        await self._answer(send, refusal, extra)

    async def _answer(self, send: Send, refusal: Refusal, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        headers = list(extra or [])
        if refusal.retry_after is not None:
            headers.append((b"retry-after", str(refusal.retry_after).encode()))
        await self._respond(send, refusal.http_status, refusal.body(), headers)

    async def _respond(
        self, send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode()), *(extra or [])]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def create_app(config: SimulatorConfig | None = None, clock: Callable[[], float] = time.monotonic) -> Simulator:
    return Simulator(config or SimulatorConfig(), clock)


_REFERENCE_ID = re.compile(r"[0-9A-F]{32}")


def _external_id_of(raw: bytes) -> str | None:
    """The request's external_id, for a refusal to echo; None when the body does not give one."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):  # (a deeply nested body: validation says why)
        return None
    value = body.get("external_id") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _sms_parts(body: dict[str, Any]) -> int:
    """How many parts the SMS channel's text takes (GSM-7 or UCS-2 segments), 1 without one."""
    message = body.get("message")
    part = message.get("sms", message.get("default")) if isinstance(message, dict) else None
    parameters = part.get("parameters") if isinstance(part, dict) else None
    text = parameters.get("text") if isinstance(parameters, dict) else None
    return max(1, measure(text).segments) if isinstance(text, str) else 1


def _reference_id() -> str:
    """32 upper-case hex digits, fresh for every message and channel, as Telesign's."""
    return secrets.token_hex(16).upper()


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


async def _read_body(receive: Receive, headers: dict[str, str]) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed Telesign's 10 KB limit."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
