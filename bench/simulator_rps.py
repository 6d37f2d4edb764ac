"""Requests per second the Telesign simulator sustains, so send benchmarks know whether the
simulator or the runner is the bottleneck.

The simulator runs in its own process (`python -m runner simulate`), so client and server do not
share one GIL. Two clients, each with CONCURRENCY requests in flight:
- a bare httpx.AsyncClient: what the runner's sender will meet. On this 2-core machine httpx
  itself is the limit (its connection pool rescans every connection on each request, about
  3 ms of client CPU per request at 32 connections), far below the simulator's capacity;
- a minimal keep-alive HTTP/1.1 client on asyncio streams, light enough that the server sets
  the pace: the simulator's own throughput, with its CPU per request.
The baseline is the same two clients against a constant-answer ASGI app served the same way
(uvicorn, uvloop, httptools, own process), measured in the same run. Target: 2,000 req/s.

    .venv/bin/python -m bench.simulator_rps [--requests 10000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import httpx

from bench.common import CONSTANT_ANSWER_SERVER, figure, free_port, start_server
from runner.simulator import DEMO_CREDENTIALS
from runner.telesign.auth import basic_authorization

ROOT = Path(__file__).resolve().parent.parent


def bodies() -> list[bytes]:
    seed_body = {
        "channels": [{"channel": "viber", "fallback_time": 600}, {"channel": "sms"}],
        "message": {
            "viber": {
                "template": "url_action",
                "parameters": {
                    "text": "Thanks for your purchase on viatushop.com! Track your order status here:",
                    "url": "https://viatushop.com/orders?id=45390",
                    "url_id": "track-order",
                    "url_text": "Track Order",
                },
            },
            "sms": {
                "template": "text",
                "parameters": {"text": "Track your order: https://viatushop.com/orders?id=45390"},
            },
        },
        "message_type": "ARN",
    }
    # Last digits 0..8: every outcome that is accepted (9 is refused at once).
    return [
        json.dumps({**seed_body, "phone_number": f"1555867{i:03d}{i % 9}", "external_id": f"bench:{i}"}).encode()
        for i in range(1000)
    ]


async def hammer(url: str, total: int, concurrency: int) -> tuple[float, dict[int, int]]:
    payloads = bodies()
    headers = {"Authorization": basic_authorization(DEMO_CREDENTIALS), "Content-Type": "application/json"}
    statuses: dict[int, int] = {}
    remaining = total
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:

        async def worker(index: int) -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                response = await client.post("/v1/omnichannel", content=payloads[(remaining + index) % len(payloads)])
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        remaining = 500  # warm-up: connections opened, code paths hot
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        statuses.clear()
        remaining = total
        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return total / elapsed, statuses


def raw_request(body: bytes) -> bytes:
    head = (
        "POST /v1/omnichannel HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {basic_authorization(DEMO_CREDENTIALS)}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def hammer_raw(port: int, total: int, concurrency: int) -> tuple[float, dict[int, int]]:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams: a load generator light enough
    that the server, not the client, sets the pace."""
    requests = [raw_request(b) for b in bodies()]
    statuses: dict[int, int] = {}
    remaining = 0

    async def worker(index: int) -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while remaining > 0:
            remaining -= 1
            writer.write(requests[(remaining + index) % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    remaining = 500
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    statuses.clear()
    remaining = total
    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return total / (time.perf_counter() - started), statuses


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, command: list[str], total: int, concurrency: int) -> dict[str, float]:
    port = free_port()
    command = [part.replace("PORT", str(port)) for part in command]
    process = start_server(command, port)
    figures: dict[str, float] = {}
    try:
        rps, statuses = asyncio.run(hammer(f"http://127.0.0.1:{port}", total, concurrency))
        figures["httpx"] = rps
        print(
            f"{name:<36} httpx {rps:>7,.0f} req/s   (bare httpx.AsyncClient)   answers {dict(sorted(statuses.items()))}"
        )
        before = cpu_seconds(process.pid)
        raw, statuses = asyncio.run(hammer_raw(port, total, concurrency))
        after = cpu_seconds(process.pid)
        figures["raw"] = raw
        line = (
            f"{'':<36} raw   {raw:>7,.0f} req/s   (light asyncio-streams client)   "
            f"answers {dict(sorted(statuses.items()))}"
        )
        if before is not None and after is not None:
            # Server CPU per request under that load (the warm-up's 500 requests included).
            figures["cpu_ms"] = (after - before) / (total + 500) * 1000
            line += f"\n{'':<36} server CPU {figures['cpu_ms']:.3f} ms/request"
        print(line)
    finally:
        process.terminate()
        process.wait(timeout=15)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(
        f"{args.requests:,} POST /v1/omnichannel per run, concurrency {args.concurrency}, "
        f"{os.cpu_count()} CPUs; each server in its own process"
    )
    baseline = measure(
        "baseline (constant-answer ASGI app)",
        [sys.executable, "-c", CONSTANT_ANSWER_SERVER, "PORT"],
        args.requests,
        args.concurrency,
    )
    simulator = measure(
        "simulator (campaign simulate)",
        [sys.executable, "-m", "runner", "simulate", "--port", "PORT"],
        args.requests,
        args.concurrency,
    )
    print(
        f"simulator / baseline: httpx {simulator['httpx'] / baseline['httpx']:.0%}, "
        f"raw {simulator['raw'] / baseline['raw']:.0%}"
    )
    best = max(simulator["httpx"], simulator["raw"])
    verdict = "meets" if best >= 2000 else "MISSES"
    print(f"target 2,000 req/s: the simulator {verdict} it (best measured {best:,.0f} req/s)")
    figure(
        "simulator req/s (light client, c=32)",
        round(simulator["raw"]),
        "req/s",
        round(baseline["raw"]),
        ">= 2,000",
        simulator["raw"] >= 2000,
    )
    figure(
        "simulator req/s (bare httpx client, c=32)",
        round(simulator["httpx"]),
        "req/s",
        round(baseline["httpx"]),
        ">= 2,000",
        simulator["httpx"] >= 2000,
        "httpx-bound",
    )


if __name__ == "__main__":
    main()
