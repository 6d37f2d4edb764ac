"""Checking a POST /v1/omnichannel body the way Telesign does, with Telesign's codes.

The simulator validates on its own, from the published spec, rather than reusing the runner's
request model: a stand-in that shares the client's assumptions could not catch the client's bugs.
Checks run in the order of the body's parameters (channels, recipient or phone_number, message,
message_type, external_id, callback_url, account_lifecycle_event, originating_ip) and the first
problem found is answered, as Telesign answers one status. Codes are runner.telesign.codes's.

Telesign's Engage reference (POST /v1/omnichannel, "sendAdvancedMessage") is followed where it
speaks: `recipient.phone_number` is preferred to the deprecated top-level `phone_number`;
`message.default` serves "any channel where the equivalent details under `message` are not
provided"; a channel the account does not have enabled is not a refusal but a 3100 for that
channel, the next channel then tried (runner.simulator.outcomes).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from runner.simulator.statuses import Refusal, bad_request
from runner.telesign import codes as s

MAX_BODY_BYTES = 10 * 1024  # "Allowed payload size is limited to 10KB" (3116)
FALLBACK_MIN, FALLBACK_MAX, FALLBACK_DEFAULT = 30, 3600, 300  # seconds
EXTERNAL_ID_MAX = 100
MESSAGE_TYPES = ("MKT", "ARN", "OTP")
ACCOUNT_LIFECYCLE_EVENTS = ("create", "sign-in", "transact", "update", "delete")

# The channels and templates this stand-in serves, with the parameters each template requires
# (the seed page: viber url_action needs text, url, url_id and url_text; sms text needs text).
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "viber": {"url_action": ("text", "url", "url_id", "url_text"), "text": ("text",)},
    "sms": {"text": ("text",)},
}

# Viber refuses link buttons that lead to competing messengers (Telesign: "Viber links to Line,
# Signal or Telegram are not allowed"). Domains and their subdomains.
FORBIDDEN_LINK_DOMAINS = (
    "line.me",
    "lin.ee",
    "line.naver.jp",
    "signal.me",
    "signal.group",
    "signal.org",
    "sgnl.link",
    "t.me",
    "telegram.me",
    "telegram.org",
    "telegram.dog",
)
FORBIDDEN_LINK_SCHEMES = ("line", "sgnl", "tg")


@dataclass(frozen=True)
class Channel:
    name: str
    fallback_time: int  # seconds before cascading to the next channel
    enabled: bool = True  # False: a channel this stand-in does not serve (3100, the next is tried)


@dataclass(frozen=True)
class OmnichannelRequest:
    """A request that passed validation."""

    phone_number: str
    channels: tuple[Channel, ...]
    message_type: str
    external_id: str | None
    callback_url: str | None
    body: dict[str, Any]


def parse(raw: bytes) -> OmnichannelRequest | Refusal:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return bad_request(s.INVALID_REQUEST, "Invalid request: the body is not valid JSON")
    if not isinstance(body, dict):
        return bad_request(s.INVALID_REQUEST, "Invalid request: the body must be a JSON object")
    return validate(body)


def validate(body: dict[str, Any]) -> OmnichannelRequest | Refusal:
    channels = _channels(body.get("channels"))
    if isinstance(channels, Refusal):
        return channels
    phone = _phone_number(_recipient_phone(body))
    if isinstance(phone, Refusal):
        return phone
    problem = _message(body.get("message"), channels)
    if problem is not None:
        return problem
    message_type = body.get("message_type")
    if message_type is None or message_type == "":
        return bad_request(s.MISSING_MESSAGE_TYPE, "Missing parameter message_type")
    if message_type not in MESSAGE_TYPES:
        return bad_request(s.INVALID_MESSAGE_TYPE, f"Invalid value for parameter message_type: {_show(message_type)}")
    external_id = body.get("external_id")
    if external_id is not None and not (
        isinstance(external_id, str) and external_id.isascii() and len(external_id) <= EXTERNAL_ID_MAX
    ):
        return bad_request(s.INVALID_EXTERNAL_ID, f"Unsupported value for parameter external_id: {_show(external_id)}")
    callback_url = body.get("callback_url")
    if callback_url is not None and not _is_web_url(callback_url):
        return bad_request(s.INVALID_CALLBACK_URL, f"Invalid value for parameter callback_url: {_show(callback_url)}")
    event = body.get("account_lifecycle_event")
    if event is not None and event not in ACCOUNT_LIFECYCLE_EVENTS:
        return bad_request(
            s.INVALID_ACCOUNT_LIFECYCLE_EVENT, f"Invalid value for parameter account_lifecycle_event: {_show(event)}"
        )
    originating_ip = body.get("originating_ip")
    if originating_ip is not None and not _is_ip_address(originating_ip):
        return bad_request(
            s.INVALID_ORIGINATING_IP, f"Invalid value for parameter originating_ip: {_show(originating_ip)}"
        )
    return OmnichannelRequest(phone, channels, message_type, external_id, callback_url, body)


def _channels(value: Any) -> tuple[Channel, ...] | Refusal:
    if value is None or value == []:
        return bad_request(s.MISSING_CHANNELS, "Missing parameter channels")
    if not isinstance(value, list):
        return _bad_channels("channels must be a list of channel objects")
    found: list[Channel] = []
    for entry in value:
        if not isinstance(entry, dict):
            return _bad_channels('each entry must be an object such as {"channel": "viber"}')
        name = entry.get("channel")
        if name is None or name == "":
            return bad_request(s.MISSING_CHANNEL, "Missing parameter channel")
        if not isinstance(name, str):
            return _bad_channels(f'a channel is a name such as "viber", not {_show(name)}')
        if any(c.name == name for c in found):
            return _bad_channels(f"channel {name} is listed more than once")
        fallback = entry.get("fallback_time", FALLBACK_DEFAULT)
        if isinstance(fallback, bool) or not isinstance(fallback, int) or not FALLBACK_MIN <= fallback <= FALLBACK_MAX:
            return _bad_channels(
                f"fallback_time of {name} must be whole seconds from {FALLBACK_MIN} to {FALLBACK_MAX}, "
                f"not {_show(fallback)}"
            )
        found.append(Channel(name, fallback, enabled=name in TEMPLATES))
    return tuple(found)


def _bad_channels(detail: str) -> Refusal:
    return bad_request(s.INVALID_CHANNELS, f"Invalid value for parameter channels: {detail}")


def _recipient_phone(body: dict[str, Any]) -> Any:
    """recipient.phone_number, else the deprecated phone_number ("If the `recipient` parameter is
    not included in this request, this parameter is required")."""
    recipient = body.get("recipient")
    if isinstance(recipient, dict) and recipient.get("phone_number") not in (None, ""):
        return recipient["phone_number"]
    return body.get("phone_number")


def _phone_number(value: Any) -> str | Refusal:
    if value is None or value == "":
        return bad_request(s.MISSING_PHONE_NUMBER, "Missing parameter phone_number")
    # Telesign wants digits with the country code and no '+', spaces or dashes; E.164 allows at
    # most 15 digits, and no country's numbers are shorter than 7 with their code.
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and 7 <= len(value) <= 15):
        return invalid_phone_number(value)
    return value


