"""The simulator's answers that are not acceptances, with Telesign's codes (runner.telesign.codes).

Sources: Telesign's Engage reference for POST /v1/omnichannel ("sendAdvancedMessage") and GET
/v1/omnichannel/{reference_id} ("getMessagingStatus"). Where Telesign publishes no code for a case
the simulator still has to refuse, the choice is marked CHOSEN below and explained.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from typing import Any

from runner.telesign import codes as c


@dataclass(frozen=True)
class Refusal:
    """An answer that is not an acceptance: HTTP status and Telesign's status {code, description}.

    The body is shaped as the reference's schema for that HTTP status: 400 bodies carry
    reference_id, status and external_id (all three "required" there); 401, 429 and 503 bodies
    status and external_id; GET status errors only status (its MsgGetStatusRes). external_id echoes
    the request's, JSON null when it had none or could not be read ("If you did not supply an
    external ID in your request, the value of this response property is `null`").
    """

    http_status: int
    code: int
    description: str
    retry_after: int | None = None
    external_id: str | None = None
    echo: bool = True  # False for GET status errors: their schema has only `status`

    def echoing(self, external_id: str | None) -> Refusal:
        return replace(self, external_id=external_id)

    def body(self) -> bytes:
        document: dict[str, Any] = {}
        if self.echo and self.http_status == 400:
            document["reference_id"] = secrets.token_hex(16).upper()
        document["status"] = {"code": self.code, "description": self.description}
        if self.echo:
            document["external_id"] = self.external_id
        return json.dumps(document).encode()


def bad_request(code: int, description: str) -> Refusal:
    return Refusal(400, code, description)


def payload_too_large(limit: int) -> Refusal:
    # CHOSEN, where the reference is ambiguous: its 413 entry ("Request entity too large. Allowed
    # payload size is limited to 10KB.") has no body, and its 400 table lists 3116 "Payload limit
    # size exceeded". The simulator answers 413, the HTTP status of the entry that names the case,
    # with the 3116 status as a body: a client that codes against status.code, as the reference
    # asks, finds 3116 either way, and one that reads the HTTP status sees 413. The runner treats
    # both as a final refusal (docs/simulator.md).
    return Refusal(413, c.PAYLOAD_TOO_LARGE, f"Payload limit size exceeded: at most {limit // 1024} KB")


def not_authorized(reason: str) -> Refusal:
    return Refusal(401, c.NOT_AUTHORIZED, f"Not authorized: {reason}")


def rate_limited(retry_after: int) -> Refusal:
    return Refusal(429, c.RATE_LIMITED, "Rate limit exceeded", retry_after=retry_after)


def unavailable() -> Refusal:
    return Refusal(503, c.UNAVAILABLE, "System Unavailable")


def not_found(what: str) -> Refusal:
    # CHOSEN: Telesign documents no code for a path it does not serve.
    return Refusal(404, c.NOT_FOUND, f"Not found: {what}", echo=False)


def invalid_reference_id() -> Refusal:
    """GET status of a reference_id that is malformed or unknown: 400/3311 ("Invalid value
    entered as `reference_id`"). CHOSEN: an unknown but well-formed one gets it too, since the
    reference documents no other answer for it."""
    return Refusal(400, c.INVALID_REFERENCE_ID, c.CODES[c.INVALID_REFERENCE_ID].description, echo=False)


def reference_expired() -> Refusal:
    """GET status more than 12 hours after the message: 404/-10004 ("ReferenceID expired.")."""
    return Refusal(404, c.REFERENCE_EXPIRED, c.CODES[c.REFERENCE_EXPIRED].description, echo=False)


def status_unauthorized(reason: str) -> Refusal:
    return Refusal(401, c.NOT_AUTHORIZED, f"Not authorized: {reason}", echo=False)


IN_PROGRESS = c.IN_PROGRESS
IN_PROGRESS_TEXT = c.CODES[c.IN_PROGRESS].description
STATUS_WINDOW_S = 12 * 3600  # "a reference ID that was processed more than 12 hours ago" expires
