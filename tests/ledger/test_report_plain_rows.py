"""The report writes a row the ledger calls `plain` as it comes (runner.ledger.report_query): that
must never skip a cell the report's rules would change. Every row of a ledger full of cells those
rules touch (formula-like texts, phones that are not E.164, empty or missing descriptions, skipped
rows, replies) is written exactly as runner.report.csv.report_row writes it, on both backends."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from runner.callbacks.enrichment import enrich
from runner.callbacks.log import receiver_line
from runner.ledger.backend import open_ledger, shared_ledger_url
from runner.ledger.records import Batch, Outcome, Planned, SkippedRow
from runner.ledger.states import State
from runner.report.csv import COLUMNS, report_row
from tests.fixtures.ledger import LedgerBackend

# (recipient_id, status_description of the send's answer, delivery description); None: absent
MESSAGES = [
    ("plain", "ok", "Delivered"),
    ("=1+2", "ok", "Delivered"),
    ("+cmd", "ok", "Delivered"),
    ("-2", "ok", "Delivered"),
    ("@SUM(A1)", "ok", "Delivered"),
    ("\tx", "ok", "Delivered"),
    ("\rx", "ok", "Delivered"),
    ("ok", "", "Delivered"),  # the send's answer had no description: the state's
    ("ok", "=cmd", "Delivered"),
    ("ok", "ok", ""),  # Telesign said nothing: the codes table's
    ("ok", "ok", None),
    ("ok", "ok", "-1"),
    ("ok", "ok", "Délivré"),  # (plain: its first letter is ASCII)
    (" spaced", "ok", "Delivered"),
    ("ok", "ok", "Delivered"),  # its phone replied
]
REPLIED = 14
PLAIN = {0, 12, REPLIED}  # the rows the ledger may call plain: no rule touches them


def test_every_row_reads_as_report_row_writes_it(tmp_path: Path, ledger_backend: LedgerBackend) -> None:
    ledger = open_ledger(tmp_path, "test-campaign", shared_ledger_url())
    try:
        run = ledger.runs.start("send")
        audience: list[Planned | SkippedRow] = [
            Planned(f"m{i}", i, f"test-campaign:m{i}", rid, f"+1202555{i:04d}", b"{}")
            for i, (rid, _, _) in enumerate(MESSAGES)
        ]
        audience.append(SkippedRow(len(MESSAGES), "bad", "=1+2", State.INVALID, "not a phone number"))
        audience.append(SkippedRow(len(MESSAGES) + 1, "bad", "+1 (202) 555", State.INVALID, "-not E.164"))
        run = ledger.audience.sync(run, audience)
        keys = [f"m{i}" for i in range(len(MESSAGES))]
        ledger.claims.commit(Batch(run, (State.PENDING,), retries=[(key, (State.PENDING,)) for key in keys]))
        outcomes = [
            Outcome(key, State.ACCEPTED, 200, 3001, text, f"{i:032X}", "2026-11-27T00:00:00Z")
            for i, (key, (_, text, _)) in enumerate(zip(keys, MESSAGES, strict=True))
        ]
        ledger.claims.commit(Batch(run, (State.PENDING,), outcomes=outcomes))
        log = tmp_path / "callbacks.jsonl"
        with log.open("wb") as handle:
            for i, (_, _, description) in enumerate(MESSAGES):
                status: dict[str, object] = {"code": 3000, "updated_on": "2026-11-27 10:00:00.000"}
                if description is not None:
                    status["description"] = description
                payload = {"reference_id": f"{i:032X}", "status": status, "channel_status": [{"sms": status}]}
                handle.write(receiver_line("2026-11-27T10:00:00.000000Z", payload))
        replies = {f"+1202555{REPLIED:04d}": (2, True), "=1+2": (1, False)}
        enrich(ledger, [log], tmp_path / "report.csv", lambda: replies)
        expected = io.StringIO(newline="")
        writer = csv.writer(expected)
        writer.writerow(COLUMNS)
        plain = []
        for row in ledger.report_rows():
            cells = list(row[1:])
            count, stopped = replies.get(cells[COLUMNS.index("phone_number")], (0, False))
            cells[COLUMNS.index("replied")], cells[COLUMNS.index("opted_out")] = count, "yes" if stopped else ""
            writer.writerow(report_row(cells))
            plain.append(bool(row[0]))
    finally:
        ledger.close()
    assert (tmp_path / "report.csv").read_bytes() == expected.getvalue().encode("utf-8")
    assert {i for i, fast in enumerate(plain) if fast} == PLAIN  # (the fast way, taken where it may be)
