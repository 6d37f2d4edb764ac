"""Big logs are read by a child process beside the merge (runner.callbacks.beside): the records
that reach the merge, their order, their arrival numbers, the replies among them and the errors of
an unreadable log are the very ones runner.callbacks.log.Batches gives in this process."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from runner.callbacks import beside
from runner.callbacks.beside import Beside, read_batches
from runner.callbacks.log import Batches
from runner.errors import InvalidInput
from tests.callbacks.test_log_blocks import lines


def logs(tmp_path: Path) -> list[Path]:
    content = b"".join(lines())
    plain, zipped = tmp_path / "callbacks.log", tmp_path / "callbacks.log.1.gz"
    plain.write_bytes(content)
    zipped.write_bytes(gzip.compress(content))
    return [zipped, plain]


def test_the_child_hands_on_the_records_batches_reads_here(tmp_path: Path) -> None:
    paths = logs(tmp_path)
    here, there = Batches(paths, 5, True), Beside(paths, 5, True)
    assert list(there) == list(here)
    assert there.arrival == here.arrival > 5


def test_big_logs_are_read_beside_and_small_ones_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = logs(tmp_path)
    assert isinstance(read_batches(paths, 0, False), Batches)
    monkeypatch.setattr(beside, "BESIDE_FROM_BYTES", 0)
    assert isinstance(read_batches(paths, 0, False), Beside if hasattr(os, "fork") else Batches)


def test_a_log_that_cannot_be_opened_fails_as_it_does_here(tmp_path: Path) -> None:
    paths = [*logs(tmp_path), tmp_path / "nowhere.log"]
    with pytest.raises(InvalidInput) as here:
        list(Batches(paths, 0, False))
    read = []
    with pytest.raises(InvalidInput) as there:
        for batch in Beside(paths, 0, False):
            read.append(batch)
    assert there.value.lines() == here.value.lines()
    assert sum(read, []) == sum(Batches(paths[:2], 0, False), [])  # (what came before is merged as ever)


def test_a_merge_that_stops_early_leaves_no_reading_behind(tmp_path: Path) -> None:
    batches = Beside(logs(tmp_path), 0, False)
    reading = iter(batches)
    next(reading)
    reading.close()  # type: ignore[attr-defined]  # (a generator: the child is ended and waited for)
    assert batches.child is not None
    with pytest.raises(ChildProcessError):  # (waited for already)
        os.waitpid(batches.child, os.WNOHANG)
