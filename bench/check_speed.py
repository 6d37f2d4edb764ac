"""How fast `campaign check` gets through a large CSV audience, and how much memory it holds.

    .venv/bin/python -m bench.check_speed                 # 100,000 rows
    .venv/bin/python -m bench.check_speed --rows 1000000 --repeat 1

It writes a campaign shaped like campaigns/winter-sale.toml (a CSV audience in five countries,
a suppression list, a Viber text in a template file, an SMS fallback) into a temporary folder,
then measures, each in a fresh child process so that peak RSS is that child's alone:

  bare loop   only the work no checker can avoid for the same rows: read the CSV, parse each
              number with phonenumbers and ask is_valid_number, render the same Jinja templates
              (sandboxed, StrictUndefined, compiled once);
  check       runner.commands.check.run([file]), what `campaign check FILE` dispatches to;
  campaign    the `campaign check FILE` command line itself, interpreter start-up included.

Rates are rows per second of the work alone (imports excluded) for the first two; the command
line's include start-up. CPU time is the primary figure (the ratio is taken on it): on a shared
machine wall time swings with other processes, CPU time barely. Each figure is the best of
--repeat interleaved runs. Targets (issue 2):
check >= 0.7x the bare loop's rate, peak RSS under 100 MB whatever the audience size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import figure

REPO = Path(__file__).resolve().parents[1]

CAMPAIGN = """\
id = "bench-check"
name = "Benchmark: winter sale"
message_type = "MKT"

[audience]
file = "audiences/bench.csv"
default_region = "GB"
phone_check = "valid"
suppress = ["audiences/opt-out.csv"]
on_invalid = "fail"

[vars]
shop = "viatushop.com"
discount = 30

[viber]
text_template = "bench/viber.txt.j2"
url = "https://{{ shop }}/sale?c={{ campaign.id }}&u={{ customer_ref | urlencode }}"
url_text = "Shop the sale"
url_id = "winter-sale"
fallback_time = 900

[sms]
text = "{{ shop }}: {{ discount }}% off everything until 24 Dec, {{ first_name }}. Shop: https://{{ shop }}/sale Reply STOP to opt out"
max_segments = 2
"""  # noqa: E501

VIBER_TEMPLATE = """\
Hi {{ first_name }}! Our winter sale is on: {{ discount }}% off everything at {{ shop }}
{%- if city %}, with free delivery to {{ city }}{% endif %}. Until 24 December.
"""

# Five number shapes, all valid in phonenumbers' metadata, 200,000+ distinct numbers each.
PHONES = ("07400 {:06d}", "+49 1512 {:07d}", "+33 6 {:08d}", "+34 612 {:06d}", "+39 312 {:07d}")
NAMES = ("Amelia", "Lukas", "Léa", "Lucía", "Marco", "Zofia", "Oksana", "Eleni", "Sofía", "Noah")
CITIES = ("London", "Berlin", "Lyon, Rhône", "Madrid", "Milano", "", "Kraków", "São Paulo")


def phone(row: int) -> str:
    return PHONES[row % len(PHONES)].format(row // len(PHONES))


def write_campaign(folder: Path, rows: int) -> Path:
    (folder / "campaigns" / "audiences").mkdir(parents=True)
    (folder / "templates" / "bench").mkdir(parents=True)
    (folder / "templates" / "bench" / "viber.txt.j2").write_text(VIBER_TEMPLATE, encoding="utf-8")
    campaign = folder / "campaigns" / "bench.toml"
    campaign.write_text(CAMPAIGN, encoding="utf-8")
    with open(folder / "campaigns" / "audiences" / "bench.csv", "w", encoding="utf-8", newline="") as out:
        out.write("id,phone,first_name,customer_ref,city\n")
        for row in range(rows):
            city = CITIES[row % len(CITIES)]
            out.write(f'b-{row},{phone(row)},{NAMES[row % len(NAMES)]},A-{row},"{city}"\n')
    with open(folder / "campaigns" / "audiences" / "opt-out.csv", "w", encoding="utf-8", newline="") as out:
        out.write("phone,opted_out_on\n")
        for row in range(0, rows, 1000):  # one in a thousand opted out
            out.write(f"{phone(row)},2026-10-02\n")
    return campaign


# ---------------------------------------------------------------------------------------------
# Children: each prints one JSON line {"cpu": seconds, "wall": seconds} of its work on stdout.


class Stopwatch:
    """CPU seconds (what this process used: on a shared machine, what other processes do barely
    shows) and wall seconds, from start to `read`."""

    def __init__(self) -> None:
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def read(self) -> dict[str, float]:
        return {"cpu": time.process_time() - self.cpu, "wall": time.perf_counter() - self.wall}


def child_bare(campaign: Path) -> dict[str, Any]:
    import csv
    import tomllib

    import jinja2
    import phonenumbers
    from jinja2.sandbox import SandboxedEnvironment

    spec = tomllib.loads(campaign.read_text(encoding="utf-8"))
    templates = campaign.parent.parent / "templates"
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, loader=jinja2.FileSystemLoader(str(templates)))
    viber, sms = spec["viber"], spec["sms"]
    compiled = [
        env.get_template(viber["text_template"]),
        env.from_string(viber["url"]),
        env.from_string(viber["url_text"]),
        env.from_string(viber["url_id"]),
        env.from_string(sms["text"]),
    ]
    base = {**spec["vars"], "campaign": {"id": spec["id"], "name": spec["name"]}}
    region = spec["audience"]["default_region"]
    audience = campaign.parent / spec["audience"]["file"]
    watch = Stopwatch()
    rows = 0
    with open(audience, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            number = phonenumbers.parse(row["phone"], region)
            if not phonenumbers.is_valid_number(number):
                raise SystemExit(f"bench data: {row['phone']} is not valid")
            context = {**base, **row}
            for template in compiled:
                template.render(context)
            rows += 1
    return {"rows": rows, **watch.read()}


def child_check(campaign: Path) -> dict[str, Any]:
    from runner.campaign.expansion import Expansion  # noqa: F401  (imported here so its import is not timed)
    from runner.commands import check

    watch = Stopwatch()
    code = check.run([campaign])
    figures = watch.read()
    if code != 0:
        raise SystemExit(f"campaign check failed with exit code {code}")
    return figures


def child_profile(campaign: Path) -> None:
    import cProfile
    import pstats

    from runner.commands import check

    profiler = cProfile.Profile()
    profiler.runcall(check.run, [campaign])
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)


# ---------------------------------------------------------------------------------------------
# Parent


@dataclass
class Figures:
    cpu: float = float("inf")  # best CPU seconds
    wall: float = float("inf")  # best wall seconds
    rss: float = 0.0  # highest peak RSS, MB

    def add(self, cpu: float, wall: float, rss: float) -> None:
        self.cpu, self.wall, self.rss = min(self.cpu, cpu), min(self.wall, wall), max(self.rss, rss)


def run_child(argv: list[str]) -> tuple[str, float, float, float]:
    """Run a child process: its stdout, CPU seconds, wall seconds and peak RSS in MB, the last
    two from wait4's resource usage of this child alone."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=REPO)
    assert process.stdout is not None
    out = process.stdout.read().decode("utf-8")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {process.returncode}")
    return out, usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024  # Linux: KiB


