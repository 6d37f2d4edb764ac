"""The omnichannel HTTP client: the one place that talks to Telesign, and the one place that
decides what each answer means (docs/sending.md, "What a send does" and "States").

The rule that keeps "never send twice": only what certainly did not create a message is retried.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from runner.telesign import codes
from runner.telesign.auth import basic_authorization, digest_headers
from runner.telesign.connection import ConnectFailed, Connection, Endpoint, NoAnswer
from runner.telesign.settings import TelesignSettings

PATH = "/v1/omnichannel"
USER_AGENT = "campaign-runner/0.1"

Verdict = Literal["accepted", "rejected", "retry", "unknown", "unauthorized", "wrong_endpoint"]

# Answers no Telesign omnichannel endpoint gives to POST /v1/omnichannel: the URL points elsewhere
# (a wrong path: 404; a server that does not take POST there: 405, 501; an HTTP/1.0 toy: 505).
_NOT_THIS_ENDPOINT = frozenset({404, 405, 501, 505})

# 429 is retryable only for 3204 (rate limit); 3203 (callback URL) and 3206 (product not
# enabled) are account problems that no retry fixes: runner.telesign.codes marks which is which.
_FINAL_429 = frozenset(entry.code for entry in codes.CODES.values() if not entry.retryable)


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    http_status: int | None
    status_code: int | None
    description: str
    reference_id: str | None = None
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HTTPAnswer(Protocol):
    """What classify reads of an answer: a runner.telesign.connection.Response, or an httpx.Response
    (the proxied send's, the tests')."""

    @property
    def status_code(self) -> int: ...
    @property
    def reason_phrase(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...  # looked up by lower-case name
    @property
    def content(self) -> bytes: ...


def classify(response: HTTPAnswer) -> Answer:
    """What Telesign's answer means for this message. Branch on status.code, not on HTTP alone."""
    http = response.status_code
    code: int | None = None
    description = response.reason_phrase or ""
    reference_id: str | None = None
    telesign_json = False  # Telesign answers every POST with a JSON object carrying status.code
    try:
        data = json.loads(response.content)
        status = data.get("status") or {}
        raw_code = status.get("code")
        code = int(raw_code) if raw_code is not None else None
        description = str(status.get("description") or description)
        reference_id = data.get("reference_id") or None
        telesign_json = code is not None
    except (ValueError, AttributeError, TypeError):
        pass  # error pages from proxies are not JSON; the HTTP status decides below
    if _not_telesign(http, telesign_json):
        # Nothing at this URL took the message for Telesign: it stays as it was and the run stops
        # (docs/sending.md, "Credentials and endpoint").
        kind = "" if telesign_json or not response.content else f", {_content_kind(response)}"
        return Answer("wrong_endpoint", http, code, f"{http} {response.reason_phrase}{kind}".strip())
    if 200 <= http < 300 and reference_id:
        return Answer("accepted", http, code, description, str(reference_id))
    if http == 401:
        return Answer("unauthorized", http, code, description)
    if http == 429:
        if code in _FINAL_429:
            return Answer("rejected", http, code, description)
        return Answer(
            "retry", http, code, description, retry_after=parse_retry_after(response.headers.get("retry-after"))
        )
    if http == 503 and code == codes.UNAVAILABLE:
        return Answer(
            "retry", http, code, description, retry_after=parse_retry_after(response.headers.get("retry-after"))
        )
    if 400 <= http < 500:
        return Answer("rejected", http, code, description)
    # 500, 502, 504, a 2xx without a reference_id, 503 without 3500: the request may have been
    # acted on. Recorded as unknown, settled by callbacks, never resent in this run.
    return Answer("unknown", http, code, description)


def _not_telesign(http: int, telesign_json: bool) -> bool:
    """An answer that shows the URL is not Telesign's omnichannel endpoint: a redirect (Telesign's
    API never redirects, and following one would post the message elsewhere), a status that
    endpoint never gives, a 2xx without Telesign's JSON, or a client error page that is not
    Telesign's JSON (401, 413 and 429 keep their own meaning whatever the body). 5xx pages stay
    ambiguous: a gateway may have passed the request on before failing.

    413: Telesign's reference documents it for POST /v1/omnichannel without a body ("Allowed
    payload size is limited to 10KB"); read as a wrong endpoint, it stopped the run with exit 4 and
    a line blaming TELESIGN_BASE_URL, where it is a final refusal of this one message (as the
    simulator's 413/3116 is, docs/simulator.md)."""
    if 300 <= http < 400 or http in _NOT_THIS_ENDPOINT:
        return True
    if telesign_json:
        return False
    return 200 <= http < 300 or (400 <= http < 500 and http not in (401, 413, 429))


def _content_kind(response: HTTPAnswer) -> str:
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    return f"a {kind} page" if kind else "not JSON"


