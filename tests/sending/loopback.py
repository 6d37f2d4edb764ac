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
