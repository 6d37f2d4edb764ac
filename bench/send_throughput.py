"""Throughput and CPU cost of `campaign send`, beside a bare httpx loop posting the same bodies.

The simulator runs in its own process (`python -m runner simulate --time-scale 0.001`). A campaign
of N recipients (phone_check = "possible", last digits 0..8, so every one is accepted) is sent
with the rate unlimited (rate = 10000) and CONCURRENCY requests in flight by:

- runner: `python -m runner send FILE` in a subprocess: expansion, ledger (claim before send,
  group commit, fsync), pacing, retries, progress, report: everything a user runs;
- bare:   a subprocess with a plain httpx loop posting the same pre-rendered bodies (read from
  `send --dry-run`'s dry-run.jsonl) with the same Basic header, to the same server, with the same
  concurrency, in httpx's cheapest layout measured here (the runner's own until it wrote its
  connections itself, runner.telesign.connection): one httpx.AsyncClient per 4 connections
  (concurrency 32: 8 clients of 4), each worker pinned to its lane's client, the same keep-alive
  and timeouts. Nothing else: no ledger, no retries, no report.

CPU is user + system seconds of each subprocess (resource.getrusage(RUSAGE_CHILDREN) around it;
the simulator is a child too but is not reaped until the end, so it is not counted). Each figure
is also shown net of the process's fixed cost (start-up, imports, and for the runner expanding,
syncing and reporting the audience), measured by a run with nothing to send. Target: runner CPU
per message at most 1.0x the bare loop's (issue 16; it was 1.3x).

With two CPUs or more, the simulator is pinned to CPU 1 and the measured client (runner or bare)
to CPU 0 (--no-pin to let them float): on a two-core machine an unpinned runner (two threads: the
event loop and the ledger's) competes with the simulator for both cores, and its CPU figures then
swing by a third from run to run. Runner and bare alternate; the best and the median are shown.

    .venv/bin/python -m bench.send_throughput [--messages 5000] [--concurrency 32] [--rounds 3] [--no-pin]
    .venv/bin/python -m bench.send_throughput --profile prof.out   # cProfile of one runner send
    .venv/bin/python -m bench.send_throughput --profile prof.txt   # pyinstrument's (pip install -e '.[bench]')
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import figure, free_port
from bench.common import start_simulator as common_start_simulator
from bench.common import write_campaign as common_write_campaign
from runner.telesign.auth import DEMO_API_KEY, DEMO_CUSTOMER_ID

ROOT = Path(__file__).resolve().parent.parent

BARE_LOOP = r"""
import asyncio, sys, time
import httpx
from runner.simulator import DEMO_CREDENTIALS
from runner.telesign.auth import basic_authorization

url, path, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path, "rb") as handle:
    bodies = [line.rstrip(b"\n") for line in handle if line.strip()]
PER_POOL = 4  # httpx's pool rescans its connections per request: small pools cost least

