"""How many callbacks per second the receiver acknowledges durably (issue 5; target >= 1,000/s).

    .venv/bin/python -m bench.receiver_rps [--callbacks 6000] [--concurrency 64]

The receiver runs as `campaign callbacks serve` would (`python -m runner callbacks serve`, its
own process, uvicorn + uvloop + httptools); an httpx client in this process posts signed
callbacks with `concurrency` requests in flight. Printed beside it, measured in the same run:

- raw fdatasync calls/s on this disk: the most a receiver that flushed once per callback could
  acknowledge (what group commit is for);
- the same client against a do-nothing ASGI app under the same server: the ceiling that HTTP and
  this client set on this machine, whatever the receiver does.

Afterwards it checks the log holds exactly one line per acknowledged callback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from bench.common import CONSTANT_ANSWER_SERVER, figure, free_port, start_server
from runner.telesign.auth import DEMO_API_KEY, DEMO_CUSTOMER_ID, Credentials, callback_headers

ROOT = Path(__file__).resolve().parent.parent

Requests = list[tuple[bytes, dict[str, str]]]
Client = Callable[[int, Requests, int], Coroutine[Any, Any, tuple[float, int]]]


def fsyncs_per_second(folder: Path, seconds: float = 1.5) -> float:
    line = b'{"received_at":"2026-11-28T09:00:00.000000Z","payload":{"reference_id":"X"}}\n' * 2
    path = folder / "fsync-probe.log"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    flush = getattr(os, "fdatasync", os.fsync)
    count = 0
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            os.write(fd, line)
            flush(fd)
            count += 1
    finally:
        os.close(fd)
        path.unlink()
    return count / (time.perf_counter() - started)


def signed_callbacks(count: int) -> Requests:
    creds = Credentials(DEMO_CUSTOMER_ID, DEMO_API_KEY)
    requests = []
    for n in range(count):
        payload = {
            "reference_id": f"{n:032X}",
            "external_id": f"bench:{n}",
            "status": {
                "code": 3000,
                "description": "Delivered",
                "last_channel": "viber",
                "updated_on": "2026-11-28 09:00:01:226",
            },
            "channel_status": [
                {
                    "viber": {
                        "code": 3000,
                        "description": "Delivered",
                        "reference_id": f"{n:032x}",
                        "updated_on": "2026-11-28 09:00:01.226",
                    }
                }
            ],
        }
        body = json.dumps(payload).encode()
        requests.append((body, callback_headers(creds, body)))
    return requests


async def post_with_httpx(port: int, requests: Requests, concurrency: int) -> tuple[float, int]:
    """(seconds, number answered 200) to post every request with `concurrency` in flight.

    One AsyncClient (one connection) per worker: a single client's pool with 64 connections
    spends most of its time managing the pool (fewer than 200 requests/s here)."""
    url = f"http://127.0.0.1:{port}/callbacks"
    queue = iter(requests)
    ok = 0
    ready = asyncio.Event()
    warm = 0

    async def worker() -> None:
        nonlocal ok, warm
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=30) as client:
            await client.post(url, content=b"{}")  # connect before the clock starts
            warm += 1
            if warm == concurrency:
                ready.set()
            await ready.wait()
            for body, headers in queue:
                response = await client.post(url, content=body, headers=headers)
                ok += response.status_code == 200

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await ready.wait()
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    return time.perf_counter() - started, ok


async def post_with_sockets(port: int, requests: Requests, concurrency: int) -> tuple[float, int]:
    """The same load from a minimal HTTP/1.1 keep-alive client on raw asyncio streams, which
    costs the client a small fraction of httpx's CPU per request: on 2 cores, httpx alone cannot
    generate much more than ~700 requests/s, so it would measure itself rather than the server."""
    queue = iter(requests)
    ok = 0
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(concurrency)]

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal ok
        for body, headers in queue:
            head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            writer.write(
                f"POST /callbacks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode()
                + body
            )
            response_head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in response_head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            ok += response_head.startswith(b"HTTP/1.1 200 ")
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(reader, writer) for reader, writer in connections))
    return time.perf_counter() - started, ok


def measure(
    command: list[str], env: dict[str, str], client: Client, requests: Requests, concurrency: int
) -> tuple[float, str]:
    """(callbacks/s answered 200, what the server printed on stderr) for the server `command`
    starts (its port is its last argument)."""
    port = free_port()
    process = start_server([*command, str(port)], port, env=env)
    try:
        seconds, ok = asyncio.run(client(port, requests, concurrency))
        if ok != len(requests):
            raise SystemExit(f"only {ok} of {len(requests)} callbacks were answered 200")
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=20)
    return ok / seconds, errors.decode(errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--callbacks", type=int, default=8000, help="for the socket client")
    parser.add_argument("--httpx-callbacks", type=int, default=3000, help="for the (slower) httpx client")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    env = {**os.environ, "TELESIGN_API_KEY": DEMO_API_KEY}
    noop = [sys.executable, "-c", CONSTANT_ANSWER_SERVER]
    rows = []
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as folder:
        fsync_rate = fsyncs_per_second(Path(folder))
        for name, client, count in (
            ("raw sockets", post_with_sockets, args.callbacks),
            ("httpx", post_with_httpx, args.httpx_callbacks),
        ):
            requests = signed_callbacks(count)
            log = Path(folder) / f"{name.replace(' ', '-')}.log"
            receiver = [sys.executable, "-m", "runner", "callbacks", "serve", "--log", str(log), "--port"]
            ceiling, _ = measure(noop, env, client, requests, args.concurrency)
            rate, said = measure(receiver, env, client, requests, args.concurrency)
            flushed = re.search(r"in (\d+) disk flushes", said)
            with open(log, "rb") as lines:
                logged = sum(1 for _ in lines)
            if logged != count:
                raise SystemExit(f"MISMATCH: {count} callbacks acknowledged, {logged} lines in the log")
            rows.append((name, count, ceiling, rate, int(flushed[1]) if flushed else 0))

    print(
        f"receiver_rps: signed callbacks, {args.concurrency} in flight, {os.cpu_count()} cores, "
        "receiver and client on the same machine"
    )
    print(f"  raw fdatasync calls/s on this disk (a flush per callback): {fsync_rate:8,.0f} /s")
    for name, count, ceiling, rate, flushes in rows:
        print(
            f"  client {name:<11}: do-nothing app (HTTP ceiling) {ceiling:8,.0f} /s | receiver (verified, "
            f"logged, flushed before the 200) {rate:8,.0f} /s"
        )
        print(
            f"  {'':20}{count} callbacks, all logged exactly once, in {flushes} disk flushes "
            f"({count / max(flushes, 1):.1f} callbacks per flush)"
        )
    print("  target: 1,000 /s")
    (_, count, ceiling, rate, flushes), (_, _, httpx_ceiling, httpx_rate, _) = rows
    figure(
        "receiver: callbacks/s acknowledged durably",
        round(rate),
        "callbacks/s",
        round(ceiling),
        ">= 1,000/s",
        rate >= 1000,
        f"baseline: the same client against a do-nothing app; {count / max(flushes, 1):.1f} callbacks per "
        f"disk flush; raw fdatasync {fsync_rate:,.0f}/s; with an httpx client {httpx_rate:,.0f}/s "
        f"(httpx alone: {httpx_ceiling:,.0f}/s)",
    )


if __name__ == "__main__":
    main()
