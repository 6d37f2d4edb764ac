"""report.html at a million recipients: how long the page takes to build, how big it is, and how
much memory the build needs, beside writing the same rows as report.csv.

    python -m bench.report_html [--rows 1000000]

Generates (untimed) a report.csv of N rows with a realistic mix (most accepted and delivered on
Viber, some by SMS, some failed, refused, suppressed, duplicate, invalid; recipients in eight
countries; two hours of sending), then, each in a fresh process so that peak RSS is its own:
- baseline: the same rows written as report.csv by csv.writer with report/csv.py's per-cell
  neutralising (its work per row, without the ledger query), timed;
- the page: runner.report.files' build (read the CSV back, summarise, render, write), timed, with
  its peak RSS, and again at N/10 rows to show memory does not grow with the rows.
Then, where Debian's /usr/bin/chromium and Playwright are installed, the page is opened in headless
Chromium and the time to its load event measured, beside a blank page opened the same way.
Targets: the page builds in under 2x the CSV write, is under 200 KB, its peak RSS at N rows is
within 10 MB of that at N/10, and it loads within 0.5 s of a blank page.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.common import figure
from runner.report import html as report_html
from runner.report.csv import COLUMNS, report_row
from runner.report.summary import summarise

# (prefix, digits after it): numbers of the US, Canada, the UK, Germany, France, Spain, Italy, Brazil.
PREFIXES = [
    ("+1202555", 4),
    ("+1416555", 4),
    ("+447400", 6),
    ("+4915123", 6),
    ("+336123", 5),
    ("+346123", 5),
    ("+3931234", 6),
    ("+551191234", 4),
]


def rows(n: int) -> Iterator[list[str]]:
    rng = random.Random(13)
    for i in range(n):
        prefix, digits = PREFIXES[i % len(PREFIXES)]
        phone = prefix + str(rng.randrange(10**digits)).zfill(digits)
        roll = rng.random()
        minute = f"2026-11-27T{10 + (i * 120 // n) // 60:02d}:{(i * 120 // n) % 60:02d}"
        row = [""] * len(COLUMNS)
        row[1], row[2], row[3] = f"bench.{i:032x}", f"r-{i}", phone
        if roll < 0.9:
            row[0], row[4], row[5], row[6], row[7], row[8] = (
                f"{i:032X}",
                "accepted",
                "200",
                "3001",
                "Message in progress",
                "1",
            )
            row[9] = minute + ":00.000Z"
            kind = rng.random()
            code, channel = ("3005", "viber") if kind < 0.3 else ("3000", "viber") if kind < 0.75 else ("3000", "sms")
            if kind > 0.93:
                code, channel = "3003", "sms"
            row[10], row[11], row[12], row[17], row[18] = code, "Delivered", channel, minute + ":05.000000Z", "2"
        elif roll < 0.93:
            row[4], row[5], row[6], row[8] = "rejected", "400", "3101", "1"
            row[7] = f'Invalid value for parameter phone_number: "{phone[1:]}"'
        elif roll < 0.95:
            row[4], row[7] = "suppressed", "on a suppression list"
        elif roll < 0.96:
            row[4], row[7] = "duplicate", f"duplicate: phone {phone} appears earlier in the audience"
        elif roll < 0.97:
            row[4], row[7] = "invalid", f"'{phone}x': not a phone number"
        else:
            row[4], row[8] = "pending", "0"
        yield row


def write_csv(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows(n):
            writer.writerow(row)


def child(mode: str, path: Path, n: int) -> None:
    """Runs in its own process: prints seconds and peak RSS (MB)."""
    if mode == "csv":
        generated = list(rows(n))  # rows made before the clock starts, as the ledger would hand them
        started = time.perf_counter()
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for row in generated:
                writer.writerow(report_row(row))
        seconds = time.perf_counter() - started
    else:
        started = time.perf_counter()
        report_html.write(summarise(path), "bench-report", [], 0, path.with_name("report.html"))
        seconds = time.perf_counter() - started
    print(f"{seconds} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}")


def measure(mode: str, path: Path, n: int) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.report_html", "--child", mode, str(path), "--rows", str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, rss = done.stdout.split()
    return float(seconds), float(rss)


def load_seconds(page: Path) -> tuple[float, float] | None:
    """(the page, a blank page): seconds from navigation to the load event in headless Chromium."""
    chromium = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not chromium.exists():
        return None
    blank = page.with_name("blank.html")
    blank.write_text("<!DOCTYPE html><title>blank</title>", encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"])
        try:
            tab = browser.new_page()
            times = []
            for target in (blank, page, blank, page):  # the first of each warms the browser up
                started = time.perf_counter()
                tab.goto(target.as_uri(), wait_until="load")
                times.append(time.perf_counter() - started)
        finally:
            browser.close()
    return times[3], times[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.rows)
        return
    n, small = args.rows, max(args.rows // 10, 1)
    with tempfile.TemporaryDirectory() as temp:
        big_csv, small_csv = Path(temp) / "big" / "report.csv", Path(temp) / "small" / "report.csv"
        big_csv.parent.mkdir()
        small_csv.parent.mkdir()
        write_csv(small_csv, small)
        csv_seconds, _ = measure("csv", big_csv, n)  # also writes the N-row report.csv the page reads
        page_seconds, page_rss = measure("page", big_csv, n)
        _, small_rss = measure("page", small_csv, small)
        size = os.path.getsize(big_csv.with_name("report.html"))
        csv_size = os.path.getsize(big_csv)
        loaded = load_seconds(big_csv.with_name("report.html"))
    print(f"report.csv of {n:,} rows: {csv_size / 1e6:.0f} MB written in {csv_seconds:.2f}s (csv.writer)")
    ratio = page_seconds / csv_seconds
    print(f"report.html: built in {page_seconds:.2f}s ({ratio:.2f}x the CSV write), {size / 1024:.0f} KB")
    print(f"peak RSS of the build: {page_rss:.0f} MB at {n:,} rows, {small_rss:.0f} MB at {small:,} rows")
    figure(
        f"report.html build at {n:,} rows",
        round(page_seconds, 2),
        "s",
        round(csv_seconds, 2),
        "<= 2x the CSV write",
        ratio <= 2,
    )
    figure(f"report.html size at {n:,} rows", round(size / 1024, 1), "KB", None, "< 200 KB", size < 200 * 1024)
    if loaded is not None:
        print(
            f"opened in headless Chromium: load event after {loaded[0] * 1000:.0f} ms "
            f"(blank page {loaded[1] * 1000:.0f} ms)"
        )
        figure(
            f"report.html load in Chromium at {n:,} rows",
            round(loaded[0] * 1000),
            "ms",
            round(loaded[1] * 1000),
            "within 500 ms of a blank page",
            loaded[0] - loaded[1] < 0.5,
        )
    figure(
        f"report.html build peak RSS, {n:,} vs {small:,} rows",
        round(page_rss, 1),
        "MB",
        round(small_rss, 1),
        "within 10 MB",
        page_rss - small_rss < 10,
    )


if __name__ == "__main__":
    main()
