"""Several senders on one campaign through a PostgreSQL ledger (docs/scaling-out.md), beside one
sender on SQLite: messages per second, CPU per message, and ledger transactions per message.

One simulator process (`campaign simulate --time-scale 0.001`) and an unlimited rate (rate =
10000, no account TPS), so the clients' CPU is the limit, not a rate. Each case sends a fresh
campaign of N recipients:

- sqlite:      one `campaign send` with the default SQLite ledger;
- postgres xK: K `campaign send` processes started at once on the same campaign, with
  CAMPAIGN_LEDGER_URL pointing at a database made for this benchmark (dropped at the end).

msgs/s is N over the wall time from the first start to the last exit, and "sending" N over the
time from the first outcome recorded to the last (each message's updated_at in the ledger):
without each process's start and end, which every sender pays once; CPU is user + system of the
senders (wait4), per message sent; transactions per message is the database's own count
(pg_stat_database.xact_commit of the benchmark's database, before and after) over N: claims and
outcomes, the audience sync, runs, counts and the report. Target: 2 senders on PostgreSQL at
least 1.6x one sender's msgs/s. On a machine with few cores the simulator, PostgreSQL and the
senders share them: the ratio then says more about the machine than the runner (the CPU per
message says what each sender costs). So each case also says what the simulator and PostgreSQL
took meanwhile (CPU seconds from /proc, over the case's wall time: 2.0 is both cores of a 2-core
machine busy), and how busy the machine was: the share of all its cores' time used by anything.
PostgreSQL's figure counts every server process (other clients of the same server included).
The 2-vs-1 figure's baseline is the most this machine allows: its cores (as many as two busy
processes really get: bench.common.machine_scaling, a plain loop alone then two at once, before
the cases and after; on a VM whose cores are shared with a busy host, 1.1x to 2x) over the cores
one sender's case keeps busy, counting the simulator and PostgreSQL beside the sender.

    .venv/bin/python -m bench.postgres_senders [--messages 4000] [--concurrency 16] [--server URL]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.common import ROOT, SharedDatabase, SimulatorProcess, figure, machine_scaling, write_campaign
from runner.telesign.auth import DEMO_API_KEY, DEMO_CUSTOMER_ID

SERVER = os.environ.get("CAMPAIGN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Case:
    name: str
    seconds: float
    cpu_seconds: float
    sent: int
    transactions: int | None
    simulator_cpu: float = 0.0  # seconds
    postgres_cpu: float = 0.0
    machine_busy: float = 0.0  # of every core's time, 0..1
    sending_seconds: float = 0.0  # from the first outcome recorded to the last (the ledger's updated_at)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    @property
    def sending_rate(self) -> float:
        return self.sent / max(self.sending_seconds, 1e-9)

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds / max(1, self.sent) * 1000


TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str]:
    """/proc/PID/stat's fields after the command name: [0] state, [1] ppid, [11] utime, [12] stime,
    [13] cutime, [14] cstime (clock ticks)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def _comm(pid: int | str) -> str:
    with open(f"/proc/{pid}/comm", encoding="ascii") as handle:
        return handle.read().strip()


