"""Sending one campaign's claimable messages: concurrency, pace, retries and stops.

Every message is claimed in the ledger before its request leaves; only answers that prove no
message was created are retried (see runner.telesign.client); a stop (Ctrl-C, SIGTERM, a 401) stops
claiming at once and lets requests in flight finish within a grace period."""

from __future__ import annotations

import asyncio
import functools
import random
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

from runner.errors import LedgerUnavailable
from runner.heap import frozen
from runner.ledger.interface import Claims
from runner.ledger.records import Outcome, Sendable, SetAside, now
from runner.ledger.states import State, claimable
from runner.policy.gate import Gate
from runner.policy.windows import format_utc
from runner.sending.bookkeeping import Bookkeeper
from runner.sending.pacing import Pacer
from runner.sending.progress import Progress
from runner.sending.retries import MAX_RETRY_AFTER, STATE_AFTER, backoff_step, never_connected
from runner.sending.sharing import SharedSchedule
from runner.sending.signals import restore_after_loop
from runner.sending.stops import (
    Interrupted,
    LedgerLost,
    NotTelesign,
    ScheduleEnded,
    Stop,
    Terminated,
    Throttled,
    Unauthorized,
    Unreachable,
)
from runner.telesign.client import Answer, OmnichannelClient

# seconds: a wait for a shared slot at least this long asks the opt-out store again before the
# request is written (a STOP may have come meanwhile); a shorter one relies on the claim's reading.
OPT_OUT_AGAIN = 0.25


@dataclass
class SendPlan:
    run_id: int
    rate: float | None
    concurrency: int
    max_attempts: int
    resend_unknown: bool = False
    limit: int | None = None
    grace: float = 5.0  # seconds requests in flight get to finish after a stop
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    rate_shared: bool = False  # the campaign's rate is a schedule shared by its senders (runner.sending.sharing)


@dataclass
class SendResult:
    claimed: int = 0
    stopped: Stop | None = None
    answers: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)  # held back by the policy at claim time


@dataclass
class Lane:
    """What one worker's message is doing, so that a stop knows what to give back: nothing while it
    waits for its pace turn, a backoff or a 429 pause (no claim is held then), its claim while the
    claim commits or its request waits for a connection, and only a request whose writing has
    started is left to the grace period (and `unknown` if that runs out)."""

    key: str = ""
    prior: State = State.PENDING
    claimed: bool = False
    written: bool = False

    def wrote(self) -> None:
        self.written = True

    def clear(self) -> None:
        self.key, self.prior, self.claimed, self.written = "", State.PENDING, False, False


