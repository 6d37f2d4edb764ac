"""Campaign files for sending tests, and running the CLI as a user would."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runner.ledger.backend import ledger_exists, shared_ledger_url
from runner.telesign.auth import DEMO_API_KEY, DEMO_CUSTOMER_ID
from tests.testing.cli import invoke


def phone(i: int, last_digit: int) -> str:
    """A valid US number in Washington's 202 area ending in `last_digit`, distinct for every `i`: 202-555
    for the first 1,000, then 202-554, 202-553... (a 3,000-recipient reliability run needs 3,000 phones)."""
    return f"+1 202 {555 - i // 1000} {(i * 10 + last_digit) % 10000:04d}"


def write_campaign(
    folder: Path,
    digits: Iterable[int] = range(9),
    campaign_id: str = "test-campaign",
    extra: str = "",
    sending: str = "rate = 1000\nconcurrency = 8\nmax_attempts = 3",
    text: str = "Hello {{ first_name }}, your order {{ order_id }} is on its way:",
    name: str = "campaign.toml",
) -> Path:
    """A campaign whose audience CSV has one recipient per entry of `digits`, the i-th ending in
    digits[i] (the simulator's outcome is chosen by the last digit)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["id,phone,first_name,order_id"]
    for i, d in enumerate(digits):
        rows.append(f"r-{i:04d},{phone(i, d)},Name{i},{50000 + i}")
    (folder / "audience.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = folder / name
    path.write_text(
        f'''id = "{campaign_id}"
message_type = "ARN"
{extra}
[sending]
{sending}

[audience]
file = "audience.csv"
default_region = "US"

[viber]
text = "{text}"
url = "https://shop.example/orders?id={{{{ order_id }}}}"
url_text = "Track"
url_id = "track"
fallback_time = 60

[sms]
text = "Your order {{{{ order_id }}}}: https://shop.example/orders?id={{{{ order_id }}}}"
''',
        encoding="utf-8",
    )
    return path


def telesign_env(url: str, **more: str) -> dict[str, str]:
    env = {"TELESIGN_CUSTOMER_ID": DEMO_CUSTOMER_ID, "TELESIGN_API_KEY": DEMO_API_KEY, "TELESIGN_BASE_URL": url}
    env.update(more)
    return env


campaign = invoke  # `campaign("send", file, ...)` reads as the shell line it stands for


def subprocess_env(url: str, **more: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(telesign_env(url, **more))
    return env


def ledger_messages(outputs: Path, campaign_id: str = "test-campaign") -> list[dict[str, Any]]:
    """Every message the campaign's ledger holds (current audience or not), every column, in
    audience order: read straight from the ledger, whichever backend the test has
    (tests.fixtures.ledger sets CAMPAIGN_LEDGER_URL for a shared one)."""
    url = shared_ledger_url()
    if url is None:
        path = outputs / campaign_id / "ledger.sqlite"
        if not path.exists():
            return []
        db = sqlite3.connect(path)
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute("SELECT * FROM messages ORDER BY position")]
        finally:
            db.close()
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row) as conn:
        found = conn.execute("SELECT to_regclass('messages') IS NOT NULL AS here").fetchone()
        if not found or not found["here"]:
            return []
        rows = conn.execute("SELECT * FROM messages WHERE campaign = %s ORDER BY position", (campaign_id,)).fetchall()
    return [{k: v for k, v in row.items() if k not in ("id", "campaign")} for row in rows]


def ledger_states(outputs: Path, campaign_id: str = "test-campaign") -> dict[str, str]:
    """recipient id -> state, read straight from the ledger."""
    return {row["recipient_id"]: row["state"] for row in ledger_messages(outputs, campaign_id)}


def ledger_rows(outputs: Path, campaign_id: str = "test-campaign") -> list[dict[str, Any]]:
    return ledger_messages(outputs, campaign_id)


def has_ledger(outputs: Path, campaign_id: str = "test-campaign") -> bool:
    """Whether a ledger was made for the campaign (whichever backend)."""
    return ledger_exists(outputs / campaign_id, campaign_id, shared_ledger_url())


ROOT = Path(__file__).resolve().parents[2]


def start_send(file: Path, out: Path, url: str, quiet: bool = False) -> subprocess.Popen[str]:
    """`campaign send FILE` as its own process (so it can be signalled or killed)."""
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen(
        [sys.executable, "-m", "runner", "send", str(file), "--outputs", str(out), "--log-format", "plain"],
        cwd=ROOT,
        env=subprocess_env(url),
        stdout=output,
        stderr=output,
        text=True,
    )


def wait_for_accepted(app: Any, count: int, timeout: float = 20) -> None:
    """Until the simulator `app` has accepted `count` requests (a bound, not a speed requirement)."""
    deadline = time.monotonic() + timeout
    while len(app.accepted()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
