"""What each of Telesign's answers means for a message (runner.telesign.client.classify), on real
httpx.Response objects from a scripted server, and what the client makes of the network failing
before, during and after a request."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from runner.serving import BackgroundServer
from runner.telesign.auth import Credentials, basic_authorization, sign, string_to_sign
from runner.telesign.client import PATH, Answer, OmnichannelClient, classify, parse_retry_after
from runner.telesign.settings import TelesignSettings

REFERENCE = "0123456789ABCDEF0123456789ABCDEF"
CREDENTIALS = Credentials("11111111-2222-3333-4444-555555555555", "c2NyaXB0ZWQtc2VydmVyLWtleQ==")


@dataclass
class Scripted:
    """An ASGI app answering each request with the next scripted (status, headers, body), after
    `delay` seconds; it records what it received."""

    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    delay: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)  # the client address of each request

    def then(self, status: int, body: Any = b"", **headers: str) -> Scripted:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers.append((status, {k.replace("_", "-"): v for k, v in headers.items()}, raw))
        return self

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        self.received.append(({k.decode(): v.decode() for k, v in scope["headers"]}, b"".join(chunks)))
        self.peers.append(tuple(scope.get("client") or ()))
        status, headers, body = self.answers.pop(0) if self.answers else (200, {}, b"")
        if self.delay:
            await asyncio.sleep(self.delay)
        raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        raw_headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


def status(code: int, description: str = "", **more: Any) -> dict[str, Any]:
    return {"status": {"code": code, "description": description}, **more}


@pytest.fixture
async def answer_of() -> AsyncIterator[Any]:
    """answer_of(status, body, **headers) -> the Answer classify gives the real response."""

    async def answer(http: int, body: Any = b"", **headers: str) -> Answer:
        app = Scripted().then(http, body, **headers)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://telesign.test") as client:
            return classify(await client.post(PATH, content=b"{}"))

    yield answer


# -- classify ----------------------------------------------------------------------------------


async def test_200_with_3001_and_a_reference_id_is_accepted(answer_of: Any) -> None:
    answer = await answer_of(200, status(3001, "In progress", reference_id=REFERENCE, external_id="c.1"))
    assert answer == Answer("accepted", 200, 3001, "In progress", REFERENCE)


async def test_200_without_a_reference_id_is_unknown_not_accepted(answer_of: Any) -> None:
    # nothing to join callbacks on, and no proof: recorded unknown, never resent blindly
    answer = await answer_of(200, status(3001, "In progress"))
    assert answer.verdict == "unknown"


@pytest.mark.parametrize("code", [3102, 3110, 3116, 3300, 3304])
async def test_400_is_final_for_the_message_with_its_code(answer_of: Any, code: int) -> None:
    answer = await answer_of(400, status(code, "Invalid value"))
    assert (answer.verdict, answer.http_status, answer.status_code, answer.description) == (
        "rejected",
        400,
        code,
        "Invalid value",
    )


async def test_401_3400_stops_the_run(answer_of: Any) -> None:
    answer = await answer_of(401, status(3400, "Not authorized"))
    assert (answer.verdict, answer.status_code) == ("unauthorized", 3400)


async def test_429_3204_is_retried_after_retry_after_seconds(answer_of: Any) -> None:
    answer = await answer_of(429, status(3204, "Rate limit exceeded"), retry_after="7")
    assert (answer.verdict, answer.status_code, answer.retry_after) == ("retry", 3204, 7.0)


async def test_429_3204_with_an_http_date_retry_after(answer_of: Any) -> None:
    when = datetime.now(UTC) + timedelta(seconds=40)
    answer = await answer_of(429, status(3204, "Rate limit exceeded"), retry_after=format_datetime(when, usegmt=True))
    assert answer.verdict == "retry"
    assert answer.retry_after is not None and 30 < answer.retry_after <= 40


async def test_429_3204_without_retry_after_is_retried_on_backoff_alone(answer_of: Any) -> None:
    answer = await answer_of(429, status(3204, "Rate limit exceeded"))
    assert (answer.verdict, answer.retry_after) == ("retry", None)


@pytest.mark.parametrize("code", [3203, 3206])
async def test_429_for_an_account_problem_is_final(answer_of: Any, code: int) -> None:
    # 3203 callback_url not enabled, 3206 product not enabled: no retry fixes them
    answer = await answer_of(429, status(code, "Not enabled"), retry_after="1")
    assert (answer.verdict, answer.status_code) == ("rejected", code)


async def test_503_3500_is_resubmitted(answer_of: Any) -> None:
    answer = await answer_of(503, status(3500, "System unavailable, please try again later."), retry_after="2")
    assert (answer.verdict, answer.status_code, answer.retry_after) == ("retry", 3500, 2.0)


async def test_503_without_3500_may_have_been_acted_on(answer_of: Any) -> None:
    assert (await answer_of(503, status(10000, "Internal"))).verdict == "unknown"
    assert (await answer_of(503, b"")).verdict == "unknown"


@pytest.mark.parametrize("http", [500, 502, 504])
async def test_server_errors_are_unknown(answer_of: Any, http: int) -> None:
    answer = await answer_of(http, status(10000, "Internal server error"))
    assert (answer.verdict, answer.http_status) == ("unknown", http)


PROXY_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"


@pytest.mark.parametrize(
    ("http", "verdict"),
    [
        (502, "unknown"),
        (504, "unknown"),
        (503, "unknown"),
        (500, "unknown"),
        (429, "retry"),
        (401, "unauthorized"),
        # not Telesign's: a 2xx or a client error without its JSON (tests/sending/test_wrong_endpoint.py)
        (200, "wrong_endpoint"),
        (400, "wrong_endpoint"),
    ],
)
async def test_non_json_pages_from_proxies_are_judged_by_the_http_status(
    answer_of: Any, http: int, verdict: str
) -> None:
    answer = await answer_of(http, PROXY_PAGE, content_type="text/html")
    assert (answer.verdict, answer.http_status, answer.status_code) == (verdict, http, None)
    assert answer.description  # the reason phrase at least: the report says something


async def test_a_bodyless_413_is_a_final_refusal_not_a_wrong_endpoint(answer_of: Any) -> None:
    # Telesign's reference documents 413 for POST /v1/omnichannel with no JSON body ("Allowed
    # payload size is limited to 10KB"): this message is refused, the URL is right.
    answer = await answer_of(413, b"")
    assert (answer.verdict, answer.http_status, answer.status_code) == ("rejected", 413, None)
    page = await answer_of(413, b"Allowed payload size is limited to 10KB", content_type="text/plain")
    assert page.verdict == "rejected"


@pytest.mark.parametrize(
    "body", [b"[1, 2]", b'"text"', b'{"status": "weird"}', b'{"status": {"code": "x"}}', b"\xff\xfe"]
)
async def test_odd_json_never_raises(answer_of: Any, body: bytes) -> None:
    assert (await answer_of(502, body)).verdict == "unknown"
    assert (await answer_of(400, body)).verdict == "wrong_endpoint"  # not Telesign's JSON


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("0.5", now) == 0.5
    assert parse_retry_after("Sat, 28 Nov 2026 09:00:30 GMT", now) == 30.0
    assert parse_retry_after("Sat, 28 Nov 2026 08:59:00 GMT", now) == 0.0  # already past: no wait
    assert parse_retry_after("-3", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("", now) is None and parse_retry_after(None, now) is None


# -- the client over a real socket ---------------------------------------------------------------


def settings(url: str, auth: str = "basic") -> TelesignSettings:
    return TelesignSettings(CREDENTIALS, url, "digest" if auth == "digest" else "basic")


async def test_a_read_timeout_is_unknown_and_the_request_did_arrive() -> None:
    app = Scripted(delay=0.5).then(200, status(3001, "In progress", reference_id=REFERENCE))
    with BackgroundServer(app) as server:
        client = OmnichannelClient(settings(server.url), 1, connect_timeout=1.0, read_timeout=0.1)
        try:
            answer = await client.send(b'{"phone_number": "15558675300"}')
        finally:
            await client.close()
    assert (answer.verdict, answer.http_status) == ("unknown", None)
    assert "ReadTimeout" in answer.description
    assert len(app.received) == 1  # it reached the server: resending could message twice


async def test_a_refused_connection_is_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OmnichannelClient(settings(f"http://127.0.0.1:{port}"), 1, connect_timeout=1.0)
    try:
        answer = await client.send(b"{}")
    finally:
        await client.close()
    assert (answer.verdict, answer.http_status) == ("retry", None)
    assert "ConnectError" in answer.description


async def test_basic_auth_posts_the_exact_body_as_json() -> None:
    app = Scripted().then(200, status(3001, "In progress", reference_id=REFERENCE))
    body = '{"phone_number":"15558675300","message_type":"ARN","text":"Olá 👋"}'.encode()
    with BackgroundServer(app) as server:
        client = OmnichannelClient(settings(server.url), 2)
        try:
            answer = await client.send(body)
        finally:
            await client.close()
    assert answer.verdict == "accepted"
    [(headers, received)] = app.received
    assert received == body
    assert headers["authorization"] == basic_authorization(CREDENTIALS)
    assert headers["content-type"] == "application/json"


async def test_digest_signs_the_bytes_sent_with_a_fresh_nonce_per_attempt() -> None:
    app = Scripted().then(503, status(3500, "Try again")).then(200, status(3001, "In progress", reference_id=REFERENCE))
    body = b'{"phone_number":"15558675300","external_id":"c.1"}'
    with BackgroundServer(app) as server:
        client = OmnichannelClient(settings(server.url, "digest"), 1)
        try:
            first = await client.send(body)
            second = await client.send(body)
        finally:
            await client.close()
    assert (first.verdict, second.verdict) == ("retry", "accepted")
    nonces = []
    for headers, received in app.received:
        assert received == body
        expected = sign(
            CREDENTIALS.api_key,
            string_to_sign("POST", headers["content-type"], headers["date"], headers["x-ts-nonce"], received, PATH),
        )
        assert headers["authorization"] == f"TSA {CREDENTIALS.customer_id}:{expected}"
        nonces.append(headers["x-ts-nonce"])
    assert len(set(nonces)) == 2


async def test_connections_are_kept_alive_and_never_more_than_concurrency() -> None:
    """Eight lanes at once, twice: eight connections opened, then reused."""
    app = Scripted(delay=0.05)
    for _ in range(16):
        app.then(200, status(3001, "In progress", reference_id=REFERENCE))
    with BackgroundServer(app) as server:
        client = OmnichannelClient(settings(server.url), 8)
        try:
            answers = await asyncio.gather(*(client.send(b"{}", lane) for lane in range(8)))
            answers += await asyncio.gather(*(client.send(b"{}", lane) for lane in range(8)))
        finally:
            await client.close()
    assert [a.verdict for a in answers] == ["accepted"] * 16
    assert len(set(app.peers)) == 8
