"""The recipient store (runner.policy.store: opt-outs, replies, contact history) in the shared
ledger's database, so that a STOP the receiver on one host records stops the next claim of every
sender on every host, and frequency caps count what every host sent (docs/scaling-out.md). The
tables come with the ledger's own versioned migrations (runner.ledger.postgres.schema); the
queries are the SQLite store's (runner.policy.store.StoreQueries) over this connection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from runner.ledger.postgres.schema import connect, connect_read_only, reported
from runner.policy.store import OptOut, Row, StoreQueries, opt_out_of


class PostgresConnection:
    def __init__(self, conn: psycopg.Connection[Any], url: str) -> None:
        self.conn, self.url = conn, url

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        with reported(self.url):
            return self.conn.execute(placeheld(sql), params).rowcount

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with reported(self.url):
            return self.conn.execute(placeheld(sql), params).fetchall()

    def run_many(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        # (one transaction, and with the pipeline one round trip, for the batch)
        with reported(self.url), self.conn.pipeline(), self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(placeheld(sql), rows)

    def close(self) -> None:
        self.conn.close()


def placeheld(sql: str) -> str:
    """The store's SQL is written with SQLite's `?` placeholders (and has no other `?` or `%`)."""
    return sql.replace("?", "%s")


class PostgresRecipientStore(StoreQueries):
    def opted_out_among(self, phones: Iterable[str]) -> dict[str, OptOut]:
        # one query for the lot, not one per phone: a round trip to the database is not free
        rows = self.db.rows(
            """SELECT DISTINCT ON (phone) phone, action, at, source, campaign FROM opt_events
               WHERE phone = ANY(?) ORDER BY phone, at DESC, id DESC""",
            (list(set(phones)),),
        )
        found = (opt_out_of(row) for row in rows)
        return {out.phone: out for out in found if out is not None}


def open_postgres_store(url: str) -> PostgresRecipientStore:
    """The store in the shared database, made or migrated with the ledger's schema."""
    return PostgresRecipientStore(PostgresConnection(connect(url), url))


def read_postgres_store(url: str) -> PostgresRecipientStore | None:
    """The store for reading only (`campaign plan`, `status`): never migrates; None when no
    runner ever made it in that database."""
    conn = connect_read_only(url)
    if conn is None:
        return None
    with reported(url):
        made = conn.execute("SELECT to_regclass('opt_events') IS NOT NULL").fetchone() == (True,)
    if not made:  # (a schema an older runner made, before the store moved here)
        conn.close()
        return None
    return PostgresRecipientStore(PostgresConnection(conn, url))
