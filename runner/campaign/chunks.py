"""An audience CSV cut into slices of whole records, for checking on every core (docs/commands.md,
"campaign check").

A slice boundary must fall between two records, never inside a quoted field that holds a newline,
and the only reader that knows where records end is the csv module itself: the file is read here
once, line by line, through `csv.reader` (C speed), counting the bytes of the lines each record
took. A slice is (byte offset, byte length, first line): each worker reads and parses its own
bytes, and its line numbers are the file's. Anything unusual (an open quote, bytes that are not
UTF-8) gives no slices: the one-process path reads the file and reports it at its line.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.campaign.cache import Cache, file_digest, key

SLICE_BYTES = 1 << 19  # about 10,000 rows of a typical audience: a worker holds one slice's rows at a time


@dataclass(frozen=True)
class Slice:
    index: int
    offset: int
    length: int
    first_line: int  # the 1-based line of the slice's first byte


@dataclass(frozen=True)
class Layout:
    header: list[str]  # as read_csv gives it (names stripped)
    header_line: int
    header_bytes: bytes
    slices: list[Slice]
    size: int  # the file's bytes
    digest: str  # SHA-256 of the bytes laid out


class _Lines:
    """Binary lines decoded for csv.reader, remembering how many bytes were handed out."""

    def __init__(self, handle: object) -> None:
        self.handle = handle
        self.consumed = 0
        self.first = True
        self.digest = hashlib.sha256()  # of exactly the bytes laid out

    def __iter__(self) -> Iterator[str]:
        for raw in self.handle:  # type: ignore[attr-defined]
            self.consumed += len(raw)
            self.digest.update(raw)
            text = raw.decode("utf-8-sig" if self.first else "utf-8")
            self.first = False
            yield text


def layout(path: Path, slice_bytes: int = SLICE_BYTES) -> Layout | None:
    """The header and the slices of the rows after it; None where the file is not plain enough
    to cut (the one-process path then reads it and says what is wrong)."""
    try:
        with path.open("rb") as handle:
            lines = _Lines(handle)
            reader = csv.reader(lines, strict=True)
            header: list[str] | None = None
            header_line = 0
            start = 0
            slices: list[Slice] = []
            slice_start = slice_line = 0
            while True:
                before = reader.line_num
                try:
                    values = next(reader)
                except StopIteration:
                    break
                if header is None:
                    if not values or (len(values) == 1 and not values[0].strip()):
                        continue
                    header = [name.strip() for name in values]
                    header_line = before + 1
                    start = lines.consumed
                    slice_start, slice_line = start, reader.line_num + 1
                    continue
                if lines.consumed - slice_start >= slice_bytes:
                    slices.append(Slice(len(slices), slice_start, lines.consumed - slice_start, slice_line))
                    slice_start, slice_line = lines.consumed, reader.line_num + 1
            if header is None:
                return None
            if lines.consumed > slice_start:
                slices.append(Slice(len(slices), slice_start, lines.consumed - slice_start, slice_line))
            handle.seek(0)
            header_bytes = handle.read(start)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return Layout(header, header_line, header_bytes, slices, lines.consumed, lines.digest.hexdigest())


def remembered_layout(path: Path, cache: Cache, slice_bytes: int = SLICE_BYTES) -> Layout | None:
    """`layout`, remembered by the file's content: cutting a million rows costs seconds (csv.reader
    over every line), its SHA-256 a tenth of one."""
    try:
        digest = file_digest(path)
    except OSError:
        return None
    name = key("layout", digest, slice_bytes)
    known = cache.get("layout", name)
    if isinstance(known, tuple) and len(known) == 5:
        header, header_line, header_bytes, slices, size = known
        return Layout(list(header), header_line, header_bytes, [Slice(*s) for s in slices], size, digest)
    shape = layout(path, slice_bytes)
    if shape is not None:  # remembered by the bytes it was made from (the file may have changed since)
        slices = [(s.index, s.offset, s.length, s.first_line) for s in shape.slices]
        name = key("layout", shape.digest, slice_bytes)
        cache.put("layout", name, (shape.header, shape.header_line, shape.header_bytes, slices, shape.size))
    return shape


def read_slice(path: Path, piece: Slice) -> bytes:
    with path.open("rb") as handle:
        handle.seek(piece.offset)
        return handle.read(piece.length)
