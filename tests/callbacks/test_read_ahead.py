"""Logs read ahead by a second process (runner.callbacks.read_ahead) give enrichment what reading
them in-process gives: the same records in the same lists, the same arrival numbers, and the same
error at the same point of the stream; a reader stopped early leaves no process behind, and one
that dies is reported, not waited for."""

from __future__ import annotations

import gzip
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from runner.callbacks import read_ahead
from runner.callbacks.log import Batches
from runner.callbacks.payload import Callback
from runner.callbacks.read_ahead import ReadAhead
from runner.errors import CannotProceed, InvalidInput
from tests.callbacks.test_log_blocks import lines


def read(reader: Batches | ReadAhead) -> tuple[list[list[object]], int]:
    return [list(batch) for batch in reader], reader.arrival


def logs(tmp_path: Path) -> list[Path]:
    """A plain log with every kind of line, the same gzipped, one cut short, one of callbacks alone."""
    content = b"".join(lines())
    made = {
        "plain.log": content,
        "rotated.log.1": gzip.compress(content),  # (gzip by its content, not its name)
        "cut.log.gz": gzip.compress(content)[:-40],
        "callbacks-only.log": b"".join(lines()[1:10]),
    }
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    return [tmp_path / name for name in made]


def test_the_same_records_in_the_same_lists_with_the_same_arrivals(tmp_path: Path) -> None:
    paths = logs(tmp_path)
    expected = read(Batches(paths, 7, True))
    assert read(ReadAhead(paths, 7, True)) == expected
    kinds = [{type(record).__name__ for record in batch} for batch in expected[0]]
    # both ways a list crosses the pipe: callbacks alone (msgpack), and with other records (pickle)
    assert {"Callback"} in kinds and any(len(k) > 1 for k in kinds)
    assert {"Reply", "Malformed"} <= set().union(*kinds)


def test_a_log_that_cannot_be_read_stops_at_the_same_point_with_the_same_error(tmp_path: Path) -> None:
    first, *_ = logs(tmp_path)
    paths = [first, tmp_path / "missing.log", first]
    results = []
    for reader in (Batches(paths, 0, False), ReadAhead(paths, 0, False)):
        got: list[list[object]] = []
        with pytest.raises(InvalidInput) as raised:
            for batch in reader:
                got.append(list(batch))
        results.append((got, raised.value.lines()))
    assert results[0] == results[1]
    assert "missing.log" in results[1][1][0] and "cannot read this callback log" in results[1][1][0]


def test_only_logs_worth_it_are_read_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = logs(tmp_path)
    assert type(read_ahead.batches(paths, 0, False)) is Batches  # a few MB: not worth a process
    monkeypatch.setattr(read_ahead, "READ_AHEAD_BYTES", 0)
    expected = ReadAhead if len(os.sched_getaffinity(0)) >= 2 else Batches
    assert type(read_ahead.batches(paths, 0, False)) is expected
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # (taskset -c 0: one core)
    assert type(read_ahead.batches(paths, 0, False)) is Batches


def big_log(tmp_path: Path) -> Path:
    """More than the pipe holds: the child is still reading when the parent has the first lists."""
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(lines()[1:10]) * 4000)
    return path


def test_a_reader_stopped_early_leaves_no_process_behind(tmp_path: Path) -> None:
    reader = ReadAhead([big_log(tmp_path)], 0, False)
    batches = iter(reader)
    assert all(type(r) is Callback for r in next(batches))
    assert len(multiprocessing.active_children()) == 1  # the child, still reading
    batches.close()  # type: ignore[attr-defined]  # (as `break` or an exception in the merge does)
    assert multiprocessing.active_children() == []


def test_a_reader_that_dies_is_reported_not_waited_for(tmp_path: Path) -> None:
    batches = iter(ReadAhead([big_log(tmp_path)], 0, False))
    next(batches)
    [child] = multiprocessing.active_children()
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)  # (as the kernel's OOM killer would)
    with pytest.raises(CannotProceed, match="ended unexpectedly"):
        for _ in batches:
            pass  # the lists already in the pipe, then the end
    assert multiprocessing.active_children() == []
