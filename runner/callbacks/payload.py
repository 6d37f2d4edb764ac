"""One Telesign callback payload into a `Callback` record (or a `Malformed` one saying why not).

Telesign's callback (Transaction Callback Service, omnichannel flavour), as in the seed:

    {"reference_id": "35C8...", "external_id": "null",
     "status": {"code": 3000, "description": "Delivered", "last_channel": "sms",
                "updated_on": "2020-05-04 22:07:01:226"},
     "channel_status": [{"viber": {"code": 3056, "description": "...", "reference_id": "65C7...",
                                   "updated_on": "2020-05-04 22:05:00.325"}},
                        {"sms": {...}}]}

A payload is read one of two ways, to the same record: `from_canonical` decodes the usual shape
with a typed decoder (msgspec: every type checked on the way, in C), the way nearly every line of
a receiver's log is read; anything it does not take (another type, an odd value, a plain payload
line) is read by `payload_to_callback`, the general rules, which also say why a payload cannot be
used. tests/enrich/test_fast_path.py holds the two equal on every payload Hypothesis makes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import msgspec

from runner.callbacks.timeparse import parse_updated_on, to_micros, updated_on_micros


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that is not a usable callback, located so that a user can look at it."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class ChannelStatus(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One channel's status inside a callback (an entry of `channel_status` that has a code)."""

    channel: str  # lower case: "viber", "sms"
    code: int
    description: str | None
    updated_on: int | None  # microseconds (timeparse.to_micros); None when absent or unreadable


class Callback(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One delivery callback read from a log: what the merge rules use, times as
    `timeparse.to_micros` integers. Enrichment reads a million a run: a Struct (made in C, and
    holding nothing that could make a reference cycle, so left out of the cyclic GC) costs a
    fraction of a dataclass or a NamedTuple to make. (array_like: encoded without its field names
    where a second process reads the logs ahead, runner.callbacks.read_ahead, half the bytes.)"""

    path: str  # the log it came from
    line: int  # its line number there (1-based)
    arrival: int  # its position in the stream read (0, 1, 2...): breaks updated_on ties
    digest: bytes  # sha256 of the payload's canonical JSON: equal payloads, equal digests
    reference_id: str | None
    external_id: str | None
    code: int
    description: str | None
    last_channel: str | None
    updated_on: int | None  # microseconds; None when absent or in a format we cannot read
    updated_on_raw: str | None  # as Telesign wrote it
    # in Telesign's order; a channel listed without a status code is left out (it says nothing)
    channels: tuple[ChannelStatus, ...]
    price: str | None = None  # additional_info.price, as Telesign wrote it ("0.0050")
    currency: str | None = None  # additional_info.currency ("USD")
    parts: int | None = None  # additional_info.message_parts_count: the SMS's parts

    @property
    def content_hash(self) -> str:
        return self.digest.hex()

    def channel(self, name: str) -> ChannelStatus | None:
        for status in self.channels:
            if status.channel == name:
                return status
        return None


# Built once: constructing an encoder per call costs more than encoding a small payload.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical_json(payload: Any) -> bytes:
    """The payload's canonical JSON text: keys sorted, no spaces, ASCII only (non-ASCII as \\u
    escapes, so any payload, even one with lone surrogates, has one)."""
    return _CANONICAL.encode(payload).encode("ascii")


def content_hash(payload: Any) -> str:
    """A stable identity for a payload: the same JSON value (whatever its key order or spacing,
    and whether it came through the receiver or a plain log) always hashes the same."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


# -- the general rules -------------------------------------------------------------------------


