"""Shared by the benchmarks: a simulator in its own process, generated campaigns, child-process
measurement (wall time, CPU, peak RSS from wait4), and the FIGURE lines bench/run_all.py reads."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from runner.serving import free_port as free_port

ROOT = Path(__file__).resolve().parent.parent


# A do-nothing HTTP server (uvicorn + the same stack as the project's apps): the baseline the
# simulator and receiver benchmarks compare against. Its port is its last argument.
CONSTANT_ANSWER_SERVER = """
import sys
from runner.serving import serve_forever

BODY = b'{"status": {"code": 3001, "description": "Message in progress"}, "reference_id": "0", "external_id": null}'

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})

serve_forever(app, "127.0.0.1", int(sys.argv[-1]))
"""


def start_server(
    command: list[str], port: int, env: dict[str, str] | None = None, cpu: int | None = None
) -> subprocess.Popen[bytes]:
    """Start a server process (demo credentials unless `env` says otherwise), optionally pinned to
    one CPU; return once it accepts connections on `port`."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELESIGN_")}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if cpu is not None:
        os.sched_setaffinity(process.pid, {cpu})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited early with {process.returncode}: {command}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"the server did not start: {command}")


def start_simulator(port: int, *extra: str, cpu: int | None = None) -> subprocess.Popen[bytes]:
    """`campaign simulate` on `port` with demo credentials and a tiny time scale."""
    command = [sys.executable, "-m", "runner", "simulate", "--port", str(port), "--time-scale", "0.001", *extra]
    return start_server(command, port, cpu=cpu)


class SimulatorProcess:
    """`campaign simulate` in its own process, so it does not share the measured process's GIL."""

    def __init__(self, *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SimulatorProcess:
        self.proc = start_simulator(self.port, *self.args)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def write_campaign(
    folder: Path, rows: int, campaign_id: str = "bench", rate: float = 10000, concurrency: int = 16
) -> Path:
    """A campaign of `rows` recipients in a CSV audience; test numbers (phone_check = possible)
    whose last digits cycle 0..8, so every simulator outcome but a refusal occurs."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "audience.csv").open("w", encoding="utf-8") as handle:
        handle.write("id,phone,first_name,order_id\n")
        for i in range(rows):
            number = i // 9 * 10 + i % 9  # unique, last digit i % 9
            handle.write(f"c-{i},+1 555 {number:07d},Name{i},{100000 + i}\n")
    path = folder / "campaign.toml"
    path.write_text(
        f'''id = "{campaign_id}"
# an order-status notification: no send window (docs/policy.md), so the benchmarks send at any hour
message_type = "ARN"
[sending]
rate = {rate}
concurrency = {concurrency}
[audience]
file = "audience.csv"
phone_check = "possible"
[vars]
shop = "viatushop.com"
[viber]
text = "Thanks for your purchase on {{{{ shop }}}}, {{{{ first_name }}}}! Track your order status here:"
url = "https://{{{{ shop }}}}/orders?id={{{{ order_id }}}}"
url_text = "Track Order"
url_id = "track-order"
fallback_time = 600
[sms]
text = "Thanks for your purchase on {{{{ shop }}}}! Track your order: https://{{{{ shop }}}}/orders?id={{{{ order_id }}}}"
''',  # noqa: E501
        encoding="utf-8",
    )
    return path


@dataclass
class Measured:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    exit_code: int
    output: str


def measure(args: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run a child process and measure it alone: wall time, its CPU (user + system) and its peak
    RSS, from wait4 (no other child is counted)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    output = proc.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode, output
    )


def figure(name: str, value: float, unit: str, baseline: float | None, target: str, met: bool, note: str = "") -> None:
    """One result line for bench/run_all.py's table (and a readable line for people)."""
    print(
        "FIGURE "
        + json.dumps(
            {
                "figure": name,
                "value": value,
                "unit": unit,
                "baseline": baseline,
                "target": target,
                "met": met,
                "note": note,
            }
        )
    )


# A loop of plain Python work, nothing shared: what one process can do on one core.
_SPIN = "import sys\nx = 0\nfor i in range(int(sys.argv[1])): x += i\n"


def _spin(loops: int, copies: int) -> tuple[float, float]:
    """`copies` processes each running _SPIN `loops` times, started together: (wall seconds until
    the last ends, CPU seconds per copy)."""
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _SPIN, str(loops)]) for _ in range(copies)]
    cpu = 0.0
    for proc in procs:
        _, _, usage = os.wait4(proc.pid, 0)
        cpu += usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, cpu / copies


@dataclass
class Scaling:
    """What a second busy process adds on this machine, now (machine_scaling)."""

    work: float  # work done per wall second, two processes at once against one alone (2.0: two free cores)
    cpu: float  # CPU seconds the same work costs each of two at once, against one alone (1.0: no contention)


def machine_scaling(seconds: float = 1.0, rounds: int = 3) -> Scaling:
    """The same plain loop run alone, then as two processes at once (the median of `rounds`). On two
    cores of its own `work` is 2.0 and `cpu` 1.0; where the cores are shared with a busy host or
    are SMT siblings, two processes do less, and each spends more CPU time on the same work (seen
    here on a "2-core" VM: work 1.08x to 1.65x). It is the ceiling of any figure that compares two
    processes with one in the same run, such as two senders against one."""
    loops = 1_000_000
    while _spin(loops, 1)[0] < seconds / 4:  # (calibrated so that one copy takes about `seconds`)
        loops *= 4
    loops = int(loops * seconds / _spin(loops, 1)[0])
    measured = []
    for _ in range(rounds):
        (alone, alone_cpu), (together, together_cpu) = _spin(loops, 1), _spin(loops, 2)
        measured.append(Scaling(2 * alone / together, together_cpu / alone_cpu))
    return sorted(measured, key=lambda s: s.work)[len(measured) // 2]


class SharedDatabase:
    """A database made on a PostgreSQL server for one benchmark's shared ledger, dropped at the end."""

    def __init__(self, server: str) -> None:
        import psycopg

        self.server, self.name = server, "campaign_bench_" + uuid.uuid4().hex[:10]
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {self.name}")
        base, _, query = server.partition("?")
        self.url = base.rsplit("/", 1)[0] + "/" + self.name + (("?" + query) if query else "")

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
