"""The PostgreSQL ledger's side of sending, for any number of senders on one campaign: each
batch claims the next messages with FOR UPDATE SKIP LOCKED (rows another sender is claiming at
that moment are skipped, not waited for) and commits before any of their requests leaves. A
claimed message is `sending` until its outcome is recorded; there is no lease: a message left
`sending` by a dead sender stays so (docs/scaling-out.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from runner.ledger.postgres.recipients import PostgresConnection, PostgresRecipientStore, placeheld
from runner.ledger.postgres.runs import PostgresRuns
from runner.ledger.postgres.schema import reported, retrying
from runner.ledger.records import Batch, Claimed, Sendable, now
from runner.ledger.states import State
from runner.policy.store import RECORD_CONTACT, OptOut, RecipientStore, contact_row, opt_out_of

# A message the policy holds back before it is claimed is in one of these.
_HELD_FROM = (State.PENDING, State.FAILED, State.DEFERRED)
# Claimable: in one of the states given, a deferred one once its not_before is past (docs/policy.md).
_CLAIMABLE = "(state = ANY(%s) OR (state = 'deferred' AND %s AND not_before <= %s))"


# The next messages past `after`, skipping rows another sender is claiming at that moment.
_PICK_AND_CLAIM = f"""picked AS (
      SELECT id, state FROM messages
      WHERE campaign = %s AND seen_run = %s AND position > %s AND {_CLAIMABLE}
      ORDER BY position LIMIT %s
      FOR UPDATE SKIP LOCKED),
    claimed AS (
      UPDATE messages m SET state = '{State.SENDING}', attempts = m.attempts + 1, updated_at = %s, claimed_run = %s
      FROM picked WHERE m.id = picked.id
      RETURNING m.key, m.position, m.external_id, m.body, picked.state, m.phone, m.timezone)"""
_CLAIM = f"WITH {_PICK_AND_CLAIM} SELECT * FROM claimed"
# The same, with each phone's latest opt-out event: the recipient store's opted_out_among
# (runner.ledger.postgres.recipients) in the claim's own round trip.
_CLAIM_READING_OPT_OUTS = f"""WITH {_PICK_AND_CLAIM}
    SELECT c.*, o.phone, o.action, o.at, o.source, o.campaign FROM claimed c
    LEFT JOIN LATERAL (
      SELECT phone, action, at, source, campaign FROM opt_events e WHERE e.phone = c.phone
      ORDER BY at DESC, id DESC LIMIT 1) o ON true"""


def _claimable(states: Sequence[State], due: str | None) -> tuple[list[State], bool, str]:
    plain: list[State] = [s for s in states if s != State.DEFERRED]
    return plain, State.DEFERRED in states, due or now()


class PostgresClaims:
    def __init__(self, conn: psycopg.Connection[Any], campaign: str, url: str, runs: PostgresRuns) -> None:
        self.conn, self.campaign, self.url = conn, campaign, url
        self.runs = runs  # whose current run each claim names (runner.ledger.postgres.runs)
        self.round_trips = 0  # transactions committed (bench/postgres_senders.py)

    def sendable(
        self, run_id: int, states: Sequence[State], after_position: int, limit: int, due: str | None = None
    ) -> list[Sendable]:
        with reported(self.url):
            rows = self.conn.execute(
                f"""SELECT key, position, external_id, body, state, phone, timezone FROM messages
                    WHERE campaign = %s AND seen_run = %s AND position > %s AND {_CLAIMABLE}
                    ORDER BY position LIMIT %s""",
                (self.campaign, run_id, after_position, *_claimable(states, due), limit),
            ).fetchall()
        return [Sendable(k, p, e, b.encode("utf-8"), State(s), ph, tz) for k, p, e, b, s, ph, tz in rows]

    def with_recipients(self, store: RecipientStore) -> bool:
        return (
            isinstance(store, PostgresRecipientStore)
            and isinstance(store.db, PostgresConnection)
            and store.db.url == self.url
        )

    def commit(self, batch: Batch) -> Claimed:
        with reported(self.url):
            return retrying(lambda: self._commit(batch))

    def _commit(self, batch: Batch) -> Claimed:
        conn, campaign = self.conn, self.campaign
        stamp = now()
        retried: list[bool] = []
        taken: list[Sendable] = []
        # One round trip for the whole transaction where psycopg can: pipeline mode sends every
        # statement, then waits once.
        with conn.pipeline(), conn.transaction(), conn.cursor() as cur:
            if batch.contacts:
                # The contact history in the same transaction as the outcomes it counts: the caps
                # never miss a message the ledger calls accepted (docs/policy.md, "Frequency caps").
                cur.executemany(placeheld(RECORD_CONTACT), [contact_row(c) for c in batch.contacts])
            for held in batch.set_aside:
                cur.execute(
                    """UPDATE messages SET state = %s, status_description = %s, not_before = %s, updated_at = %s,
                         attempts = attempts - %s
                       WHERE campaign = %s AND key = %s AND state = ANY(%s)""",
                    (
                        held.state, held.reason, held.not_before, stamp, 1 if held.claimed else 0, campaign, held.key,
                        [State.SENDING] if held.claimed else list(_HELD_FROM),
                    ),
                )  # fmt: skip
            if batch.releases:
                cur.executemany(
                    f"""UPDATE messages SET state = %s, attempts = attempts - 1, updated_at = %s
                        WHERE campaign = %s AND key = %s AND state = '{State.SENDING}'""",
                    [(state, stamp, campaign, key) for key, state in batch.releases],
                )
            if batch.outcomes:
                cur.executemany(
                    """UPDATE messages SET state = %s, http_status = %s, status_code = %s, status_description = %s,
                         reference_id = COALESCE(%s, reference_id), submitted_at = COALESCE(%s, submitted_at),
                         updated_at = %s
                       WHERE campaign = %s AND key = %s""",
                    [
                        (
                            o.state, o.http_status, o.status_code, o.status_description, o.reference_id,
                            o.submitted_at, stamp, campaign, o.key,
                        )
                        for o in sorted(batch.outcomes, key=lambda o: o.key)  # (one lock order for all writers)
                    ],
                )  # fmt: skip
            retries = []
            for key, states in batch.retries:
                retries.append(
                    conn.execute(
                        f"""UPDATE messages SET state = '{State.SENDING}', attempts = attempts + 1, updated_at = %s,
                              claimed_run = %s
                            WHERE campaign = %s AND key = %s AND seen_run = %s AND state = ANY(%s) RETURNING 1""",
                        (stamp, self.runs.current, campaign, key, batch.run_id, list(states)),
                    )
                )
            picked = None
            if batch.take:
                picked = conn.execute(
                    (_CLAIM_READING_OPT_OUTS if batch.read_opt_outs else _CLAIM),
                    (
                        campaign,
                        batch.run_id,
                        batch.after,
                        *_claimable(batch.states, batch.due),
                        batch.take,
                        stamp,
                        self.runs.current,
                    ),
                )
        self.round_trips += 1
        retried = [result.fetchone() is not None for result in retries]
        opt_outs: dict[str, OptOut] | None = {} if batch.read_opt_outs else None
        if picked is not None:
            rows = picked.fetchall()
            taken = sorted(
                (Sendable(k, p, e, b.encode("utf-8"), State(s), ph, tz) for k, p, e, b, s, ph, tz, *_ in rows),
                key=lambda m: m.position,
            )
            if opt_outs is not None:
                found = (opt_out_of(row[7:]) for row in rows if row[7] is not None)
                opt_outs.update((out.phone, out) for out in found if out is not None)
        return Claimed(taken, retried, opt_outs)
