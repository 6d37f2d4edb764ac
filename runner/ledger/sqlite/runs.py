"""The SQLite ledger's record of runs (every command that changed it) and of test sends."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from typing import Any

from runner.ledger.records import NO_PROVENANCE, Provenance, RunInfo, TestSend, now


class SqliteRuns:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def start(self, command: str, provenance: Provenance = NO_PROVENANCE) -> int:
        dirty = None if provenance.tree_dirty is None else int(provenance.tree_dirty)
        cur = self.db.execute(
            "INSERT INTO runs (command, pid, started_at, campaign_commit, tree_dirty, plan_fingerprint) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (command, os.getpid(), now(), provenance.campaign_commit, dirty, provenance.plan_fingerprint),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish(self, run_id: int, exit_code: int, counts: Mapping[str, int]) -> None:
        self.db.execute(
            "UPDATE runs SET finished_at = ?, exit_code = ?, counts = ? WHERE id = ?",
            (now(), exit_code, json.dumps(dict(counts)), run_id),
        )

    def last(self, command: str | None = None) -> RunInfo | None:
        found = self.latest(command, 1)
        return found[0] if found else None

    def latest(self, command: str | None = None, limit: int = 10) -> list[RunInfo]:
        sql = f"SELECT {RunInfo.COLUMNS} FROM runs"
        args: tuple[Any, ...] = ()
        if command:
            sql += " WHERE command = ?"
            args = (command,)
        return [RunInfo.of_row(row) for row in self.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))]

    def history(self, most: int) -> tuple[list[RunInfo], int]:
        total = int(self.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        return self.latest(None, most), total

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
