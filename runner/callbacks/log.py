"""Read callback logs as a stream of `Callback` records (and `Malformed` ones for bad lines).

A log is one JSON object a line, in either of two shapes, optionally gzip-compressed (detected by
the gzip magic bytes, so a rotated `callbacks.log.1` that was compressed reads too):

- the receiver's lines: {"received_at": "2026-11-28T09:00:01.123456Z", "payload": {...}}
- plain payloads, one a line, as Telesign posts them (e.g. exported from elsewhere):
  {"reference_id": "...", "external_id": "...", "status": {...}, "channel_status": [...]}

There is one reader, `Batches` (its records a list per block of lines; `read_callbacks` gives them
one by one), and one way to read a line, `parse_line`: a line exactly as the receiver writes it goes
straight to the typed decoder (runner.callbacks.payload.from_canonical), with the payload's bytes
hashed as they are; any other line, or a payload that decoder does not take, is read by
`parse_line_carefully` (the json module, then the general rules), which decides.

A plain file is read BLOCK bytes at a time, a gzip one line by line, so memory stays bounded
whatever their size; a line longer than `MAX_LINE_BYTES` is skipped (as malformed) without being
held whole. A line that cannot be used is
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
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from runner.callbacks.payload import Callback, Malformed, canonical_json, from_canonical, payload_to_callback
from runner.errors import InvalidInput
from runner.policy.replies import Reply, reply_in_line

MAX_LINE_BYTES = 1024 * 1024  # the receiver refuses bodies over 64 KB; this leaves ample room
_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_READ_CHUNK = 64 * 1024
_INBOUND = b"mo_"  # in every line that may be a reply (sub_resource mo_sms, mo_viber): others are not parsed for one
_LINE_LIMIT = MAX_LINE_BYTES + 1  # read at most this much of a line: one byte more says it is too long
BLOCK = 64 * 1024  # bytes of a plain log read at a time: a batch's records stay in the CPU's caches
_GZIP_BATCH = 4096  # lines of a gzip log handed on at a time

LogRecord = Callback | Malformed


def read_callbacks(paths: Iterable[Path], first_arrival: int = 0) -> Iterator[LogRecord]:
    """Every record of every log, in the order given (pass rotated logs oldest first), numbering
    callbacks' `arrival` consecutively from `first_arrival` across all of them."""
    for batch in Batches(paths, first_arrival, False):
        yield from batch  # type: ignore[misc]  # (no Reply: replies=False)


def read_callbacks_and_replies(paths: Iterable[Path], first_arrival: int = 0) -> Iterator[LogRecord | Reply]:
    """`read_callbacks`, and besides, for a line that carries an inbound reply (runner.policy.replies),
    its `Reply`, just before that line's own record: one read of each log serves both the delivery
    statuses and the opt-outs (`campaign enrich`)."""
    for batch in Batches(paths, first_arrival, True):
        yield from batch


def read_log(path: Path, first_arrival: int = 0) -> Iterator[LogRecord]:
    """The records of one log (plain or gzip), streamed."""
    return read_callbacks([path], first_arrival)


class Batches:
    """The records of the logs (and with `replies`, their replies) in order, a list at a time: one
    list per block of lines read. `campaign enrich` iterates these lists, saving a generator step a
    record (a million a run); `arrival` is the next arrival number once they are all read."""

    def __init__(self, paths: Iterable[Path], first_arrival: int, replies: bool) -> None:
        self.paths, self.arrival, self.replies = list(paths), first_arrival, replies

    def __iter__(self) -> Iterator[list[LogRecord | Reply]]:
        for path in self.paths:
            self.arrival = yield from _read(path, self.arrival, self.replies)


class _Overlong(NamedTuple):
    head: bytes  # the first _LINE_LIMIT bytes of a line longer than MAX_LINE_BYTES (the rest is skipped)


_Lines = list[bytes] | _Overlong


