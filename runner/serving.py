"""Serving the project's ASGI apps (simulator, callback receiver) with uvicorn.

uvicorn because it is the well-kept reference ASGI server, runs on uvloop + httptools where present
(the simulator must sustain thousands of requests/s on 2 cores), and can be started both in the
foreground for `campaign simulate` / `campaign callbacks serve` and in a background thread on a
free loopback port for `campaign send --sandbox` and for tests.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import uvicorn

ASGIApp = Callable[..., Any]
# The served app's own type, so that tests read a simulator's journal through its server, typed.
App = TypeVar("App", bound=ASGIApp)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now, for a server started in another process (tests, benches).
    In-process servers bind port 0 themselves (BackgroundServer)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _loop_setting() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _http_setting() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def config(app: ASGIApp, host: str, port: int, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=_loop_setting(),
        http=_http_setting(),
        lifespan="on",
        log_level="warning",
        access_log=False,
        **extra,
    )


def serve_forever(app: ASGIApp, host: str, port: int) -> None:
    """Foreground serving for the CLI; returns when interrupted (Ctrl-C / SIGTERM)."""
    uvicorn.Server(config(app, host, port)).run()


@dataclass
class BackgroundServer(Generic[App]):
    """An app served on a loopback port from a daemon thread; `url` is where it listens."""

    app: App
    host: str = "127.0.0.1"
    port: int = 0
    server: uvicorn.Server | None = field(default=None, init=False)
    thread: threading.Thread | None = field(default=None, init=False)
    loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer[App]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        cfg = config(self.app, self.host, self.port)
        self.server = uvicorn.Server(cfg)
        # uvicorn installs signal handlers only on the main thread, so a background server
        # leaves Ctrl-C and SIGTERM to the program that started it.

        def run() -> None:
            loop = asyncio.new_event_loop() if _loop_setting() == "asyncio" else _new_uvloop()
            asyncio.set_event_loop(loop)
            self.loop = loop
            assert self.server is not None
            loop.run_until_complete(self.server.serve(sockets=[sock]))
            loop.close()

        self.thread = threading.Thread(target=run, name=f"serve:{self.port}", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer[App]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _new_uvloop() -> asyncio.AbstractEventLoop:
    import uvloop

    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop
