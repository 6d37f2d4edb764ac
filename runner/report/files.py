"""The report files of a campaign, written together: report.csv, then report.html beside it.

Every place that writes report.csv (a send, an enrich, the sandbox) calls `write` here, so that
the page never describes an older CSV than the one beside it. The page is built from the CSV just
written, read back as a stream (runner.report.summary): what the page counts is what the file says.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from runner.ledger.interface import Ledger
from runner.report import csv as report_csv
from runner.report import html as report_html
from runner.report.summary import summarise

RUNS_SHOWN = 50


def html_path(csv_path: Path) -> Path:
    return csv_path.with_name("report.html")


def write(ledger: Ledger, csv_path: Path, replies: Mapping[str, tuple[int, bool]] | None = None) -> int:
    """Write report.csv (`replies` as runner.report.csv.write takes them) and report.html; returns
    the CSV's number of rows."""
    rows = report_csv.write(ledger, csv_path, replies)
    write_html(ledger, csv_path)
    return rows


def write_html(ledger: Ledger, csv_path: Path) -> Path:
    runs, total = ledger.runs.history(RUNS_SHOWN)
    path = html_path(csv_path)
    # the report's folder is outputs/<campaign-id>/ (runner.sending.run.campaign_folder)
    report_html.write(summarise(csv_path), csv_path.parent.name, runs, total, path)
    return path
