"""Tiny HTTP servers on loopback that are not the simulator: what a wrong TELESIGN_BASE_URL or a
throttling Telesign looks like from the runner's side (http.server, a free port, stopped at exit)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RateLimited(BaseHTTPRequestHandler):
    """Telesign's 429/3204 to every request, with `retry_after` in its Retry-After header."""

    retry_after = "50"
    posts = 0

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet tests

    def do_POST(self) -> None:
        type(self).posts += 1
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b'{"status": {"code": 3204, "description": "Rate limit exceeded"}}'
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Retry-After", self.retry_after)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free loopback port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def rate_limited(retry_after: str) -> type[RateLimited]:
    """A RateLimited handler of its own (its own count of posts) asking for `retry_after`."""
    return type(
        "RateLimitedFor" + retry_after.replace(" ", ""), (RateLimited,), {"retry_after": retry_after, "posts": 0}
    )


class Throttling(BaseHTTPRequestHandler):
    """Telesign's omnichannel endpoint behind an account TPS limit that answers 429/3204 WITHOUT a
    Retry-After header (a gateway's throttle, or Telesign's answer without the header): at most
    `tps` requests accepted in any sliding second, each accepted one answered 200/3001 with a
    reference_id. Counts, on the server's side, what it accepted per phone and how many it refused."""

    tps = 5
    lock = threading.Lock()
    accepted: dict[str, int] = {}
    refused = 0
    recent: list[float] = []

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet tests

    def do_POST(self) -> None:
        import json
        import time

        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        cls = type(self)
        answer: dict[str, object]
        with cls.lock:
            now = time.monotonic()
            cls.recent = [t for t in cls.recent if t > now - 1.0]
            if len(cls.recent) >= cls.tps:
                cls.refused += 1
                status, answer = 429, {"status": {"code": 3204, "description": "Rate limit exceeded"}}
            else:
                cls.recent.append(now)
                status, answer = cls.accept(body)
        self.answer(status, answer)

    @classmethod
    def accept(cls, body: dict[str, object]) -> tuple[int, dict[str, object]]:
        """Count the message as accepted (hold cls.lock): Telesign's 200/3001 with a reference_id."""
        import uuid

        phone = str(body["phone_number"])
        cls.accepted[phone] = cls.accepted.get(phone, 0) + 1
        return 200, {
            "status": {"code": 3001, "description": "Message in progress"},
            "reference_id": uuid.uuid4().hex.upper(),
        }

    def answer(self, status: int, answer: dict[str, object], headers: tuple[tuple[str, str], ...] = ()) -> None:
        import json

        data = json.dumps(answer).encode()
        self.send_response(status)
        for name, value in (("Content-Type", "application/json"), *headers):
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def throttling(tps: int) -> type[Throttling]:
    """A Throttling handler of its own (its own counts) allowing `tps` requests a second."""
    return type(f"ThrottlingAt{tps}", (Throttling,), {"tps": tps, "accepted": {}, "refused": 0, "recent": []})


class PausedOnce(Throttling):
    """Answers its first request 429/3204 with `Retry-After: 2`, then accepts everything (200/3001),
    noting when each accepted request arrived (time.monotonic())."""

    arrivals: list[float] = []

    def do_POST(self) -> None:
        import json
        import time

        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        cls = type(self)
        headers: tuple[tuple[str, str], ...] = ()
        answer: dict[str, object]
        with cls.lock:
            if cls.refused == 0:
                cls.refused += 1
                status, answer = 429, {"status": {"code": 3204, "description": "Rate limit exceeded"}}
                headers = (("Retry-After", "2"),)
            else:
                cls.arrivals.append(time.monotonic())
                status, answer = cls.accept(body)
        self.answer(status, answer, headers)


def paused_once() -> type[PausedOnce]:
    return type("PausedOnceFresh", (PausedOnce,), {"accepted": {}, "refused": 0, "arrivals": []})
