"""The PostgreSQL ledger's side of `enrich`. One enrichment of a campaign at a time: a
session-scoped advisory lock, held for the length of it and released by the server if the
process dies (senders go on meanwhile: their claims and outcomes are row updates). A message's
id here is messages.id."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from runner.errors import CampaignLocked
from runner.ledger.postgres.schema import reported, retrying
from runner.ledger.records import ChannelStatus, Cost, MergedDelivery, MergeState, StoredDelivery, now
from runner.ledger.states import SETTLED_BY_CALLBACK, State
from runner.telesign import codes

CHUNK = 1000


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

    def stored(self, messages: Collection[int]) -> list[StoredDelivery]:
        with reported(self.url):
            rows = self.conn.execute(
                """SELECT m.id, m.delivery_status_code, m.delivery_status_description, m.last_channel,
                          m.viber_status_code, m.viber_status_description, m.sms_status_code,
                          m.sms_status_description, m.status_updated_on, d.seen, d.status_order, d.status_arrival,
                          d.viber_order, d.viber_arrival, d.sms_order, d.sms_arrival, d.other_channels,
                          d.price_order, d.price_arrival, m.price, m.currency, m.sms_parts
                   FROM messages m JOIN deliveries d ON d.message_id = m.id
                   WHERE m.id = ANY(%s)""",
                (list(messages),),
            ).fetchall()
        return [
            StoredDelivery(
                message=int(message),
                code=code,
                description=description,
                last_channel=last_channel,
                viber=ChannelStatus(viber_code, viber_description),
                sms=ChannelStatus(sms_code, sms_description),
                updated_on=updated_on,
                merge=MergeState(bytes(seen), *orders),
                cost=Cost(price, currency, sms_parts),
            )
            for (
                message, code, description, last_channel, viber_code, viber_description, sms_code, sms_description,
                updated_on, seen, *orders, price, currency, sms_parts,
            ) in rows
        ]  # fmt: skip

    def awaiting_status(self) -> Iterator[tuple[str, str | None]]:
        with reported(self.url):
            rows = self.conn.execute(
                f"""SELECT reference_id, submitted_at FROM messages
                    WHERE campaign = %s AND state = '{State.ACCEPTED}' AND reference_id IS NOT NULL
                      AND (delivery_status_code IS NULL OR delivery_status_code = ANY(%s))
                    ORDER BY id""",
                (self.campaign, sorted(codes.INTERMEDIATE)),
            ).fetchall()
        return iter([(reference, submitted) for reference, submitted in rows])

    def save(self, rows: Iterable[MergedDelivery], next_arrival: int) -> int:
        chunks: list[list[MergedDelivery]] = []
        chunk: list[MergedDelivery] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == CHUNK:
                chunks.append(chunk)
                chunk = []
        if chunk:
            chunks.append(chunk)
        # (held in memory to be retried whole as a deadlock victim: `enrich` already holds them)
        with reported(self.url):
            return retrying(lambda: self._save(chunks, next_arrival))

    def _save(self, chunks: list[list[MergedDelivery]], next_arrival: int) -> int:
        conn = self.conn
        stamp = now()
        settled = 0
        with conn.transaction(), conn.cursor() as cur:
            for chunk in chunks:
                cur.executemany(
                    """UPDATE messages SET reference_id = COALESCE(reference_id, %s),
                         delivery_status_code = %s, delivery_status_description = %s, last_channel = %s,
                         viber_status_code = %s, viber_status_description = %s, sms_status_code = %s,
                         sms_status_description = %s, status_updated_on = %s, callbacks = %s, price = %s,
                         currency = %s, sms_parts = %s, updated_at = %s
                       WHERE id = %s""",
                    [
                        (
                            r.reference_id, r.code, r.description, r.last_channel, r.viber.code, r.viber.description,
                            r.sms.code, r.sms.description, r.updated_on, r.callbacks, *r.cost, stamp, r.message,
                        )
                        for r in chunk
                    ],
                )  # fmt: skip
                cur.executemany(
                    """INSERT INTO deliveries VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                       ON CONFLICT (message_id) DO UPDATE SET seen = excluded.seen,
                         status_order = excluded.status_order, status_arrival = excluded.status_arrival,
                         viber_order = excluded.viber_order, viber_arrival = excluded.viber_arrival,
                         sms_order = excluded.sms_order, sms_arrival = excluded.sms_arrival,
                         other_channels = excluded.other_channels, price_order = excluded.price_order,
                         price_arrival = excluded.price_arrival""",
                    [(r.message, *r.merge) for r in chunk],
                )
                settled += conn.execute(
                    f"""UPDATE messages SET state = '{State.ACCEPTED}'
                        WHERE state = ANY(%s) AND id = ANY(%s)""",
                    (list(SETTLED_BY_CALLBACK), [r.message for r in chunk]),
                ).rowcount
            conn.execute(
                "UPDATE campaigns SET callback_arrivals = %s WHERE campaign = %s", (next_arrival, self.campaign)
            )
        return settled
