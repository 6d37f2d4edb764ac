"""A TELESIGN_BASE_URL that is not Telesign's omnichannel endpoint (a wrong path on the real one, a
plain HTTP server, an HTML page, a redirect, a 2xx without Telesign's JSON) stops the run at the
first such answer with exit 4 and a line naming TELESIGN_BASE_URL, and leaves every message as it
was: after fixing the URL, the next run sends every message, once (counted by the simulator)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from runner.telesign.client import classify
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, ledger_states, telesign_env, write_campaign

RECIPIENTS = 30


class NotTelesign(BaseHTTPRequestHandler):
    """`python -m http.server`: no POST at all, so every POST is 501 with an HTML page."""

    posts: list[str]

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet tests

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        if parsed and self.command == "POST":
            self.posts.append(self.path)
        return parsed

    def read_body(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))

    def answer(self, status: int, content_type: str, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class HtmlPage(NotTelesign):
    def do_POST(self) -> None:
        self.read_body()
        self.answer(200, "text/html", b"<html><body>Welcome to our shop</body></html>")


class JsonWithoutStatus(NotTelesign):
    def do_POST(self) -> None:
        self.read_body()
        self.answer(200, "application/json", b'{"ok": true}')


class Redirect(NotTelesign):
    target = ""

    def do_POST(self) -> None:
        self.read_body()
        self.answer(302, "text/html", b"moved", Location=self.target + self.path)


class PlainPost(NotTelesign):
    def do_POST(self) -> None:  # a handler that takes POST but has no such page
        self.read_body()
        self.send_error(404)


ServeFactory = Callable[[type[NotTelesign]], tuple[str, list[str]]]


@pytest.fixture
def serve() -> Iterator[ServeFactory]:
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[NotTelesign]) -> tuple[str, list[str]]:
        posts: list[str] = []
        bound = type(handler.__name__, (handler,), {"posts": posts})
        server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", posts

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def check_stopped_and_untouched(result_output: str, exit_code: int, out: Path) -> None:
    assert exit_code == 4, result_output
    assert "TELESIGN_BASE_URL" in result_output and "Traceback" not in result_output
    states = list(ledger_states(out).values())
    assert len(states) == RECIPIENTS
    assert "rejected" not in states and "failed" not in states
    # at most the requests in flight (concurrency 8) may be unknown; the rest are as they were
    assert states.count("pending") >= RECIPIENTS - 8
    assert set(states) <= {"pending", "unknown"}


@pytest.mark.parametrize("handler", [NotTelesign, HtmlPage, JsonWithoutStatus, Redirect, PlainPost])
def test_a_server_that_is_not_telesign_stops_the_run_and_the_fixed_url_sends_everything_once(
    handler: type[NotTelesign], tmp_path: Path, make_simulator: MakeSimulator, serve: ServeFactory
) -> None:
    sim = make_simulator()
    Redirect.target = sim.url  # a redirect to the real endpoint must not be followed with the message
    url, posts = serve(handler)
    file = write_campaign(
        tmp_path / "c",
        digits=[i % 9 for i in range(RECIPIENTS)],
        sending="rate = 1000\nconcurrency = 8\nmax_attempts = 3",
    )
    out = tmp_path / "out"
    wrong = campaign("send", str(file), "--outputs", str(out), env=telesign_env(url))
    check_stopped_and_untouched(wrong.output, wrong.exit_code, out)
    assert 1 <= len(posts) <= 8  # stopped at the first answer: only what was already in flight
    assert sim.app.accepted() == []

    fixed = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert fixed.exit_code == 0, fixed.output
    counts = sim.app.accepted_by_phone()
    assert len(counts) == RECIPIENTS and set(counts.values()) == {1}
    assert set(ledger_states(out).values()) == {"accepted"}


def test_a_wrong_path_on_the_simulator_stops_at_once_then_the_right_url_sends_everything_once(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(
        tmp_path / "c",
        digits=[i % 9 for i in range(RECIPIENTS)],
        sending="rate = 1000\nconcurrency = 8\nmax_attempts = 3",
    )
    out = tmp_path / "out"
    wrong = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url + "/api"))
    check_stopped_and_untouched(wrong.output, wrong.exit_code, out)
    assert "404" in wrong.output
    run = campaign("run", str(file.parent), "--outputs", str(out), env=telesign_env(sim.url))
    assert run.exit_code == 0, run.output
    counts = sim.app.accepted_by_phone()
    assert len(counts) == RECIPIENTS and set(counts.values()) == {1}


def test_a_test_send_to_a_wrong_endpoint_exits_4_naming_the_setting(tmp_path: Path, serve: ServeFactory) -> None:
    url, _ = serve(HtmlPage)
    file = write_campaign(tmp_path / "c", digits=[1])
    result = campaign(
        "send", str(file), "--test-to", "+1 202 555 0101", "--outputs", str(tmp_path / "o"), env=telesign_env(url)
    )
    assert result.exit_code == 4 and "TELESIGN_BASE_URL" in result.output


def response(status: int, body: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": content_type})


TELESIGN_ERROR = b'{"status": {"code": 11000, "description": "Invalid value for parameter phone_number."}}'


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (response(404, b'{"status": {"code": 10030, "description": "Not found"}}'), "wrong_endpoint"),
        (response(405, b"", ""), "wrong_endpoint"),
        (response(501, b"<html>Unsupported method</html>", "text/html"), "wrong_endpoint"),
        (response(302, b"", ""), "wrong_endpoint"),
        (response(200, b"<html>shop</html>", "text/html"), "wrong_endpoint"),
        (response(200, b'{"ok": true}'), "wrong_endpoint"),
        (response(403, b"<html>Forbidden</html>", "text/html"), "wrong_endpoint"),
        # Telesign's own answers keep their meaning
        (response(400, TELESIGN_ERROR), "rejected"),
        (response(401, b"<html>Unauthorized</html>", "text/html"), "unauthorized"),
        (response(429, b"slow down", "text/plain"), "retry"),
        (response(502, b"<html>Bad gateway</html>", "text/html"), "unknown"),  # may have passed it on
        (response(200, b'{"status": {"code": 3001, "description": "Queued"}}'), "unknown"),
    ],
)
def test_what_shows_the_endpoint_is_not_telesigns(answer: httpx.Response, verdict: str) -> None:
    assert classify(answer).verdict == verdict
