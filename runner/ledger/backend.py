"""Which ledger a campaign has: the SQLite file in its outputs folder (runner.ledger.sqlite, the
default), or, with CAMPAIGN_LEDGER_URL=postgresql://... or `--ledger URL`, a PostgreSQL database
shared by every campaign and sender (runner.ledger.postgres, imported only then:
docs/scaling-out.md). Commands open ledgers here and use them through runner.ledger.interface."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from runner.errors import UsageProblem
from runner.ledger.interface import Ledger
from runner.ledger.lock import CampaignLock
from runner.ledger.sqlite.ledger import SqliteLedger

ENVIRONMENT = "CAMPAIGN_LEDGER_URL"


def shared_ledger_url(option: str | None = None) -> str | None:
    """The shared ledger's URL: `--ledger`, else CAMPAIGN_LEDGER_URL, else None (SQLite files)."""
    url = option or os.environ.get(ENVIRONMENT) or None
    if url is not None and not url.startswith(("postgresql://", "postgres://")):
        raise UsageProblem(
            f"--ledger / {ENVIRONMENT}: {url.split('://')[0]!r} is not a ledger this runner knows; "
            "give a postgresql://user@host/database URL, or leave it unset for SQLite files under --outputs"
        )
    return url


def open_ledger(folder: Path, campaign_id: str, url: str | None = None) -> Ledger:
    """The campaign's ledger, made if it has none. Raises LedgerUnusable when the ledger found
    cannot be this campaign's, LedgerUnavailable when its database cannot be reached."""
    if url is not None:
        from runner.ledger.postgres.ledger import PostgresLedger

        return PostgresLedger.open(url, campaign_id)
    return SqliteLedger.open(folder, campaign_id)


def ledger_exists(folder: Path, campaign_id: str, url: str | None = None) -> bool:
    """Whether a send ever made the campaign's ledger."""
    if url is not None:
        ledger = open_existing(folder, campaign_id, url)
        if ledger is not None:
            ledger.close()
        return ledger is not None
    return SqliteLedger.exists(folder)


def open_read_only(folder: Path, campaign_id: str, url: str | None = None) -> Ledger | None:
    """The campaign's ledger for reading only (`campaign plan`), or None if a send never made one."""
    if url is not None:
        from runner.ledger.postgres.ledger import PostgresLedger

        return PostgresLedger.open_existing(url, campaign_id, read_only=True)
    return SqliteLedger.open_read_only(folder, campaign_id) if SqliteLedger.exists(folder) else None


def open_existing(folder: Path, campaign_id: str, url: str | None = None) -> Ledger | None:
    """The campaign's ledger if a send ever made one, else None (reading never makes one)."""
    if url is not None:
        from runner.ledger.postgres.ledger import PostgresLedger

        return PostgresLedger.open_existing(url, campaign_id)
    return SqliteLedger.open(folder, campaign_id) if SqliteLedger.exists(folder) else None


def describe(folder: Path, url: str | None) -> str:
    """Where the campaign's ledger is, for messages (never a password)."""
    if url is None:
        return str(folder)
    from runner.ledger.postgres.schema import shown

    return shown(url)


def campaign_lock(folder: Path, campaign_id: str, command: str, url: str | None) -> AbstractContextManager[object]:
    """What keeps senders of one campaign apart: with SQLite files, one process at a time
    (runner.ledger.lock); with a shared database, none is needed: claims skip what another holds,
    the audience is synced under the database's lock, and `enrich` takes its own."""
    if url is not None:
        return nullcontext()
    return CampaignLock(folder, campaign_id, command)
