"""The CSV delivery report: outputs/<campaign-id>/report.csv, one row per recipient in audience
order, keyed by reference_id, written atomically (temporary file, then rename) from the ledger."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from runner.ledger.store import Ledger

COLUMNS = (
    "reference_id", "external_id", "recipient_id", "phone_number", "state", "http_status", "status_code",
    "status_description", "attempts", "submitted_at",
    "delivery_status_code", "delivery_status_description", "last_channel", "viber_status_code",
    "viber_status_description", "sms_status_code", "sms_status_description", "status_updated_on",
    "callbacks",
)  # fmt: skip


def write(ledger: Ledger, path: Path) -> int:
    """Write the report; returns its number of rows. A reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".report-", suffix=".csv", dir=path.parent)
    rows = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for row in ledger.report_rows():  # None is written as an empty field
                writer.writerow(row)
                rows += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    return rows
