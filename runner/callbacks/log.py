"""Read callback logs as a stream of `Callback` records (and `Malformed` ones for bad lines).

A log is one JSON object a line, in either of two shapes, optionally gzip-compressed (detected by
the gzip magic bytes, so a rotated `callbacks.log.1` that was compressed reads too):

- the receiver's lines: {"received_at": "2026-11-28T09:00:01.123456Z", "payload": {...}}
- plain payloads, one a line, as Telesign posts them (e.g. exported from elsewhere):
  {"reference_id": "...", "external_id": "...", "status": {...}, "channel_status": [...]}

`read_entries` reads the same lines as lighter `Entry` records, for enrichment: a line in the
usual shape is decoded straight into typed fields (msgspec), anything else by the rules below.

Files are read line by line, so memory stays bounded whatever their size; a line longer than
`MAX_LINE_BYTES` is skipped (as malformed) without being held whole. A line that cannot be used is
a `Malformed(path, line, reason)` record, never an exception: one bad line among a million must
not stop an enrichment. Only a log that cannot be opened at all raises `InvalidInput`.

Telesign's callback (Transaction Callback Service, omnichannel flavour), as in the seed:

    {"reference_id": "35C8...", "external_id": "null",
     "status": {"code": 3000, "description": "Delivered", "last_channel": "sms",
                "updated_on": "2020-05-04 22:07:01:226"},
     "channel_status": [{"viber": {"code": 3056, "description": "...", "reference_id": "65C7...",
                                   "updated_on": "2020-05-04 22:05:00.325"}},
                        {"sms": {...}}]}
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import msgspec

from runner.callbacks.timeparse import parse_updated_on, to_micros, updated_on_micros
from runner.errors import InvalidInput

MAX_LINE_BYTES = 1024 * 1024  # the receiver refuses bodies over 64 KB; this leaves ample room
_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_READ_CHUNK = 64 * 1024


class ChannelStatus(NamedTuple):
    """One channel's status inside a callback (an entry of `channel_status`)."""

    channel: str
    code: int | None
    description: str | None
    reference_id: str | None  # Telesign's id for the send on this channel (for troubleshooting)
    updated_on: datetime | None  # aware UTC, or None when absent or unreadable
    updated_on_raw: str | None


@dataclass(frozen=True, slots=True)
class Callback:
    """One delivery callback read from a log."""

    path: str  # the log it came from
    line: int  # its line number there (1-based)
    arrival: int  # its position in the stream read (0, 1, 2...): breaks updated_on ties
    received_at: datetime | None  # when the receiver logged it; None for plain payload lines
    reference_id: str | None
    external_id: str | None
    code: int
    description: str | None
    last_channel: str | None
    updated_on: datetime | None  # aware UTC, or None when absent or in a format we cannot read
    updated_on_raw: str | None
    channels: tuple[ChannelStatus, ...]  # in the order Telesign listed them
    content_hash: str  # sha256 of the payload's canonical JSON: equal payloads, equal hashes
    price: str | None = None  # additional_info.price, as Telesign wrote it ("0.0050")
    currency: str | None = None  # additional_info.currency ("USD")
    parts: int | None = None  # additional_info.message_parts_count: the SMS's parts

    def channel(self, name: str) -> ChannelStatus | None:
        for status in self.channels:
            if status.channel == name:
                return status
        return None


@dataclass(frozen=True, slots=True)
class Malformed:
    """A line that is not a usable callback, located so that a user can look at it."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


LogRecord = Callback | Malformed


def read_callbacks(paths: Iterable[Path], first_arrival: int = 0) -> Iterator[LogRecord]:
    """Every record of every log, in the order given (pass rotated logs oldest first), numbering
    callbacks' `arrival` consecutively from `first_arrival` across all of them."""
    arrival = first_arrival
    for path in paths:
        for record in read_log(path, arrival):
            if isinstance(record, Callback):
                arrival = record.arrival + 1
            yield record


def read_log(path: Path, first_arrival: int = 0) -> Iterator[LogRecord]:
    """The records of one log (plain or gzip), streamed line by line."""
    return _read(path, first_arrival, parse_line)


_Record = TypeVar("_Record")


