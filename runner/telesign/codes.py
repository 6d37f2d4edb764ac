"""Every Telesign status and error code the runner or the simulator uses, in one table.

Each entry: the code, Telesign's description, whether it is final (Telesign says nothing more
after it) or intermediate, whether a request answered with it may be retried, and where Telesign
documents it. The client (runner.telesign.client), the delivery rules (runner.callbacks.rules),
the simulator (runner.simulator) and the report's and `status`'s wording all read it here, so
that a code cannot mean one thing to the sender and another to the report (docs/callbacks.md,
"Status codes").

Sources, as published by Telesign in its Engage API reference (OpenAPI "Engage API"):
- SEND: POST /v1/omnichannel ("sendAdvancedMessage"), its 200/400/401/413/429/503 tables;
- STATUS: GET /v1/omnichannel/{reference_id} ("getMessagingStatus"), its 200/400/401/404/429/503
  tables and examples (the 200 example lists 3112 as a channel's status, the next channel then
  delivering);
- CAPABILITY: GET /capability/{channel}/{phone_number} (3055);
- SEED: the Viber link-button page this project started from (3056 in its callback example);
- ISSUE: codes issue 14 names from Telesign's Messaging status list without the text being in the
  reference we could read; their description here is ours, in Telesign's style, and says so.

"Intermediate" follows Telesign's "(Intermediate)" marks and, for the codes after which the
service tries the next channel, their meaning: 3001, 3002, 3056, 3100, 3101, 3200, 3202, 3306.
3000 is documented as "Final if the last channel used doesn't support Read status. Intermediate
otherwise": it is final here, and the rules let 3005 (read) follow it and never the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["SEND", "STATUS", "CAPABILITY", "SEED", "ISSUE", "CHOSEN"]


@dataclass(frozen=True)
class Code:
    code: int
    description: str  # Telesign's text (see `source`)
    final: bool  # False: intermediate, a later status will follow
    retryable: bool  # a request answered with this code created nothing and may be sent again
    source: Source


_TABLE = (
    # --- accepted, and delivery statuses (callbacks and GET status) ----------------------------
    Code(3000, "Delivered", True, False, "STATUS"),
    Code(3001, "Message in progress", False, False, "SEND"),
    Code(3002, "Delivered to Gateway", False, False, "STATUS"),
    Code(3003, "Delivery error", True, False, "STATUS"),
    Code(3005, "Message is read", True, False, "STATUS"),
    Code(3006, "None of the channels is enabled for the customer", True, False, "STATUS"),
    Code(3033, "Message expired", True, False, "ISSUE"),
    Code(3036, "Message price exceeds the price threshold", True, False, "ISSUE"),
    Code(3041, "System unavailable", True, True, "STATUS"),
    Code(3055, "Delivery channel not supported by the end user's device", True, False, "CAPABILITY"),
    Code(3056, "Message failed to deliver in specified fallback time", False, False, "SEED"),
    Code(3071, "Destination not allowed for a trial account", True, False, "ISSUE"),
    # per-channel statuses after which the next channel is tried (ISSUE: intermediate)
    Code(3100, "Channel not enabled for the customer", False, False, "ISSUE"),
    Code(3101, "Channel not available for the recipient", False, False, "ISSUE"),
    Code(3200, "Channel provider temporarily unavailable", False, False, "ISSUE"),
    Code(3202, "Channel provider rejected the message", False, False, "ISSUE"),
    Code(3306, "Missing template parameter for the channel", False, False, "ISSUE"),
    # --- 400: invalid values (31xx), missing parameters (33xx) ----------------------------------
    Code(3102, "Invalid value for parameter message_type", True, False, "SEND"),
    Code(3103, "Unsupported value for parameter external_id", True, False, "SEND"),
    Code(3104, "Invalid value for parameter account_lifecycle_event", True, False, "SEND"),
    Code(3105, "Invalid value for parameter originating_ip", True, False, "SEND"),
    Code(3106, "Invalid value for parameter callback_url", True, False, "SEND"),
    Code(3108, "Invalid value for parameter message", True, False, "ISSUE"),
    Code(3110, "Invalid request", True, False, "SEND"),
    Code(3112, "Specified template does not exist for selected channel", True, False, "STATUS"),
    Code(3113, "Invalid value for parameter channel", True, False, "SEND"),
    Code(3116, "Payload limit size exceeded", True, False, "SEND"),
    Code(3300, "Missing parameter channels", True, False, "SEND"),
    Code(3301, "Missing parameter channel", True, False, "SEND"),
    Code(3302, "Missing parameter phone_number", True, False, "SEND"),
    Code(3303, "Missing parameter message", True, False, "SEND"),
    Code(3304, "Missing parameter message_type", True, False, "SEND"),
    Code(3305, "Missing template parameter", True, False, "ISSUE"),
    Code(3311, "Invalid value for parameter reference_id", True, False, "STATUS"),
    # --- 401, 429, 503 ---------------------------------------------------------------------------
    Code(3400, "Not authorized", True, False, "SEND"),
    Code(3203, "Callback URL parameter not enabled for Customer ID", True, False, "SEND"),
    # "(Final)" in Telesign's table means that answer will not change; the request created nothing
    # and is sent again after Retry-After (docs/reliability.md).
    Code(3204, "Rate limit exceeded", True, True, "SEND"),
    Code(3206, "Omnichannel Product not enabled for Customer ID", True, False, "SEND"),
    Code(3500, "System Unavailable", True, True, "SEND"),
    # --- GET status only -------------------------------------------------------------------------
    Code(-10004, "ReferenceID expired.", True, False, "STATUS"),
    # CHOSEN: the simulator's answer to a path it does not serve; Telesign documents none.
    Code(3117, "Not found", True, False, "CHOSEN"),
)

CODES: dict[int, Code] = {entry.code: entry for entry in _TABLE}

# Names for the codes code branches on (the table above is the one place their meaning is kept).
DELIVERED = 3000
IN_PROGRESS = 3001
DELIVERED_TO_GATEWAY = 3002
DELIVERY_ERROR = 3003
READ = 3005
NO_CHANNEL_ENABLED = 3006
EXPIRED = 3033
PRICE_THRESHOLD = 3036
STATUS_UNAVAILABLE = 3041
CHANNEL_NOT_SUPPORTED = 3055
FAILED_WITHIN_FALLBACK_TIME = 3056
TRIAL_ACCOUNT = 3071
CHANNEL_NOT_ENABLED = 3100
INVALID_MESSAGE_TYPE = 3102
INVALID_EXTERNAL_ID = 3103
INVALID_ACCOUNT_LIFECYCLE_EVENT = 3104
INVALID_ORIGINATING_IP = 3105
INVALID_CALLBACK_URL = 3106
INVALID_MESSAGE = 3108
INVALID_REQUEST = 3110
UNKNOWN_TEMPLATE = 3112
INVALID_CHANNELS = 3113
PAYLOAD_TOO_LARGE = 3116
NOT_FOUND = 3117
MISSING_CHANNELS = 3300
MISSING_CHANNEL = 3301
MISSING_PHONE_NUMBER = 3302
MISSING_MESSAGE = 3303
MISSING_MESSAGE_TYPE = 3304
MISSING_TEMPLATE_PARAMETER = 3305
INVALID_REFERENCE_ID = 3311
NOT_AUTHORIZED = 3400
CALLBACK_URL_NOT_ENABLED = 3203
RATE_LIMITED = 3204
PRODUCT_NOT_ENABLED = 3206
UNAVAILABLE = 3500
REFERENCE_EXPIRED = -10004

INTERMEDIATE = frozenset(entry.code for entry in _TABLE if not entry.final)
RETRYABLE = frozenset(entry.code for entry in _TABLE if entry.retryable)


def is_final(code: int) -> bool:
    """Whether Telesign will say nothing more about a message (or channel) after `code`. A code
    the table does not know is final: only the documented intermediate codes are waited on."""
    return code not in INTERMEDIATE


def description(code: int | None) -> str | None:
    """Telesign's description of `code`, or None for a code the table does not hold."""
    entry = CODES.get(code) if code is not None else None
    return entry.description if entry is not None else None
