"""The ledger from the event loop: every ledger call runs on one dedicated thread (the database
and its fsync never block the loop), and what concurrent requests need from the ledger shares one
transaction (group commit): the workers waiting for a message are served by one claim of that many,
together with the outcomes and give-backs queued meanwhile. A claim costs a fraction of a commit,
not one each, and a message is claimed only when a worker is free to send it, so at most
`concurrency` are ever claimed and unanswered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from runner.ledger.interface import Claims
from runner.ledger.records import Batch, Claimed, Outcome, Sendable, SetAside
from runner.ledger.states import State
from runner.policy.gate import Gate

T = TypeVar("T")


class Bookkeeper:
    def __init__(
        self, claims: Claims, run_id: int, states: Sequence[State], limit: int | None = None, gate: Gate | None = None
    ):
        self.claims = claims
        self.run_id, self.states = run_id, tuple(states)
        self.budget = limit  # new messages this run may still claim (None: no cap)
        self.after = -1  # audience position of the last message claimed: claims go on past it
        self.exhausted = False
        self.stopped = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._wanted: list[asyncio.Future[Sendable | None]] = []
        self._retries: list[tuple[str, Sequence[State], State, asyncio.Future[bool]]] = []
        self._outcomes: list[Outcome] = []
        self._releases: list[tuple[str, State]] = []
        self._held: list[SetAside] = []
        # The policy's side of each commit (runner.policy.gate): the contact history of the accepted
        # messages is written before the outcomes that record them, and the opt-outs of the phones
        # a claim takes are read with it. In the ledger's own transaction when the recipient store
        # lives in its database (a shared ledger: one round trip, not three), else beside it.
        self.gate = gate
        together = gate is not None and gate.writer is not None and claims.with_recipients(gate.writer)
        self.alongside = gate if together else None  # the gate whose side goes in the ledger's transaction
        # What time it is for deferred messages' not_before (runner.policy.gate's clock), as UTC text.
        self.due: Callable[[], str | None] = lambda: None
        self._flushing: asyncio.Task[None] | None = None
        self.error: BaseException | None = None  # what the ledger raised: every later call raises it too

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    @property
    def done(self) -> bool:
        """Nothing more will be claimed in this run: none left, stopped, or its --limit reached."""
        return self.exhausted or self.stopped or self.budget == 0

    async def next(self) -> Sendable | None:
        """A message claimed for the caller (`sending`, committed) before its request may leave;
        None when no more are to be sent in this run."""
        if self.error is not None:
            raise self.error
        if self.done:
            return None
        future: asyncio.Future[Sendable | None] = asyncio.get_running_loop().create_future()
        self._wanted.append(future)
        self._kick()
        try:
            return await future
        except asyncio.CancelledError:
            # A stop: a claim still waiting never reaches the ledger; one committed meanwhile goes
            # back as it was (a batch serving a cancelled claimer gives its message back too: _flush).
            if future in self._wanted:
                self._wanted.remove(future)
            elif future.done() and not future.cancelled() and (message := future.result()) is not None:
                self.release(message.key, message.state)
            raise

    async def claim(self, key: str, states: Sequence[State], prior: State) -> bool:
        """Claim again a message this sender holds (a retry). False if it is no longer in one of
        `states` (settled meanwhile). Cancelled (a stop), the claim is withdrawn: never committed if
        it was still waiting, else given back to `prior` once it commits."""
        if self.error is not None:
            raise self.error
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        entry = (key, states, prior, future)
        self._retries.append(entry)
        self._kick()
        try:
            return await future
        except asyncio.CancelledError:
            if entry in self._retries:
                self._retries.remove(entry)  # never reached the ledger
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

    def stop(self) -> None:
        """Claim nothing more: workers waiting for a message get None."""
        self.stopped = True
        self._kick()

    async def drain(self) -> None:
        """Until everything queued is committed; raises what the ledger raised, if it did (what
        was queued then is lost with it: those messages stay `sending`, never resent blindly)."""
        while self.error is None and (self._flushing is not None or self._busy()):
            if self._flushing is None:
                self._kick()
            assert self._flushing is not None
            await asyncio.shield(self._flushing)
        if self.error is not None:
            raise self.error

    def _busy(self) -> bool:
        return bool(self._wanted or self._retries or self._outcomes or self._releases or self._held)

    def _kick(self) -> None:
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._busy() and self.error is None:
                wanted, self._wanted = self._wanted, []
                retries, self._retries = self._retries, []
                outcomes, self._outcomes = self._outcomes, []
                releases, self._releases = self._releases, []
                held, self._held = self._held, []
                take = 0 if self.exhausted or self.stopped else len(wanted)
                if self.budget is not None:
                    take = min(take, self.budget)
                batch = Batch(
                    self.run_id,
                    self.states,
                    self.after,
                    take,
                    [(key, states) for key, states, _, _ in retries],
                    outcomes,
                    releases,
                    held,
                    self.due() if take else None,
                    # (taken with the outcomes they belong to: the same turn of the loop queued both)
                    self.alongside.contacts_to_write() if self.alongside is not None else (),
                    self.alongside is not None and take > 0,
                )
                try:
                    claimed = await self.call(self._commit, batch)
                except BaseException as error:
                    # The outcomes of this batch are lost with it: their messages stay `sending`,
                    # never resent blindly. Everyone waiting gets the error.
                    self.error = error
                    waiting: list[asyncio.Future[Any]] = [*wanted, *self._wanted]
                    waiting += [future for _, _, _, future in [*retries, *self._retries]]
                    for future in waiting:
                        if not future.done():
                            future.set_exception(error)
                    self._wanted, self._retries = [], []
                    return
                for (key, _, prior, future), ok in zip(retries, claimed.retried, strict=False):
                    if not future.done():
                        future.set_result(ok)
                    elif ok:
                        self._releases.append((key, prior))  # its claimer stopped while it committed
                taken = claimed.taken
                if taken:
                    self.after = max(self.after, taken[-1].position)
                    if self.budget is not None:
                        self.budget -= len(taken)
                elif take:
                    self.exhausted = True  # nothing left to claim past `after`
                for message in taken:
                    future = wanted.pop(0)
                    if future.done():  # (its worker was cancelled: give the message back)
                        self._releases.append((message.key, message.state))
                    else:
                        future.set_result(message)
                if self.exhausted or self.stopped or self.budget == 0:
                    for future in wanted:
                        if not future.done():
                            future.set_result(None)
                else:
                    self._wanted = wanted + self._wanted  # served by the next batch
        finally:
            self._flushing = None

    def _commit(self, batch: Batch) -> Claimed:
        # The accepted messages go to the contact history no later than the ledger records them:
        # killed between the two, a message Telesign took is counted by the frequency caps and left
        # `sending` (never resent blindly); the other way round it was `accepted` and uncounted, and
        # a phone could get more than its cap (docs/policy.md, "Frequency caps").
        gate = self.gate
        if gate is not None and self.alongside is None:
            gate.write_contacts()
        claimed = self.claims.commit(batch)
        if gate is not None:
            if batch.contacts:
                gate.contacts_written(len(batch.contacts))
            phones = [message.phone for message in claimed.taken]
            if claimed.opt_outs is not None:
                gate.opt_outs_read(phones, claimed.opt_outs)
            elif phones:
                gate.read_with_claim(phones)
        return claimed

    def close(self) -> None:
        self._thread.shutdown(wait=True)
