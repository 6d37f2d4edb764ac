"""The repository's recipient store (opt-outs, replies, contact history) is shared by every
campaign sent from one outputs folder: several senders, or a sender and the callback receiver,
may open it at the same moment (docs/policy.md). Opening it at once never fails and never shows a
traceback: SQLite answers "database is locked" at once, without waiting, when two connections
switch a new file to WAL together, so the store waits and tries again itself."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from runner.ledger.backend import shared_ledger_url
from runner.policy.store import open_store

OPENERS = 8
ROUNDS = 6


def _open(folder: str, start: multiprocessing.synchronize.Barrier) -> None:
    start.wait()  # every process opens the store at the same moment
    store = open_store(Path(folder), shared_ledger_url())
    store.close()


def test_many_processes_open_a_new_store_at_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_number in range(ROUNDS):
        folder = tmp_path / f"outputs-{round_number}"
        start = context.Barrier(OPENERS)
        openers = [context.Process(target=_open, args=(str(folder), start)) for _ in range(OPENERS)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(60)
        assert [opener.exitcode for opener in openers] == [0] * OPENERS, f"round {round_number}"
