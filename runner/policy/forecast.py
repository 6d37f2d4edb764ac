"""What the repository policy would do with a campaign's messages if it were sent now, without a
ledger or a send: how many go at once, how many are deferred (and until when), how many are
suppressed by an opt-out or for want of a time zone. For `campaign plan` and anyone who needs the
numbers before a send (docs/policy.md)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from runner.campaign.expansion import Expansion, Message
from runner.campaign.schema import Campaign
from runner.policy.gate import Gate, system_clock
from runner.policy.store import read_store


@dataclass
class Forecast:
    now: datetime
    by_state: Counter[str] = field(default_factory=Counter)  # pending, deferred, suppressed
    opted_out: int = 0  # of the suppressed
    first_deferred: datetime | None = None


def forecast(campaign: Campaign, outputs: Path, now: datetime | None = None, url: str | None = None) -> Forecast:
    """The policy's verdict for every message of the campaign at `now` (default: the clock)."""
    moment = now or system_clock()
    store = read_store(outputs, url)
    expansion = Expansion(campaign)
    gate = Gate(expansion.rules, store, lambda: moment)
    gate.end = campaign.spec.schedule.end
    result = Forecast(moment)
    try:
        for item in expansion:
            if not isinstance(item, Message):
                continue
            verdict = gate.verdict(item.recipient.phone, item.zones.text or None)
            if verdict is None:
                result.by_state["pending"] += 1
                continue
            result.by_state[verdict.state] += 1
            if verdict.reason.startswith("opted out"):
                result.opted_out += 1
            if verdict.not_before is not None and (
                result.first_deferred is None or verdict.not_before < result.first_deferred
            ):
                result.first_deferred = verdict.not_before
    finally:
        if store is not None:
            store.close()
    return result
