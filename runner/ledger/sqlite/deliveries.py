"""The SQLite ledger's side of `enrich`: messages found by reference_id or external_id, and each
message's merged delivery kept in its delivery columns and in `deliveries` (schema.MIGRATIONS).
A message's id here is its rowid."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager

from runner.ledger.records import ChannelStatus, Cost, MergedDelivery, MergeState, StoredDelivery, now
from runner.ledger.sqlite.schema import get_meta, set_meta, transaction
from runner.ledger.states import SETTLED_BY_CALLBACK, State
from runner.telesign import codes

CHUNK = 1000  # messages written per statement batch
_SETTLED_FROM = ", ".join(f"'{state}'" for state in SETTLED_BY_CALLBACK)


def _chunks(rows: Iterable[MergedDelivery], size: int) -> Iterator[list[MergedDelivery]]:
    chunk: list[MergedDelivery] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class SqliteDeliveries:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    @contextmanager
    def enriching(self) -> Iterator[None]:
        """Commits are synchronous=NORMAL for the length of an enrichment: in WAL mode that still
        never corrupts the ledger, but a power cut may undo the last commits, which only ever hold
        what the callback logs still hold and the next `enrich` reads again. Claims keep FULL: it
        is set back on the way out."""
        self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            self.db.execute("PRAGMA synchronous=FULL")

    def next_arrival(self) -> int:
        stored = get_meta(self.db, "callback_arrivals")
        return 0 if stored is None else int(stored)

    def any_stored(self) -> bool:
        return bool(self.db.execute("SELECT EXISTS (SELECT 1 FROM deliveries)").fetchone()[0])

    def by_reference(self, references: Collection[str]) -> list[tuple[str, int]]:
        # (the index answers alone: enrichment asks this for every message)
        return self.db.execute(
            """SELECT reference_id, rowid FROM messages WHERE reference_id IN (SELECT value FROM json_each(?))
               ORDER BY rowid DESC""",
            (json.dumps(list(references)),),
        ).fetchall()

    def by_external_id(self, external_ids: Collection[str]) -> list[tuple[str, int, str | None]]:
        return self.db.execute(
            """SELECT external_id, rowid, reference_id FROM messages
               WHERE external_id IN (SELECT value FROM json_each(?))""",
            (json.dumps(list(external_ids)),),
        ).fetchall()

    def stored(self, messages: Collection[int]) -> list[StoredDelivery]:
        rows = self.db.execute(
            """SELECT m.rowid, m.delivery_status_code, m.delivery_status_description, m.last_channel,
                      m.viber_status_code, m.viber_status_description, m.sms_status_code, m.sms_status_description,
                      m.status_updated_on, d.seen, d.status_order, d.status_arrival, d.viber_order, d.viber_arrival,
                      d.sms_order, d.sms_arrival, d.other_channels, d.price_order, d.price_arrival,
                      m.price, m.currency, m.sms_parts
               FROM messages m JOIN deliveries d ON d.message_key = m.key
               WHERE m.rowid IN (SELECT value FROM json_each(?))""",
            (json.dumps(list(messages)),),
        )
        return [
            StoredDelivery(
                message=rowid,
                code=code,
                description=description,
                last_channel=last_channel,
                viber=ChannelStatus(viber_code, viber_description),
                sms=ChannelStatus(sms_code, sms_description),
                updated_on=updated_on,
                merge=MergeState(seen, *orders),
                cost=Cost(price, currency, sms_parts),
            )
            for (
                rowid, code, description, last_channel, viber_code, viber_description, sms_code, sms_description,
                updated_on, seen, *orders, price, currency, sms_parts,
            ) in rows
        ]  # fmt: skip

    def awaiting_status(self) -> Iterator[tuple[str, str | None]]:
        # (any message accepted, in the last audience or not: it was sent, its status is worth knowing)
        return iter(
            self.db.execute(
                f"""SELECT reference_id, submitted_at FROM messages
                    WHERE state = '{State.ACCEPTED}' AND reference_id IS NOT NULL
                      AND (delivery_status_code IS NULL OR delivery_status_code IN (SELECT value FROM json_each(?)))
                    ORDER BY rowid""",
                (json.dumps(sorted(codes.INTERMEDIATE)),),
            ).fetchall()
        )

    def save(self, rows: Iterable[MergedDelivery], next_arrival: int) -> int:
        # (in rowid order, the writes walk the table once)
        db = self.db
        stamp = now()
        settled = 0
        with transaction(db):
            for chunk in _chunks(rows, CHUNK):
                db.executemany(
                    """UPDATE messages SET reference_id = COALESCE(reference_id, ?),
                         delivery_status_code = ?, delivery_status_description = ?, last_channel = ?,
                         viber_status_code = ?, viber_status_description = ?, sms_status_code = ?,
                         sms_status_description = ?, status_updated_on = ?, callbacks = ?, price = ?, currency = ?,
                         sms_parts = ?, updated_at = ?
                       WHERE rowid = ?""",
                    [
                        (
                            r.reference_id, r.code, r.description, r.last_channel, r.viber.code, r.viber.description,
                            r.sms.code, r.sms.description, r.updated_on, r.callbacks, *r.cost, stamp, r.message,
                        )
                        for r in chunk
                    ],
                )  # fmt: skip
                db.executemany(
                    """INSERT OR REPLACE INTO deliveries VALUES
                         ((SELECT key FROM messages WHERE rowid = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [(r.message, *r.merge) for r in chunk],
                )
                settled += db.execute(
                    f"""UPDATE messages SET state = '{State.ACCEPTED}'
                        WHERE state IN ({_SETTLED_FROM}) AND rowid IN (SELECT value FROM json_each(?))""",
                    (json.dumps([r.message for r in chunk]),),
                ).rowcount
            set_meta(db, "callback_arrivals", str(next_arrival))
        return settled
