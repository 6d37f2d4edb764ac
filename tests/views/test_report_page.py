"""report.html in headless Chromium: the sandbox's page shows the numbers of the report.csv beside
it and of the summary printed in the terminal, and loads nothing from anywhere."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import phonenumbers

from tests.fixtures.browser import Browser

# One recipient per row; the simulator decides by the last digit: 0-5 Viber delivered (even: read),
# 6-7 SMS fallback delivered, 8 failed on every channel, 9 refused at once (400).
AUDIENCE = """id,phone,first_name
u-0,+1 202 555 0110,Ana
u-1,+1 202 555 0121,Ben
u-2,+1 202 555 0136,Cy
u-3,+1 202 555 0148,Dee
u-4,+1 202 555 0159,Eve
g-0,+44 7400 123450,Fay
g-1,+44 7400 123467,Gus
g-2,+44 7400 123478,Hal
d-0,+49 1512 3456701,Ida
d-1,+49 1512 3456712,Jo
d-2,+49 1512 3456729,Kai
x-0,+44 7400 123499,Lou
x-1,+1 202 555 0110,Ana again
x-2,not a phone,Max
"""
CAMPAIGN = """id = "page-test"
message_type = "ARN"

[sending]
rate = 1000
concurrency = 8

[audience]
file = "audience.csv"
default_region = "US"
suppress = ["opt-out.csv"]
on_invalid = "skip"

[viber]
text = "Hello {{ first_name }}"
url = "https://shop.example/o"
url_text = "Open"
url_id = "open"
fallback_time = 60

[sms]
text = "Hello {{ first_name }}: https://shop.example/o"
"""


def sandbox(tmp_path: Path) -> tuple[Path, list[str]]:
    folder = tmp_path / "campaign"
    folder.mkdir()
    (folder / "audience.csv").write_text(AUDIENCE, encoding="utf-8")
    (folder / "opt-out.csv").write_text("phone\n+44 7400 123499\n", encoding="utf-8")
    (folder / "campaign.toml").write_text(CAMPAIGN, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "runner",
            "send",
            "--sandbox",
            str(folder / "campaign.toml"),
            "--outputs",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stdout + done.stderr  # the 9s are refused
    return tmp_path / "out" / "sandbox" / "page-test" / "report.csv", done.stdout.splitlines()


def numbers_on(browser: Browser) -> dict[str, int]:
    assert browser.page is not None
    pairs = browser.page.eval_on_selector_all("[data-n]", "els => els.map(e => [e.dataset.n, e.textContent])")
    # counts only: prices (price.EUR) are decimals, compared on their own
    return {name: int(text.replace(",", "")) for name, text in pairs if not name.startswith("price.")}


def prices_on(browser: Browser) -> dict[str, Decimal]:
    assert browser.page is not None
    pairs = browser.page.eval_on_selector_all("[data-n^='price.']", "els => els.map(e => [e.dataset.n, e.textContent])")
    return {name.removeprefix("price."): Decimal(text) for name, text in pairs}


def region(phone: str) -> str:
    try:
        parsed = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return "??"
    return phonenumbers.region_code_for_number(parsed) or "??"


def expected_from(csv_path: Path) -> dict[str, int]:
    """What the page must say, counted here from report.csv's rows by the definitions in docs/report.md."""
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    accepted = [r for r in rows if r["state"] == "accepted"]
    delivered = [r for r in accepted if r["delivery_status_code"] in ("3000", "3005")]
    final_failed = [
        r for r in accepted if r["delivery_status_code"] not in ("", "3000", "3005", "3001", "3002", "3056")
    ]
    want = {
        "recipients": len(rows),
        "funnel.recipients": len(rows),
        "funnel.sent": sum(1 for r in rows if r["attempts"] not in ("", "0")),
        "funnel.accepted": len(accepted),
        "funnel.delivered": len(delivered),
        "funnel.read": sum(1 for r in delivered if r["delivery_status_code"] == "3005"),
        "channels.viber": sum(1 for r in delivered if r["last_channel"] != "sms"),
        "channels.sms": sum(1 for r in delivered if r["last_channel"] == "sms"),
        "channels.failed": len(final_failed),
        "channels.in_progress": len(accepted) - len(delivered) - len(final_failed),
    }
    for state, n in Counter(r["state"] for r in rows).items():
        want[f"states.{state}"] = n
    for key, group in (("recipients", rows), ("accepted", accepted), ("delivered", delivered)):
        for country, n in Counter(region(r["phone_number"]) for r in group).items():
            want[f"countries.{country}.{key}"] = n
    for key, group, column in (("accepted", accepted, "submitted_at"), ("delivered", delivered, "status_updated_on")):
        for minute, n in Counter(r[column][:16] for r in group).items():
            want[f"timeline.{key}.{minute}"] = n
    return want


def test_the_sandbox_page_shows_the_reports_numbers_and_the_terminals_funnel(tmp_path: Path, browser: Browser) -> None:
    csv_path, lines = sandbox(tmp_path)
    # the last line names the page (after the time stamp plain output starts with when not on a terminal)
    assert lines[-1].endswith(f"  open the summary page: {csv_path.with_name('report.html')}")
    page = browser.open(csv_path.with_name("report.html"))
    browser.screenshot("report.png")
    assert browser.outside(csv_path.with_name("report.html")) == []
    shown = numbers_on(browser)
    want = expected_from(csv_path)
    # every count the CSV gives is on the page, with the same value...
    assert {k: shown.get(k) for k in want} == want
    # ...and the page shows no count of those kinds that the CSV does not have
    kinds = ("funnel.", "channels.", "states.", "countries.", "timeline.")
    assert {k: v for k, v in shown.items() if k.startswith(kinds) and v} == {
        k: v for k, v in want.items() if k.startswith(kinds) and v
    }
    # the reasons add up to what was not accepted and what was accepted but failed, largest first
    not_sent = [v for k, v in shown.items() if k.startswith("not-sent.")]
    assert sum(not_sent) == want["recipients"] - want["funnel.accepted"] and not_sent == sorted(not_sent, reverse=True)
    assert sum(v for k, v in shown.items() if k.startswith("not-delivered.")) == want["channels.failed"]
    reasons = page.inner_text("#not-sent-table")
    assert "rejected" in reasons and "suppressed" in reasons and "duplicate" in reasons and "invalid" in reasons
    # the cost per currency is the sum of the report's prices (where the report has them)
    with csv_path.open(encoding="utf-8", newline="") as handle:
        priced = [r for r in csv.DictReader(handle) if r.get("price")]
    totals: dict[str, Decimal] = {}
    for r in priced:
        totals[r["currency"]] = totals.get(r["currency"], Decimal(0)) + Decimal(r["price"])
    assert prices_on(browser) == totals
    assert {k: v for k, v in shown.items() if k.startswith("priced.")} == {
        f"priced.{c}": n for c, n in Counter(r["currency"] for r in priced).items()
    }
    # the terminal's funnel line is the page's funnel
    funnel = next(line for line in lines if "  funnel: " in line)
    said = [int(n) for n in re.findall(r"(\d+) (?:recipients|sent|accepted|delivered|read)", funnel)]
    assert said == [shown[f"funnel.{k}"] for k in ("recipients", "sent", "accepted", "delivered", "read")]
    assert shown["funnel.sent"] > shown["funnel.accepted"] > shown["funnel.delivered"] > shown["funnel.read"] > 0
    # the run history shows the send, finished with its exit code
    assert "3 (some messages not accepted)" in page.inner_text("#runs-table")
