"""The SQLite ledger's record of runs (every command that changed it) and of test sends."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from typing import Any

from runner.ledger.records import RunInfo, TestSend, now


class SqliteRuns:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def start(self, command: str) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (command, pid, started_at) VALUES (?, ?, ?)", (command, os.getpid(), now())
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish(self, run_id: int, exit_code: int, counts: Mapping[str, int]) -> None:
        self.db.execute(
            "UPDATE runs SET finished_at = ?, exit_code = ?, counts = ? WHERE id = ?",
            (now(), exit_code, json.dumps(dict(counts)), run_id),
        )

    def last(self, command: str | None = None) -> RunInfo | None:
        sql = "SELECT id, command, started_at, finished_at, exit_code, counts FROM runs"
        args: tuple[Any, ...] = ()
        if command:
            sql += " WHERE command = ?"
            args = (command,)
        row = self.db.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        run_id, command, started_at, finished_at, exit_code, counts = row
        return RunInfo(run_id, command, started_at, finished_at, exit_code, json.loads(counts) if counts else {})

    def record_test_send(self, send: TestSend) -> None:
        self.db.execute(
            """INSERT INTO test_sends (sent_at, recipient_key, phone, http_status, status_code, reference_id, body)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (
                now(),
                send.recipient_key,
                send.phone,
                send.http_status,
                send.status_code,
                send.reference_id,
                send.body.decode("utf-8"),
            ),
        )
