"""The SQLite ledger's audience: each run's recipients synced into `messages` and `skipped`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from runner.ledger.records import Planned, SkippedRow, now
from runner.ledger.sqlite.schema import get_meta, set_meta, transaction
from runner.ledger.states import EDITABLE, POLICY_DECIDED, REPLANNED, SENDABLE, State

BATCH = 2000  # rows written at a time

_EDITABLE = ", ".join(f"'{state}'" for state in EDITABLE)
_SENDABLE = ", ".join(f"'{state}'" for state in SENDABLE)
_REPLANNED = ", ".join(f"'{state}'" for state in REPLANNED)
_POLICY = ", ".join(f"'{state}'" for state in POLICY_DECIDED)


class SqliteAudience:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def sync(
        self,
        run_id: int,
        items: Iterable[Planned | SkippedRow],
        fingerprint: str = "",
        campaign_commit: str | None = None,
    ) -> None:
        with transaction(self.db):
            self.db.execute("DELETE FROM skipped")
            planned: list[tuple[Any, ...]] = []
            skipped: list[tuple[Any, ...]] = []
            for item in items:
                if isinstance(item, Planned):
                    planned.append(
                        (
                            item.key,
                            item.position,
                            run_id,
                            item.external_id,
                            item.recipient_id,
                            item.phone,
                            item.body.decode("utf-8"),
                            item.state,
                            item.reason,
                            item.not_before,
                            item.timezone,
                            campaign_commit,
                        )
                    )
                else:
                    skipped.append((item.position, item.recipient_id, item.phone, item.state, item.reason))
                if len(planned) >= BATCH or len(skipped) >= BATCH:
                    self._write(planned, skipped)
                    planned, skipped = [], []
            self._write(planned, skipped)
            set_meta(self.db, "audience_run", str(run_id))
            set_meta(self.db, "source_fingerprint", fingerprint)

    def _write(self, planned: list[tuple[Any, ...]], skipped: list[tuple[Any, ...]]) -> None:
        # The state's CASE is runner.ledger.states.state_after_sync's rule (what `campaign plan` applies).
        self.db.executemany(
            f"""INSERT INTO messages (key, position, seen_run, external_id, recipient_id, phone, body,
                                     state, status_description, not_before, timezone, campaign_commit)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(key) DO UPDATE SET
                 position = excluded.position,
                 seen_run = excluded.seen_run,
                 recipient_id = excluded.recipient_id,
                 phone = CASE WHEN state IN ({_EDITABLE}) THEN excluded.phone ELSE phone END,
                 body = CASE WHEN state IN ({_EDITABLE}) THEN excluded.body ELSE body END,
                 campaign_commit = CASE WHEN state IN ({_EDITABLE}) THEN excluded.campaign_commit
                                   ELSE campaign_commit END,
                 timezone = CASE WHEN state IN ({_REPLANNED}) THEN excluded.timezone ELSE timezone END,
                 -- not sent yet: the policy decides again (a failed one stays failed while it may go)
                 status_description = CASE
                   WHEN state IN ({_REPLANNED}) AND excluded.state <> '{State.PENDING}' THEN excluded.status_description
                   WHEN state IN ({_POLICY}) THEN NULL ELSE status_description END,
                 not_before = CASE WHEN state IN ({_REPLANNED}) THEN excluded.not_before ELSE not_before END,
                 state = CASE
                   WHEN state IN ({_REPLANNED}) AND excluded.state <> '{State.PENDING}' THEN excluded.state
                   WHEN state IN ({_POLICY}) THEN '{State.PENDING}'
                   ELSE state END""",
            planned,
        )
        self.db.executemany("INSERT OR REPLACE INTO skipped VALUES (?, ?, ?, ?, ?)", skipped)

    def expire(self, run_id: int) -> int:
        stamp = now()
        # Held by a frequency cap until the end: suppressed with that reason (docs/policy.md).
        capped = self.db.execute(
            f"""UPDATE messages SET state = '{State.SUPPRESSED}', not_before = NULL, updated_at = ?,
                  status_description = SUBSTR(status_description, 11) || ' until the schedule ended'
                WHERE seen_run = ? AND state = '{State.DEFERRED}'
                  AND status_description LIKE 'deferred: over max_per_phone%'""",
            (stamp, run_id),
        ).rowcount
        cur = self.db.execute(
            f"""UPDATE messages SET state = '{State.EXPIRED}', updated_at = ?
                WHERE seen_run = ? AND state IN ({_SENDABLE}, '{State.DEFERRED}')""",
            (stamp, run_id),
        )
        return cur.rowcount + capped

    def last_run(self) -> int | None:
        value = get_meta(self.db, "audience_run")
        return int(value) if value else None

    def fingerprint(self) -> str | None:
        return get_meta(self.db, "source_fingerprint")
