"""The report's rows as one query, the same for both backends but for a few words of dialect:
each message of the last audience in position order joined to its `deliveries` row, its cells in
runner.report.csv.COLUMNS' order, after a first cell, `plain`, that is true only when no cell can
need the report's care (a cell the report neutralises or describes: runner.report.csv.report_row).

`plain` is conservative, so that the ledger need not know the report's rules: every text cell is
NULL or starts with an ASCII letter or digit (a phone may be E.164 instead), and every status code
has its description. The report writes such a row as it comes, and reads any other cell by cell: at
a quarter of a million rows, asking of each of 26 cells whether it starts like a formula cost more
than the rest of the report's writing."""

from __future__ import annotations

from collections.abc import Callable

# The report's cells in its order, as expressions over messages m and deliveries d. replied and
# opted_out come from the recipient store, not the ledger: 0 and '' here, the report fills them.
CELLS = (
    "m.reference_id", "m.external_id", "m.recipient_id", "m.phone", "m.state", "m.http_status", "m.status_code",
    "m.status_description", "m.attempts", "m.submitted_at",
    "d.delivery_status_code", "d.delivery_status_description", "d.last_channel", "d.viber_status_code",
    "d.viber_status_description", "d.sms_status_code", "d.sms_status_description", "d.status_updated_on",
    "COALESCE(d.callbacks, 0)", "m.timezone", "m.not_before", "0", "''", "d.price", "d.currency", "m.campaign_commit",
)  # fmt: skip
_TEXTS = (
    "m.reference_id", "m.external_id", "m.recipient_id", "m.state", "m.status_description", "m.submitted_at",
    "d.delivery_status_description", "d.last_channel", "d.viber_status_description", "d.sms_status_description",
    "d.status_updated_on", "m.timezone", "m.not_before", "d.price", "d.currency", "m.campaign_commit",
)  # fmt: skip
_DESCRIBED = (
    ("m.status_code", "m.status_description"),
    ("d.delivery_status_code", "d.delivery_status_description"),
    ("d.viber_status_code", "d.viber_status_description"),
    ("d.sms_status_code", "d.sms_status_description"),
)


def plain(starts_plainly: Callable[[str], str], e164: Callable[[str], str]) -> str:
    """The `plain` expression; `starts_plainly(cell)`: the dialect's "NULL or starts with an ASCII
    letter or digit", `e164(cell)`: its "is + and 1 to 15 digits"."""
    conditions = [starts_plainly(cell) for cell in _TEXTS]
    conditions.append(f"({starts_plainly('m.phone')} OR {e164('m.phone')})")
    conditions.append("m.status_description IS NOT NULL")  # (else the report describes the state)
    conditions += [f"({code} IS NULL OR {text} IS NOT NULL)" for code, text in _DESCRIBED]
    return "COALESCE(" + " AND ".join(conditions) + ", FALSE)"


# SQLite: GLOB is case-sensitive and matches whole values (integers as their text)
SQLITE_PLAIN = plain(
    lambda cell: f"({cell} IS NULL OR {cell} GLOB '[0-9A-Za-z]*')",
    lambda cell: f"({cell} GLOB '+[0-9]*' AND length({cell}) <= 16 AND NOT substr({cell}, 2) GLOB '*[^0-9]*')",
)
POSTGRES_PLAIN = plain(
    lambda cell: f"({cell} IS NULL OR {cell} ~ '^[0-9A-Za-z]')", lambda cell: f"{cell} ~ '^\\+[0-9]{{1,15}}$'"
)