def _read(
    path: Path, first_arrival: int, parse: Callable[[bytes, str, int, int], _Record | Malformed]
) -> Generator[_Record | Malformed, None, int]:
    """The records of one log, each line parsed by `parse`; returns the next arrival number."""
    name = str(path)
    try:
        stream = _open(path)
    except OSError as error:
        raise InvalidInput.at(name, None, f"cannot read this callback log: {error.strerror or error}") from None
    arrival = first_arrival
    number = 0
    unfinished: tuple[int, bytes] | None = None  # a last line without its newline, parsed once the end is clean
    with stream:
        try:
            for number, raw in _lines(stream):
                if raw is None:
                    yield Malformed(name, number, f"line longer than {MAX_LINE_BYTES} bytes: skipped")
                    continue
                if number == 1 and raw.startswith(_UTF8_BOM):  # a log saved by a Windows editor
                    raw = raw[len(_UTF8_BOM) :]
                if raw[:1] != b"{" and not raw.strip():  # (a line that starts with "{" is not blank)
                    continue
                if not raw.endswith(b"\n"):
                    unfinished = (number, raw)
                    continue
                record = parse(raw, name, number, arrival)
                if not isinstance(record, Malformed):
                    arrival += 1
                yield record
        except EOFError:
            # A .gz that ends before its end marker: copied or rotated while still being written.
            # Its last line, cut short, is not "not JSON": the file is truncated.
            cut = unfinished[0] if unfinished is not None else number + 1
            yield Malformed(
                name,
                cut,
                "the .gz file is truncated here (copied while still being written?): "
                "this line and anything after it are missing; read the complete file",
            )
            return arrival
        except (OSError, zlib.error) as error:
            # A corrupt .gz: keep what was read, and say where the file stopped making sense.
            yield Malformed(name, number + 1, f"the file cannot be read past this point ({error})")
            return arrival
    if unfinished is not None:  # a file whose last line has no newline: a line like any other
        record = parse(unfinished[1], name, unfinished[0], arrival)
        if not isinstance(record, Malformed):
            arrival += 1
        yield record
    return arrival


