"""The omnichannel HTTP client: the one place that talks to Telesign, and the one place that
decides what each answer means (docs/sending.md, "What a send does" and "States").

The rule that keeps "never send twice": only what certainly did not create a message is retried.
"""

from __future__ import annotations

import importlib
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from runner.telesign import codes
from runner.telesign.auth import basic_authorization, digest_headers
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


def classify(response: httpx.Response) -> Answer:
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
    Telesign's JSON (401 and 429 keep their own meaning whatever the body). 5xx pages stay
    ambiguous: a gateway may have passed the request on before failing."""
    if 300 <= http < 400 or http in _NOT_THIS_ENDPOINT:
        return True
    if telesign_json:
        return False
    return 200 <= http < 300 or (400 <= http < 500 and http not in (401, 429))


def _content_kind(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    return f"a {kind} page" if kind else "not JSON"


class OmnichannelClient:
    """`concurrency` keep-alive connections, split over several httpx clients of at most
    CONNECTIONS_PER_POOL each: httpcore's pool rescans all its connections on every request, so
    one pool of 32 costs about three times the CPU per request of eight pools of 4 (measured with
    bench/send_throughput.py). Each sender worker keeps to its own lane, hence its own connection."""

    CONNECTIONS_PER_POOL = 4

    def __init__(
        self, settings: TelesignSettings, concurrency: int, connect_timeout: float = 5.0, read_timeout: float = 15.0
    ):
        self.settings = settings
        # Parsed once: httpx parses a URL given as text on every request (a tenth of its CPU here).
        self.url = httpx.URL(settings.base_url + PATH)
        # Basic auth's headers are the same for every request: built once (digest's never are).
        self._basic = {"Authorization": basic_authorization(settings.credentials), "Content-Type": "application/json"}
        pools = max(1, -(-concurrency // self.CONNECTIONS_PER_POOL))
        per_pool = -(-concurrency // pools)
        _load_network_backend()
        # One TLS context for every pool: httpx builds one per client otherwise, loading the CA
        # store each time (about 40 ms of CPU per pool, a third of a second at concurrency 32).
        tls = ssl.create_default_context()
        self.pools = [
            httpx.AsyncClient(
                limits=httpx.Limits(
                    max_connections=per_pool,
                    max_keepalive_connections=per_pool,
                    # Drop idle connections before a server would (uvicorn closes them after 5 s,
                    # many proxies soon after): a request written onto a connection the server has
                    # just closed fails ambiguously and would have to be reported `unknown`.
                    keepalive_expiry=2.0,
                ),
                timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=None),
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                verify=tls,
                follow_redirects=False,  # a redirect means a wrong TELESIGN_BASE_URL: see _not_telesign
            )
            for _ in range(pools)
        ]
        self.per_pool = per_pool

    async def close(self) -> None:
        for pool in self.pools:
            await pool.aclose()

    def _headers(self, body: bytes) -> dict[str, str]:
        if self.settings.auth == "digest":
            # A fresh nonce and date per attempt; the signed bytes are the bytes sent.
            return digest_headers(self.settings.credentials, "POST", PATH, body)
        return self._basic

    async def send(self, body: bytes, lane: int = 0, on_write: Callable[[], None] | None = None) -> Answer:
        """POST one body; `lane` (the worker's number) picks the connection pool. `on_write` is
        called when the request starts to be written: before that (waiting for a connection or a
        pool slot), a cancelled send certainly reached no one."""
        pool = self.pools[(lane // self.per_pool) % len(self.pools)]
        extensions = {} if on_write is None else {"trace": _on_request_write(on_write)}
        try:
            response = await pool.post(self.url, content=body, headers=self._headers(body), extensions=extensions)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # The connection failed before the request was written: nothing reached Telesign.
            return Answer("retry", None, None, f"connection failed: {type(error).__name__}")
        except httpx.TransportError as error:
            # Read timeout, connection dropped after writing, a write that failed midway: the
            # request may have been acted on.
            return Answer("unknown", None, None, f"no answer: {type(error).__name__}")
        return classify(response)


def _on_request_write(callback: Callable[[], None]) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """An httpcore trace hook calling `callback` as the request's headers start to be written."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            callback()

    return trace


def _load_network_backend() -> None:
    """httpcore imports its asyncio network backend (anyio's) on the first connection, which stalls
    the event loop for tens of milliseconds just as the first paced requests leave: they then reach
    Telesign bunched, over the rate in that second (bench/rate_accuracy.py). Import it now."""
    try:
        importlib.import_module("anyio._backends._asyncio")
    except ImportError:
        pass  # another httpcore backend layout: only the first request is slower
