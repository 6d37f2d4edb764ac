"""The CSV delivery report: outputs/<campaign-id>/report.csv, one row per recipient in audience
order, keyed by reference_id, written atomically (runner.atomic) from the ledger.

Cells a spreadsheet would run as a formula are neutralised as OWASP recommends for CSV exports
("CSV Injection"): a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
leading `'`, which spreadsheets show as text. A phone number in E.164 (`+` and digits) is left as it
is: it is data, and no spreadsheet evaluates it as a formula (docs/report.md)."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.atomic import atomic_write
from runner.ledger.interface import Ledger
from runner.telesign import codes

COLUMNS = (
    "reference_id", "external_id", "recipient_id", "phone_number", "state", "http_status", "status_code",
    "status_description", "attempts", "submitted_at",
    "delivery_status_code", "delivery_status_description", "last_channel", "viber_status_code",
    "viber_status_description", "sms_status_code", "sms_status_description", "status_updated_on",
    "callbacks",
    # the repository policy (docs/policy.md): the recipient's zones, when a deferred message may go,
    # how many replies it got and whether one opted out (never the reply's text)
    "timezone", "not_before", "replied", "opted_out",
    # what the message cost, as Telesign reported it (docs/report.md, "Cost")
    "price", "currency",
    # the git commit of the campaign file the message's text came from (docs/plan.md)
    "campaign_commit",
)  # fmt: skip

# What a row's state means when Telesign gave no description for it (docs/report.md): a message
# claimed by a run that was stopped before its answer came has no status of its own.
STATE_DESCRIPTIONS = {
    "sending": "claimed by a run that stopped before Telesign answered: it may have been sent; enrich with "
    "callback logs to settle it, or resend with --resend-unknown if a possible duplicate is acceptable",
    "pending": "not sent yet: the next send sends it",
    "expired": "not sent: the campaign's schedule ended first",
}
_STATE = COLUMNS.index("state")
_DESCRIPTION = COLUMNS.index("status_description")

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(FORMULA_STARTS)  # (each one character)
_E164 = re.compile(r"\+[0-9]{1,15}")
_PHONE = COLUMNS.index("phone_number")


def neutralise(value: Any, column: int = -1) -> Any:
    """`value` as a spreadsheet shows it as text: see the module's docstring."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if column == _PHONE and _E164.fullmatch(value):
        return value
    return "'" + value


# (code column, its description column): a status Telesign reported without a description is
# described from the codes table (runner.telesign.codes), so that every code in the report is named.
_DESCRIBED = tuple(
    (COLUMNS.index(code), COLUMNS.index(code.replace("_code", "_description")))
    for code in ("status_code", "delivery_status_code", "viber_status_code", "sms_status_code")
)


def report_row(row: Sequence[Any]) -> list[Any]:
    """A ledger row as the report shows it: described where Telesign said nothing, neutralised."""
    cells = list(row)
    for code, text in _DESCRIBED:
        if cells[code] is not None and not cells[text]:
            cells[text] = codes.description(cells[code])
    if not cells[_DESCRIPTION]:
        cells[_DESCRIPTION] = STATE_DESCRIPTIONS.get(cells[_STATE], cells[_DESCRIPTION])
    # (neutralise asked only of a text that starts like a formula: 26 calls a row cost more than the
    # rest of the report's writing, at 250,000 rows)
    return [
        neutralise(value, column) if isinstance(value, str) and value[:1] in _FORMULA_FIRST else value
        for column, value in enumerate(cells)
    ]


def write(ledger: Ledger, path: Path, replies: Mapping[str, tuple[int, bool]] | None = None) -> int:
    """Write the report; returns its number of rows. A reader never sees a half-written file.
    `replies`: phone -> (replies to this campaign, whether one opted out), from the recipient store."""
    rows = 0
    replies = replies or {}
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        write_row = writer.writerow
        # The ledger's rows come in COLUMNS' order after `plain` (runner.ledger.report_query): a plain
        # row needs nothing of report_row, and is written as it is, unless its phone has replies.
        # None is written as an empty field.
        for rows, row in enumerate(ledger.report_rows(), 1):  # noqa: B007  (rows: the count, once done)
            if row[0] and (not replies or row[_ROW_PHONE] not in replies):
                write_row(row[1:])
                continue
            cells = list(row[1:])
            count, stopped = replies.get(cells[_PHONE], (0, False))
            cells[_REPLIED], cells[_OPTED_OUT] = count, "yes" if stopped else ""
            write_row(report_row(cells))
    return rows


_ROW_PHONE = 1 + _PHONE  # (in the ledger's row, after `plain`)
ROW_DESCRIPTION = 1 + _DESCRIPTION
_REPLIED, _OPTED_OUT = COLUMNS.index("replied"), COLUMNS.index("opted_out")
