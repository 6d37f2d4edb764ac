"""What a send decides before it sends anything, defined once for the send and for `campaign plan`
(docs/plan.md): whether the schedule lets it send now, how many messages one run sends, and what
the policy plans for each message at the sync."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Literal

from runner.campaign.expansion import Message
from runner.campaign.schema import Campaign
from runner.ledger.records import Planned
from runner.ledger.states import State
from runner.policy.gate import Gate
from runner.policy.windows import format_utc


def schedule_at(campaign: Campaign, now: datetime) -> Literal["not_due", "ended", "due"]:
    """What the campaign's [schedule] makes of a send at `now` (the send and `campaign plan` ask this)."""
    start, end = campaign.spec.schedule.start, campaign.spec.schedule.end
    if start is not None and now < start:
        return "not_due"
    if end is not None and now >= end:
        return "ended"
    return "due"


def run_cap(limit: int | None, max_per_run: int | None) -> int | None:
    """How many messages one run sends at most: --limit and [sending] max_per_run, the smaller wins."""
    caps = [cap for cap in (limit, max_per_run) if cap is not None]
    return min(caps) if caps else None


def plan_message(message: Message, gate: Gate | None) -> Planned:
    """The message as the sync records it. With the policy's `gate`, a message not sent yet is
    planned pending, deferred (outside its window, over its cap) or suppressed (opted out)."""
    r = message.recipient
    zones = message.zones.text or None
    planned = Planned(r.key, r.position, message.external_id, r.recipient_id, r.phone, message.body, timezone=zones)
    return with_policy(planned, gate)


def with_policy(planned: Planned, gate: Gate | None) -> Planned:
    """A pending message as the policy plans it now (plan_message)."""
    verdict = gate.verdict(planned.phone, planned.timezone) if gate is not None else None
    if verdict is None:
        return planned
    not_before = format_utc(verdict.not_before) if verdict.not_before is not None else None
    return replace(planned, state=State(verdict.state), reason=verdict.reason, not_before=not_before)
