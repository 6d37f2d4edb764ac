"""report.html over report.csv files with the columns other features append (timezone, not_before,
replied, opted_out, price, currency, campaign_commit), with hostile cell values, and with a
timeline long enough to be drawn per hour: what a user sees in Chromium."""

from __future__ import annotations

import csv
from pathlib import Path

from runner.ledger.records import RunInfo
from runner.report import html as report_html
from runner.report.csv import COLUMNS
from runner.report.summary import summarise
from tests.fixtures.browser import Browser

# The report's first columns (docs/report.md), then those other features append at the end.
BASE = COLUMNS[: COLUMNS.index("callbacks") + 1]
EXTRA = ("timezone", "not_before", "replied", "opted_out", "price", "currency", "campaign_commit")
HOSTILE = '<script>window.pwned = 1</script><img src="http://127.0.0.1:9/x.png" onerror="window.pwned = 2">'


def row(**values: str) -> list[str]:
    names = BASE + EXTRA
    unknown = set(values) - set(names)
    assert not unknown, unknown
    return [values.get(name, "") for name in names]


def delivered(i: int, minute: str, **more: str) -> list[str]:
    return row(
        phone_number=f"+4474001234{i:02d}",
        state="accepted",
        attempts="1",
        submitted_at=f"{minute}:10.000Z",
        delivery_status_code="3000",
        last_channel="viber",
        status_updated_on=f"{minute}:40.000000Z",
        **more,
    )


def write_report(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(BASE + EXTRA)
        writer.writerows(rows)
    return path


def page_numbers(browser: Browser) -> dict[str, str]:
    assert browser.page is not None
    pairs = browser.page.eval_on_selector_all("[data-n]", "els => els.map(e => [e.dataset.n, e.textContent])")
    return dict(pairs)


def test_replies_opt_outs_deferrals_prices_and_commits_are_shown_when_the_report_has_them(
    tmp_path: Path, browser: Browser
) -> None:
    rows = [
        delivered(1, "2026-12-01T09:00", replied="1", price="0.0123", currency="EUR", campaign_commit="abc1234"),
        delivered(2, "2026-12-01T09:00", opted_out="true", price="0.0100", currency="EUR", campaign_commit="abc1234"),
        delivered(
            3,
            "2026-12-01T10:30",
            timezone="Europe/London",
            price="0.05",
            currency="USD",
            campaign_commit="def5678",
            opted_out="2026-12-01T10:31:00Z",  # a time counts as yes; 0 does not
            replied="0",
        ),
        row(
            phone_number="+447400123404", state="deferred", not_before="2026-12-02T08:00:00Z", timezone="Europe/London"
        ),
        row(phone_number="+447400123405", state="deferred", not_before="2026-12-02T08:00:00Z"),
    ]
    csv_path = write_report(tmp_path / "out" / "report.csv", rows)
    runs = [
        RunInfo(2, "send", "2026-12-01T10:30:00Z", None, None, {}),
        RunInfo(
            1,
            "send",
            "2026-12-01T09:00:00Z",
            "2026-12-01T09:01:00Z",
            0,
            {"accepted": 2},
            campaign_commit="abc1234def5678aa",
            tree_dirty=True,
        ),
    ]
    report_html.write(summarise(csv_path), "columns-test", runs, 7, csv_path.with_name("report.html"))
    page = browser.open(csv_path.with_name("report.html"))
    browser.screenshot("report-columns.png")
    assert browser.outside(csv_path.with_name("report.html")) == []
    n = page_numbers(browser)
    assert (n["replied"], n["opted_out"], n["deferred"], n["deferred.2026-12-02"]) == ("1", "2", "2", "2")
    assert n["timezone.Europe/London"] == "2"
    assert (n["price.EUR"], n["priced.EUR"], n["price.USD"], n["priced.USD"]) == ("0.0223", "2", "0.05", "1")
    assert (n["commits.abc1234"], n["commits.def5678"]) == ("2", "1")
    runs_text = page.inner_text("#runs-table")
    assert "this run" in runs_text and "0 (all done)" in runs_text and "5 earlier runs not shown" in runs_text
    assert "abc1234def56 (edited)" in runs_text  # the run's recorded commit, the file changed since
    # 09:00 to 10:30 is 90 minutes, under three hours: drawn per minute, the empty minutes between included
    assert "per minute" in page.inner_text("#timeline h2")
    assert n["timeline.accepted.2026-12-01T09:00"] == "2" and n["timeline.delivered.2026-12-01T10:30"] == "1"


def test_a_report_without_those_columns_has_no_such_sections(tmp_path: Path, browser: Browser) -> None:
    path = tmp_path / "out" / "report.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(BASE)
        writer.writerow(delivered(1, "2026-12-01T09:00")[: len(BASE)])
    report_html.write(summarise(path), "plain", [], 0, path.with_name("report.html"))
    page = browser.open(path.with_name("report.html"))
    assert page.query_selector("#engagement") is None and page.query_selector("#cost") is None
    assert page_numbers(browser)["funnel.delivered"] == "1"


def test_hostile_cells_are_text_and_a_long_campaign_is_drawn_per_hour(tmp_path: Path, browser: Browser) -> None:
    rows = [delivered(i, f"2026-12-01T{9 + i:02d}:15") for i in range(6)]  # six hours of sending
    rows.append(
        row(
            phone_number="+447400123499", state="rejected", attempts="1", status_code="3101", status_description=HOSTILE
        )
    )
    rows.append(
        row(
            phone_number="+447400123498",
            state="suppressed",
            status_description=HOSTILE,
            timezone=HOSTILE,
            campaign_commit=HOSTILE,
        )
    )
    csv_path = write_report(tmp_path / "out" / "report.csv", rows)
    report_html.write(
        summarise(csv_path),
        HOSTILE,
        [RunInfo(1, HOSTILE, HOSTILE, None, None, {})],
        1,
        csv_path.with_name("report.html"),
    )
    page = browser.open(csv_path.with_name("report.html"))
    browser.screenshot("report-hostile.png")
    assert browser.outside(csv_path.with_name("report.html")) == []
    assert page.evaluate("window.pwned") is None
    assert page.query_selector_all("script, img, iframe") == []
    assert HOSTILE in page.inner_text("#not-sent-table")
    assert HOSTILE in page.inner_text("h1")
    assert "per hour" in page.inner_text("#timeline h2")
    n = page_numbers(browser)
    assert [n[f"timeline.accepted.2026-12-01T{9 + i:02d}"] for i in range(6)] == ["1"] * 6
