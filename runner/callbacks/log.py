"""Read callback logs as a stream of `Callback` records (and `Malformed` ones for bad lines).

A log is one JSON object a line, in either of two shapes, optionally gzip-compressed (detected by
the gzip magic bytes, so a rotated `callbacks.log.1` that was compressed reads too):

- the receiver's lines: {"received_at": "2026-11-28T09:00:01.123456Z", "payload": {...}}
- plain payloads, one a line, as Telesign posts them (e.g. exported from elsewhere):
  {"reference_id": "...", "external_id": "...", "status": {...}, "channel_status": [...]}

There is one reader, `read_callbacks`, and one way to read a line, `parse_line`: a line exactly as
the receiver writes it goes straight to the typed decoder (runner.callbacks.payload.from_canonical),
with the payload's bytes hashed as they are; any other line, or a payload that decoder does not
take, is read by `parse_line_carefully` (the json module, then the general rules), which decides.

Files are read line by line, so memory stays bounded whatever their size; a line longer than
`MAX_LINE_BYTES` is skipped (as malformed) without being held whole. A line that cannot be used is
a `Malformed(path, line, reason)` record, never an exception: one bad line among a million must
not stop an enrichment. Only a log that cannot be opened at all raises `InvalidInput`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import zlib
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

from runner.callbacks.payload import Callback, Malformed, canonical_json, from_canonical, payload_to_callback
from runner.errors import InvalidInput
from runner.policy.replies import Reply, reply_in_line

MAX_LINE_BYTES = 1024 * 1024  # the receiver refuses bodies over 64 KB; this leaves ample room
_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_READ_CHUNK = 64 * 1024
_INBOUND = b"mo_"  # in every line that may be a reply (sub_resource mo_sms, mo_viber): others are not parsed for one
_LINE_LIMIT = MAX_LINE_BYTES + 1  # read at most this much of a line: one byte more says it is too long

LogRecord = Callback | Malformed


def read_callbacks(paths: Iterable[Path], first_arrival: int = 0) -> Iterator[LogRecord]:
    """Every record of every log, in the order given (pass rotated logs oldest first), numbering
    callbacks' `arrival` consecutively from `first_arrival` across all of them."""
    arrival = first_arrival
    for path in paths:
        arrival = yield from _read(path, arrival, False)  # type: ignore[misc]  # (no Reply: replies=False)


def read_callbacks_and_replies(paths: Iterable[Path], first_arrival: int = 0) -> Iterator[LogRecord | Reply]:
    """`read_callbacks`, and besides, for a line that carries an inbound reply (runner.policy.replies),
    its `Reply`, just before that line's own record: one read of each log serves both the delivery
    statuses and the opt-outs (`campaign enrich`)."""
    arrival = first_arrival
    for path in paths:
        arrival = yield from _read(path, arrival, True)


def read_log(path: Path, first_arrival: int = 0) -> Iterator[LogRecord]:
    """The records of one log (plain or gzip), streamed line by line."""
    return _read(path, first_arrival, False)  # type: ignore[return-value]  # (no Reply without replies=True)