def process_cpu(pid: int) -> float:
    """CPU seconds a live process used so far (user + system)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICK


def postgres_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL server: every live `postgres` process, plus what
    the postmaster's children that ended were charged (its cutime + cstime): a counter that only
    grows, whatever backends come and go between two readings."""
    total = 0.0
    for entry in os.listdir("/proc"):
        try:
            if not entry.isdigit() or _comm(entry) != "postgres":
                continue
            fields = _stat(entry)
            postmaster = _comm(fields[1]) != "postgres"  # (its parent is not a server process)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
        if postmaster:
            total += (int(fields[13]) + int(fields[14])) / TICK
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every core since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def xact_commits(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()
    assert row is not None
    return int(row[0])


def sending_span(rows: list[tuple[str | None, str | None]]) -> float:
    """Seconds from the first message's last update to the last one's (each message's outcome):
    the sending itself, without each process's start (imports, the check, the sync) and end (the
    report), which every sender pays whatever the number of senders."""
    [(first, last)] = rows
    assert first is not None and last is not None
    return (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()


SPAN = "SELECT min(updated_at), max(updated_at) FROM messages"


def send(senders: int, file: Path, outputs: Path, env: dict[str, str]) -> tuple[float, float, list[str]]:
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "runner", "send", str(file), "--outputs", str(outputs), "--log-format", "plain"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(senders)
    ]
    cpu = 0.0
    outputs_text = []
    for proc in procs:
        assert proc.stdout is not None
        outputs_text.append(proc.stdout.read().decode("utf-8", "replace"))
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
        if proc.returncode != 0:
            raise SystemExit(f"a sender exited {proc.returncode}:\n{outputs_text[-1]}")
    return time.perf_counter() - started, cpu, outputs_text


class Around:
    """CPU used by the simulator, PostgreSQL and the whole machine over one case."""

    def __init__(self, simulator_pid: int) -> None:
        self.pid = simulator_pid
        self.simulator, self.postgres, self.ticks = process_cpu(self.pid), postgres_cpu(), machine_ticks()

    def case(self, case: Case) -> Case:
        busy, total = machine_ticks()
        case.simulator_cpu = process_cpu(self.pid) - self.simulator
        case.postgres_cpu = postgres_cpu() - self.postgres
        case.machine_busy = (busy - self.ticks[0]) / max(1, total - self.ticks[1])
        return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server", default=SERVER, help="a PostgreSQL server where a database may be made")
    parser.add_argument("--senders", default="1,2,4")
    args = parser.parse_args()

    import psycopg

    database = SharedDatabase(args.server)
    url = database.url
    cases: list[Case] = []
    ceilings = [machine_scaling()]  # (before the cases and after: the host's load moves meanwhile)
    try:
        with tempfile.TemporaryDirectory() as temp, SimulatorProcess() as sim:
            env = {
                **os.environ,
                "TELESIGN_CUSTOMER_ID": DEMO_CUSTOMER_ID,
                "TELESIGN_API_KEY": DEMO_API_KEY,
                "TELESIGN_BASE_URL": sim.url,
            }
            env.pop("CAMPAIGN_LEDGER_URL", None)
            env.pop("TELESIGN_ACCOUNT_TPS", None)
            folder = Path(temp)
            file = write_campaign(folder / "sqlite", args.messages, "bench-sqlite", concurrency=args.concurrency)
            assert sim.proc is not None
            around = Around(sim.proc.pid)
            seconds, cpu, _ = send(1, file, folder / "out-sqlite", env)
            case = around.case(Case("sqlite x1", seconds, cpu, args.messages, None))
            with sqlite3.connect(folder / "out-sqlite" / "bench-sqlite" / "ledger.sqlite") as db:
                case.sending_seconds = sending_span(db.execute(SPAN).fetchall())
            cases.append(case)
            for count in [int(n) for n in args.senders.split(",")]:
                campaign_id = f"bench-pg-{count}"
                file = write_campaign(folder / campaign_id, args.messages, campaign_id, concurrency=args.concurrency)
                before = xact_commits(url)
                around = Around(sim.proc.pid)
                seconds, cpu, _ = send(count, file, folder / f"out-{campaign_id}", {**env, "CAMPAIGN_LEDGER_URL": url})
                case = around.case(Case(f"postgres x{count}", seconds, cpu, args.messages, None))
                case.transactions = xact_commits(url) - before
                with psycopg.connect(url, options="-csearch_path=campaign_runner") as conn:
                    span = conn.execute(SPAN + " WHERE campaign = %s", (campaign_id,)).fetchall()
                case.sending_seconds = sending_span(span)
                cases.append(case)
    finally:
        database.drop()
    ceilings.append(machine_scaling())
    ceiling = min(c.work for c in ceilings)

    print(f"{args.messages} messages, concurrency {args.concurrency} per sender, {os.cpu_count()} CPUs")
    print(
        f"{'case':<14}{'msgs/s':>10}{'sending':>9}{'CPU ms/msg':>12}{'txn/msg':>10}"
        f"{'senders':>9}{'simulator':>10}{'postgres':>9}{'machine':>9}"
    )
    print(f"{'':<14}{'(whole run; while sending: first outcome to last)':<55}")
    print(f"{'':<55}{'(CPU s per s of the case; machine: busy share)':>46}")
    for case in cases:
        txn = f"{case.transactions / case.sent:.3f}" if case.transactions is not None else "-"
        print(
            f"{case.name:<14}{case.rate:>10.0f}{case.sending_rate:>9.0f}{case.cpu_ms:>12.2f}{txn:>10}"
            f"{case.cpu_seconds / case.seconds:>9.2f}{case.simulator_cpu / case.seconds:>10.2f}"
            f"{case.postgres_cpu / case.seconds:>9.2f}{case.machine_busy:>9.0%}"
        )
    by_name = {case.name: case for case in cases}
    one, two = by_name.get("postgres x1"), by_name.get("postgres x2")
    sqlite = by_name["sqlite x1"]
    if one is not None:
        figure(
            "postgres 1 sender msgs/s", round(one.rate), "msgs/s", round(sqlite.rate), "beside sqlite x1", True,
            f"CPU {one.cpu_ms:.2f} ms/msg vs sqlite {sqlite.cpu_ms:.2f}",
        )  # fmt: skip
        if one.transactions is not None:
            figure(
                "postgres transactions per message", round(one.transactions / one.sent, 3), "txn/msg", None,
                "claims and outcomes share commits", True,
            )  # fmt: skip
    first, last = ceilings
    print(
        f"this machine with two busy processes does {first.work:.2f}x the work of one before the cases, "
        f"{last.work:.2f}x after (a plain Python loop alone, then two at once: bench.common.machine_scaling)"
    )
    if one is not None and two is not None:
        ratio = two.rate / one.rate
        # One sender's case is three busy programs (the sender, the simulator, PostgreSQL) on the
        # same machine: what they keep busy of it bounds what a second sender can add.
        busy = (one.cpu_seconds + one.simulator_cpu + one.postgres_cpu) / one.seconds
        # (its cores, each worth what the plain loop found a second busy process gets)
        bound = len(os.sched_getaffinity(0)) * min(1.0, ceiling / 2) / busy
        print(
            f"one sender's case keeps {busy:.2f} cores busy (sender {one.cpu_seconds / one.seconds:.2f}, simulator "
            f"{one.simulator_cpu / one.seconds:.2f}, PostgreSQL {one.postgres_cpu / one.seconds:.2f}): on this "
            f"machine two senders can reach at most {bound:.2f}x one, if sharing cost nothing"
        )
        total_ms = [(c.cpu_seconds + c.simulator_cpu + c.postgres_cpu) / c.sent * 1000 for c in (one, two)]
        print(
            f"postgres x2 / x1: {ratio:.2f}x msgs/s, {ratio / bound:.0%} of that bound; CPU per message, "
            f"senders {two.cpu_ms / one.cpu_ms:.2f}x, all three {total_ms[1] / total_ms[0]:.2f}x "
            f"({total_ms[0]:.2f} -> {total_ms[1]:.2f} ms)"
        )
        sending = two.sending_rate / one.sending_rate
        print(
            f"while sending (without each process's start and report): x2 / x1 {sending:.2f}x "
            f"({two.sending_rate:.0f} vs {one.sending_rate:.0f} msgs/s)"
        )
        figure(
            "postgres 2 senders vs 1", round(ratio, 2), "x", round(bound, 2), ">= 1.6x", ratio >= 1.6,
            f"{two.rate:.0f} vs {one.rate:.0f} msgs/s on {os.cpu_count()} CPUs; baseline: the most this machine "
            "allows, its cores over those one sender's case keeps busy",
        )  # fmt: skip


if __name__ == "__main__":
    main()
