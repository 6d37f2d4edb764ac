"""Telesign's status codes as the simulator answers them.

Sources: Telesign's Engage reference for POST /v1/omnichannel ("sendadvancedmessage") lists 3102
message_type, 3103 external_id, 3106 callback_url, 3110 invalid request, 3113 channels (a channel
twice or improperly formatted), 3116 payload over 10 KB, 3300..3304 missing parameters, 3400 not
authorized, 3204 rate limit, 3500 system unavailable. Where Telesign publishes no code for a case
the simulator still has to refuse, the choice is marked CHOSEN below and explained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    """An answer that is not an acceptance: HTTP status and Telesign's status {code, description}.

    Error bodies carry only `status`: no `errors` array and no reference_id, as Telesign's do.
    """

    http_status: int
    code: int
    description: str
    retry_after: int | None = None

    def body(self) -> bytes:
        return json.dumps({"status": {"code": self.code, "description": self.description}}).encode()


# --- 200 -------------------------------------------------------------------------------------------
IN_PROGRESS = 3001
IN_PROGRESS_TEXT = "Message in progress"

# --- 400: invalid values (31xx) ----------------------------------------------------------------------
# CHOSEN: Telesign's omnichannel page lists no code for a malformed phone number; 3101 follows the
# 31xx "Invalid value for parameter <name>" family and is used for non-digit or wrongly sized
# numbers and for the simulated "invalid number" outcome (last digit 9).
INVALID_PHONE_NUMBER = 3101
INVALID_MESSAGE_TYPE = 3102
INVALID_EXTERNAL_ID = 3103
INVALID_CALLBACK_URL = 3106
INVALID_REQUEST = 3110
# CHOSEN: no published code for a bad value inside `message` (unknown template, a parameter of the
# wrong type, a Viber link to Line/Signal/Telegram, a URL that is not fully qualified); 3111 keeps
# it in the 31xx invalid-value family, distinct from the documented ones.
INVALID_MESSAGE = 3111
# Documented: "contains the same channel more than once or is improperly formatted". CHOSEN: an
# unknown channel name and a fallback_time outside 30..3600 are "improperly formatted" channels.
INVALID_CHANNELS = 3113
PAYLOAD_TOO_LARGE = 3116

# --- 400: missing parameters (330x) --------------------------------------------------------------------
# Mapping (consistent: the code names the top-level parameter under which something is missing):
#   3300 `channels` absent or an empty list
#   3301 an entry of `channels` without its `channel`
#   3302 `phone_number` absent or empty
#   3303 `message` absent, or anything missing under it: the message of a listed channel, its
#        `template`, its `parameters`, or a parameter the template requires (text, url, ...)
#   3304 `message_type` absent
MISSING_CHANNELS = 3300
MISSING_CHANNEL = 3301
MISSING_PHONE_NUMBER = 3302
MISSING_MESSAGE = 3303
MISSING_MESSAGE_TYPE = 3304

NOT_AUTHORIZED = 3400
RATE_LIMITED = 3204
UNAVAILABLE = 3500
# CHOSEN: Telesign documents no omnichannel code for an unknown reference_id or path.
NOT_FOUND = 3117


def bad_request(code: int, description: str) -> Refusal:
    return Refusal(400, code, description)


def payload_too_large(limit: int) -> Refusal:
    return Refusal(413, PAYLOAD_TOO_LARGE, f"Payload limit size exceeded: at most {limit // 1024} KB")


def not_authorized(reason: str) -> Refusal:
    return Refusal(401, NOT_AUTHORIZED, f"Not authorized: {reason}")


def rate_limited(retry_after: int) -> Refusal:
    return Refusal(429, RATE_LIMITED, "Rate limit exceeded", retry_after=retry_after)


def unavailable() -> Refusal:
    return Refusal(503, UNAVAILABLE, "System Unavailable")


def not_found(what: str) -> Refusal:
    return Refusal(404, NOT_FOUND, f"Not found: {what}")


# --- delivery statuses (callbacks and GET status) ----------------------------------------------------
DELIVERED = 3000
DELIVERY_ERROR = 3003
READ = 3005
NO_CHANNEL_LEFT = 3006
FAILED_WITHIN_FALLBACK = 3056

DESCRIPTIONS = {
    IN_PROGRESS: IN_PROGRESS_TEXT,
    DELIVERED: "Delivered",
    DELIVERY_ERROR: "Delivery error",
    READ: "Read",
    NO_CHANNEL_LEFT: "No channel available to deliver the message",
    FAILED_WITHIN_FALLBACK: "Message failed to deliver in specified fallback time",
}
