"""Run `campaign send ...` and die by SIGKILL at one exact point of the N-th message.

    python -m tests.sending.crash_driver POINT N campaign-args...

POINT: before_claim (the claim's transaction is about to commit), after_claim (it committed,
the request has not left), during_request (the request is on the wire), after_response (the
answer arrived, its outcome is not committed). SIGKILL: no handler, no cleanup, as kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from runner.ledger.postgres.claims import PostgresClaims
from runner.ledger.records import Batch, Claimed
from runner.ledger.sqlite.claims import SqliteClaims
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
            return claimed

        return commit_and_maybe_die

    send = OmnichannelClient.send

    async def send_and_maybe_die(
        self: OmnichannelClient, body: bytes, lane: int = 0, on_write: Callable[[], None] | None = None
    ) -> Answer:
        if point == "during_request" and reached():
            asyncio.get_running_loop().call_later(0.05, die)  # the simulator holds it for latency_ms
        answer = await send(self, body, lane, on_write)
        if point == "after_response" and reached():
            die()
        return answer

    SqliteClaims.commit = dying(SqliteClaims.commit)  # type: ignore[method-assign,assignment]
    PostgresClaims.commit = dying(PostgresClaims.commit)  # type: ignore[method-assign,assignment]
    OmnichannelClient.send = send_and_maybe_die  # type: ignore[method-assign]


if __name__ == "__main__":
    install(sys.argv[1], int(sys.argv[2]))
    from runner.main import cli

    cli(sys.argv[3:], prog_name="campaign")
