"""Delivery statuses asked of Telesign (GET /v1/omnichannel/{reference_id}) for the messages no
callback has settled, merged by exactly the callback rules (docs/callbacks.md, "Polling").

Telesign's status answer carries the same status, channel_status and additional_info as a
callback. Each answer is appended, as the receiver appends a callback, to the campaign's poll log
(`polls.jsonl` beside the report), and the log is merged by enrichment: a polled status is one
more status report of the message, ordered by its updated_on like any callback, so a poll and the
callbacks of a message agree whatever order they came in (runner.callbacks.rules), and polling
twice changes nothing.

Only messages accepted within Telesign's 12-hour window are asked (it answers 404/-10004 for
older ones); older ones, and any it answers so, are counted as "status no longer available".
Questions are paced under the campaign's rate by the sender's own Pacer.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from runner.callbacks.durable_log import open_for_append
from runner.callbacks.enrichment import EnrichResult, enrich
from runner.callbacks.log import receiver_line
from runner.callbacks.payload import clip
from runner.ledger.interface import Ledger
from runner.sending.pacing import Pacer
from runner.telesign.settings import TelesignSettings
from runner.telesign.status import StatusAnswer, StatusClient

WINDOW = timedelta(hours=12)  # "a reference ID that was processed more than 12 hours ago" expires
POLL_LOG = "polls.jsonl"
WORKERS = 4
ATTEMPTS = 3  # per message and poll, for answers that say "ask again" (429, 503, no answer)


@dataclass
class PollResult:
    asked: int = 0
    answered: int = 0  # statuses received and merged
    no_longer_available: int = 0  # older than 12 hours, or answered 404/-10004
    invalid: int = 0  # answered 400/3311
    failed: int = 0  # no usable answer after ATTEMPTS
    unauthorized: str | None = None  # Telesign refused the credentials: polling stopped
    problems: list[str] = field(default_factory=list)
    enriched: EnrichResult | None = None


def due(submitted_at: str | None, now: datetime) -> bool:
    """Whether a message accepted at `submitted_at` is still within Telesign's status window."""
    if submitted_at is None:
        return False
    try:
        when = datetime.fromisoformat(submitted_at)
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return now - when <= WINDOW


def poll(
    ledger: Ledger, settings: TelesignSettings, rate: float, folder: Path, now: datetime | None = None
) -> PollResult:
    """Ask for every accepted message without a final status; merge the answers; rewrite the report."""
    now = now or datetime.now(UTC)
    result = PollResult()
    references: list[str] = []
    for reference_id, submitted_at in ledger.deliveries.awaiting_status():
        if due(submitted_at, now):
            references.append(reference_id)
        else:
            result.no_longer_available += 1
    log = folder / POLL_LOG
    if references:
        asyncio.run(_ask_all(references, settings, rate, log, result))
    result.enriched = enrich(ledger, [log] if log.exists() else [], folder / "report.csv")
    return result


async def _ask_all(
    references: Iterable[str], settings: TelesignSettings, rate: float, log: Path, result: PollResult
) -> None:
    client = StatusClient(settings, WORKERS)
    pacer = Pacer(rate)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for reference in references:
        queue.put_nowait(reference)
    log.parent.mkdir(parents=True, exist_ok=True)
    # (a poll killed mid-line left a fragment: ended first, so that this poll's first answer is a
    # line of its own, not glued to it and reported as malformed at every enrich)
    with os.fdopen(open_for_append(log), "ab") as out:

        async def worker() -> None:
            while result.unauthorized is None:
                try:
                    reference = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                answer = await _ask(client, pacer, reference)
                _count(reference, answer, result, out)

        try:
            await asyncio.gather(*(worker() for _ in range(WORKERS)))
        finally:
            out.flush()
            os.fsync(out.fileno())
            await client.close()


async def _ask(client: StatusClient, pacer: Pacer, reference: str) -> StatusAnswer:
    answer = StatusAnswer("failed", None, "not asked")
    for _ in range(ATTEMPTS):
        await pacer.wait_turn()
        answer = await client.get(reference)
        if answer.kind != "retry":
            return answer
        if answer.retry_after:
            pacer.pause(min(answer.retry_after, 60.0))
    return answer


def _count(reference: str, answer: StatusAnswer, result: PollResult, out: BinaryIO) -> None:
    result.asked += 1
    if answer.kind == "status" and answer.payload is not None:
        payload = answer.payload
        told = payload.get("reference_id")
        if isinstance(told, str) and told.strip() and told.strip().upper() != reference.upper():
            # An answer about another message (a caching proxy, a mixed-up answer): merged, it
            # would have given that message's status to the one it names, or counted as
            # "answered" while joining none. Not logged; asked again by the next poll.
            result.failed += 1
            result.problems.append(f"{reference}: the answer is about another message ({clip(told, 40)}): not merged")
            return
        if told != reference:
            # The URL says which message this is; the merge joins by the payload's reference_id. An
            # answer without one (or with ours in another case, or spaced) used to be logged as is:
            # counted "answered", then a malformed line ("no reference_id") at every enrich.
            payload = {**payload, "reference_id": reference}
        stamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        out.write(receiver_line(stamp, payload))
        result.answered += 1
    elif answer.kind == "expired":
        result.no_longer_available += 1
    elif answer.kind == "invalid":
        result.invalid += 1
        result.problems.append(f"{reference}: {answer.description} (HTTP {answer.http_status})")
    elif answer.kind == "unauthorized":
        result.unauthorized = answer.description or "not authorized"
    else:
        result.failed += 1
        result.problems.append(f"{reference}: {answer.description}")