def parse_line(raw: bytes | str, path: str, line: int, arrival: int) -> LogRecord:
    """One log line: a receiver line or a plain payload, into a Callback, or Malformed saying why."""
    try:
        document = _DECODER.decode(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except UnicodeDecodeError:
        return Malformed(path, line, "not UTF-8 text")
    except json.JSONDecodeError as error:
        # Some of json's messages end in "at" ("Unterminated string starting at"): no second "at".
        where = "column" if error.msg.endswith(" at") else "at column"
        return Malformed(path, line, f"not JSON: {error.msg} {where} {error.colno}")
    except ValueError as error:  # e.g. a number too long to convert
        return Malformed(path, line, f"not JSON: {error}")
    if not isinstance(document, dict):
        return Malformed(path, line, "not a JSON object")
    received_at: datetime | None = None
    payload = document
    digest: str | None = None
    if "payload" in document and "received_at" in document:
        payload = document["payload"]
        if not isinstance(payload, dict):
            return Malformed(path, line, "the receiver line's payload is not a JSON object")
        received_at = _received_at(document["received_at"])
        canonical = _written_canonical(raw) if len(document) == 2 else None
        if canonical is not None:
            digest = hashlib.sha256(canonical).hexdigest()
    return payload_to_callback(payload, path, line, arrival, received_at, digest)


def payload_to_callback(
    payload: dict[str, Any],
    path: str,
    line: int,
    arrival: int,
    received_at: datetime | None = None,
    digest: str | None = None,
) -> LogRecord:
    """A Telesign callback payload into a Callback, or Malformed when it lacks what a join or an
    ordering needs (an id, a status code). `digest`: its content_hash when already known."""
    reference_id = _identifier(payload.get("reference_id"))
    external_id = _identifier(payload.get("external_id"))
    if reference_id is None and external_id is None:
        return Malformed(path, line, "no reference_id or external_id: cannot tell which message it is about")
    status = payload.get("status")
    if not isinstance(status, dict):
        return Malformed(path, line, "no status object")
    code = _code(status.get("code"))
    if code is None:
        return Malformed(path, line, f"status.code is not a status code: {_clip(status.get('code'))}")
    channels = _channels(payload.get("channel_status"))
    if channels is None:
        return Malformed(path, line, "channel_status is neither a list of {channel: status} nor an object")
    raw_time = status.get("updated_on")
    price, currency, parts = cost_of(payload)
    return Callback(
        path=path,
        line=line,
        arrival=arrival,
        received_at=received_at,
        reference_id=reference_id,
        external_id=external_id,
        code=code,
        description=_text(status.get("description")),
        last_channel=_channel_name(status.get("last_channel")),
        updated_on=parse_updated_on(raw_time),
        updated_on_raw=raw_time if isinstance(raw_time, str) else None,
        channels=channels,
        content_hash=digest or content_hash(payload),
        price=price,
        currency=currency,
        parts=parts,
    )


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


# Built once: constructing an encoder per call costs more than encoding a small payload.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)
_DECODER = json.JSONDecoder()


def canonical_json(payload: Any) -> bytes:
    """The payload's canonical JSON text: keys sorted, no spaces, ASCII only (non-ASCII as \\u
    escapes, so any payload, even one with lone surrogates, has one)."""
    return _CANONICAL.encode(payload).encode("ascii")


def content_hash(payload: Any) -> str:
    """A stable identity for a payload: the same JSON value (whatever its key order or spacing,
    and whether it came through the receiver or a plain log) always hashes the same."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


_LINE_START = b'{"received_at":"'
_PAYLOAD_KEY = b'","payload":'


def receiver_line(received_at: str, payload: Any) -> bytes:
    """The line the receiver appends for one callback: {"received_at": ..., "payload": ...}.

    The payload is written in its canonical form (the same JSON value as received; only the key
    order and spacing are normalised), so that reading it back can hash these very bytes instead
    of re-encoding the payload: that is a third of the cost of reading a line.
    """
    return b"".join((_LINE_START, received_at.encode("ascii"), _PAYLOAD_KEY, canonical_json(payload), b"}\n"))


def _written_canonical(raw: bytes | str) -> bytes | None:
    """The payload bytes of a line exactly as `receiver_line` writes it, else None."""
    if not isinstance(raw, bytes) or not raw.startswith(_LINE_START):
        return None
    start = raw.find(_PAYLOAD_KEY, len(_LINE_START), 80) + len(_PAYLOAD_KEY)
    if start < len(_PAYLOAD_KEY) or not raw.endswith(b"}\n") or raw[start : start + 1] != b"{":
        return None
    return raw[start:-2]  # between '"payload":' and the line's closing "}\n"


def _received_at(value: object) -> datetime | None:
    # The receiver writes ISO 8601 with a Z, which the C parser reads in a fraction of the time.
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return parse_updated_on(value)
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
    return parse_updated_on(value)


# -- entries: what enrichment merges, read fast -----------------------------------------------


class Entry(msgspec.Struct, frozen=True, gc=False):
    """A callback as enrichment merges it: a `Callback` without what merging does not use, with
    times as `timeparse.to_micros` integers. Enrichment reads a million a run: an Entry (made in C,
    and holding nothing that could make a reference cycle, so left out of the cyclic GC) costs a
    fraction of a Callback, or a NamedTuple, to make."""

    path: str
    line: int
    arrival: int
    digest: bytes  # the sha256 of Callback.content_hash, as bytes
    reference_id: str | None
    external_id: str | None
    code: int
    description: str | None
    last_channel: str | None
    updated_on: int | None  # microseconds (timeparse.to_micros); None when absent or unreadable
    updated_on_raw: str | None
    # (channel, code, description, updated_on microseconds or None), in Telesign's order; a
    # channel listed without a status code is left out (it says nothing to merge)
    channels: tuple[tuple[str, int, str | None, int | None], ...]
    price: str | None = None  # additional_info's price, currency and SMS parts (Callback's)
    currency: str | None = None
    parts: int | None = None


EntryRecord = Entry | Malformed


def read_entries(paths: Iterable[Path], first_arrival: int = 0) -> Iterator[EntryRecord]:
    """`read_callbacks`, as Entries: the same lines read the same way, and the same Malformed ones."""
    arrival = first_arrival
    for path in paths:
        arrival = yield from _read(path, arrival, parse_entry)


def parse_entry(raw: bytes | str, path: str, line: int, arrival: int) -> EntryRecord:
    """`parse_line`, as an Entry. A line the receiver wrote in the usual shape is decoded by a typed
    decoder (msgspec) straight into what an Entry needs; anything else (another shape, another
    type, a plain payload line, something odd) goes through `parse_line`, which decides."""
    payload = _receiver_payload(raw) if isinstance(raw, bytes) else None
    if payload is not None:
        try:
            decoded: _FastPayload | None = _FAST.decode(payload)
        except (msgspec.MsgspecError, ValueError):
            decoded = None
        if decoded is not None:
            entry = _fast_entry(decoded, payload, path, line, arrival)
            if entry is not None:
                return entry
    record = parse_line(raw, path, line, arrival)
    return record if isinstance(record, Malformed) else entry_of(record)


def entry_of(callback: Callback) -> Entry:
    """A Callback as an Entry."""
    return Entry(
        callback.path, callback.line, callback.arrival, bytes.fromhex(callback.content_hash),
        _storable(callback.reference_id), _storable(callback.external_id), callback.code,
        _storable(callback.description), _storable(callback.last_channel),
        None if callback.updated_on is None else to_micros(callback.updated_on), _storable(callback.updated_on_raw),
        tuple(
            (
                _storable(c.channel) or "", c.code, _storable(c.description),
                None if c.updated_on is None else to_micros(c.updated_on),
            )
            for c in callback.channels if c.code is not None
        ),
        callback.price, callback.currency, callback.parts,
    )  # fmt: skip


# The common shape, as msgspec types: decoding checks every type on the way (a code that is not an
# integer, a description that is not a string... fails, and parse_line then reads the line with
# the general rules). Unknown fields are ignored, as parse_line ignores them.
class _FastStatus(msgspec.Struct):
    code: int
    description: str | None = None
    last_channel: str | None = None
    updated_on: str | None = None


class _FastChannel(msgspec.Struct):
    code: int | None = None
    description: str | None = None
    updated_on: str | None = None


class _FastInfo(msgspec.Struct):
    price: str | None = None
    currency: str | None = None
    message_parts_count: int | None = None


class _FastPayload(msgspec.Struct):
    status: _FastStatus
    reference_id: str | None = None
    external_id: str | None = None
    channel_status: list[dict[str, _FastChannel]] | None = None
    additional_info: _FastInfo | None = None
    price: str | None = None  # (where GET status examples put them)
    currency: str | None = None


_FAST = msgspec.json.Decoder(_FastPayload)


def _fast_entry(payload: _FastPayload, canonical: bytes, path: str, line: int, arrival: int) -> Entry | None:
    """The Entry for a decoded common-shape payload, by the same rules as payload_to_callback
    (the same helpers); None for anything those rules would refuse, so parse_line says why."""
    # (msgspec has checked the types: what _code, _channel_name check of types is done)
    reference_id = _identifier(payload.reference_id)
    external_id = _identifier(payload.external_id)
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
                    when = micros if channel.updated_on == raw_time else updated_on_micros(channel.updated_on)
                    channels.append((name.lower(), channel_code, channel.description, when))
    last_channel = status.last_channel
    info = payload.additional_info
    if info is None:
        cost: tuple[str | None, str | None, int | None] = (None, None, None)
        if payload.price is not None:
            cost = _cost(None, None, None, payload.price, payload.currency)
    else:
        cost = _cost(info.price, info.currency, info.message_parts_count, payload.price, payload.currency)
    return Entry(
        path, line, arrival, _sha256(canonical).digest(), reference_id, external_id, code, status.description,
        last_channel.lower() if last_channel else None, micros, raw_time, tuple(channels), *cost,
    )  # fmt: skip


_sha256 = hashlib.sha256


def _receiver_payload(raw: bytes) -> bytes | None:
    """The payload of a line exactly as `receiver_line` writes it (a plain time, then the payload's
    canonical JSON), else None. Its bytes are the canonical JSON that content_hash hashes."""
    match = _RECEIVER_LINE.fullmatch(raw)
    return None if match is None else match.group(1)


# {"received_at":"<a time: no quote, no escape>","payload":{...}}\n, as receiver_line writes it
_RECEIVER_LINE = re.compile(rb'\{"received_at":"[^"\\]{0,64}","payload":(\{.*\})\}\n', re.DOTALL)


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


def _open(path: Path) -> io.BufferedIOBase:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")
    return open(path, "rb")


def _lines(stream: io.BufferedIOBase) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) for each line; bytes is None for a line over MAX_LINE_BYTES, which is
    skipped to its end in chunks rather than read whole."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while True:
                rest = stream.readline(_READ_CHUNK)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        yield number, raw


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
    if isinstance(value, str) and value.strip().isdigit():
        return _code(int(value))
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _channel_name(value: object) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


def _clip(value: object, limit: int = 60) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


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
            get = status.get
            raw_time = get("updated_on")
            code = get("code")
            description = get("description")
            if type(raw_time) is not str:
                raw_time = None
            statuses.append(
                ChannelStatus(
                    name.lower(),
                    _code(code),
                    description if type(description) is str else None,
                    _identifier(get("reference_id")),
                    parse_updated_on(raw_time),
                    raw_time,
                )
            )
    return tuple(statuses)
