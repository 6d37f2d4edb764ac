"""Reading callback logs (runner.callbacks.log): both line shapes, .gz, and bad lines located."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.callbacks.log import MAX_LINE_BYTES, read_callbacks, read_log, receiver_line
from runner.callbacks.payload import Callback, Malformed, content_hash
from runner.callbacks.timeparse import to_micros
from runner.errors import InvalidInput
from tests.fixtures.receiver import signed_payload

UTC = UTC


def write_lines(path: Path, lines: list[bytes], compress: bool = False) -> Path:
    opener = gzip.open if compress else open
    with opener(path, "wb") as out:
        for line in lines:
            out.write(line)
    return path


def receiver_lines(count: int) -> list[bytes]:
    return [receiver_line(f"2026-11-28T09:00:0{n % 10}.000000Z", signed_payload(n)) for n in range(count)]


def plain_lines(count: int) -> list[bytes]:
    return [json.dumps(signed_payload(n), indent=None).encode() + b"\n" for n in range(count)]


def test_a_receiver_line_reads_back_as_the_callback_it_logged(tmp_path: Path) -> None:
    log = write_lines(tmp_path / "callbacks.log", receiver_lines(1))
    [record] = list(read_log(log))
    assert isinstance(record, Callback)
    assert (record.path, record.line, record.arrival) == (str(log), 1, 0)
    assert (record.reference_id, record.external_id) == (f"{0:032X}", "test-campaign:c-0")
    assert (record.code, record.description, record.last_channel) == (3000, "Delivered", "sms")
    assert record.updated_on == to_micros(datetime(2020, 5, 4, 22, 7, 1, 226000, tzinfo=UTC))
    assert record.updated_on_raw == "2020-05-04 22:07:01:226"
    viber, sms = record.channel("viber"), record.channel("sms")
    assert viber is not None and (viber.code, viber.description) == (
        3056,
        "Message failed to deliver in specified fallback time",
    )
    assert viber.updated_on == to_micros(datetime(2020, 5, 4, 22, 5, 0, 325000, tzinfo=UTC))
    assert sms is not None and sms.code == 3000
    assert [c.channel for c in record.channels] == ["viber", "sms"]


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("shape", [receiver_lines, plain_lines], ids=["receiver-lines", "payload-lines"])
def test_both_shapes_read_the_same_plain_or_gzipped(
    tmp_path: Path, compress: bool, shape: Callable[[int], list[bytes]]
) -> None:
    log = write_lines(tmp_path / ("log.gz" if compress else "log.jsonl"), shape(5), compress)
    records = list(read_log(log))
    assert all(isinstance(r, Callback) for r in records)
    assert [r.reference_id for r in records if isinstance(r, Callback)] == [f"{n:032X}" for n in range(5)]
    assert [r.line for r in records] == [1, 2, 3, 4, 5]


def test_a_rotated_log_compressed_without_the_gz_suffix_is_still_read(tmp_path: Path) -> None:
    log = write_lines(tmp_path / "callbacks.log.1", receiver_lines(3), compress=True)
    assert [r.line for r in read_log(log) if isinstance(r, Callback)] == [1, 2, 3]


def test_the_same_payload_hashes_the_same_whatever_the_shape_key_order_or_spacing(tmp_path: Path) -> None:
    payload = signed_payload(
        7,
        status={"updated_on": "2020-05-04 22:07:01:226", "code": 3000, "description": "Délivré", "last_channel": "sms"},
    )
    reordered = dict(reversed(list(payload.items())))
    log = write_lines(
        tmp_path / "mixed.log",
        [
            receiver_line("2026-11-28T09:00:00.000000Z", payload),
            receiver_line("2026-11-28T09:05:00.000000Z", reordered),  # a retry, logged again later
            json.dumps(reordered, indent=2).replace("\n", " ").encode() + b"\n",
            json.dumps(payload, ensure_ascii=False).encode() + b"\n",
        ],
    )
    hashes = {r.content_hash for r in read_log(log) if isinstance(r, Callback)}
    assert hashes == {content_hash(payload)}
    other = signed_payload(8)
    assert content_hash(other) != content_hash(payload)


def test_malformed_lines_are_records_with_file_and_line_never_errors(tmp_path: Path) -> None:
    good = receiver_lines(2)
    log = write_lines(
        tmp_path / "callbacks.log",
        [
            good[0],
            b"{not json\n",
            b"\n",  # blank lines are skipped, not reported
            b"[1, 2]\n",
            b'{"received_at": "2026-11-28T09:00:00Z", "payload": "text"}\n',
            json.dumps({"status": {"code": 3000}}).encode() + b"\n",
            json.dumps({"reference_id": "R", "status": {"code": "delivered"}}).encode() + b"\n",
            json.dumps({"reference_id": "R"}).encode() + b"\n",
            json.dumps({"reference_id": "R", "status": {"code": 3000}, "channel_status": "sms"}).encode() + b"\n",
            b"\xff\xfe\x00garbage\n",
            good[1],
            b'{"reference_id": "R", "status": {"code": 30',  # torn last line (the writer was killed)
        ],
    )
    records = list(read_log(log))
    found = [(r.line, type(r).__name__) for r in records]
    assert found == [
        (1, "Callback"),
        (2, "Malformed"),
        (4, "Malformed"),
        (5, "Malformed"),
        (6, "Malformed"),
        (7, "Malformed"),
        (8, "Malformed"),
        (9, "Malformed"),
        (10, "Malformed"),
        (11, "Callback"),
        (12, "Malformed"),
    ]
    reasons = {r.line: str(r) for r in records if isinstance(r, Malformed)}
    assert reasons[2].startswith(f"{log}:2: not JSON")
    assert reasons[4].endswith("not a JSON object")
    assert "no reference_id or external_id" in reasons[6]
    assert "status.code" in reasons[7]
    assert "no status" in reasons[8]
    assert "channel_status" in reasons[9]
    assert [r.arrival for r in records if isinstance(r, Callback)] == [0, 1]


def test_a_huge_line_is_skipped_without_stopping_the_rest(tmp_path: Path) -> None:
    huge = b'{"reference_id": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n'
    log = write_lines(tmp_path / "callbacks.log", [huge, *receiver_lines(1)])
    records = list(read_log(log))
    assert isinstance(records[0], Malformed) and records[0].line == 1 and "longer than" in records[0].reason
    assert isinstance(records[1], Callback) and records[1].line == 2


def test_a_truncated_gz_keeps_what_it_could_read_and_says_where_it_stops(tmp_path: Path) -> None:
    whole = write_lines(tmp_path / "whole.gz", receiver_lines(200), compress=True).read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    records = list(read_log(cut))
    callbacks = [r for r in records if isinstance(r, Callback)]
    assert 0 < len(callbacks) < 200
    assert isinstance(records[-1], Malformed) and records[-1].path == str(cut)


def test_external_id_null_as_telesign_writes_it_is_no_id(tmp_path: Path) -> None:
    log = write_lines(tmp_path / "l.jsonl", [json.dumps(signed_payload(1, external_id="null")).encode()])
    [record] = list(read_log(log))
    assert isinstance(record, Callback) and record.external_id is None


def test_a_callback_with_only_an_external_id_is_kept_for_joining(tmp_path: Path) -> None:
    payload = signed_payload(1)
    del payload["reference_id"]
    [record] = list(read_log(write_lines(tmp_path / "l.jsonl", [json.dumps(payload).encode()])))
    assert isinstance(record, Callback) and (record.reference_id, record.external_id) == (None, "test-campaign:c-1")


def test_channel_status_as_an_object_reads_like_the_list_form(tmp_path: Path) -> None:
    payload = signed_payload(1, channel_status={"Viber": {"code": 3000, "updated_on": "2020-05-04T22:05:00Z"}})
    [record] = list(read_log(write_lines(tmp_path / "l.jsonl", [json.dumps(payload).encode()])))
    assert isinstance(record, Callback)
    assert record.channel("viber") is not None and record.channel("viber").code == 3000  # type: ignore[union-attr]


def test_several_logs_number_arrivals_in_the_order_given(tmp_path: Path) -> None:
    older = write_lines(tmp_path / "callbacks.log.1.gz", receiver_lines(3), compress=True)
    newer = write_lines(tmp_path / "callbacks.log", [b"oops\n", *receiver_lines(2)])
    records = list(read_callbacks([older, newer], first_arrival=10))
    assert [(Path(r.path).name, r.line) for r in records] == [
        ("callbacks.log.1.gz", 1),
        ("callbacks.log.1.gz", 2),
        ("callbacks.log.1.gz", 3),
        ("callbacks.log", 1),
        ("callbacks.log", 2),
        ("callbacks.log", 3),
    ]
    assert [r.arrival for r in records if isinstance(r, Callback)] == [10, 11, 12, 13, 14]


def test_a_log_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.log"
    with pytest.raises(InvalidInput) as caught:
        list(read_log(missing))
    assert str(caught.value).startswith(f"{missing}: cannot read this callback log")
