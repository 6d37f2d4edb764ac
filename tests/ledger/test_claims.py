"""Claims, whatever the backend: messages are claimed a batch at a time in audience order, each
by one claimer only, even with two claimers on one campaign at once (two senders of a shared
ledger; two connections to one SQLite file), and a claim given back is claimable again."""

from __future__ import annotations

import threading
from pathlib import Path

from runner.ledger.backend import open_ledger, shared_ledger_url
from runner.ledger.interface import Ledger
from runner.ledger.records import Batch, Planned
from runner.ledger.states import State

PENDING = (State.PENDING,)


def synced(folder: Path, messages: int) -> tuple[Ledger, int]:
    ledger = open_ledger(folder, "claims", shared_ledger_url())
    run = ledger.runs.start("send")
    planned = [Planned(f"m{i:04d}", i, f"claims:{i}", None, f"+1202555{i:04d}", b"{}") for i in range(messages)]
    return ledger, ledger.audience.sync(run, planned, "inputs")


def test_two_claimers_at_once_never_take_one_message_twice(tmp_path: Path) -> None:
    first, audience = synced(tmp_path, 300)
    second = open_ledger(tmp_path, "claims", shared_ledger_url())
    taken: dict[str, list[str]] = {"first": [], "second": []}

    def claim(ledger: Ledger, into: list[str]) -> None:
        after = -1
        while True:
            claimed = ledger.claims.commit(Batch(audience, PENDING, after, take=7))
            if not claimed.taken:
                return
            positions = [m.position for m in claimed.taken]
            assert positions == sorted(positions) and positions[0] > after
            into.extend(m.key for m in claimed.taken)
            after = positions[-1]

    threads = [threading.Thread(target=claim, args=(ledger, taken[name])) for name, ledger in
               (("first", first), ("second", second))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    everyone = taken["first"] + taken["second"]
    assert len(everyone) == len(set(everyone)) == 300
    assert first.counts(audience)["sending"] == 300
    first.close()
    second.close()


def test_a_claim_given_back_is_claimable_again_and_retries_claim_by_key(tmp_path: Path) -> None:
    ledger, audience = synced(tmp_path, 3)
    claimed = ledger.claims.commit(Batch(audience, PENDING, take=2))
    assert [m.key for m in claimed.taken] == ["m0000", "m0001"]
    again = ledger.claims.commit(Batch(audience, PENDING, releases=[("m0000", State.PENDING)], take=5))
    assert [m.key for m in again.taken] == ["m0000", "m0002"]  # (m0001 is still held)
    retried = ledger.claims.commit(Batch(audience, PENDING, retries=[("m0001", (State.SENDING,)), ("m0002", PENDING)]))
    assert retried.retried == [True, False]
    assert ledger.counts(audience)["sending"] == 3
    ledger.close()
