"""A plain log is read a block at a time and split into lines (runner.callbacks.log._plain_lines),
a gzip one line by line: whatever the block size, and wherever its boundaries fall (inside a line,
between "\\r" and "\\n", inside a line too long to read), a log reads to the same records, replies
included, as the same log gzipped."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from runner.callbacks import log
from runner.callbacks.log import MAX_LINE_BYTES, read_callbacks_and_replies, receiver_line
from tests.fixtures.receiver import signed_payload

REPLY = {
    "reference_id": "R" * 32,
    "status": {"code": 3900, "description": "Inbound", "updated_on": "2026-11-28 09:00:00.000"},
    "sub_resource": "mo_sms",
    "user_response": {"phone_number": "12025550100", "mo_message": "STOP", "action": "STOP"},
}


def lines() -> list[bytes]:
    good = [receiver_line(f"2026-11-28T09:00:0{n % 10}.000000Z", signed_payload(n)) for n in range(40)]
    return [
        b"\xef\xbb\xbf" + good[0],  # a BOM on the first line
        *good[1:10],
        b"\n",
        b"   \r\n",
        good[10].rstrip(b"\n") + b"\r\n",  # a Windows line end
        b"{not json\n",
        json.dumps(signed_payload(50)).encode() + b"\n",  # a plain payload
        receiver_line("2026-11-28T09:00:00.000000Z", REPLY),
        b'{"reference_id": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n',  # too long
        *good[10:20],
        b"x" * MAX_LINE_BYTES + b"\n",  # as long as a line may be: read (and not JSON)
        b"y" * (MAX_LINE_BYTES + 1) + b"\n",  # one byte more: skipped
        *good[20:40],
        good[5],  # a repeat
        good[6].rstrip(b"\n"),  # a last line without its newline
    ]


def records(path: Path) -> list[object]:
    return list(read_callbacks_and_replies([path], 7))


@pytest.mark.parametrize("block", [5, 64, 1000, 65536, MAX_LINE_BYTES])
def test_a_plain_log_reads_as_the_same_log_gzipped_whatever_the_block_size(
    tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = b"".join(lines())
    plain, zipped = tmp_path / "callbacks.log", tmp_path / "callbacks.log.gz"
    plain.write_bytes(content)
    zipped.write_bytes(gzip.compress(content))
    expected = [type(r).__name__ + repr(r).replace(str(zipped), "LOG") for r in records(zipped)]
    monkeypatch.setattr(log, "BLOCK", block)
    assert [type(r).__name__ + repr(r).replace(str(plain), "LOG") for r in records(plain)] == expected
    kinds = [type(r).__name__ for r in records(plain)]
    assert kinds.count("Reply") == 1 and kinds.count("Callback") == 45 and kinds.count("Malformed") == 4


def test_a_plain_log_ending_inside_a_line_too_long_reports_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "callbacks.log"
    path.write_bytes(lines()[1] + b"z" * (MAX_LINE_BYTES + 5))
    monkeypatch.setattr(log, "BLOCK", 4096)
    found = [(type(r).__name__, getattr(r, "line", None)) for r in records(path)]
    assert found == [("Callback", 1), ("Malformed", 2)]
