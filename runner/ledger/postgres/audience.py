"""The PostgreSQL ledger's audience. Several senders may start on one campaign at once: the sync
runs in one transaction under an advisory lock on the campaign (transaction-scoped: the server
releases it when the syncer commits, rolls back, or dies; it never expires while its holder
lives), and a sender that finds the inputs already synced as it sees them uses that audience."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from runner.ledger.postgres.schema import reported
from runner.ledger.records import Planned, SkippedRow, in_batches, now
from runner.ledger.sqlite.audience import already_messaged
from runner.ledger.states import EDITABLE, MESSAGED, POLICY_DECIDED, REPLANNED, SENDABLE, State


def _array(states: tuple[State, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{state}'" for state in states) + "]"


_EDITABLE = _array(EDITABLE)
_REPLANNED = _array(REPLANNED)
# States only the policy (or a schedule's end) puts an unsent message in: back to pending when it allows.
_POLICY = _array(POLICY_DECIDED)
_MESSAGED = _array(MESSAGED)


# What a sync writes of each planned message, in its rows' order (`_write`), staged per batch in a
# table of the sync's transaction with the messages table's own column types.
_STAGED = (
    "campaign, key, position, seen_run, external_id, recipient_id, phone, body, state, status_description,"
    " not_before, timezone, campaign_commit"
)
_STAGE = f"CREATE TEMPORARY TABLE staged_messages ON COMMIT DROP AS SELECT {_STAGED} FROM messages WITH NO DATA"


class PostgresAudience:
    def __init__(self, conn: psycopg.Connection[Any], campaign: str, url: str) -> None:
        self.conn, self.campaign, self.url = conn, campaign, url

    def sync(
        self,
        run_id: int,
        items: Iterable[Planned | SkippedRow],
        fingerprint: str = "",
        campaign_commit: str | None = None,
    ) -> int:
        conn, campaign = self.conn, self.campaign
        with reported(self.url), conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('campaign-runner:sync:' || current_schema() || ':' || %s))",
                (campaign,),
            )
            row = conn.execute(
                "SELECT audience_run, source_fingerprint FROM campaigns WHERE campaign = %s", (campaign,)
            ).fetchone()
            if row is not None and row[0] is not None and fingerprint and row[1] == fingerprint:
                return int(row[0])  # synced already, from these very inputs (by another sender, maybe)
            conn.execute("DELETE FROM skipped WHERE campaign = %s", (campaign,))
            conn.execute(_STAGE)
            for planned, skipped in in_batches(items):
                self._write(run_id, campaign_commit, planned, skipped)
            conn.execute(
                "UPDATE campaigns SET audience_run = %s, source_fingerprint = %s WHERE campaign = %s",
                (run_id, fingerprint, campaign),
            )
        return run_id

    def _write(
        self, run_id: int, campaign_commit: str | None, planned: list[Planned], skipped: list[SkippedRow]
    ) -> None:
        # (the SQLite ledger's rules, runner.ledger.sqlite.audience, in PostgreSQL's words: a row whose
        # phone this campaign already messaged under another key is a duplicate naming both keys)
        campaign = self.campaign
        messaged = self._messaged_under_other_keys(planned)
        rows = []
        kept = []
        for item in planned:
            earlier = messaged.get(item.phone)
            if earlier is not None:
                kept.append(
                    (campaign, item.position, item.recipient_id, item.phone, State.DUPLICATE,
                     already_messaged(item, *earlier))
                )  # fmt: skip
                continue
            rows.append(
                (
                    campaign, item.key, item.position, run_id, item.external_id, item.recipient_id, item.phone,
                    item.body.decode("utf-8"), item.state, item.reason, item.not_before, item.timezone,
                    campaign_commit,
                )
            )  # fmt: skip
        for row in skipped:
            if row.state == State.DUPLICATE and row.phone:
                moved = self.conn.execute(
                    f"""UPDATE messages SET position = %s, seen_run = %s
                        WHERE campaign = %s AND key = %s AND seen_run <> %s AND state = ANY({_MESSAGED})""",
                    (row.position, run_id, campaign, row.recipient_id or row.phone, run_id),
                )
                if moved.rowcount:
                    continue
            kept.append((campaign, row.position, row.recipient_id, row.phone, row.state, row.reason))
        planned_rows, skipped_rows = rows, kept
        with self.conn.cursor() as cur:
            if planned_rows:
                # COPY into the staging table, then one statement for the batch: an INSERT a row
                # (executemany, even pipelined) made 100,000 recipients a 5.5 s sync.
                # (Keys are unique within a sync: the check pass makes a repeated key a duplicate.)
                with cur.copy(f"COPY staged_messages ({_STAGED}) FROM STDIN") as copy:
                    for values in planned_rows:
                        copy.write_row(values)
                cur.execute(
                    # (the SQLite ledger's rules, runner.ledger.sqlite.audience, in PostgreSQL's words)
                    f"""INSERT INTO messages AS m ({_STAGED})
                       SELECT {_STAGED} FROM staged_messages
                       ON CONFLICT (campaign, key) DO UPDATE SET
                         position = excluded.position,
                         seen_run = excluded.seen_run,
                         recipient_id = excluded.recipient_id,
                         phone = CASE WHEN m.state = ANY({_EDITABLE}) THEN excluded.phone ELSE m.phone END,
                         body = CASE WHEN m.state = ANY({_EDITABLE}) THEN excluded.body ELSE m.body END,
                         campaign_commit = CASE WHEN m.state = ANY({_EDITABLE}) THEN excluded.campaign_commit
                                           ELSE m.campaign_commit END,
                         timezone = CASE WHEN m.state = ANY({_REPLANNED}) THEN excluded.timezone ELSE m.timezone END,
                         status_description = CASE
                           WHEN m.state = ANY({_REPLANNED}) AND excluded.state <> '{State.PENDING}'
                             THEN excluded.status_description
                           WHEN m.state = ANY({_POLICY}) THEN NULL ELSE m.status_description END,
                         not_before = CASE WHEN m.state = ANY({_REPLANNED}) THEN excluded.not_before
                                      ELSE m.not_before END,
                         state = CASE
                           WHEN m.state = ANY({_REPLANNED}) AND excluded.state <> '{State.PENDING}' THEN excluded.state
                           WHEN m.state = ANY({_POLICY}) THEN '{State.PENDING}'
                           ELSE m.state END"""
                )
                cur.execute("TRUNCATE staged_messages")
            if skipped_rows:
                cur.executemany(
                    """INSERT INTO skipped VALUES (%s, %s, %s, %s, %s, %s)
                       ON CONFLICT (campaign, position) DO UPDATE SET recipient_id = excluded.recipient_id,
                         phone = excluded.phone, state = excluded.state, reason = excluded.reason""",
                    skipped_rows,
                )

    def _messaged_under_other_keys(self, planned: list[Planned]) -> dict[str, tuple[str, str, str | None]]:
        """phone -> (key, state, reference_id) of an earlier message to it (see SqliteAudience)."""
        if not planned:
            return {}
        sent_keys = {
            key
            for (key,) in self.conn.execute(
                f"""SELECT key FROM messages WHERE campaign = %s AND key = ANY(%s)
                    AND NOT (state = ANY({_REPLANNED}))""",
                (self.campaign, [item.key for item in planned]),
            )
        }
        phones = [item.phone for item in planned if item.key not in sent_keys]
        found: dict[str, tuple[str, str, str | None]] = {}
        for phone, key, state, reference_id in self.conn.execute(
            f"""SELECT phone, key, state, reference_id FROM messages
                WHERE campaign = %s AND phone = ANY(%s) AND state = ANY({_MESSAGED}) ORDER BY id""",
            (self.campaign, phones),
        ):
            found.setdefault(phone, (key, state, reference_id))
        return found

    def expire(self, run_id: int) -> int:
        stamp = now()
        with reported(self.url), self.conn.transaction():
            # Held by a frequency cap until the end: suppressed with that reason (docs/policy.md).
            capped = self.conn.execute(
                f"""UPDATE messages SET state = '{State.SUPPRESSED}', not_before = NULL, updated_at = %s,
                      status_description = SUBSTR(status_description, 11) || ' until the schedule ended'
                    WHERE campaign = %s AND seen_run = %s AND state = '{State.DEFERRED}'
                      AND status_description LIKE 'deferred: over max_per_phone%%'""",
                (stamp, self.campaign, run_id),
            ).rowcount
            cur = self.conn.execute(
                f"""UPDATE messages SET state = '{State.EXPIRED}', updated_at = %s
                    WHERE campaign = %s AND seen_run = %s AND state = ANY(%s)""",
                (stamp, self.campaign, run_id, [*SENDABLE, State.DEFERRED]),
            )
        return cur.rowcount + capped

    def last_run(self) -> int | None:
        with reported(self.url):
            row = self.conn.execute(
                "SELECT audience_run FROM campaigns WHERE campaign = %s", (self.campaign,)
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def fingerprint(self) -> str | None:
        with reported(self.url):
            row = self.conn.execute(
                "SELECT source_fingerprint FROM campaigns WHERE campaign = %s", (self.campaign,)
            ).fetchone()
        return None if row is None else row[0]
