"""The delivery columns the `messages` table had until they moved to narrow `deliveries` rows
(SQLite migration 7, PostgreSQL migration 4: `enrich` rewrote every ~1 KB messages row to change
~100 bytes of them; docs/callbacks.md). Written out once, as shipped: both backends' migrations
name them, and the tests that build a ledger in the old layout make them."""

from __future__ import annotations

MOVED_COLUMNS = (
    "delivery_status_code INTEGER", "delivery_status_description TEXT", "last_channel TEXT",
    "viber_status_code INTEGER", "viber_status_description TEXT", "sms_status_code INTEGER",
    "sms_status_description TEXT", "status_updated_on TEXT", "callbacks INTEGER NOT NULL DEFAULT 0", "price TEXT",
    "currency TEXT", "sms_parts INTEGER",
)  # fmt: skip
MOVED_COLUMN_NAMES = tuple(column.split()[0] for column in MOVED_COLUMNS)
