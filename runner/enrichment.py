"""Enrichment: callback logs into the ledger, merged per message, then the report rewritten.

Logs are streamed (runner.callback_log) and stored in batches; each callback is kept once (by
the digest of its payload), so re-reading a log changes nothing. Each touched message's delivery
is then re-merged from all of its stored callbacks (runner.delivery), in whatever order they came:
enriching twice with the same logs gives a byte-identical report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from runner import report
from runner.callback_log import Callback, Malformed, payload_to_callback, read_callbacks
from runner.delivery import Delivery, Status, fold
from runner.ledger import Ledger
from runner.timeparse import format_utc

BATCH = 5000
LISTED = 20  # problems listed in full; the rest are counted


@dataclass
class EnrichResult:
    lines: int = 0
    callbacks: int = 0
    malformed: int = 0
    unmatched: int = 0
    messages: int = 0
    settled: int = 0  # unknown / sending turned accepted by a callback
    problems: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        if len(self.problems) < LISTED:
            self.problems.append(line)


def enrich(ledger: Ledger, logs: Iterable[Path], report_path: Path) -> EnrichResult:
    result = EnrichResult()
    batch: list[tuple[str, str | None, str | None, int, str, int, str]] = []

    def flush() -> None:
        for source, line, ident in ledger.store_callbacks(batch):
            result.unmatched += 1
            result.note(f"{source}:{line}: callback for {ident}, which is not a message of this campaign")
        batch.clear()

    for record in read_callbacks(logs, first_arrival=ledger.next_arrival()):
        result.lines += 1
        if isinstance(record, Malformed):
            result.malformed += 1
            result.note(str(record))
            continue
        result.callbacks += 1
        batch.append((record.content_hash, record.reference_id, record.external_id, record.arrival, record.path, record.line, _payload_of(record)))
        if len(batch) >= BATCH:
            flush()
    flush()
    result.messages, result.settled = _refold(ledger)
    report.write(ledger, report_path)
    return result


def _payload_of(callback: Callback) -> str:
    """What is stored to re-merge later: the fields the rules need, as compact JSON."""
    return json.dumps(
        [
            callback.reference_id, callback.external_id, callback.code, callback.description,
            callback.last_channel, callback.updated_on_raw,
            [[c.channel, c.code, c.description, c.reference_id, c.updated_on_raw] for c in callback.channels],
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )  # fmt: skip


def _callback_from(digest: str, arrival: int, source: str, line: int, stored: str) -> Callback | Malformed:
    ref, ext, code, description, last_channel, updated_on, channels = json.loads(stored)
    payload: dict[str, Any] = {
        "reference_id": ref,
        "external_id": ext,
        "status": {"code": code, "description": description, "last_channel": last_channel, "updated_on": updated_on},
        "channel_status": [{c[0]: {"code": c[1], "description": c[2], "reference_id": c[3], "updated_on": c[4]}} for c in channels],
    }
    return payload_to_callback(payload, source, line, arrival, None, digest)


def _refold(ledger: Ledger) -> tuple[int, int]:
    messages = settled = 0
    after = ""
    while True:
        page = ledger.touched(after, 1000)
        if not page:
            break
        rows = []
        for key, stored in page:
            callbacks = [c for c in (_callback_from(*s) for s in stored) if isinstance(c, Callback)]
            rows.append(_delivery_row(key, fold(callbacks)))
        settled += ledger.set_deliveries(rows)
        messages += len(rows)
        after = page[-1][0]
    ledger.forget_touched()
    return messages, settled


def _delivery_row(key: str, delivery: Delivery) -> tuple[Any, ...]:
    status = delivery.status
    viber, sms = delivery.viber, delivery.sms
    return (
        key,
        status.reference_id if status else None,
        delivery.code,
        delivery.description,
        delivery.last_channel,
        *_channel(viber),
        *_channel(sms),
        _when(status),
        delivery.callbacks,
    )


def _channel(status: Status | None) -> tuple[int | None, str | None]:
    return (status.code, status.description) if status else (None, None)


def _when(status: Status | None) -> str | None:
    if status is None:
        return None
    if status.updated_on is not None:
        return format_utc(status.updated_on)
    return status.updated_on_raw