def measure(kinds: list[str], campaign: Path, repeat: int) -> dict[str, Figures]:
    """Best times and highest peak RSS per kind. Runs are interleaved (bare, check, campaign,
    bare, ...) so that a machine busy for a while slows every kind alike, not one."""
    best = {kind: Figures() for kind in kinds}
    for _ in range(repeat):
        for kind in kinds:
            if kind == "campaign":  # the whole process, start-up included
                _, cpu, wall, rss = run_child([sys.executable, "-m", "runner", "check", str(campaign)])
            else:  # the work alone, as the child timed it
                out, _, _, rss = run_child([sys.executable, __file__, "--child", kind, str(campaign)])
                work = json.loads(out.strip().splitlines()[-1])
                cpu, wall = work["cpu"], work["wall"]
            best[kind].add(cpu, wall, rss)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="audience rows (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept (default 3)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one check run")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "CAMPAIGN"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, path = args.child
        if kind == "profile":
            child_profile(Path(path))
            return
        result = child_bare(Path(path)) if kind == "bare" else child_check(Path(path))
        # check prints its summary line on stdout first; ours is the last line
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="check-speed-") as tmp:
        started = time.perf_counter()
        campaign = write_campaign(Path(tmp), args.rows)
        size = (campaign.parent / "audiences" / "bench.csv").stat().st_size
        print(
            f"audience: {args.rows:,} rows, {size / 1e6:.1f} MB CSV, written in {time.perf_counter() - started:.1f} s"
        )
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, best of {args.repeat}")
        print()

        figures = measure(["bare", "check", "campaign"], campaign, args.repeat)
        bare, check, cli = figures["bare"], figures["check"], figures["campaign"]

        rows = args.rows
        print(f"{'':<34}{'rows/CPU-s':>11}{'CPU s':>8}{'rows/s':>9}{'wall s':>8}{'peak RSS':>11}")
        for label, f in (
            ("bare loop (csv+parse+valid+jinja)", bare),
            ("check (runner.commands.check.run)", check),
            ("campaign check (CLI, incl. start)", cli),
        ):
            print(f"{label:<34}{rows / f.cpu:>11,.0f}{f.cpu:>8.2f}{rows / f.wall:>9,.0f}{f.wall:>8.2f}{f.rss:>8.1f} MB")
        print()
        ratio, wall_ratio = bare.cpu / check.cpu, bare.wall / check.wall
        print(
            f"check / bare loop: {ratio:.2f}x by CPU time, {wall_ratio:.2f}x by wall time"
            f"   (target >= 0.70x: {'met' if ratio >= 0.7 else 'MISSED'})"
        )
        peak = max(check.rss, cli.rss)
        print(f"peak RSS of check: {peak:.1f} MB   (target < 100 MB: {'met' if peak < 100 else 'MISSED'})")
        print()
        figure(
            f"campaign check, rows per CPU second at {rows:,} rows",
            round(rows / check.cpu),
            "rows/s",
            round(rows / bare.cpu),
            ">= 0.7x the bare loop",
            ratio >= 0.7,
            f"wall-time ratio {wall_ratio:.2f}x",
        )
        figure(
            f"campaign check, peak RSS at {rows:,} rows",
            round(peak, 1),
            "MB",
            round(bare.rss, 1),
            "< 100 MB",
            peak < 100,
        )

        if args.profile:
            print("\ncProfile of one check run (stderr):", flush=True)
            subprocess.run(
                [sys.executable, __file__, "--child", "profile", str(campaign)],
                cwd=REPO,
                check=True,
                stdout=subprocess.DEVNULL,
            )


if __name__ == "__main__":
    main()
