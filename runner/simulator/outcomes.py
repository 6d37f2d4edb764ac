"""What happens to an accepted message, decided by the last digit of its phone number, and the
status payloads (callbacks and GET status) that tell it.

    0-5  the first channel (Viber) delivers (3000); on even digits Viber then reports it read (3005)
    6-7  the first channel fails within its fallback_time (3056), the next one (SMS) delivers (3000)
    8    every channel fails: Viber 3056 at fallback_time, then SMS 3003 (delivery error)
    9    never accepted: 400, invalid phone number (see `refused_at_once`)

A channel that fails while another follows reports 3056 when its fallback_time runs out; the last
channel failing ends the message: SMS with 3003, Viber (a Viber-only request) with 3056 on the
channel and 3006 overall, since no channel is left. Times are simulated seconds from acceptance;
the simulator multiplies them by its time scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runner.simulator import statuses as s
from runner.simulator.validation import Channel

# Realistic delays in simulated seconds: Viber usually delivers within a couple of seconds and is
# read some seconds later; an SMS after fallback takes a few seconds through the operator.
DELIVERY_DELAY_S = {"viber": 2.0, "sms": 3.0}
READ_AFTER_S = 8.0
READ_RECEIPT_CHANNELS = ("viber",)  # SMS has no read receipts


def refused_at_once(phone_number: str) -> bool:
    return phone_number.endswith("9")


@dataclass(frozen=True)
class ChannelStatus:
    channel: str
    code: int
    reference_id: str
    at_s: float  # simulated seconds after acceptance


@dataclass(frozen=True)
class StatusChange:
    at_s: float
    code: int
    last_channel: str
    channels: tuple[ChannelStatus, ...]  # each channel tried so far, with its latest status


def plan(phone_number: str, channels: tuple[Channel, ...], channel_refs: tuple[str, ...]) -> list[StatusChange]:
    """Every status change the message will go through, in time order."""
    digit = int(phone_number[-1])
    delivering = 0 if digit <= 5 else 1 if digit <= 7 else None
    read = digit % 2 == 0
    changes: list[StatusChange] = []
    tried: list[ChannelStatus] = []
    start = 0.0
    for index, (channel, ref) in enumerate(zip(channels, channel_refs, strict=False)):
        last = index == len(channels) - 1
        if index == delivering:
            at = start + DELIVERY_DELAY_S[channel.name]
            tried.append(ChannelStatus(channel.name, s.DELIVERED, ref, at))
            changes.append(StatusChange(at, s.DELIVERED, channel.name, tuple(tried)))
            if read and channel.name in READ_RECEIPT_CHANNELS:
                at += READ_AFTER_S
                tried[-1] = ChannelStatus(channel.name, s.READ, ref, at)
                changes.append(StatusChange(at, s.READ, channel.name, tuple(tried)))
            return changes
        if channel.name == "sms" and last:
            at = start + DELIVERY_DELAY_S["sms"]
            tried.append(ChannelStatus(channel.name, s.DELIVERY_ERROR, ref, at))
            changes.append(StatusChange(at, s.DELIVERY_ERROR, channel.name, tuple(tried)))
            return changes
        at = start + channel.fallback_time
        tried.append(ChannelStatus(channel.name, s.FAILED_WITHIN_FALLBACK, ref, at))
        overall = s.NO_CHANNEL_LEFT if last else s.FAILED_WITHIN_FALLBACK
        changes.append(StatusChange(at, overall, channel.name, tuple(tried)))
        start = at
    return changes


def updated_on(moment: float) -> str:
    """Telesign's callback time format, in UTC with milliseconds: 2020-05-04 22:05:00.325."""
    when = datetime.fromtimestamp(moment, tz=UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def status_payload(
    reference_id: str,
    external_id: str | None,
    change: StatusChange,
    accepted_at: float,
    time_scale: float,
) -> dict[str, Any]:
    """The Messaging callback payload (and GET status body) for one status change.

    Shaped as the seed's callback example: status {code, description, last_channel, updated_on},
    channel_status as a list of one-key objects {channel name: {code, description, reference_id,
    updated_on}}, then reference_id and external_id. external_id is JSON null when the request had
    none (Telesign's callback reference: "If the external_id parameter was not included in the
    request, the value here is null"; the seed's "null" string is a documentation artefact).
    accepted_at is the wall-clock acceptance time; offsets are scaled to real time.
    """

    def moment(at_s: float) -> str:
        return updated_on(accepted_at + at_s * time_scale)

    return {
        "status": {
            "code": change.code,
            "description": s.DESCRIPTIONS[change.code],
            "last_channel": change.last_channel,
            "updated_on": moment(change.at_s),
        },
        "channel_status": [
            {
                c.channel: {
                    "code": c.code,
                    "description": s.DESCRIPTIONS[c.code],
                    "reference_id": c.reference_id,
                    "updated_on": moment(c.at_s),
                }
            }
            for c in change.channels
        ],
        "reference_id": reference_id,
        "external_id": external_id,
    }


def in_progress(first: Channel, channel_ref: str) -> StatusChange:
    """The status before the first change: the first channel is being tried (GET status only)."""
    return StatusChange(0.0, s.IN_PROGRESS, first.name, (ChannelStatus(first.name, s.IN_PROGRESS, channel_ref, 0.0),))