def _read(path: Path, first_arrival: int, replies: bool) -> Generator[LogRecord | Reply, None, int]:
    """The records of one log; returns the next arrival number. (The hot loop of `enrich`, a million
    lines a run: parse_line's fast way is written out here, each call saved counts.)"""
    name = str(path)
    try:
        stream = _open(path)
    except OSError as error:
        raise InvalidInput.at(name, None, f"cannot read this callback log: {error.strerror or error}") from None
    arrival = first_arrival
    number = 0
    unfinished: tuple[int, bytes] | None = None  # a last line without its newline, parsed once the end is clean
    readline, receiver = stream.readline, _RECEIVER_LINE.fullmatch
    with stream:
        try:
            while True:
                raw = readline(_LINE_LIMIT)
                if not raw:
                    break
                number += 1
                if replies and _INBOUND in raw:
                    reply = reply_in_line(raw)
                    if reply is not None:
                        yield reply
                if raw[-1] != 10:  # (no newline: an int compared, no bytes made, a million times)
                    if len(raw) == _LINE_LIMIT:  # longer than MAX_LINE_BYTES: skipped, never held whole
                        _skip_line(stream)
                        yield Malformed(name, number, f"line longer than {MAX_LINE_BYTES} bytes: skipped")
                        continue
                    if number == 1 and raw.startswith(_UTF8_BOM):
                        raw = raw[len(_UTF8_BOM) :]
                    if raw[:1] == b"{" or raw.strip():
                        unfinished = (number, raw)
                    continue
                match = receiver(raw)
                record: LogRecord | None = (
                    None if match is None else from_canonical(match.group(1), name, number, arrival)
                )
                if record is None:
                    if number == 1 and raw.startswith(_UTF8_BOM):  # a log saved by a Windows editor
                        raw = raw[len(_UTF8_BOM) :]
                    if raw[:1] != b"{" and not raw.strip():  # (a line that starts with "{" is not blank)
                        continue
                    record = parse_line(raw, name, number, arrival)
                if type(record) is Callback:
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
        last = parse_line(unfinished[1], name, unfinished[0], arrival)
        if not isinstance(last, Malformed):
            arrival += 1
        yield last
    return arrival


def parse_line(raw: bytes | str, path: str, line: int, arrival: int) -> LogRecord:
    """One log line into a Callback, or Malformed saying why not."""
    if type(raw) is bytes:
        canonical = receiver_payload(raw)
        if canonical is not None:
            fast = from_canonical(canonical, path, line, arrival)
            if fast is not None:
                return fast
    return parse_line_carefully(raw, path, line, arrival)


def parse_line_carefully(raw: bytes | str, path: str, line: int, arrival: int) -> LogRecord:
    """`parse_line` by the general rules alone: a receiver line or a plain payload, decoded by the
    json module, every value checked by runner.callbacks.payload.payload_to_callback."""
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
    payload = document
    digest: bytes | None = None
    if "payload" in document and "received_at" in document:
        payload = document["payload"]
        if not isinstance(payload, dict):
            return Malformed(path, line, "the receiver line's payload is not a JSON object")
        canonical = receiver_payload(raw) if isinstance(raw, bytes) and len(document) == 2 else None
        if canonical is not None:
            digest = hashlib.sha256(canonical).digest()
    return payload_to_callback(payload, path, line, arrival, digest)


_DECODER = json.JSONDecoder()
_LINE_START = b'{"received_at":"'
_PAYLOAD_KEY = b'","payload":'


def receiver_line(received_at: str, payload: Any) -> bytes:
    """The line the receiver appends for one callback: {"received_at": ..., "payload": ...}.

    The payload is written in its canonical form (the same JSON value as received; only the key
    order and spacing are normalised), so that reading it back can hash these very bytes instead
    of re-encoding the payload: that is a third of the cost of reading a line.
    """
    return b"".join((_LINE_START, received_at.encode("ascii"), _PAYLOAD_KEY, canonical_json(payload), b"}\n"))


def receiver_payload(raw: bytes) -> bytes | None:
    """The payload of a line exactly as `receiver_line` writes it (a plain time, then the payload's
    canonical JSON), else None. Its bytes are the canonical JSON that content_hash hashes."""
    match = _RECEIVER_LINE.fullmatch(raw)
    return None if match is None else match.group(1)


# {"received_at":"<a time: no quote, no escape>","payload":{...}}\n, as receiver_line writes it
_RECEIVER_LINE = re.compile(rb'\{"received_at":"[^"\\]{0,64}","payload":(\{.*\})\}\n', re.DOTALL)


def _open(path: Path) -> io.BufferedIOBase:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")
    return open(path, "rb")


def _skip_line(stream: io.BufferedIOBase) -> None:
    """Read past the rest of an overlong line, in chunks rather than whole."""
    while True:
        rest = stream.readline(_READ_CHUNK)
        if not rest or rest.endswith(b"\n"):
            return
