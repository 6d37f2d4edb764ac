"""Counting a ledger's messages the same way whatever its backend: by state, and by what their
delivery callbacks say (the codes' meaning is runner.callbacks.rules's, never repeated here)."""

from __future__ import annotations

from collections.abc import Iterable

from runner.callbacks.rules import DELIVERED, READ, is_final
from runner.ledger.states import State


def empty_counts() -> dict[str, int]:
    return {state.value: 0 for state in State}


def delivery_tally(groups: Iterable[tuple[int | None, str | None, int]]) -> dict[str, int]:
    """From (delivery_status_code, last_channel, how many) of accepted messages: how many were
    accepted, have callbacks, were delivered on Viber or by SMS, read, failed, or await a final status."""
    tally = dict.fromkeys(
        ("accepted", "with_callbacks", "delivered_viber", "delivered_sms", "read", "failed", "in_progress"), 0
    )
    for code, channel, n in groups:
        tally["accepted"] += n
        if code is None:
            tally["in_progress"] += n
            continue
        tally["with_callbacks"] += n
        if code == READ:
            tally["read"] += n
        if code in (DELIVERED, READ):
            tally["delivered_sms" if channel == "sms" else "delivered_viber"] += n
        elif is_final(code):
            tally["failed"] += n
        else:
            tally["in_progress"] += n
    return tally
