"""One keep-alive HTTP/1.1 connection to Telesign's REST endpoint: each request written in one
piece, each answer read by httptools (llhttp, the parser uvicorn serves with).

Why not httpx for the send: its AsyncClient spends about 0.6 ms of CPU on every request (URL and
header models, the connection pool's bookkeeping, h11's pure-Python parsing), ten times what the
rest of a send costs per message and twenty times this connection's (measured with
bench/send_throughput.py's bare loop beside this one on the simulator). A send posts one small JSON
body and reads one small JSON answer per message, on connections it keeps: a narrow job, done here
in full. httpx stays where its breadth matters (a proxy from the environment: runner.telesign.client;
the status poll; the simulator's callbacks).

What "never twice" needs from a connection is known exactly here (docs/sending.md, "States"):
`ConnectFailed` means no byte of the request left (the connection, or its TLS handshake, never
completed), so the message may be sent again; `NoAnswer` means the request was handed to the socket
and no complete answer came (a timeout, a connection cut, a reply that is not HTTP), so Telesign may
have acted on it. The names in their messages are httpx's (ConnectError, ReadTimeout,
RemoteProtocolError...), the words the report and the docs have always used.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

# A wrong TELESIGN_BASE_URL may answer with a large page: enough of it is kept to say what it is
# (runner.telesign.client.classify reads its JSON or its content type), the rest is read and dropped.
MAX_ANSWER_BYTES = 1024 * 1024


class ConnectFailed(Exception):
    """The connection could not be made: nothing of the request was written."""


class NoAnswer(Exception):
    """The request was written and no complete answer came: it may have been acted on."""


@dataclass(slots=True)
class Response:
    """An answer as runner.telesign.client.classify reads it (the attributes of an httpx.Response
    it uses): header names in lower case, a repeated header's last value."""

    status_code: int
    reason_phrase: str
    headers: dict[str, str]
    content: bytes


@dataclass(frozen=True)
class Endpoint:
    """Where requests go, parsed once: what to connect to, and the request's first lines."""

    host: str
    port: int
    tls: ssl.SSLContext | None
    head: bytes  # "POST <target> HTTP/1.1" and the Host header, CRLF-terminated

    @classmethod
    def of(cls, url: str) -> Endpoint:
        """`url`: a base URL runner.telesign.settings accepted (no query, no user@) and the path."""
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if secure else 80)
        target = parts.path or "/"
        named = host if host.isascii() else host.encode("idna").decode("ascii")
        named = f"[{named}]" if ":" in named else named  # an IPv6 literal keeps its brackets in Host
        authority = named if port == (443 if secure else 80) else f"{named}:{port}"
        head = f"POST {target} HTTP/1.1\r\nHost: {authority}\r\n".encode("ascii")
        return cls(host, port, ssl.create_default_context() if secure else None, head)


class Connection(asyncio.Protocol):
    """One connection, one request at a time (the caller's lane sees to that)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[Response] | None = None
        self._reason = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._headed = False  # the answer's headers are complete
        self._keep = True  # the server will take another request on this connection
        self.closed = False
        self.idle_since = loop.time()

    @classmethod
    async def open(cls, endpoint: Endpoint, timeout: float) -> Connection:
        """A new connection (TLS included), or ConnectFailed naming why."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: cls(loop),
                    endpoint.host,
                    endpoint.port,
                    ssl=endpoint.tls,
                    server_hostname=endpoint.host if endpoint.tls else None,
                )
        except TimeoutError:
            raise ConnectFailed("ConnectTimeout") from None
        except (OSError, ssl.SSLError) as error:  # refused, unreachable, no such host, a failed handshake
            raise ConnectFailed(f"ConnectError ({error.strerror or error})") from None
        return connection

    def usable(self, idle_limit: float) -> bool:
        transport = self._transport
        return (
            not self.closed
            and transport is not None
            and not transport.is_closing()
            and self._loop.time() - self.idle_since < idle_limit
        )

    async def request(self, data: bytes, timeout: float) -> Response:
        """Write `data` (a whole request) and wait for its answer; NoAnswer if none comes whole."""
        assert self._transport is not None and self._answer is None
        answer: asyncio.Future[Response] = self._loop.create_future()
        self._answer = answer
        self._reset()
        self._keep = True
        self._transport.write(data)
        timer = self._loop.call_later(timeout, self._fail, "ReadTimeout")
        try:
            return await answer
        finally:
            timer.cancel()
            self._answer = None
            self.idle_since = self._loop.time()
            if not answer.done() or answer.cancelled() or not self._keep:
                self.close()  # an answer still due (a cancelled wait) would land in the next request's

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # (a stream transport: create_connection's)

    def data_received(self, data: bytes) -> None:
        if self._answer is None:  # bytes nobody asked for (a 408 before closing): not reusable
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail("RemoteProtocolError")

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        answer = self._answer
        if answer is None or answer.done():
            return
        if self._headed and self._parser.get_status_code() >= 200 and self._until_close():
            self.on_message_complete()  # a body without a length ends with the connection
        else:
            self._fail("RemoteProtocolError")

    # -- httptools' callbacks ----------------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headed = True

    def on_body(self, body: bytes) -> None:
        if self._size < MAX_ANSWER_BYTES:
            self._body.append(body)
        self._size += len(body)

    def on_message_complete(self) -> None:
        answer = self._answer
        if answer is None or answer.done():
            return
        code = self._parser.get_status_code()
        if 100 <= code < 200:  # an interim answer (100 Continue): the real one follows
            self._reset()
            return
        self._keep = not self.closed and self._parser.should_keep_alive()
        body = b"".join(self._body)[:MAX_ANSWER_BYTES]
        answer.set_result(Response(code, self._reason.decode("latin-1"), self._headers, body))

    # ------------------------------------------------------------------------------------------------

    def _reset(self) -> None:
        """Ready for an answer's first byte."""
        self._reason, self._headers, self._body, self._size, self._headed = b"", {}, [], 0, False

    def _until_close(self) -> bool:
        """Whether the answer's body is delimited by the connection's end (no length, not chunked)."""
        headers = self._headers
        return "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "").lower()

    def _fail(self, why: str) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_exception(NoAnswer(why))
        self.close()
