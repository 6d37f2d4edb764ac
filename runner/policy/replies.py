"""Replies: inbound (MO) callbacks as Telesign documents them ("Messaging - Receive inbound
messages"; docs/policy.md, "Replies"), turned into opt-outs and opt-ins in the recipient store.

An inbound callback carries status code 1500 and a `sub_resource` naming the channel:
- `mo_sms`: `user_response` {phone_number, mo_message, and, when Telesign's own keyword handling
  is on, `action` (start / stop / help / generic) and `keyword`}. Telesign's `action = stop` is an
  opt-out whatever the text says; `action = start` an opt-in.
- `mo_viber`: `phone_number` and `content` {text, original_reference_id: the message replied to}.
Each reply is joined to the message it answers where Telesign gives that reference (through the
contact history), else to the phone's latest accepted message. The reply's text decides by the
policy's keywords (runner.policy.keywords) and is never stored."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runner.callbacks.payload import canonical_json
from runner.callbacks.timeparse import parse_updated_on
from runner.policy.keywords import Keywords, Meaning
from runner.policy.store import OptEvent, RecipientStore, ReplyRecord

INBOUND_CODE = 1500  # Telesign: an inbound message delivered to you ("Delivered to customer")
CHANNELS = {"mo_sms": "sms", "mo_viber": "viber"}


@dataclass(frozen=True)
class Reply:
    key: str  # the payload's content hash: a callback Telesign retries counts once
    phone: str  # E.164
    channel: str
    text: str | None
    action: str | None  # Telesign's (mo_sms with keyword handling), lower case
    keyword: str | None
    replied_to: str | None  # the reference_id of the message it answers, where given
    at: datetime

    def meaning(self, keywords: Keywords) -> Meaning:
        if self.action == "stop":
            return "opt_out"
        if self.action == "start":
            return "opt_in"
        return keywords.meaning(self.text)


def is_inbound(payload: dict[str, Any]) -> bool:
    status = payload.get("status")
    code = status.get("code") if isinstance(status, dict) else None
    return payload.get("sub_resource") in CHANNELS or code == INBOUND_CODE


def parse_reply(payload: dict[str, Any], received_at: datetime | None = None) -> Reply | None:
    """The reply an inbound callback carries, or None when it is not one (or names no phone)."""
    sub = payload.get("sub_resource")
    if sub not in CHANNELS:
        return None
    status = _object(payload.get("status"))
    user = _object(payload.get("user_response"))
    content = _object(payload.get("content"))
    phone = _text(user.get("phone_number")) or _text(payload.get("phone_number"))
    if phone is None:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not digits:
        return None
    text = _text(user.get("mo_message")) if sub == "mo_sms" else _text(content.get("text"))
    action = _text(user.get("action"))
    updated = parse_updated_on(status.get("updated_on"))
    submitted = parse_updated_on(payload.get("submit_timestamp"))
    at = submitted or updated or received_at or datetime.now(UTC)
    return Reply(
        key=hashlib.sha256(canonical_json(payload)).hexdigest(),
        phone="+" + digits,
        channel=CHANNELS[str(sub)],
        text=text,
        action=action.lower() if action else None,
        keyword=_text(user.get("keyword")),
        replied_to=_text(content.get("original_reference_id")) or _text(payload.get("original_reference_id")),
        at=at if at.tzinfo else at.replace(tzinfo=UTC),
    )


def apply_reply(store: RecipientStore, reply: Reply, keywords: Keywords) -> Meaning:
    """Count the reply and, for STOP or START, append the opt-out or opt-in (once per callback)."""
    contact = store.contact_by_reference(reply.replied_to) if reply.replied_to else None
    if contact is None:
        contact = store.last_contact(reply.phone)
    campaign = contact.campaign if contact is not None else None
    meaning = reply.meaning(keywords)
    store.record_reply(ReplyRecord(reply.key, reply.phone, reply.at, campaign, reply.replied_to, meaning))
    if meaning in ("opt_out", "opt_in"):
        note = f"telesign action {reply.action}" if reply.action in ("stop", "start") else "keyword"
        store.record(
            OptEvent(
                reply.key,
                reply.phone,
                "opt_out" if meaning == "opt_out" else "opt_in",
                reply.at,
                "reply",
                campaign,
                reply.replied_to or (contact.reference_id if contact else None),
                note,
            )
        )
    return meaning


def reply_in_line(raw: bytes) -> Reply | None:
    """The reply a callback log's line carries (a receiver's line or a plain payload), if any: the
    log reader (runner.callbacks.log, read with replies=True) asks this of each line that mentions
    an inbound channel, in the one pass that also reads the delivery callbacks."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # (not JSON, or nested past the parser's depth: no reply)
        return None
    if not isinstance(document, dict):
        return None
    payload = document.get("payload") if "payload" in document else document
    if not isinstance(payload, dict):
        return None
    return parse_reply(payload, parse_updated_on(document.get("received_at")))


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class ReplyRecorder:
    """What the receiver does with an inbound callback when given the outputs folder: the opt-out
    takes effect at once, for every campaign sending from that folder (the sender reads the store
    as it claims each message). Called from one worker thread at a time."""

    def __init__(self, store: RecipientStore, keywords: Keywords):
        self.store = store
        self.keywords = keywords
        self.counts: dict[str, int] = {}

    def take(self, payload: dict[str, Any]) -> Meaning | None:
        reply = parse_reply(payload)
        if reply is None:
            return None
        meaning = apply_reply(self.store, reply, self.keywords)
        self.counts[meaning] = self.counts.get(meaning, 0) + 1
        return meaning
