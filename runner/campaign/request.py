"""The omnichannel request: one POST /v1/omnichannel body per recipient, shaped exactly like the
seed's example (channels in order, digits-only phone_number, message.viber url_action parameters,
message.sms text, message_type), plus the deterministic external_id."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from runner.campaign.phones import digits
from runner.campaign.render import Texts
from runner.campaign.schema import CampaignFile

MAX_BODY_BYTES = 10 * 1024  # Telesign refuses request bodies over 10 KB (413 / 3116)
MAX_EXTERNAL_ID = 100  # Telesign: external_id is ASCII, at most 100 characters

# Viber's limits for a business message with a button, as Viber's messaging partners document them
# (Telesign's own page, the seed, gives none): the text up to 1,000 characters, longer content is
# truncated (Sinch, "Viber Business Messages channel message support",
# https://developers.sinch.com/docs/conversation/channel-support/viberbm/message-support); the
# button caption up to 30 characters (Routee, "Viber Message restrictions": message length up to
# 1000 characters, button caption length up to 30 characters,
# https://docs.routee.net/docs/other-viber-messaging-concept). Counted in characters (code points).
# What is longer is cut on the phone, not refused by Telesign: the preview and the plan show it.
VIBER_TEXT_LIMIT = 1000
VIBER_CAPTION_LIMIT = 30


def external_id(campaign_id: str, recipient_key: str) -> str:
    """The same id for the same (campaign, recipient) on every run, so a callback can be joined to
    its recipient even when the send's response was lost. The recipient key is hashed: a phone
    number never travels in external_id. At most 64 + 1 + 32 = 97 ASCII characters."""
    digest = hashlib.sha256(f"{campaign_id}\x00{recipient_key}".encode()).hexdigest()[:32]
    return f"{campaign_id}.{digest}"


def build(
    *,
    phone_e164: str,
    texts: Texts,
    fallback_time: int,
    message_type: str,
    external_id: str | None,
) -> dict[str, Any]:
    channels: list[dict[str, Any]] = [{"channel": "viber", "fallback_time": fallback_time}]
    message: dict[str, Any] = {
        "viber": {
            "template": "url_action",
            "parameters": {
                "url_text": texts.url_text,
                "text": texts.viber_text,
                "url_id": texts.url_id,
                "url": texts.url,
            },
        }
    }
    if texts.sms_text is not None:
        channels.append({"channel": "sms"})
        message["sms"] = {"template": "text", "parameters": {"text": texts.sms_text}}
    body: dict[str, Any] = {
        "channels": channels,
        "phone_number": digits(phone_e164),
        "message": message,
        "message_type": message_type,
    }
    if external_id is not None:
        body["external_id"] = external_id
    return body


def encode(body: dict[str, Any]) -> bytes:
    """The exact bytes POSTed (and, under digest auth, signed)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_size(value: str) -> int:
    """The bytes `value` adds to a request body (its JSON string, quotes left out): with
    ensure_ascii=False, json escapes only quotes, backslashes and control characters."""
    if '"' not in value and "\\" not in value and value.isprintable():
        return len(value.encode("utf-8"))
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8")) - 2


def envelope_size(spec: CampaignFile) -> int:
    """The bytes of this campaign's bodies without the texts' values and the phone's digits."""
    empty = Texts("", "", "", "", "" if spec.sms is not None else None)
    body = build(
        phone_e164="+",
        texts=empty,
        fallback_time=spec.viber.fallback_time,
        message_type=spec.message_type,
        external_id="x" * len(external_id(spec.id, "x")),  # every external_id of a campaign is as long
    )
    return len(encode(body))


def body_size(envelope: int, phone_e164: str, texts: Texts) -> int:
    """len(encode(build(...))) for these texts, without building the body (what `check` needs)."""
    size = envelope - 1 + len(phone_e164) + json_size(texts.viber_text) + json_size(texts.url)
    size += json_size(texts.url_text) + json_size(texts.url_id)
    if texts.sms_text is not None:
        size += json_size(texts.sms_text)
    return size