class CampaignSender:
    """The concurrent send of one campaign's claimable messages.

    One class of some 280 lines on purpose: every step of a message's life in a run (its pace turn,
    its claim, the write, the answer, a retry, a stop) touches the same few pieces of shared state
    (the lanes in flight, the stop reason, the pacer, the bookkeeper), and the order of those steps
    is what keeps "never twice, never stranded" (docs/sending.md). Split into classes, that order
    would be spread over several objects' methods."""

    def __init__(
        self,
        claims: Claims,
        client: OmnichannelClient,
        plan: SendPlan,
        progress: Progress,
        shared: Sequence[SharedSchedule] = (),
        gate: Gate | None = None,
    ):
        self.claims = claims
        # The repository policy at claim time and again just before the request is written
        # (opt-outs, send windows, frequency caps: docs/policy.md).
        self.gate = gate
        self.client = client
        self.plan = plan
        self.progress = progress
        self.states = claimable(plan.resend_unknown)
        self.book = Bookkeeper(claims, plan.run_id, self.states, plan.limit, gate)
        if gate is not None:
            self.book.due = lambda: format_utc(gate.clock())
        # With shared schedules (a shared ledger) the campaign's rate is held across its senders
        # there, and the local pacer keeps only Telesign's 429 pause.
        self.shared = shared
        self.pacer = Pacer(None if plan.rate_shared else plan.rate)
        self.result = SendResult()
        self._stop = asyncio.Event()
        self._rng = random.Random()
        self._lanes = [Lane() for _ in range(plan.concurrency)]
        self._reached = False  # any answer (or a request written) from the endpoint in this run

    def stop(self, reason: Stop) -> None:
        if self.result.stopped is None:
            self.result.stopped = reason
            self.progress.event(
                f"stopping ({reason.label}): no new messages; "
                f"waiting up to {self.plan.grace:.0f}s for requests in flight"
            )
        self._stop.set()

    async def run(self) -> SendResult:
        # What is alive now lives through the send: otherwise the first full collection, about a
        # second in, stalls the loop and the requests it held back reach Telesign bunched, over the
        # rate within that second (bench/rate_accuracy.py, counted at the server).
        with frozen():
            return await self._run()

    async def _run(self) -> SendResult:
        loop = asyncio.get_running_loop()
        handled = []
        reasons: tuple[tuple[signal.Signals, Stop], ...] = (
            (signal.SIGINT, Interrupted()),
            (signal.SIGTERM, Terminated()),
        )
        previous = {signum: signal.getsignal(signum) for signum, _ in reasons}
        for signum, reason in reasons:
            try:
                loop.add_signal_handler(signum, functools.partial(self.stop, reason))
                handled.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread (tests, sandbox): the caller stops us instead
        workers = [asyncio.create_task(self._work(lane)) for lane in range(self.plan.concurrency)]
        try:
            stopper = asyncio.create_task(self._stop.wait())
            await asyncio.wait([stopper, *workers], return_when=asyncio.FIRST_COMPLETED)
            if self._stop.is_set():
                self.book.stop()  # workers waiting for a message get none
                # A worker whose request is not being written yet stops now and gives its message
                # back (see Lane); requests on the wire get the grace period to be answered.
                for task, lane in zip(workers, self._lanes, strict=True):
                    if not lane.written:
                        task.cancel()
                _, pending = await asyncio.wait(workers, timeout=self.plan.grace)
                for task in pending:
                    task.cancel()  # their messages become `unknown`: reported, never resent blindly
                await asyncio.gather(*workers, return_exceptions=True)
            else:
                await asyncio.gather(*workers)
                stopper.cancel()
            try:
                await self.book.drain()
            except LedgerUnavailable as error:
                self.stop(LedgerLost(error))
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
            restore_after_loop(handled, previous)
            self.book.close()
        return self.result

    async def _work(self, lane: int) -> None:
        try:
            while not self._stop.is_set():
                message = await self._next(lane)
                if message is None:
                    return
                await self._deliver(message, lane)
        except LedgerUnavailable as error:
            # The ledger's database is gone (a network cut, a restart): nothing more can be
            # claimed, and answers cannot be recorded. What is claimed stays `sending`.
            self.stop(LedgerLost(error))

    async def _next(self, lane: int) -> Sendable | None:
        """The next message, claimed once this worker's pace turn has come: a message is `sending`
        only from the moment its request may be written (a shared slot, if any, comes right
        after: _attempts). The workers whose turn comes together share one claim
        (runner.sending.bookkeeping)."""
        if not await self.pacer.wait_turn(self._nothing_left) or self._stop.is_set():
            return None
        flight = self._lanes[lane]
        try:
            message = await self.book.next()
        except asyncio.CancelledError:
            flight.clear()
            raise
        if message is not None:
            flight.key, flight.prior, flight.claimed = message.key, message.state, True
            self.result.claimed += 1
        return message

    async def _turn(self) -> None:
        await self.pacer.wait_turn()

    def _nothing_left(self) -> bool:
        """Whether a worker waiting for its pace turn may stop waiting: the run is stopping, or
        the ledger has nothing more for it to claim (runner.sending.bookkeeping)."""
        return self._stop.is_set() or self.book.done

    async def _deliver(self, message: Sendable, lane: int) -> None:
        flight = self._lanes[lane]
        try:
            await self._attempts(message, lane, flight)
        except asyncio.CancelledError:
            # A stop (see _run): give back what never left; what may have is `unknown`.
            if flight.claimed and flight.written:
                self.book.record(
                    Outcome(
                        flight.key, State.UNKNOWN, status_description="stopped before Telesign answered; it may have"
                    )
                )
            elif flight.claimed:
                self.book.release(flight.key, flight.prior)
            raise
        finally:
            flight.clear()

    async def _attempts(self, message: Sendable, lane: int, flight: Lane) -> None:
        states, prior = self.states, message.state
        for attempt in range(1, self.plan.max_attempts + 1):
            if attempt == 1:
                # Claimed after its pace turn (_next), right before the request is written: a STOP
                # may have arrived, or the window closed, while it waited for its turn
                # (20:59:59.9 must not leave at 21:00:00.1); if so the claim is undone.
                if self._held_back(message, claimed=True):
                    flight.clear()
                    return
            else:
                # The pace turn (and any 429 pause) is waited for before the claim: a message is
                # `sending` only from the moment its request may be written (docs/reliability.md).
                await self._turn()
                if self._stop.is_set():
                    return
                if self._held_back(message, claimed=False):
                    return
                flight.key, flight.prior = message.key, prior
                if not await self.book.claim(message.key, states, prior):
                    return
                flight.claimed = True
            if self.shared:
                # The shared schedules' slot right before the request is written, after the claim:
                # a claim's commit takes a variable time, and a slot must be used on time (or not
                # at all) for the senders together to keep the account's rate (runner.sending.sharing).
                waited = sum([await schedule.wait_turn() for schedule in self.shared])
                # A slot may be seconds away at a low rate: the policy is asked again after the
                # wait, as the 21:00 rule needs (the slot goes unused if the message is held); the
                # opt-out store too (a round trip away with a shared ledger) after a wait of note.
                again = waited > 0 and not self._stop.is_set()
                if again and self._held_back(message, claimed=True, fresh=True, opt_out=waited >= OPT_OUT_AGAIN):
                    flight.clear()
                    return
            await self.pacer.before_write()
            if self._stop.is_set():
                return self._give_back(flight)
            answer = await self.client.send(message.body, lane, flight.wrote)
            flight.clear()  # settled below, before the next await
            self._reached |= not never_connected(answer)
            self.result.answers[answer.verdict] = self.result.answers.get(answer.verdict, 0) + 1
            if answer.verdict == "retry" and (answer.retry_after or 0.0) > MAX_RETRY_AFTER:
                return self._too_long_to_wait(message, answer, counted=attempt > 1)
            if answer.verdict == "retry" and answer.http_status == 429:
                # Telesign's 429/3204 is about the account, not this message: every worker pauses,
                # for Retry-After or, without one (a gateway's 429), this attempt's whole backoff
                # step and at least the second a TPS limit counts over; on a message's last attempt
                # too (docs/sending.md, "States"). Each worker backing off alone kept hitting it.
                step = backoff_step(self.plan.backoff_base, self.plan.backoff_cap, attempt)
                pause = answer.retry_after if answer.retry_after is not None else max(1.0, step)
                self.pacer.pause(pause)
                self.progress.event(
                    f"Telesign asked to slow down (429/{answer.status_code}): pausing everyone {pause:.1f}s"
                    + ("" if answer.retry_after is not None else " (no Retry-After: backoff)")
                )
            if answer.verdict == "retry" and attempt < self.plan.max_attempts:
                self.book.record(self._outcome(message, answer, State.FAILED))
                if attempt == 1:
                    self.progress.note(State.FAILED)  # as the ledger now says, should the run stop here
                states, prior = (State.FAILED,), State.FAILED
                await self._backoff(attempt, answer)
                if self._stop.is_set():
                    return
                continue
            self._settle(message, answer, prior, retried=attempt > 1)
            return

    def _too_long_to_wait(self, message: Sendable, answer: Answer, counted: bool) -> None:
        assert answer.retry_after is not None
        why = (
            f"Telesign asked to wait {answer.retry_after:.0f}s (Retry-After on {answer.http_status}/"
            f"{answer.status_code}), more than the {MAX_RETRY_AFTER:.0f}s a run waits: failed, the next run sends it"
        )
        self.book.record(
            Outcome(message.key, State.FAILED, answer.http_status, answer.status_code, why, answer.reference_id)
        )
        if not counted:  # a retried message was counted failed at its first attempt
            self.progress.note(State.FAILED)
        self.progress.event(f"a message {why}; no new messages in this run")
        self.stop(Throttled())

    def _give_back(self, flight: Lane) -> None:
        self.book.release(flight.key, flight.prior)
        flight.clear()

    def _settle(self, message: Sendable, answer: Answer, prior: State, retried: bool = False) -> None:
        if answer.verdict == "unauthorized":
            # 401 (3400 bad credentials, 3401 account suspended, ...): the request created nothing:
            # give the message back and stop the whole run.
            self.book.release(message.key, prior)
            self.stop(Unauthorized(answer.http_status, answer.status_code, answer.description))
            return
        if answer.verdict == "wrong_endpoint":
            # Not Telesign's endpoint (runner.telesign.client._not_telesign): nothing took the
            # message for Telesign, so it goes back as it was, and the run stops at this first one.
            self.book.release(message.key, prior)
            self.stop(NotTelesign(answer.description))
            return
        state = STATE_AFTER[answer.verdict]
        self.book.record(self._outcome(message, answer, state))
        if state == State.ACCEPTED and self.gate is not None:
            self.gate.accepted(message.phone, message.external_id, answer.reference_id)
        if retried:
            self.progress.moved(State.FAILED, state)
        else:
            self.progress.note(state)
        if never_connected(answer) and not self._reached:
            # Every attempt of this message failed to connect and nothing else ever reached the
            # endpoint: it is unreachable (docs/sending.md, exit codes: 4), not a campaign of failed messages.
            # Nothing left the machine, so what is left stays sendable by the next run.
            self.stop(Unreachable(answer.description))

    def _held_back(self, message: Sendable, claimed: bool, fresh: bool = False, opt_out: bool = True) -> bool:
        """Whether the policy holds the message back now (then it is deferred or suppressed)."""
        if self.gate is None:
            return False
        end = self.gate.end
        if end is not None and self.gate.clock() >= end:
            # The schedule's end passed while this run sent (a large audience at a low rate, a 429
            # pause): nothing may leave after it. The message is given back as it was, no other is
            # claimed, and the run marks what is left expired (runner.sending.run).
            if claimed:
                self.book.release(message.key, message.state)
            self.stop(ScheduleEnded())
            return True
        verdict = self.gate.verdict(message.phone, message.timezone, fresh, opt_out)
        if verdict is None:
            return False
        not_before = format_utc(verdict.not_before) if verdict.not_before is not None else None
        self.book.hold(SetAside(message.key, State(verdict.state), verdict.reason, not_before, claimed))
        self.result.held[verdict.state] = self.result.held.get(verdict.state, 0) + 1
        return True

    @staticmethod
    def _outcome(message: Sendable, answer: Answer, state: State) -> Outcome:
        submitted = now() if state == State.ACCEPTED else None
        return Outcome(
            message.key,
            state,
            answer.http_status,
            answer.status_code,
            answer.description,
            answer.reference_id,
            submitted,
        )

    async def _backoff(self, attempt: int, answer: Answer) -> None:
        # Exponential backoff with full jitter, and never sooner than Telesign's Retry-After.
        delay = self._rng.uniform(0, backoff_step(self.plan.backoff_base, self.plan.backoff_cap, attempt))
        delay = max(delay, answer.retry_after or 0.0)
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=delay)
        except TimeoutError:
            pass