def payload_to_callback(
    payload: dict[str, Any], path: str, line: int, arrival: int, digest: bytes | None = None
) -> Callback | Malformed:
    """A decoded payload into a Callback, or Malformed when it lacks what a join or an ordering
    needs (an id, a status code). `digest`: its sha256 when already known (runner.callbacks.log)."""
    reference_id = _identifier(payload.get("reference_id"))
    external_id = _identifier(payload.get("external_id"))
    if reference_id is None and external_id is None:
        return Malformed(path, line, "no reference_id or external_id: cannot tell which message it is about")
    status = payload.get("status")
    if not isinstance(status, dict):
        return Malformed(path, line, "no status object")
    code = _code(status.get("code"))
    if code is None:
        return Malformed(path, line, f"status.code is not a status code: {clip(status.get('code'))}")
    channels = _channels(payload.get("channel_status"))
    if channels is None:
        return Malformed(path, line, "channel_status is neither a list of {channel: status} nor an object")
    raw_time = status.get("updated_on")
    description = status.get("description")
    last_channel = status.get("last_channel")
    price, currency, parts = cost_of(payload)
    return Callback(
        path, line, arrival, digest or hashlib.sha256(canonical_json(payload)).digest(),
        _storable(reference_id), _storable(external_id), code,
        _storable(description) if isinstance(description, str) else None,
        _storable(last_channel.lower()) if isinstance(last_channel, str) and last_channel else None,
        _micros(raw_time), _storable(raw_time) if isinstance(raw_time, str) else None, channels,
        price, currency, parts,
    )  # fmt: skip


def cost_of(payload: dict[str, Any]) -> tuple[str | None, str | None, int | None]:
    """(price, currency, SMS parts) of a status report. Telesign's Engage reference places price
    and currency in `additional_info` (callbacks, and the GET status schema), while its GET status
    examples show them at the top level: both are read, additional_info first."""
    info = payload.get("additional_info")
    info = info if isinstance(info, dict) else {}
    get = info.get
    return _cost(
        get("price"), get("currency"), get("message_parts_count"), payload.get("price"), payload.get("currency")
    )


def _cost(
    price: object, currency: object, parts: object, top_price: object, top_currency: object
) -> tuple[str | None, str | None, int | None]:
    """The one reading of a cost, for payload_to_callback and the fast path alike."""
    amount = _amount(price)
    if amount is None:
        amount, currency = _amount(top_price), top_currency
    told = parts if type(parts) is int and 0 < parts < 1000 else None
    if amount is None:
        return None, None, told  # a currency without a price tells nothing
    return amount, _storable(currency) if isinstance(currency, str) and currency else None, told


def _amount(value: object) -> str | None:
    """A price as Telesign writes it (a decimal string), or a number made one; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = repr(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return _storable(text) if 0 <= number < float("inf") else None


def _micros(value: object) -> int | None:
    moment = parse_updated_on(value)
    return None if moment is None else to_micros(moment)


def _channels(value: object) -> tuple[ChannelStatus, ...] | None:
    """Telesign sends a list of one-key objects ([{"viber": {...}}, {"sms": {...}}]); a plain
    object ({"viber": {...}, "sms": {...}}) is read too. Absent: no channel statuses."""
    if value is None:
        return ()
    if isinstance(value, dict):
        value = [value]
    elif not isinstance(value, list):
        return None
    statuses = []
    for item in value:
        if not isinstance(item, dict):
            return None
        for name, status in item.items():
            if not isinstance(status, dict):
                return None
            code = _code(status.get("code"))
            if code is None:
                continue
            description = status.get("description")
            statuses.append(
                ChannelStatus(
                    _storable(name.lower()) or "",
                    code,
                    _storable(description) if type(description) is str else None,
                    _micros(status.get("updated_on")),
                )
            )
    return tuple(statuses)


def _identifier(value: object) -> str | None:
    # The seed's example carries "external_id": "null" (a string) for a message sent without
    # one; that is no id, and joining on it would tie unrelated messages together.
    if type(value) is not str:
        return None
    if value[:1].isspace() or value[-1:].isspace():
        value = value.strip()
    if not value or (len(value) == 4 and value.lower() == "null"):
        return None
    return value


# Telesign's status codes are four digits; anything past this bound is not one (and would not fit
# the ledger's 64-bit integers).
_MAX_CODE = 2**31 - 1


def _code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_CODE else None
    if isinstance(value, str) and value.strip().isdecimal():  # (not isdigit: "²" is a digit int() refuses)
        return _code(int(value))
    return None


def _storable(text: str | None) -> str | None:
    # The stdlib's JSON decoder accepts lone surrogates ("\ud800"), which cannot be written to the
    # ledger or a terminal as UTF-8: such a character becomes "?".
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def clip(value: object, limit: int = 60) -> str:
    """A value as a problem line shows it: its repr, cut to `limit` characters."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


