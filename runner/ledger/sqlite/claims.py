"""The SQLite ledger's side of sending: claims and outcomes committed together (group commit:
runner.sending.bookkeeping), so the fsync of synchronous=FULL is shared. One sender per
campaign (runner.ledger.lock) and BEGIN IMMEDIATE: what a batch selects is not taken meanwhile."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from runner.ledger.records import Batch, Claimed, Sendable, now
from runner.ledger.sqlite.schema import transaction
from runner.ledger.states import State
from runner.policy.store import RecipientStore

# A message the policy holds back before it is claimed is in one of these.
_HELD_FROM = ", ".join(f"'{s}'" for s in (State.PENDING, State.FAILED, State.DEFERRED))


class SqliteClaims:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def with_recipients(self, store: RecipientStore) -> bool:
        return False  # (the recipient store is a file of its own, shared by every campaign's ledger)

    def sendable(
        self, run_id: int, states: Sequence[State], after_position: int, limit: int, due: str | None = None
    ) -> list[Sendable]:
        plain = [s for s in states if s != State.DEFERRED]
        marks = ",".join("?" * len(plain))
        # A deferred message only once its not_before has passed (docs/policy.md).
        deferred = f" OR (state = '{State.DEFERRED}' AND not_before <= ?)" if State.DEFERRED in states else ""
        rows = self.db.execute(
            # (the body as the bytes to send: SQL reads the UTF-8 TEXT as a BLOB, no encoding in Python)
            f"""SELECT key, position, external_id, CAST(body AS BLOB), state, phone, timezone FROM messages
                WHERE seen_run = ? AND position > ? AND (state IN ({marks}){deferred})
                ORDER BY position LIMIT ?""",
            (run_id, after_position, *plain, *([due or now()] if deferred else []), limit),
        ).fetchall()
        return [
            Sendable(key, position, external_id, body, State(state), phone, timezone)
            for key, position, external_id, body, state, phone, timezone in rows
        ]

    def commit(self, batch: Batch) -> Claimed:
        db = self.db
        stamp = now()
        retried: list[bool] = []
        with transaction(db):
            for held in batch.set_aside:
                db.execute(
                    f"""UPDATE messages SET state = ?, status_description = ?, not_before = ?, updated_at = ?,
                          attempts = attempts - ?
                        WHERE key = ? AND state IN ({_HELD_FROM if not held.claimed else f"'{State.SENDING}'"})""",
                    (held.state, held.reason, held.not_before, stamp, 1 if held.claimed else 0, held.key),
                )
            if batch.releases:
                db.executemany(
                    f"""UPDATE messages SET state = ?, attempts = attempts - 1, updated_at = ?
                        WHERE key = ? AND state = '{State.SENDING}'""",
                    [(state, stamp, key) for key, state in batch.releases],
                )
            if batch.outcomes:
                db.executemany(
                    """UPDATE messages SET state = ?, http_status = ?, status_code = ?, status_description = ?,
                         reference_id = COALESCE(?, reference_id), submitted_at = COALESCE(?, submitted_at),
                         updated_at = ?
                       WHERE key = ?""",
                    [
                        (
                            o.state,
                            o.http_status,
                            o.status_code,
                            o.status_description,
                            o.reference_id,
                            o.submitted_at,
                            stamp,
                            o.key,
                        )
                        for o in batch.outcomes
                    ],
                )
            for key, states in batch.retries:
                retried.append(self._claim(key, states, batch.run_id, stamp))
            taken = self.sendable(batch.run_id, batch.states, batch.after, batch.take, batch.due) if batch.take else []
            for message in taken:
                self._claim(message.key, batch.states, batch.run_id, stamp)
        return Claimed(taken, retried)

    def _claim(self, key: str, states: Sequence[State], run_id: int, stamp: str) -> bool:
        marks = ",".join("?" * len(states))
        cur = self.db.execute(
            f"""UPDATE messages SET state = '{State.SENDING}', attempts = attempts + 1, updated_at = ?
                WHERE key = ? AND seen_run = ? AND state IN ({marks})""",
            (stamp, key, run_id, *states),
        )
        return cur.rowcount == 1
