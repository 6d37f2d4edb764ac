"""What happens to an accepted message, decided by the end of its phone number (the outcome table,
docs/simulator.md "Outcomes"), and the status payloads (callbacks and GET status) that tell it.

    ...033  3033 (message expired) once the first channel's delivery delay has passed
    ...036  3036 (price threshold) at once, nothing delivered
    ...071  3071 (trial account) at once, nothing delivered
    0-5     the first channel (Viber) delivers (3000); on even digits Viber then reports it read (3005)
    6-7     the first channel fails within its fallback_time (3056), the next one (SMS) delivers (3000)
    8       every channel fails: Viber 3056 at fallback_time, then SMS 3003 (delivery error)
    9       never accepted: 400, invalid phone number (see `refused_at_once`)

The three-digit endings are looked up first. A channel the simulator does not serve (anything but
viber and sms) reports 3100 at once and the next channel is tried, as Telesign documents for a
channel not enabled; when no channel is left, the message ends 3006 ("None of the channels is
enabled for the customer"). A channel that fails while another follows reports 3056 when its
fallback_time runs out; the last channel failing ends the message with 3003 (Telesign's "The
message could not be delivered to the end-user", final), on that channel and overall, whether it
is an SMS or a Viber-only message. Times are simulated seconds from acceptance; the simulator
multiplies them by its time scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from runner.simulator import prices
from runner.simulator.validation import Channel
from runner.telesign import codes

# Realistic delays in simulated seconds: Viber usually delivers within a couple of seconds and is
# read some seconds later; an SMS after fallback takes a few seconds through the operator.
DELIVERY_DELAY_S = {"viber": 2.0, "sms": 3.0}
READ_AFTER_S = 8.0
READ_RECEIPT_CHANNELS = ("viber",)  # SMS has no read receipts

# Message-level final codes by the number's last three digits, and when they happen (seconds
# after acceptance; None: after the first channel's delivery delay).
MESSAGE_OUTCOMES: dict[str, tuple[int, float | None]] = {
    "033": (codes.EXPIRED, None),
    "036": (codes.PRICE_THRESHOLD, 0.0),
    "071": (codes.TRIAL_ACCOUNT, 0.0),
}


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
    price: Decimal | None = None  # what the message has cost so far; None while nothing is final
    sms_parts: int | None = None  # parts of the SMS, once the SMS channel was tried


def plan(
    phone_number: str, channels: tuple[Channel, ...], channel_refs: tuple[str, ...], sms_parts: int = 1
) -> list[StatusChange]:
    """Every status change the message will go through, in time order."""
    special = MESSAGE_OUTCOMES.get(phone_number[-3:])
    if special is not None:
        return _message_level(special, channels, channel_refs)
    digit = int(phone_number[-1])
    delivering_served = 0 if digit <= 5 else 1 if digit <= 7 else None  # among the served channels
    read = digit % 2 == 0
    changes: list[StatusChange] = []
    tried: list[ChannelStatus] = []
    start = 0.0
    served = -1
    parts: int | None = None
    for index, (channel, ref) in enumerate(zip(channels, channel_refs, strict=False)):
        last = index == len(channels) - 1
        if channel.name == "sms":
            parts = sms_parts
        if not channel.enabled:
            tried.append(ChannelStatus(channel.name, codes.CHANNEL_NOT_ENABLED, ref, start))
            overall = codes.NO_CHANNEL_ENABLED if last else codes.CHANNEL_NOT_ENABLED
            final_price = prices.ZERO if last else None
            changes.append(StatusChange(start, overall, channel.name, tuple(tried), final_price, parts))
            continue
        served += 1
        if served == delivering_served:
            at = start + DELIVERY_DELAY_S[channel.name]
            cost = prices.price(phone_number, channel.name, sms_parts)
            tried.append(ChannelStatus(channel.name, codes.DELIVERED, ref, at))
            changes.append(StatusChange(at, codes.DELIVERED, channel.name, tuple(tried), cost, parts))
            if read and channel.name in READ_RECEIPT_CHANNELS:
                at += READ_AFTER_S
                tried[-1] = ChannelStatus(channel.name, codes.READ, ref, at)
                changes.append(StatusChange(at, codes.READ, channel.name, tuple(tried), cost, parts))
            return changes
        if last:
            at = start + (DELIVERY_DELAY_S["sms"] if channel.name == "sms" else channel.fallback_time)
            tried.append(ChannelStatus(channel.name, codes.DELIVERY_ERROR, ref, at))
            changes.append(StatusChange(at, codes.DELIVERY_ERROR, channel.name, tuple(tried), prices.ZERO, parts))
            return changes
        at = start + channel.fallback_time
        tried.append(ChannelStatus(channel.name, codes.FAILED_WITHIN_FALLBACK_TIME, ref, at))
        changes.append(StatusChange(at, codes.FAILED_WITHIN_FALLBACK_TIME, channel.name, tuple(tried), None, parts))
        start = at
    return changes


def _message_level(
    outcome: tuple[int, float | None], channels: tuple[Channel, ...], channel_refs: tuple[str, ...]
) -> list[StatusChange]:
    code, at = outcome
    first = channels[0]
    when = DELIVERY_DELAY_S.get(first.name, 0.0) if at is None else at
    tried = (ChannelStatus(first.name, code, channel_refs[0], when),)
    return [StatusChange(when, code, first.name, tried, prices.ZERO, None)]


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
    `additional_info` carries price and currency once the message's cost is known (a final
    status), and message_parts_count once the SMS was tried, as the Engage reference's GET status
    schema and SMS callback schema place them. accepted_at is the wall-clock acceptance time;
    offsets are scaled to real time.
    """

    def moment(at_s: float) -> str:
        return updated_on(accepted_at + at_s * time_scale)

    additional: dict[str, Any] = {}
    if change.price is not None:
        additional["price"] = prices.shown(change.price)
        additional["currency"] = prices.CURRENCY
    if change.sms_parts is not None:
        additional["message_parts_count"] = change.sms_parts
    return {
        "status": {
            "code": change.code,
            "description": codes.description(change.code),
            "last_channel": change.last_channel,
            "updated_on": moment(change.at_s),
        },
        "channel_status": [
            {
                c.channel: {
                    "code": c.code,
                    "description": codes.description(c.code),
                    "reference_id": c.reference_id,
                    "updated_on": moment(c.at_s),
                }
            }
            for c in change.channels
        ],
        "reference_id": reference_id,
        "external_id": external_id,
        "additional_info": additional,
    }


def in_progress(first: Channel, channel_ref: str) -> StatusChange:
    """The status before the first change: the first channel is being tried (GET status only)."""
    return StatusChange(
        0.0, codes.IN_PROGRESS, first.name, (ChannelStatus(first.name, codes.IN_PROGRESS, channel_ref, 0.0),)
    )