# -- the usual shape, decoded fast -------------------------------------------------------------


# The common shape, as msgspec types: decoding checks every type on the way (a code that is not an
# integer, a description that is not a string... fails, and the general rules then read the
# payload). Unknown fields are ignored, as the general rules ignore them.
class _FastStatus(msgspec.Struct, gc=False):
    code: int
    description: str | None = None
    last_channel: str | None = None
    updated_on: str | None = None


class _FastChannel(msgspec.Struct, gc=False):
    code: int | None = None
    description: str | None = None
    updated_on: str | None = None


class _FastInfo(msgspec.Struct, gc=False):
    price: str | None = None
    currency: str | None = None
    message_parts_count: int | None = None


class _FastPayload(msgspec.Struct, gc=False):
    status: _FastStatus
    reference_id: str | None = None
    external_id: str | None = None
    channel_status: list[dict[str, _FastChannel]] | None = None
    additional_info: _FastInfo | None = None
    price: str | None = None  # (where GET status examples put them)
    currency: str | None = None


_FAST = msgspec.json.Decoder(_FastPayload)
_sha256 = hashlib.sha256


def from_canonical(canonical: bytes, path: str, line: int, arrival: int) -> Callback | None:
    """The Callback for a payload's canonical JSON bytes in the usual shape, by the same rules as
    payload_to_callback; None for anything those rules must look at (or would refuse)."""
    try:
        payload = _FAST.decode(canonical)
    except (msgspec.MsgspecError, ValueError):
        return None
    reference_id = payload.reference_id
    external_id = payload.external_id
    # (what _identifier does, for the usual id: a plain hex or campaign:key string)
    if reference_id is not None and not (reference_id.isalnum() and len(reference_id) != 4):
        reference_id = _identifier(reference_id)
    if external_id is not None and not (external_id.isalnum() and len(external_id) != 4):
        external_id = _identifier(external_id)
    status = payload.status
    code = status.code
    if (reference_id is None and external_id is None) or not 0 <= code <= _MAX_CODE:
        return None
    raw_time = status.updated_on
    micros = updated_on_micros(raw_time)
    channels = []
    if payload.channel_status:
        for item in payload.channel_status:
            for name, channel in item.items():
                channel_code = channel.code
                if channel_code is not None and 0 <= channel_code <= _MAX_CODE:
                    # the last channel's status usually carries the callback's own time
                    updated_on = channel.updated_on
                    when = micros if updated_on == raw_time else updated_on_micros(updated_on)
                    channels.append(ChannelStatus(name.lower(), channel_code, channel.description, when))
    last_channel = status.last_channel
    info = payload.additional_info
    if info is None and payload.price is None:
        return Callback(
            path, line, arrival, _sha256(canonical).digest(), reference_id, external_id, code, status.description,
            last_channel.lower() if last_channel else None, micros, raw_time, tuple(channels),
        )  # fmt: skip
    if info is None:
        cost = _cost(None, None, None, payload.price, payload.currency)
    else:
        cost = _cost(info.price, info.currency, info.message_parts_count, payload.price, payload.currency)
    return Callback(
        path, line, arrival, _sha256(canonical).digest(), reference_id, external_id, code, status.description,
        last_channel.lower() if last_channel else None, micros, raw_time, tuple(channels), *cost,
    )  # fmt: skip