class OmnichannelClient:
    """POSTs omnichannel bodies on `concurrency` keep-alive connections, one per lane: each sender
    worker keeps to its own lane, hence its own connection (runner.telesign.connection says why
    these are not httpx's). Where the environment names a proxy for the endpoint (HTTPS_PROXY,
    ALL_PROXY... as httpx and pip read them), requests go through httpx, which speaks to proxies."""

    def __init__(
        self, settings: TelesignSettings, concurrency: int, connect_timeout: float = 5.0, read_timeout: float = 15.0
    ):
        self.settings = settings
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        url = settings.base_url + PATH
        self._proxied = _ProxiedClient(url, concurrency, connect_timeout, read_timeout) if _proxied(url) else None
        self.endpoint = Endpoint.of(url)
        self._basic = {"Authorization": basic_authorization(settings.credentials), "Content-Type": "application/json"}
        # Every request's fixed lines, joined once; Basic auth's are the same for every request
        # (digest's never are: a fresh date and nonce each time, added per request).
        fixed = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        self._head = self.endpoint.head + _lines(fixed if settings.auth == "digest" else fixed | self._basic)
        self._lanes = [_Lane() for _ in range(max(1, concurrency))]

    async def close(self) -> None:
        for lane in self._lanes:
            if lane.connection is not None:
                lane.connection.close()
        if self._proxied is not None:
            await self._proxied.close()

    def _headers(self, body: bytes) -> dict[str, str]:
        if self.settings.auth == "digest":
            # A fresh nonce and date per attempt; the signed bytes are the bytes sent.
            return digest_headers(self.settings.credentials, "POST", PATH, body)
        return self._basic

    def _request(self, body: bytes) -> bytes:
        head = self._head if self.settings.auth != "digest" else self._head + _lines(self._headers(body))
        return b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body)

    async def send(self, body: bytes, lane: int = 0, on_write: Callable[[], None] | None = None) -> Answer:
        """POST one body on `lane`'s connection. `on_write` is called right before the request is
        written: before that (waiting for the lane or a connection), a cancelled send certainly
        reached no one."""
        if self._proxied is not None:
            return await self._proxied.send(body, self._headers(body), on_write)
        slot = self._lanes[lane % len(self._lanes)]
        async with slot.lock:  # (one request at a time on a connection; uncontended in a send)
            connection = slot.connection
            if connection is None or not connection.usable(KEEPALIVE_EXPIRY):
                if connection is not None:
                    connection.close()
                slot.connection = None
                try:
                    connection = slot.connection = await Connection.open(self.endpoint, self.connect_timeout)
                except ConnectFailed as error:
                    # The connection failed before the request was written: nothing reached Telesign.
                    return Answer("retry", None, None, f"connection failed: {error}")
            request = self._request(body)
            if on_write is not None:
                on_write()
            try:
                response = await connection.request(request, self.read_timeout)
            except NoAnswer as error:
                # Read timeout, connection dropped after writing, an answer that is not HTTP: the
                # request may have been acted on.
                return Answer("unknown", None, None, f"no answer: {error}")
        return classify(response)


# Drop idle connections before a server would (uvicorn closes them after 5 s, many proxies soon
# after): a request written onto a connection the server has just closed fails ambiguously and
# would have to be reported `unknown`.
KEEPALIVE_EXPIRY = 2.0


class _Lane:
    __slots__ = ("lock", "connection")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.connection: Connection | None = None


def _lines(headers: Mapping[str, str]) -> bytes:
    """Header lines as written on the wire."""
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")


def _proxied(url: str) -> bool:
    """Whether the environment names a proxy for `url`, as httpx reads it (HTTPS_PROXY / HTTP_PROXY
    / ALL_PROXY, NO_PROXY)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    named = proxies.get(parts.scheme) or proxies.get("all")
    return bool(named) and not urllib.request.proxy_bypass(parts.hostname or "")


class _ProxiedClient:
    """The send through a proxy named by the environment: httpx's client, which speaks to proxies."""

    def __init__(self, url: str, concurrency: int, connect_timeout: float, read_timeout: float) -> None:
        import httpx  # (only here: a send without a proxy never imports it, a tenth of its start-up)

        self.url = httpx.URL(url)
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=concurrency,
                max_keepalive_connections=concurrency,
                keepalive_expiry=KEEPALIVE_EXPIRY,
            ),
            timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=None),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,  # a redirect means a wrong TELESIGN_BASE_URL: see _not_telesign
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, body: bytes, headers: dict[str, str], on_write: Callable[[], None] | None) -> Answer:
        import httpx

        extensions = {} if on_write is None else {"trace": _on_request_write(on_write)}
        try:
            response = await self.client.post(self.url, content=body, headers=headers, extensions=extensions)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            return Answer("retry", None, None, f"connection failed: {type(error).__name__}")
        except httpx.TransportError as error:
            return Answer("unknown", None, None, f"no answer: {type(error).__name__}")
        return classify(response)


def _on_request_write(callback: Callable[[], None]) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """An httpcore trace hook calling `callback` as the request's headers start to be written."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            callback()

    return trace
