"""The SQLite ledger's audience: each run's recipients synced into `messages` and `skipped`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from runner.ledger.records import Planned, SkippedRow, in_batches, now
from runner.ledger.sqlite.schema import get_meta, set_meta, transaction
from runner.ledger.states import EDITABLE, MESSAGED, POLICY_DECIDED, REPLANNED, SENDABLE, State

_EDITABLE = ", ".join(f"'{state}'" for state in EDITABLE)
_SENDABLE = ", ".join(f"'{state}'" for state in SENDABLE)
_REPLANNED = ", ".join(f"'{state}'" for state in REPLANNED)
_POLICY = ", ".join(f"'{state}'" for state in POLICY_DECIDED)
_MESSAGED = ", ".join(f"'{state}'" for state in MESSAGED)


def already_messaged(item: Planned, key: str, state: str, reference_id: str | None) -> str:
    """Why a row is a duplicate of a message sent in an earlier run, with both keys."""
    earlier = state + (f", reference_id {reference_id}" if reference_id else "")
    return (
        f"duplicate: {item.phone} was already messaged by this campaign as {key!r} ({earlier}); "
        f"this row's key is {item.key!r}: not sent again"
    )


class SqliteAudience:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def sync(
        self,
        run_id: int,
        items: Iterable[Planned | SkippedRow],
        fingerprint: str = "",
        campaign_commit: str | None = None,
    ) -> int:
        # (one sender per campaign: every run syncs)
        with transaction(self.db):
            self.db.execute("DELETE FROM skipped")
            for planned, skipped in in_batches(items):
                self._write(run_id, campaign_commit, planned, skipped)
            set_meta(self.db, "audience_run", str(run_id))
            set_meta(self.db, "source_fingerprint", fingerprint)
        return run_id

    def _write(
        self, run_id: int, campaign_commit: str | None, planned: list[Planned], skipped: list[SkippedRow]
    ) -> None:
        # Identity across runs is the phone as much as the key: a row whose phone this campaign
        # already messaged under another key (an `id` column added, an id edited, two ids for one
        # phone) is a duplicate of that message, named with both keys, and is not sent.
        messaged = self._messaged_under_other_keys(planned)
        rows = []
        kept = []
        for item in planned:
            earlier = messaged.get(item.phone)
            if earlier is not None:
                kept.append(
                    (item.position, item.recipient_id, item.phone, State.DUPLICATE, already_messaged(item, *earlier))
                )
                continue
            rows.append(
                (
                    item.key,
                    item.position,
                    run_id,
                    item.external_id,
                    item.recipient_id,
                    item.phone,
                    item.body,  # bytes: SQL makes them TEXT (no decoding in Python)
                    item.state,
                    item.reason,
                    item.not_before,
                    item.timezone,
                    campaign_commit,
                )
            )
        # The state's CASE is runner.ledger.states.state_after_sync's rule (what `campaign plan` applies).
        self.db.executemany(
            f"""INSERT INTO messages (key, position, seen_run, external_id, recipient_id, phone, body,
                                     state, status_description, not_before, timezone, campaign_commit)
               VALUES (?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?, ?, ?, ?)
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
            rows,
        )
        for row in skipped:
            # A row the audience calls a duplicate (its phone appears earlier, say after rows were
            # reordered) whose own key was already messaged: that message stays in this run's
            # audience, at this row's place, and the earlier row is the duplicate of it (above).
            if row.state == State.DUPLICATE and row.phone:
                moved = self.db.execute(
                    f"""UPDATE messages SET position = ?, seen_run = ?
                        WHERE key = ? AND seen_run != ? AND state IN ({_MESSAGED})""",
                    (row.position, run_id, row.recipient_id or row.phone, run_id),
                )
                if moved.rowcount:
                    continue
            kept.append((row.position, row.recipient_id, row.phone, row.state, row.reason))
        self.db.executemany("INSERT OR REPLACE INTO skipped VALUES (?, ?, ?, ?, ?)", kept)

    def _messaged_under_other_keys(self, planned: list[Planned]) -> dict[str, tuple[str, str, str | None]]:
        """phone -> (key, state, reference_id) of an earlier message to it, for the planned rows
        whose own message was never sent (a new key, or one not sent yet): a message already sent
        keeps its identity whatever its row's phone has become."""
        if not planned:
            return {}
        sent_keys = {
            key
            for (key,) in self.db.execute(
                f"""SELECT key FROM messages WHERE key IN (SELECT value FROM json_each(?))
                    AND state NOT IN ({_REPLANNED})""",
                (json.dumps([item.key for item in planned]),),
            )
        }
        phones = [item.phone for item in planned if item.key not in sent_keys]
        found: dict[str, tuple[str, str, str | None]] = {}
        for phone, key, state, reference_id in self.db.execute(
            f"""SELECT phone, key, state, reference_id FROM messages
                WHERE phone IN (SELECT value FROM json_each(?)) AND state IN ({_MESSAGED}) ORDER BY rowid""",
            (json.dumps(phones),),
        ):
            found.setdefault(phone, (key, state, reference_id))
        return found

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
