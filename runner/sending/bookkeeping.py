"""The ledger from the event loop: every ledger call runs on one dedicated thread (SQLite and
its fsync never block the loop), and the claims and outcomes of concurrent requests share one
transaction (group commit), so a claim costs a fraction of an fsync, not one each."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from runner.ledger.interface import Claims
from runner.ledger.records import Outcome, SetAside
from runner.ledger.states import State

T = TypeVar("T")


class Bookkeeper:
    def __init__(self, claims: Claims):
        self.claims = claims
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._claims: list[tuple[str, Sequence[State], State, asyncio.Future[bool]]] = []
        self._outcomes: list[Outcome] = []
        self._releases: list[tuple[str, State]] = []
        self._held: list[SetAside] = []
        # Called on the ledger thread after each commit (the contact history: runner.policy.gate).
        self.after_commit: Callable[[], None] | None = None
        self._flushing: asyncio.Task[None] | None = None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def claim(self, key: str, states: Sequence[State], prior: State) -> bool:
        """Mark the message `sending`, committed, before its request may leave. False if it is no
        longer in one of `states` (settled meanwhile). Cancelled (a stop), the claim is withdrawn:
        never committed if it was still waiting, else given back to `prior` once it commits."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        entry = (key, states, prior, future)
        self._claims.append(entry)
        self._kick()
        try:
            return await future
        except asyncio.CancelledError:
            if entry in self._claims:
                self._claims.remove(entry)  # never reached the ledger
            elif future.done() and not future.cancelled() and future.result():
                self.release(key, prior)  # committed, but its claimer was stopped before it knew
            raise

    def record(self, outcome: Outcome) -> None:
        """Queue an outcome; it is committed with the next batch (call `drain` to wait for it)."""
        self._outcomes.append(outcome)
        self._kick()

    def release(self, key: str, state: State) -> None:
        """Give back a claim whose request never left: the message returns to `state`."""
        self._releases.append((key, state))
        self._kick()

    def hold(self, held: SetAside) -> None:
        """Hold back a message the policy stops: deferred or suppressed (docs/policy.md)."""
        self._held.append(held)
        self._kick()

    async def drain(self) -> None:
        while self._flushing is not None or self._claims or self._outcomes or self._releases or self._held:
            if self._flushing is None:
                self._kick()
            assert self._flushing is not None
            await asyncio.shield(self._flushing)

    def _kick(self) -> None:
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._claims or self._outcomes or self._releases or self._held:
                claims, self._claims = self._claims, []
                outcomes, self._outcomes = self._outcomes, []
                releases, self._releases = self._releases, []
                held, self._held = self._held, []
                try:
                    taken = await self.call(self._commit, [(k, s) for k, s, _, _ in claims], outcomes, releases, held)
                except BaseException as error:
                    for _, _, _, future in claims:
                        if not future.done():
                            future.set_exception(error)
                    raise
                for (key, _, prior, future), ok in zip(claims, taken, strict=False):
                    if not future.done():
                        future.set_result(ok)
                    elif ok:
                        self._releases.append((key, prior))  # its claimer stopped while it committed
        finally:
            self._flushing = None

    def _commit(
        self,
        claims: list[tuple[str, Sequence[State]]],
        outcomes: list[Outcome],
        releases: list[tuple[str, State]],
        held: list[SetAside],
    ) -> list[bool]:
        taken = self.claims.commit(claims, outcomes, releases, held)
        if self.after_commit is not None:
            self.after_commit()
        return taken

    def close(self) -> None:
        self._thread.shutdown(wait=True)
