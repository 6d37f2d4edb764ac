"""The PostgreSQL ledger's record of runs and test sends (per campaign). A run holds a
session-scoped advisory lock on its id while its process lives (RUN_LOCK): the server releases it
when the process ends or dies, so "is run N still at work" has an answer that never expires while
its holder is alive, and never outlives it."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from typing import Any

import psycopg

from runner.ledger.postgres.schema import reported
from runner.ledger.records import NO_PROVENANCE, Provenance, RunInfo, TestSend, now

# Two-key advisory locks (a key space apart from the one-key ones taken elsewhere): this schema's
# runs, then the run's id.
RUN_LOCK = "hashtext(current_schema() || ':runs'), (%s %% 2147483647)::int"


class PostgresRuns:
    def __init__(self, conn: psycopg.Connection[Any], campaign: str, url: str) -> None:
        self.conn, self.campaign, self.url = conn, campaign, url
        self.current: int | None = None  # the run this process started last (its claims name it)

    def start(self, command: str, provenance: Provenance = NO_PROVENANCE) -> int:
        with reported(self.url):
            row = self.conn.execute(
                """INSERT INTO runs (campaign, command, host, pid, started_at, campaign_commit, tree_dirty,
                                     plan_fingerprint)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                (
                    self.campaign, command, socket.gethostname(), os.getpid(), now(), provenance.campaign_commit,
                    provenance.tree_dirty, provenance.plan_fingerprint,
                ),
            ).fetchone()  # fmt: skip
            assert row is not None
            self.conn.execute(f"SELECT pg_advisory_lock({RUN_LOCK})", (int(row[0]),))
        self.current = int(row[0])
        return self.current

    def finish(self, run_id: int, exit_code: int, counts: Mapping[str, int]) -> None:
        with reported(self.url):
            self.conn.execute(
                "UPDATE runs SET finished_at = %s, exit_code = %s, counts = %s WHERE id = %s",
                (now(), exit_code, json.dumps(dict(counts)), run_id),
            )

    def last(self, command: str | None = None) -> RunInfo | None:
        found = self.latest(command, 1)
        return found[0] if found else None

    def latest(self, command: str | None = None, limit: int = 10) -> list[RunInfo]:
        with reported(self.url):
            rows = self.conn.execute(
                f"""SELECT {RunInfo.COLUMNS} FROM runs WHERE campaign = %s AND (%s::text IS NULL OR command = %s)
                    ORDER BY id DESC LIMIT %s""",
                (self.campaign, command, command, limit),
            ).fetchall()
        return [RunInfo.of_row(row) for row in rows]

    def history(self, most: int) -> tuple[list[RunInfo], int]:
        with reported(self.url):
            row = self.conn.execute("SELECT COUNT(*) FROM runs WHERE campaign = %s", (self.campaign,)).fetchone()
        return self.latest(None, most), int(row[0]) if row else 0

    def record_test_send(self, send: TestSend) -> None:
        with reported(self.url):
            self.conn.execute(
                """INSERT INTO test_sends (campaign, sent_at, recipient_key, phone, http_status, status_code,
                                           reference_id, body)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                (
                    self.campaign,
                    now(),
                    send.recipient_key,
                    send.phone,
                    send.http_status,
                    send.status_code,
                    send.reference_id,
                    send.body.decode("utf-8"),
                ),
            )
