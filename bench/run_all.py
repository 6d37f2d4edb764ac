"""Every benchmark, one after the other, and one table of their figures: value, the baseline
measured in the same run, their ratio, the target and whether it is met.

    python -m bench            # the sizes the issues name (several minutes)
    python -m bench --quick    # smaller sizes, for a first look
    python -m bench --markdown # the table as README.md shows it, with the command, date and load
    python -m bench --readme README.md   # ... and written into README.md's performance section

Each benchmark is its own script under bench/ (run one alone for its full printout); each prints
`FIGURE {json}` lines, which this collects. README.md's table is this output, never typed by hand:
--readme replaces what stands between its README_START and README_END marks."""

from __future__ import annotations

import argparse
import compileall
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
README_START = "<!-- performance table: written by `python -m bench --readme README.md` -->"
README_END = "<!-- end of the performance table -->"

BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    # script, full arguments, quick arguments
    ("check_speed.py", [], ["--rows", "20000"]),
    ("memory_scaling.py", [], ["--sizes", "10000", "100000"]),
    ("simulator_rps.py", [], ["--requests", "3000"]),
    ("send_throughput.py", [], ["--messages", "2000"]),
    ("rate_accuracy.py", [], ["--seconds", "10"]),
    ("sdk_compare.py", [], []),
    ("receiver_rps.py", [], []),
    ("enrich_speed.py", [], ["--messages", "25000", "--lines", "100000"]),
    ("plan_speed.py", [], ["--rows", "20000", "--small", "5000"]),
    ("report_html.py", [], ["--rows", "100000"]),
]


def run(script: str, args: list[str]) -> list[dict[str, object]]:
    started = time.monotonic()
    # (this checkout first on the path: a benchmark that starts a child by its script's path still
    # imports bench.common, and this checkout's runner)
    path = os.pathsep.join(p for p in (str(HERE.parent), os.environ.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{script.removesuffix('.py')}", *args],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
        env={**os.environ, "PYTHONPATH": path},
    )
    figures = [json.loads(line[len("FIGURE ") :]) for line in proc.stdout.splitlines() if line.startswith("FIGURE ")]
    status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
    print(f"{script}: {status} in {time.monotonic() - started:.0f}s", file=sys.stderr)
    if proc.returncode != 0:
        print(proc.stdout[-2000:] + proc.stderr[-2000:], file=sys.stderr)
    return figures


def table(figures: list[dict[str, object]]) -> str:
    rows = [("figure", "value", "baseline", "ratio", "target", "met")]
    for f in figures:
        value, baseline = f["value"], f.get("baseline")
        ratio = (
            f"{float(value) / float(baseline):.2f}x"
            if isinstance(value, (int, float)) and isinstance(baseline, (int, float)) and baseline
            else "-"
        )  # type: ignore[arg-type]
        rows.append(
            (
                str(f["figure"]),
                f"{value} {f['unit']}",
                "-" if baseline is None else f"{baseline} {f['unit']}",
                ratio,
                str(f["target"]),
                "yes" if f["met"] else "NO",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def provenance(command: str, started: datetime, load: tuple[float, float, float]) -> str:
    """Which command produced the table, when, and how busy the machine was (figures swing with it)."""
    return (
        f"Produced by `{command}` on {started:%Y-%m-%d} ({started:%H:%M} UTC) on a machine with "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} when it started "
        f"(wall-clock figures swing with the load; CPU-time ratios much less)."
    )


def write_readme(readme: Path, block: str) -> None:
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"{readme}: no {README_START!r} ... {README_END!r} section to replace")
    readme.write_text(text[: start + len(README_START)] + "\n" + block + "\n" + text[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", help="run only these scripts")
    parser.add_argument("--markdown", action="store_true", help="print the command, date and load above the table")
    parser.add_argument("--readme", type=Path, help="write that (as --markdown prints it) into this README")
    args = parser.parse_args()
    # `pip install .` compiles the package's bytecode at install time; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE (as on the machines these figures come from) would compile every module
    # of runner/ afresh in every measured process, which no installed user pays and the baselines'
    # libraries (compiled by pip) do not pay either.
    compileall.compile_dir(HERE.parent / "runner", quiet=1)
    started, load = datetime.now(UTC), os.getloadavg()
    figures: list[dict[str, object]] = []
    for script, full, quick in BENCHMARKS:
        if args.only and script not in args.only:
            continue
        figures.extend(run(script, quick if args.quick else full))
    command = (
        "python -m bench" + (" --quick" if args.quick else "") + (f" --only {' '.join(args.only)}" if args.only else "")
    )
    block = table(figures)
    if args.markdown or args.readme:
        block = provenance(command, started, load) + "\n\n" + block
    print(block)
    if args.readme:
        write_readme(args.readme, block)


if __name__ == "__main__":
    main()