def _read(path: Path, first_arrival: int, replies: bool) -> Generator[list[LogRecord | Reply], None, int]:
    """The records of one log, a list per block of lines; returns the next arrival number. (The hot
    loop of `enrich`, a million lines a run: parse_line's fast way is written out here.)"""
    name = str(path)
    try:
        stream = _open(path)
    except OSError as error:
        raise InvalidInput.at(name, None, f"cannot read this callback log: {error.strerror or error}") from None
    arrival = first_arrival
    number = 0
    receiver = _RECEIVER_LINE.fullmatch
    with stream:
        try:
            for lines in _lines_of(stream):
                batch: list[LogRecord | Reply] = []
                append = batch.append
                if type(lines) is _Overlong:  # (rare: a line too long to read)
                    number += 1
                    _overlong(lines.head, name, number, replies, append)
                    yield batch
                    continue
                for raw in lines:  # (each without its newline)
                    number += 1
                    if replies and _INBOUND in raw:
                        reply = reply_in_line(raw)
                        if reply is not None:
                            append(reply)
                    match = receiver(raw)
                    record: LogRecord | None = (
                        None if match is None else from_canonical(match[1], name, number, arrival)
                    )
                    if record is None:
                        if number == 1 and raw.startswith(_UTF8_BOM):  # a log saved by a Windows editor
                            raw = raw[len(_UTF8_BOM) :]
                        if raw[:1] != b"{" and not raw.strip():  # (a line that starts with "{" is not blank)
                            continue
                        record = parse_line(raw, name, number, arrival)
                    if type(record) is Callback:
                        arrival += 1
                    append(record)
                yield batch
        except EOFError:
            # A .gz that ends before its end marker: copied or rotated while still being written.
            # Its last line, cut short, is not "not JSON": the file is truncated.
            yield [
                Malformed(
                    name,
                    number + 1,
                    "the .gz file is truncated here (copied while still being written?): "
                    "this line and anything after it are missing; read the complete file",
                )
            ]
        except (OSError, zlib.error) as error:
            # A corrupt .gz: keep what was read, and say where the file stopped making sense.
            yield [Malformed(name, number + 1, f"the file cannot be read past this point ({error})")]
    return arrival


def _overlong(head: bytes, name: str, number: int, replies: bool, add: Callable[[LogRecord | Reply], None]) -> None:
    """A line too long to read: its reply (in its head), if any, then why it is skipped."""
    if replies and _INBOUND in head:
        reply = reply_in_line(head)
        if reply is not None:
            add(reply)
    add(Malformed(name, number, f"line longer than {MAX_LINE_BYTES} bytes: skipped"))


def _lines_of(stream: io.BufferedIOBase) -> Iterator[_Lines]:
    """The lines of a log, without their newlines, a list per block read. A line longer than
    MAX_LINE_BYTES comes as an _Overlong (its head; never held whole); a last line without newline
    is a line like any other. A plain file is read a block at a time and split; a gzip one line by line,
    as it decompresses (a corrupt or truncated .gz then stops at the same line whatever the block
    size: every line decompressed before the fault is read)."""
    if not isinstance(stream, gzip.GzipFile):
        yield from _plain_lines(stream)
        return
    readline = stream.readline
    lines: list[bytes] = []
    try:
        while raw := readline(_LINE_LIMIT):
            if raw[-1] == 10:  # (an int compared, no bytes made)
                lines.append(raw[:-1])
                if len(lines) == _GZIP_BATCH:
                    yield lines
                    lines = []
                continue
            if lines:
                yield lines
                lines = []
            if len(raw) == _LINE_LIMIT:  # longer than MAX_LINE_BYTES: skipped, never held whole
                _skip_line(stream)
                yield _Overlong(raw)
            else:
                yield [raw]
    except (EOFError, OSError, zlib.error):
        if lines:  # the lines read before the fault are read as ever
            yield lines
        raise
    if lines:
        yield lines


def _plain_lines(stream: io.BufferedIOBase) -> Iterator[_Lines]:
    tail = b""  # the start of a line whose newline is in a later block
    skipping = False  # in the rest of a line too long to read
    read = stream.read1
    while block := read(BLOCK):
        if skipping:
            end = block.find(b"\n")
            if end < 0:
                continue
            skipping, block = False, block[end + 1 :]
        lines = block.split(b"\n")
        if tail:
            lines[0] = tail + lines[0]
        tail = lines.pop()
        if lines and len(lines[0]) > MAX_LINE_BYTES:  # (only the first can be: BLOCK <= MAX_LINE_BYTES)
            yield _Overlong(lines[0][:_LINE_LIMIT])
            del lines[0]
        if lines:
            yield lines
        if len(tail) > MAX_LINE_BYTES:
            yield _Overlong(tail[:_LINE_LIMIT])
            tail, skipping = b"", True
    if tail and not skipping:
        yield [tail]


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
# (its newline optional: _read has the lines without theirs, a last line may have none)
_RECEIVER_LINE = re.compile(rb'\{"received_at":"[^"\\]{0,64}","payload":(\{.*\})\}\n?', re.DOTALL)


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