def invalid_phone_number(value: Any) -> Refusal:
    # CHOSEN: the reference lists no omnichannel code for a malformed number; 3110 ("The API
    # request or its JSON payload is improperly formatted") is the documented one that fits.
    return bad_request(s.INVALID_REQUEST, f"Invalid request: invalid value for parameter phone_number: {_show(value)}")


def _message(value: Any, channels: tuple[Channel, ...]) -> Refusal | None:
    if value is None or value == {}:
        return bad_request(s.MISSING_MESSAGE, "Missing parameter message")
    if not isinstance(value, dict):
        return _bad_message("message must be an object keyed by channel")
    for channel in channels:
        if not channel.enabled:
            continue  # never tried: its message is not looked at
        part = value.get(channel.name, value.get("default"))
        if part is None:
            return _missing(f"message.{channel.name}")
        if not isinstance(part, dict):
            return _bad_message(f"message.{channel.name} must be an object")
        template = part.get("template")
        if template is None or template == "":
            return _missing(f"message.{channel.name}.template")
        required = TEMPLATES[channel.name].get(template) if isinstance(template, str) else None
        if required is None:
            known = ", ".join(TEMPLATES[channel.name])
            return bad_request(
                s.UNKNOWN_TEMPLATE,
                f"Specified template does not exist for selected channel: {channel.name} template {_show(template)}"
                f" (known: {known})",
            )
        parameters = part.get("parameters")
        if parameters is None:
            return _missing(f"message.{channel.name}.parameters")
        if not isinstance(parameters, dict):
            return _bad_message(f"message.{channel.name}.parameters must be an object")
        for name in required:
            parameter = parameters.get(name)
            if parameter is None or parameter == "":
                return bad_request(
                    s.MISSING_TEMPLATE_PARAMETER, f"Missing template parameter message.{channel.name}.parameters.{name}"
                )
            if not isinstance(parameter, str):
                return _bad_message(f"message.{channel.name}.parameters.{name} must be a string")
        if channel.name == "viber" and "url" in required:
            problem = _link_problem(parameters["url"])
            if problem is not None:
                return _bad_message(f"message.viber.parameters.url: {problem}")
    return None


def _link_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.hostname  # noqa: B018 - raises ValueError on a malformed host such as "http://[x"
    except ValueError:
        return f"not a fully qualified http(s) URL: {_show(url)}"
    host = (parts.hostname or "").lower().rstrip(".")
    scheme = parts.scheme.lower()
    if scheme in FORBIDDEN_LINK_SCHEMES or any(host == d or host.endswith("." + d) for d in FORBIDDEN_LINK_DOMAINS):
        return "Viber does not allow links to Line, Signal or Telegram"
    if not _is_web_url(url):
        return f"not a fully qualified http(s) URL: {_show(url)}"
    return None


def _is_ip_address(value: Any) -> bool:
    """IPv4 or IPv6 in the IETF formats the reference names (RFC 791, RFC 4291 section 2.2)."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_web_url(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _missing(path: str) -> Refusal:
    return bad_request(s.MISSING_MESSAGE, f"Missing parameter {path}")


def _bad_message(detail: str) -> Refusal:
    return bad_request(s.INVALID_MESSAGE, f"Invalid value for parameter message: {detail}")


def _show(value: Any) -> str:
    """A value quoted back in a description, cut short: descriptions stay small."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 60 else text[:57] + "..."