async def main() -> None:
    pools_n = max(1, -(-concurrency // PER_POOL))
    per_pool = -(-concurrency // pools_n)
    pools = [httpx.AsyncClient(
        limits=httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool, keepalive_expiry=2.0),
        timeout=httpx.Timeout(connect=5.0, read=15.0, write=15.0, pool=None),
        headers={"User-Agent": "bare", "Accept": "application/json"}) for _ in range(pools_n)]
    headers = {"Authorization": basic_authorization(DEMO_CREDENTIALS), "Content-Type": "application/json"}
    queue = list(reversed(bodies))
    ok = 0

    async def worker(lane: int) -> None:
        nonlocal ok
        pool = pools[(lane // per_pool) % len(pools)]
        while queue:
            response = await pool.post(url + "/v1/omnichannel", content=queue.pop(), headers=headers)
            ok += response.status_code == 200
    started = time.perf_counter()
    await asyncio.gather(*(worker(lane) for lane in range(concurrency)))
    elapsed = time.perf_counter() - started
    for pool in pools:
        await pool.aclose()
    print(f"sent {len(bodies)} ok {ok} seconds {elapsed:.3f}")

asyncio.run(main())
"""


@dataclass
class Figures:
    wall: float  # seconds, the whole process
    cpu: float  # user + system seconds of the process
    rate: float  # messages/s while sending, as the process measured it


def start_simulator(port: int) -> subprocess.Popen[bytes]:
    return common_start_simulator(port, cpu=1 if PIN else None)


def write_campaign(folder: Path, messages: int, concurrency: int) -> Path:
    return common_write_campaign(folder, messages, "bench-throughput", rate=10000, concurrency=concurrency)


PIN: bool = False  # set by main(): simulator on CPU 1, measured clients on CPU 0


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float, float]:
    cpu, wall = child_cpu(), time.perf_counter()
    pin = (lambda: os.sched_setaffinity(0, {0})) if PIN else None
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, preexec_fn=pin)
    return done, time.perf_counter() - wall, child_cpu() - cpu


def run_send(file: Path, outputs: Path, env: dict[str, str], profile: Path | None = None) -> Figures:
    prefix = [sys.executable]
    if profile is not None:  # a sampling profile (pyinstrument, as text) distorts less than cProfile's
        profiler = ["pyinstrument", "-o"] if profile.suffix == ".txt" else ["cProfile", "-o"]
        prefix = [sys.executable, "-m", *profiler, str(profile)]
    done, wall, cpu = timed(
        [*prefix, "-m", "runner", "send", str(file), "--outputs", str(outputs), "--log-format", "plain"], env
    )
    if done.returncode != 0:
        raise SystemExit(f"campaign send exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    rates = re.findall(r"at ([0-9.]+)/s", done.stderr)
    return Figures(wall, cpu, float(rates[-1]) if rates else 0.0)


def run_bare(url: str, bodies: Path, concurrency: int, env: dict[str, str]) -> Figures:
    done, wall, cpu = timed([sys.executable, "-c", BARE_LOOP, url, str(bodies), str(concurrency)], env)
    match = re.search(r"sent (\d+) ok (\d+) seconds ([0-9.]+)", done.stdout)
    if done.returncode != 0 or match is None or match.group(1) != match.group(2):
        raise SystemExit(f"bare loop failed:\n{done.stdout}\n{done.stderr}")
    sent, seconds = int(match.group(1)), float(match.group(3))
    return Figures(wall, cpu, sent / seconds if seconds else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternate runner and bare this many times")
    parser.add_argument("--no-pin", action="store_true", help="let the simulator and the clients float over the CPUs")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of one runner send here, and stop")
    args = parser.parse_args()
    n = args.messages
    global PIN
    PIN = not args.no_pin and (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")

    work = Path(tempfile.mkdtemp(prefix="bench-send-"))
    port = free_port()
    simulator = start_simulator(port)
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TELESIGN_CUSTOMER_ID": DEMO_CUSTOMER_ID,
        "TELESIGN_API_KEY": DEMO_API_KEY,
        "TELESIGN_BASE_URL": url,
    }
    try:
        file = write_campaign(work / "campaign", n, args.concurrency)
        dry = subprocess.run(
            [sys.executable, "-m", "runner", "send", str(file), "--dry-run", "--outputs", str(work / "dry")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if dry.returncode != 0:
            raise SystemExit(dry.stdout + dry.stderr)
        bodies = work / "dry" / "bench-throughput" / "dry-run.jsonl"
        empty = work / "empty.jsonl"
        empty.write_bytes(b"")
        if args.profile:
            run_send(file, work / "profiled", env, args.profile)
            print(f"profile written to {args.profile}")
            return

        run_bare(url, bodies, args.concurrency, env)  # warm-up: the simulator's code paths, page cache
        runner_runs, bare_runs = [], []
        for round_ in range(args.rounds):
            outputs = work / f"out-{round_}"
            runner_runs.append(run_send(file, outputs, env))
            bare_runs.append(run_bare(url, bodies, args.concurrency, env))
        # Fixed costs: the same processes with nothing to send.
        runner_idle = run_send(file, work / f"out-{args.rounds - 1}", env)  # complete: expands, syncs, reports
        bare_idle = run_bare(url, empty, args.concurrency, env)
    finally:
        simulator.terminate()
        simulator.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)

    per_k = 1000 / n
    layout = "simulator pinned to CPU 1, clients to CPU 0" if PIN else "unpinned"
    print(
        f"{n:,} messages, concurrency {args.concurrency}, rate unlimited, simulator in its own process, "
        f"{os.cpu_count()} CPUs, {layout}; {args.rounds} rounds"
    )
    print(f"{'':<15} {'msg/s':>8} {'wall s':>8} {'CPU s':>8} {'CPU s/1k':>9} {'fixed CPU s':>12} {'net CPU s/1k':>13}")
    chosen: dict[str, dict[str, Figures]] = {}
    for pick in ("best", "median"):
        for name, runs, idle in (("runner", runner_runs, runner_idle), ("bare", bare_runs, bare_idle)):
            by_cpu = sorted(runs, key=lambda r: r.cpu)
            f = by_cpu[0] if pick == "best" else by_cpu[len(by_cpu) // 2]
            chosen.setdefault(pick, {})[name] = f
            print(
                f"{name + ' ' + pick:<15} {f.rate:>8,.0f} {f.wall:>8.2f} {f.cpu:>8.2f} {f.cpu * per_k:>9.3f} "
                f"{idle.cpu:>12.2f} {(f.cpu - idle.cpu) * per_k:>13.3f}"
            )
    for pick, figures in chosen.items():
        runner, bare = figures["runner"], figures["bare"]
        ratio = runner.cpu / bare.cpu
        net_ratio = (runner.cpu - runner_idle.cpu) / max(1e-9, bare.cpu - bare_idle.cpu)
        print(
            f"runner / bare CPU per message ({pick}): {ratio:.2f}x whole process, {net_ratio:.2f}x net of fixed costs "
            f"(target <= 1.0x: {'met' if ratio <= 1.0 else 'MISSED'} whole, "
            f"{'met' if net_ratio <= 1.0 else 'MISSED'} net)"
        )
        if pick == "median":
            figure(
                f"send CPU per 1k msgs ({n:,} msgs, median, whole process)",
                round(runner.cpu * per_k, 3),
                "CPU s",
                round(bare.cpu * per_k, 3),
                "<= 1.0x bare httpx",
                ratio <= 1.0,
                f"net of start-up {net_ratio:.2f}x",
            )
            figure(
                f"send CPU per 1k msgs ({n:,} msgs, median, net of fixed costs)",
                round((runner.cpu - runner_idle.cpu) * per_k, 3),
                "CPU s",
                round((bare.cpu - bare_idle.cpu) * per_k, 3),
                "<= 1.0x bare httpx",
                net_ratio <= 1.0,
                "fixed: start-up, and for the runner expanding, syncing and reporting the audience",
            )
            figure("send throughput (median)", round(runner.rate), "msgs/s", round(bare.rate), "-", True)
    print(
        "all runs: runner CPU "
        + ", ".join(f"{f.cpu:.2f}" for f in runner_runs)
        + "; bare CPU "
        + ", ".join(f"{f.cpu:.2f}" for f in bare_runs)
        + f"; median msg/s runner {statistics.median(f.rate for f in runner_runs):,.0f}, "
        f"bare {statistics.median(f.rate for f in bare_runs):,.0f}"
    )


if __name__ == "__main__":
    main()
