"""Run `campaign ...` and signal it from inside at exact points, as a hand on Ctrl-C would.

    python -m tests.sending.signal_driver PLAN campaign-args...

PLAN is comma-separated POINT:SIGNAL steps, each done once, in order: POINT is `sync` (the
audience's sync has begun), `answer` (the 3rd answer arrived), `report` (the report is about to be
written) or `loop_end` (the send loop has handed its signals back); SIGNAL is INT (Ctrl-C) or
TERM. The signal is sent to this very process, so it lands at that point and nowhere else."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from runner.ledger.interface import Ledger
from runner.ledger.postgres.audience import PostgresAudience
from runner.ledger.sqlite.audience import SqliteAudience
from runner.report import csv as report
from runner.sending import sender
from runner.sending.signals import restore_after_loop
from runner.telesign.client import Answer, OmnichannelClient

SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM}


def install(plan: str) -> None:
    steps = [(point, SIGNALS[name]) for point, name in (step.split(":") for step in plan.split(","))]
    answers = 0

    def at(point: str) -> None:
        while steps and steps[0][0] == point:
            _, signum = steps.pop(0)
            os.kill(os.getpid(), signum)

    def signalling(sync: Any) -> Any:
        def sync_and_signal(self: Any, run_id: int, items: Any, *more: Any, **named: Any) -> int:
            # (as the sync begins: a shared ledger whose audience another run synced from the
            # same inputs reads no row of its own)
            at("sync")
            audience: int = sync(self, run_id, items, *more, **named)
            return audience

        return sync_and_signal

    send = OmnichannelClient.send

    async def send_and_signal(
        self: OmnichannelClient, body: bytes, lane: int = 0, on_write: Callable[[], None] | None = None
    ) -> Answer:
        nonlocal answers
        answer = await send(self, body, lane, on_write)
        answers += 1
        if answers == 3:
            at("answer")
        return answer

    write = report.write

    def write_and_signal(ledger: Ledger, path: Any, *more: Any) -> Any:
        at("report")
        return write(ledger, path, *more)

    def restore_and_signal(signums: Any, previous: Any) -> None:
        restore_after_loop(signums, previous)
        at("loop_end")

    SqliteAudience.sync = signalling(SqliteAudience.sync)  # type: ignore[method-assign]
    PostgresAudience.sync = signalling(PostgresAudience.sync)  # type: ignore[method-assign]
    OmnichannelClient.send = send_and_signal  # type: ignore[method-assign]
    setattr(report, "write", write_and_signal)  # noqa: B010 (a module's function, replaced)
    setattr(sender, "restore_after_loop", restore_and_signal)  # noqa: B010


if __name__ == "__main__":
    install(sys.argv[1])
    from runner.main import cli

    cli(sys.argv[2:], prog_name="campaign")
