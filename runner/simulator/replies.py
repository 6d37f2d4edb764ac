"""Replies: what some recipients answer, as Telesign's inbound (MO) callbacks ("Messaging -
Receive inbound messages"; docs/simulator.md). A number ending in 3 replies STOP a moment after
its message is delivered, on the channel that delivered it:

- on Viber, `sub_resource` mo_viber with `phone_number` and `content` {type, text,
  original_reference_id: the message replied to};
- by SMS, `sub_resource` mo_sms with `user_response` {phone_number, mo_message, and, as Telesign's
  keyword handling adds, action "stop" and keyword "STOP"}.
Both carry status 1500 ("Delivered to customer") and a reference_id of their own."""

from __future__ import annotations

import secrets
from typing import Any

from runner.simulator.journal import AcceptedRequest
from runner.simulator.outcomes import updated_on

REPLYING_DIGIT = "3"
REPLY_AFTER_S = 4.0  # simulated seconds after delivery: a person reading and answering
INBOUND = 1500
DELIVERED = (3000, 3005)


def planned_reply(request: AcceptedRequest, time_scale: float) -> tuple[float, dict[str, Any]] | None:
    """(simulated seconds after acceptance, payload) of the reply this message gets, if any."""
    if not request.phone_number.endswith(REPLYING_DIGIT):
        return None
    delivered = next((c for c in request.changes if c.code in DELIVERED), None)
    if delivered is None:
        return None
    at_s = delivered.at_s + REPLY_AFTER_S
    moment = updated_on(request.accepted_at + at_s * time_scale)
    stamp = moment.replace(" ", "T") + "Z"
    status = {"code": INBOUND, "description": "Delivered to customer", "updated_on": stamp}
    reference = secrets.token_hex(16).upper()
    if delivered.last_channel == "viber":
        payload: dict[str, Any] = {
            "sub_resource": "mo_viber",
            "reference_id": reference,
            "submit_timestamp": stamp,
            "status": status,
            "errors": [],
            "phone_number": request.phone_number,
            "content": {"type": "text", "text": "Stop", "original_reference_id": request.reference_id},
        }
    else:
        payload = {
            "sub_resource": "mo_sms",
            "reference_id": reference,
            "submit_timestamp": stamp,
            "status": status,
            "errors": [],
            "user_response": {
                "action": "stop",
                "keyword": "STOP",
                "phone_number": request.phone_number,
                "mo_message": "STOP",
            },
        }
    return at_s, payload
