"""The PostgreSQL ledger's side of `enrich`: each message's merged delivery kept in its `deliveries`
row (schema.MIGRATIONS, 4). One enrichment of a campaign at a time: a
session-scoped advisory lock, held for the length of it and released by the server if the
process dies (senders go on meanwhile: their claims and outcomes are row updates). A message's
id here is messages.id."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import islice
from typing import Any

import psycopg

from runner.errors import CampaignLocked
from runner.ledger.postgres.schema import reported, retrying
from runner.ledger.records import DELIVERY_COLUMNS, Delivery, OnSettled, Settled, now, with_references
from runner.ledger.states import SETTLED_BY_CALLBACK, State
from runner.telesign import codes

CHUNK = 5000
# (a Delivery is written as it is: its message's id, then its fields in the columns' order)
_SAVE = f"""INSERT INTO deliveries (message_id, {", ".join(DELIVERY_COLUMNS)})
            VALUES ({", ".join(["%s"] * (1 + len(DELIVERY_COLUMNS)))})
            ON CONFLICT (message_id) DO UPDATE SET
            {", ".join(f"{column} = excluded.{column}" for column in DELIVERY_COLUMNS)}"""
_STORED = f"SELECT message_id, {', '.join(DELIVERY_COLUMNS)} FROM deliveries WHERE message_id = ANY(%s)"
_SEEN = DELIVERY_COLUMNS.index("seen") + 1


class PostgresDeliveries:
    def __init__(self, conn: psycopg.Connection[Any], campaign: str, url: str) -> None:
        self.conn, self.campaign, self.url = conn, campaign, url

    @contextmanager
    def enriching(self) -> Iterator[None]:
        key = "campaign-runner:enrich:" + self.campaign
        with reported(self.url):
            row = self.conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(current_schema() || ':' || %s))", (key,)
            ).fetchone()
        if row is None or not row[0]:
            raise CampaignLocked(f"campaign {self.campaign} is being enriched by another process; try again later")
        try:
            yield
        finally:
            try:
                self.conn.execute("SELECT pg_advisory_unlock(hashtext(current_schema() || ':' || %s))", (key,))
            except psycopg.OperationalError:
                pass  # the connection is gone, and the lock with it

    def next_arrival(self) -> int:
        with reported(self.url):
            row = self.conn.execute(
                "SELECT callback_arrivals FROM campaigns WHERE campaign = %s", (self.campaign,)
            ).fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def any_stored(self) -> bool:
        with reported(self.url):
            row = self.conn.execute(
                """SELECT EXISTS (SELECT 1 FROM deliveries d JOIN messages m ON m.id = d.message_id
                                  WHERE m.campaign = %s)""",
                (self.campaign,),
            ).fetchone()
        return bool(row and row[0])

    def by_reference(self, references: Collection[str]) -> list[tuple[str, int]]:
        with reported(self.url):
            return [
                (reference, int(message))
                for reference, message in self.conn.execute(
                    """SELECT reference_id, id FROM messages WHERE campaign = %s AND reference_id = ANY(%s)
                       ORDER BY id DESC""",
                    (self.campaign, list(references)),
                )
            ]

    def by_external_id(self, external_ids: Collection[str]) -> list[tuple[str, int, str | None]]:
        with reported(self.url):
            return [
                (external_id, int(message), reference)
                for external_id, message, reference in self.conn.execute(
                    "SELECT external_id, id, reference_id FROM messages WHERE campaign = %s AND external_id = ANY(%s)",
                    (self.campaign, list(external_ids)),
                )
            ]

    def stored(self, messages: Collection[int]) -> list[Delivery]:
        with reported(self.url):
            rows = self.conn.execute(_STORED, (list(messages),)).fetchall()
        # (BYTEA may come back as a memoryview)
        return [Delivery._make((*row[:_SEEN], bytes(row[_SEEN]), *row[_SEEN + 1 :])) for row in rows]

    def awaiting_status(self) -> Iterator[tuple[str, str | None]]:
        with reported(self.url):
            rows = self.conn.execute(
                f"""SELECT m.reference_id, m.submitted_at FROM messages m
                    LEFT JOIN deliveries d ON d.message_id = m.id
                    WHERE m.campaign = %s AND m.state = '{State.ACCEPTED}' AND m.reference_id IS NOT NULL
                      AND (d.delivery_status_code IS NULL OR d.delivery_status_code = ANY(%s))
                    ORDER BY m.id""",
                (self.campaign, sorted(codes.INTERMEDIATE)),
            ).fetchall()
        return iter([(reference, submitted) for reference, submitted in rows])

    def save(
        self, rows: Iterable[Delivery], next_arrival: int, references: Mapping[int, str], on_settled: OnSettled = None
    ) -> int:
        rows = iter(rows)
        chunks: list[list[Delivery]] = []
        while chunk := list(islice(rows, CHUNK)):
            chunks.append(chunk)
        # (held in memory to be retried whole as a deadlock victim: `enrich` already holds them)
        with reported(self.url):
            return retrying(lambda: self._save(chunks, next_arrival, references, on_settled))

    def _save(
        self,
        chunks: list[list[Delivery]],
        next_arrival: int,
        references: Mapping[int, str],
        on_settled: OnSettled = None,
    ) -> int:
        # (narrow rows; the wide `messages` rows are only written where a message's state or
        # reference_id changes: a few)
        conn = self.conn
        stamp = now()
        settled: list[Settled] = []
        with conn.transaction(), conn.cursor() as cur:
            for chunk in chunks:
                cur.executemany(_SAVE, chunk)
                # (`was`, the same rows as before this statement: when each request left is their
                # updated_at until the settle)
                settled += [
                    Settled(*row)
                    for row in conn.execute(
                        f"""UPDATE messages m SET state = '{State.ACCEPTED}', updated_at = %s FROM messages was
                            WHERE was.id = m.id AND m.id = ANY(%s) AND m.state = ANY(%s)
                            RETURNING m.id, m.external_id, m.phone, m.reference_id, was.updated_at""",
                        (stamp, [row[0] for row in chunk], list(SETTLED_BY_CALLBACK)),
                    )
                ]
            if references:  # messages joined by external_id: their answer, and reference_id, were lost
                cur.executemany(
                    "UPDATE messages SET reference_id = COALESCE(reference_id, %s), updated_at = %s WHERE id = %s",
                    [(reference, stamp, message) for message, reference in references.items()],
                )
            conn.execute(
                "UPDATE campaigns SET callback_arrivals = %s WHERE campaign = %s", (next_arrival, self.campaign)
            )
            if settled and on_settled is not None:  # (before the commit: see Deliveries.save)
                on_settled(with_references(settled, references))
        return len(settled)
