"""Run `campaign send ...` and die by SIGKILL at one exact point of the N-th message.

    python -m tests.sending.crash_driver POINT N campaign-args...

POINT: before_claim (the claim's transaction is about to commit), after_claim (it committed,
the request has not left), after_outcome (the N-th transaction recording outcomes committed),
after_write (the request was just handed to the socket, nothing of the answer read),
during_request (the request is on the wire), after_response (the answer arrived, its outcome is
not committed); during_sync (the ledger's sync has read N rows
kept by the check pass, runner.sending.audience_pass), after_sync (the sync committed, nothing is
claimed yet; N is ignored). SIGKILL: no handler, no cleanup, as kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

from runner.ledger.postgres.audience import PostgresAudience
from runner.ledger.postgres.claims import PostgresClaims
from runner.ledger.records import Batch, Claimed, Planned, SkippedRow
from runner.ledger.sqlite.audience import SqliteAudience
from runner.ledger.sqlite.claims import SqliteClaims
from runner.policy.gate import Gate
from runner.sending.audience_pass import CheckedAudience
from runner.telesign.client import Answer, OmnichannelClient


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install(point: str, nth: int) -> None:
    seen = 0

    def reached() -> bool:
        nonlocal seen
        seen += 1
        return seen == nth

    def dying(commit: Callable[[Any, Batch], Claimed]) -> Callable[[Any, Batch], Claimed]:
        def commit_and_maybe_die(self: Any, batch: Batch) -> Claimed:
            claims = batch.take or batch.retries
            if point == "before_claim" and claims and reached():
                die()
            claimed: Claimed = commit(self, batch)
            if point == "after_claim" and claims and reached():
                die()
            if point == "after_outcome" and batch.outcomes and reached():
                die()
            return claimed

        return commit_and_maybe_die

    send = OmnichannelClient.send

    async def send_and_maybe_die(
        self: OmnichannelClient, body: bytes, lane: int = 0, on_write: Callable[[], None] | None = None
    ) -> Answer:
        if point == "during_request" and reached():
            asyncio.get_running_loop().call_later(0.05, die)  # the simulator holds it for latency_ms
        if point == "after_write" and reached():
            # on_write runs right before the request is written, with no await in between: the
            # next turn of the loop comes right after the write
            written = on_write

            def write_then_die() -> None:
                if written is not None:
                    written()
                asyncio.get_running_loop().call_soon(die)

            on_write = write_then_die
        answer = await send(self, body, lane, on_write)
        if point == "after_response" and reached():
            die()
        return answer

    rows = CheckedAudience.rows

    def rows_and_maybe_die(self: CheckedAudience, gate: Gate | None = None) -> Iterator[Planned | SkippedRow]:
        for row in rows(self, gate):
            if point == "during_sync" and reached():
                die()
            yield row

    def synced_then_die(sync: Callable[..., int]) -> Callable[..., int]:
        def sync_and_maybe_die(self: Any, *args: Any, **kwargs: Any) -> int:
            run: int = sync(self, *args, **kwargs)
            if point == "after_sync":
                die()
            return run

        return sync_and_maybe_die

    CheckedAudience.rows = rows_and_maybe_die  # type: ignore[method-assign]
    SqliteAudience.sync = synced_then_die(SqliteAudience.sync)  # type: ignore[method-assign]
    PostgresAudience.sync = synced_then_die(PostgresAudience.sync)  # type: ignore[method-assign]
    SqliteClaims.commit = dying(SqliteClaims.commit)  # type: ignore[method-assign,assignment]
    PostgresClaims.commit = dying(PostgresClaims.commit)  # type: ignore[method-assign,assignment]
    OmnichannelClient.send = send_and_maybe_die  # type: ignore[method-assign]


if __name__ == "__main__":
    install(sys.argv[1], int(sys.argv[2]))
    from runner.main import cli

    cli(sys.argv[3:], prog_name="campaign")
