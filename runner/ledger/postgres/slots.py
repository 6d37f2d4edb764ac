"""Start times shared by every sender using this database (runner.sending.sharing): for each
schedule (an account's TPS, a campaign's rate) the next free start time, in the database's clock.
A sender reserves a few consecutive slots, 1/rate apart, in one statement: the row lock orders
concurrent reservations, and no slot is ever given twice."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from runner.ledger.postgres.schema import connect, reported


class PostgresSlots:
    """On its own connection (reservations never wait behind a sender's commit), opened on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()
        self.round_trips = 0

    def reserve(self, name: str, rate: float, count: int, lead: float) -> tuple[float, float]:
        """`count` slots of schedule `name`, 1/rate apart, none sooner than `lead` seconds from
        now: (the first slot's time, the database's time now), both in seconds since the epoch."""
        interval = 1.0 / rate
        with self._lock, reported(self.url):
            if self._conn is None:
                self._conn = connect(self.url)
            row = self._conn.execute(
                """INSERT INTO pace AS p (name, next_slot)
                     VALUES (%(name)s, extract(epoch FROM clock_timestamp()) + %(lead)s + %(span)s)
                   ON CONFLICT (name) DO UPDATE
                     SET next_slot = GREATEST(p.next_slot, extract(epoch FROM clock_timestamp()) + %(lead)s)
                                     + %(span)s
                   RETURNING next_slot - %(span)s, extract(epoch FROM clock_timestamp())""",
                {"name": name, "lead": lead, "span": count * interval},
            ).fetchone()
            self.round_trips += 1
        assert row is not None
        return float(row[0]), float(row[1])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
