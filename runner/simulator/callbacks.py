"""Delivery callbacks: one signed POST per status change, at the simulated moment it happens.

Signed as Telesign signs them (`Authorization: TSA <customer_id>:<signature>` and the bare
signature in `X-TS-Authorization`, HMAC-SHA256 of the raw body under the base64-decoded API key),
sent from the server's own event loop with one shared httpx.AsyncClient, and retried with
exponential backoff (in simulated seconds, so scaled like every other delay) while the receiver
does not answer 200 within SEND_TIMEOUT_S: Telesign's Transaction Callback Service retries a
callback up to 4 times, waiting 5 seconds for each answer, then gives up, so a receiver that is
down for long loses callbacks, as in production (`callback_attempts` = 1 + 4 retries).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any

import httpx

from runner.simulator.config import SimulatorConfig
from runner.simulator.journal import AcceptedRequest, CallbackAttempt, Journal
from runner.simulator.outcomes import status_payload
from runner.simulator.replies import planned_reply
from runner.telesign.auth import callback_headers

RETRY_BASE_S = 2.0  # simulated seconds before the 2nd try; doubles after each failed try
SEND_TIMEOUT_S = 5.0  # real seconds: Telesign waits 5 s for the receiver's answer


class CallbackDispatcher:
    def __init__(self, config: SimulatorConfig, journal: Journal) -> None:
        self.config = config
        self.journal = journal
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._keys = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._idle = threading.Condition()

    @property
    def pending(self) -> int:
        """Callbacks scheduled or being tried, not yet answered 200 nor given up."""
        with self._idle:
            return self._pending

    def schedule(self, url: str, request: AcceptedRequest) -> None:
        """Plan the callbacks of one accepted request; must run on the serving loop."""
        loop = self._bind()
        for change in request.changes:
            payload = status_payload(
                request.reference_id, request.external_id, change, request.accepted_at, self.config.time_scale
            )
            self._add_pending(1)
            key = next(self._keys)
            delay = self.config.scaled(change.at_s)
            self._timers[key] = loop.call_later(delay, self._start, key, url, request.reference_id, payload)
        reply = planned_reply(request, self.config.time_scale)  # numbers ending in 3 answer STOP
        if reply is not None:
            at_s, payload = reply
            self._add_pending(1)
            key = next(self._keys)
            self._timers[key] = loop.call_later(
                self.config.scaled(at_s), self._start, key, url, request.reference_id, payload
            )

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A new loop (first use, or a test's fresh loop through ASGITransport): objects tied
            # to the old loop cannot be used here.
            self._loop = loop
            self._client = httpx.AsyncClient(timeout=SEND_TIMEOUT_S)
            self._slots = asyncio.Semaphore(self.config.callback_concurrency)
            self._add_pending(-len(self._timers) - len(self._tasks))
            self._timers = {}
            self._tasks = set()
        return loop

    def _start(self, key: int, url: str, reference_id: str, payload: dict[str, Any]) -> None:
        del self._timers[key]
        task = asyncio.ensure_future(self._deliver(url, reference_id, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, reference_id: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode("utf-8")
        headers = callback_headers(self.config.credentials, body)
        try:
            for attempt in range(1, self.config.callback_attempts + 1):
                status, error = await self._post(url, body, headers)
                self.journal.callback_attempted(
                    CallbackAttempt(reference_id, url, attempt, payload, time.time(), status, error)
                )
                if status == 200 or attempt == self.config.callback_attempts:
                    return
                await asyncio.sleep(self.config.scaled(RETRY_BASE_S * 2 ** (attempt - 1)))
        finally:
            self._add_pending(-1)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        assert self._client is not None and self._slots is not None
        async with self._slots:
            try:
                response = await self._client.post(url, content=body, headers=headers)
            except httpx.HTTPError as error:
                return None, f"{type(error).__name__}: {error}"
            return response.status_code, None

    def _add_pending(self, delta: int) -> None:
        with self._idle:
            # Never below zero: a task of a loop that is gone may still run its `finally` when
            # it is garbage-collected, after its pending count was already written off.
            self._pending = max(0, self._pending + delta)
            if self._pending == 0:
                self._idle.notify_all()

    def wait_settled(self, timeout: float) -> bool:
        """Block (from another thread) until no callback is pending; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    async def settled(self, timeout: float) -> bool:
        """Wait on the serving loop itself (ASGITransport tests) until no callback is pending."""
        deadline = time.monotonic() + timeout
        while self.pending:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    async def aclose(self) -> None:
        """Stop: forget callbacks not yet due, cancel those in flight, close the client."""
        for timer in self._timers.values():
            timer.cancel()
        cancelled = len(self._timers)
        self._timers = {}
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if cancelled:
            self._add_pending(-cancelled)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._loop = None
