"""The send's own HTTP/1.1 connections (runner.telesign.connection) against raw loopback servers
that answer byte for byte: the framings a server or a proxy in front of Telesign may use, a server
closing its side, answers that are not HTTP, TLS with a certificate trusted or not, and a proxy
named by the environment. Each is judged by what the send makes of it: a verdict, and whether a
request reached the server (a message that may have been acted on must never be `retry`)."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from runner.telesign.auth import basic_authorization
from runner.telesign.client import PATH, OmnichannelClient
from tests.sending.test_client import CREDENTIALS, REFERENCE, settings

ACCEPTED = json.dumps({"status": {"code": 3001, "description": "In progress"}, "reference_id": REFERENCE}).encode()

# What a scripted server does on a connection: read requests and answer them; returns when the
# connection should close.
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Seen"], Awaitable[None]]


class Seen:
    """What a scripted server received: each request's head and body, and how many connections."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, bytes]] = []
        self.connections = 0

    async def read_request(self, reader: asyncio.StreamReader) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return False
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        self.requests.append((head, await reader.readexactly(length)))
        return True


@asynccontextmanager
async def scripted(script: Script, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        try:
            await script(reader, writer, seen)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", seen


def answering(*answers: bytes) -> Script:
    """Answer each request read with the next of `answers`, on one connection; then close it."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        for answer in answers:
            if not await seen.read_request(reader):
                return
            writer.write(answer)
            await writer.drain()

    return script


def http(status: str, body: bytes, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def json_answer(body: bytes = ACCEPTED, *headers: str) -> bytes:
    return http("200 OK", body, "Content-Type: application/json", f"Content-Length: {len(body)}", *headers)


async def send_all(url: str, times: int = 1, **client: float) -> list[str]:
    """`times` sends on one lane, one after the other: each one's verdict and description."""
    sender = OmnichannelClient(settings(url), 1, **client)
    try:
        said = []
        for _ in range(times):
            answer = await sender.send(b'{"phone_number":"15558675300"}')
            said.append(f"{answer.verdict} {answer.reference_id or answer.description}")
        return said
    finally:
        await sender.close()


async def test_the_request_line_and_host_name_the_endpoint_with_its_path_prefix() -> None:
    async with scripted(answering(json_answer())) as (url, seen):
        assert await send_all(url + "/telesign") == [f"accepted {REFERENCE}"]
    [(head, body)] = seen.requests
    port = url.rsplit(":", 1)[1]
    assert head.startswith(f"POST /telesign{PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
    assert f"Authorization: {basic_authorization(CREDENTIALS)}\r\n".encode() in head
    assert body == b'{"phone_number":"15558675300"}'


async def test_a_chunked_answer_is_read_whole_and_the_connection_kept() -> None:
    chunked = http(
        "200 OK",
        b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (ACCEPTED[:10], ACCEPTED[10:])) + b"0\r\n\r\n",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
    )
    async with scripted(answering(chunked, chunked)) as (url, seen):
        assert await send_all(url, times=2) == [f"accepted {REFERENCE}"] * 2
    assert seen.connections == 1


async def test_an_answer_ended_by_closing_the_connection_is_read_whole_and_the_next_uses_a_new_one() -> None:
    async def close_delimited(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        if await seen.read_request(reader):
            writer.write(http("200 OK", ACCEPTED, "Content-Type: application/json", "Connection: close"))

    async with scripted(close_delimited) as (url, seen):
        assert await send_all(url, times=2) == [f"accepted {REFERENCE}"] * 2
    assert seen.connections == 2


async def test_a_server_that_closed_an_idle_connection_costs_no_message() -> None:
    """A keep-alive connection the server has since closed is not written to: the next request
    goes on a new connection and is accepted, never `unknown`."""

    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        await answering(json_answer())(reader, writer, seen)
        # (returning closes the connection: the server's idle timeout)

    async with scripted(one_then_close) as (url, seen):
        sender = OmnichannelClient(settings(url), 1)
        try:
            first = await sender.send(b"{}")
            await asyncio.sleep(0.1)  # the server's close reaches the client
            second = await sender.send(b"{}")
        finally:
            await sender.close()
    assert (first.verdict, second.verdict) == ("accepted", "accepted")
    assert (seen.connections, len(seen.requests)) == (2, 2)


async def test_an_interim_100_continue_is_passed_over() -> None:
    async with scripted(answering(b"HTTP/1.1 100 Continue\r\n\r\n" + json_answer())) as (url, _):
        assert await send_all(url) == [f"accepted {REFERENCE}"]


@pytest.mark.parametrize(
    "reply",
    [b"SSH-2.0-OpenSSH_9.2\r\n", b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"status"'],
    ids=["not-http", "cut-short"],
)
async def test_a_reply_that_is_not_a_whole_http_answer_is_unknown_and_the_request_had_arrived(reply: bytes) -> None:
    async def garbled(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
        if await seen.read_request(reader):
            writer.write(reply)

    async with scripted(garbled) as (url, seen):
        assert await send_all(url) == ["unknown no answer: RemoteProtocolError"]
    assert len(seen.requests) == 1  # it reached the server: resending could message twice


async def test_a_large_page_at_a_wrong_url_is_judged_without_being_held_whole() -> None:
    page = b"<html>" + b"x" * (3 * 1024 * 1024) + b"</html>"
    async with scripted(answering(http("200 OK", page, "Content-Type: text/html", f"Content-Length: {len(page)}"))) as (
        url,
        _,
    ):
        assert await send_all(url) == ["wrong_endpoint 200 OK, a text/html page"]


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl, as on every Debian machine)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_sends_only_to_a_certificate_the_machine_trusts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    async with scripted(answering(json_answer()), tls) as (url, seen):
        [untrusted] = await send_all(url)
        assert untrusted.startswith("retry connection failed: ConnectError")  # nothing was written
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # OpenSSL's default trust store, as for curl
        assert await send_all(url) == [f"accepted {REFERENCE}"]
    assert len(seen.requests) == 1


async def test_a_proxy_named_by_the_environment_carries_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    async with scripted(answering(json_answer())) as (proxy, seen):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert await send_all("http://telesign.invalid") == [f"accepted {REFERENCE}"]
    [(head, _)] = seen.requests
    assert head.startswith(f"POST http://telesign.invalid{PATH} HTTP/1.1\r\n".encode())  # a proxy's request form
