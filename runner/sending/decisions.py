"""What a send decides before it sends anything, defined once for the send and for `campaign plan`
(docs/plan.md): whether the schedule lets it send now, and how many messages one run sends."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from runner.campaign.schema import Campaign


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
