"""One campaign's ledger in a PostgreSQL database shared by every campaign and every sender:
opening it (the schema made or migrated, the campaign's row made), its parts
(runner.ledger.interface), and reading it whole."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from runner.ledger.postgres.audience import PostgresAudience
from runner.ledger.postgres.claims import PostgresClaims
from runner.ledger.postgres.deliveries import PostgresDeliveries
from runner.ledger.postgres.runs import PostgresRuns
from runner.ledger.postgres.schema import connect, connect_read_only, reported
from runner.ledger.postgres.slots import PostgresSlots
from runner.ledger.records import now
from runner.ledger.report_query import CELLS, POSTGRES_PLAIN
from runner.ledger.states import MESSAGED, State
from runner.ledger.tally import delivery_tally, empty_counts


class PostgresLedger:
    def __init__(self, conn: psycopg.Connection[Any], campaign: str, url: str) -> None:
        self.conn, self.campaign, self.url = conn, campaign, url
        self.runs = PostgresRuns(conn, campaign, url)
        self.audience = PostgresAudience(conn, campaign, url)
        self.claims = PostgresClaims(conn, campaign, url, self.runs)
        self.deliveries = PostgresDeliveries(conn, campaign, url)
        self.slots = PostgresSlots(url)

    @classmethod
    def open(cls, url: str, campaign: str) -> PostgresLedger:
        conn = connect(url)
        with reported(url):
            conn.execute(
                "INSERT INTO campaigns (campaign, created_at) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (campaign, now()),
            )
        return cls(conn, campaign, url)

    @classmethod
    def open_existing(cls, url: str, campaign: str, read_only: bool = False) -> PostgresLedger | None:
        """The campaign's ledger if a send ever made it. `read_only` (`campaign plan`): on a
        connection whose transactions cannot write, never migrating the schema."""
        conn = connect_read_only(url) if read_only else connect(url)
        if conn is None:
            return None
        with reported(url):
            found = conn.execute("SELECT 1 FROM campaigns WHERE campaign = %s", (campaign,)).fetchone()
        if found is None:
            conn.close()
            return None
        return cls(conn, campaign, url)

    def states_of(self, keys: Collection[str]) -> dict[str, State]:
        with reported(self.url):
            rows = self.conn.execute(
                "SELECT key, state FROM messages WHERE campaign = %s AND key = ANY(%s)", (self.campaign, list(keys))
            ).fetchall()
        return {key: State(state) for key, state in rows}

    def phones_messaged(self, phones: Collection[str]) -> dict[str, str]:
        with reported(self.url):
            rows = self.conn.execute(
                """SELECT phone, key FROM messages WHERE campaign = %s AND phone = ANY(%s)
                    AND state = ANY(%s) ORDER BY id DESC""",
                (self.campaign, list(phones), list(MESSAGED)),
            ).fetchall()
        return {phone: key for phone, key in rows}  # the earliest message wins (rows newest first)

    def state_digest(self) -> tuple[str, dict[str, int]]:
        # (the SQLite ledger's digest, runner.ledger.sqlite.ledger: the same for the same messages)
        digest = hashlib.sha256()
        counts: dict[str, int] = {}
        with reported(self.url):
            rows = self.conn.execute(
                'SELECT key, state, attempts FROM messages WHERE campaign = %s ORDER BY key COLLATE "C"',
                (self.campaign,),
            )
            for key, state, attempts in rows:
                digest.update(f"{key}\0{state}\0{attempts}\n".encode())
                counts[state] = counts.get(state, 0) + 1
        return (digest.hexdigest() if counts else ""), counts

    def close(self) -> None:
        self.slots.close()
        self.conn.close()

    def counts(self, run_id: int | None = None) -> dict[str, int]:
        run_id = run_id if run_id is not None else self.audience.last_run()
        counts = empty_counts()
        if run_id is None:
            return counts
        with reported(self.url):
            for state, n in self.conn.execute(
                "SELECT state, COUNT(*) FROM messages WHERE campaign = %s AND seen_run = %s GROUP BY state",
                (self.campaign, run_id),
            ):
                counts[state] = int(n)
            for state, n in self.conn.execute(
                "SELECT state, COUNT(*) FROM skipped WHERE campaign = %s GROUP BY state", (self.campaign,)
            ):
                counts[state] = counts.get(state, 0) + int(n)
        return counts

    @contextmanager
    def one_reading(self) -> Iterator[None]:
        # One REPEATABLE READ transaction: every query in it sees one snapshot of the messages
        # (pg_locks, read by in_flight_elsewhere, is live: a sender that dies meanwhile counts as dead).
        with reported(self.url), self.conn.transaction():
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield

    def in_flight_elsewhere(self, run_id: int) -> dict[str, int]:
        # Claimed last by a run other than this process's whose lock is still held: its process is
        # alive and at work on them (runner.ledger.postgres.runs). A dead one's lock is gone.
        with reported(self.url):
            rows = self.conn.execute(
                """SELECT m.state, COUNT(*) FROM messages m
                    WHERE m.campaign = %s AND m.seen_run = %s AND m.state = ANY(%s)
                      AND m.claimed_run IS NOT NULL AND m.claimed_run IS DISTINCT FROM %s
                      AND EXISTS (SELECT 1 FROM pg_locks l
                                  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                                    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                                    AND l.classid::bigint = hashtext(current_schema() || ':runs')::bigint & 4294967295
                                    AND l.objid::bigint = m.claimed_run %% 2147483647)
                    GROUP BY m.state""",
                (self.campaign, run_id, [State.SENDING, State.FAILED], self.runs.current),
            ).fetchall()
        return {state: int(n) for state, n in rows}

    def attempted(self) -> int:
        with reported(self.url):
            row = self.conn.execute(
                "SELECT COUNT(*) FROM messages WHERE campaign = %s AND seen_run = %s AND attempts > 0",
                (self.campaign, self.audience.last_run()),
            ).fetchone()
        return int(row[0]) if row else 0

    def delivery_counts(self) -> dict[str, int]:
        with reported(self.url):
            rows = self.conn.execute(
                f"""SELECT d.delivery_status_code, d.last_channel, COUNT(*) FROM messages m
                    LEFT JOIN deliveries d ON d.message_id = m.id
                    WHERE m.campaign = %s AND m.seen_run = %s AND m.state = '{State.ACCEPTED}' GROUP BY 1, 2""",
                (self.campaign, self.audience.last_run()),
            ).fetchall()
        return delivery_tally((code, channel, int(n)) for code, channel, n in rows)

    def deferred(self, run_id: int | None = None) -> list[tuple[str, int]]:
        run_id = run_id if run_id is not None else self.audience.last_run()
        with reported(self.url):
            rows = self.conn.execute(
                f"""SELECT not_before, COUNT(*) FROM messages
                    WHERE campaign = %s AND seen_run = %s AND state = '{State.DEFERRED}'
                    GROUP BY not_before ORDER BY not_before""",
                (self.campaign, run_id),
            ).fetchall()
        return [(str(at), int(n)) for at, n in rows]

    def cost_rows(self) -> Iterator[tuple[str, str | None, str, str | None]]:
        with reported(self.url):
            rows = self.conn.execute(
                f"""SELECT m.phone, d.last_channel, d.price, d.currency FROM messages m
                    JOIN deliveries d ON d.message_id = m.id
                    WHERE m.campaign = %s AND m.seen_run = %s AND m.state = '{State.ACCEPTED}'
                      AND d.price IS NOT NULL""",
                (self.campaign, self.audience.last_run()),
            ).fetchall()
        return iter([(phone, channel, price, currency) for phone, channel, price, currency in rows])

    def report_rows(self) -> Iterator[tuple[Any, ...]]:
        run_id = self.audience.last_run()
        if run_id is None:
            return
        # One query, ordered by the server, read in batches (a server-side cursor needs a
        # transaction: the report is one consistent snapshot).
        with reported(self.url), self.conn.transaction(), self.conn.cursor(name="report") as cur:
            cur.itersize = 2000
            cur.execute(_REPORT, {"campaign": self.campaign, "run": run_id})
            yield from cur


# runner.ledger.report_query's row: `plain`, then the report's cells; skipped rows (their reason as
# status_description, their run's commit) merged in by position, never plain
_REPORT = f"""SELECT {", ".join(f"c{i}" for i in range(len(CELLS) + 1))}
              FROM (SELECT m.position, {POSTGRES_PLAIN} AS c0,
                           {", ".join(f"{cell} AS c{i}" for i, cell in enumerate(CELLS, 1))}
                    FROM messages m LEFT JOIN deliveries d ON d.message_id = m.id
                    WHERE m.campaign = %(campaign)s AND m.seen_run = %(run)s
                    UNION ALL
                    SELECT position, FALSE, NULL, NULL, recipient_id, phone, state, NULL, NULL, reason, NULL, NULL,
                           {", ".join(["NULL"] * 11)}, 0, '', NULL, NULL,
                           (SELECT campaign_commit FROM runs WHERE id = %(run)s)
                    FROM skipped WHERE campaign = %(campaign)s) audience
              ORDER BY position"""
