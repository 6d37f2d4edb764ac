"""Which ledger a campaign has: today the SQLite file in its outputs folder
(runner.ledger.sqlite). Commands open ledgers here and use them through runner.ledger.interface."""

from __future__ import annotations

from pathlib import Path

from runner.ledger.interface import Ledger
from runner.ledger.sqlite.ledger import SqliteLedger


def open_ledger(folder: Path, campaign_id: str) -> Ledger:
    """The campaign's ledger, made if it has none. Raises LedgerUnusable (runner.errors) when the
    ledger found cannot be this campaign's."""
    return SqliteLedger.open(folder, campaign_id)


def ledger_exists(folder: Path, campaign_id: str) -> bool:
    """Whether a send ever made the campaign's ledger."""
    return SqliteLedger.exists(folder)


def open_read_only(folder: Path, campaign_id: str) -> Ledger | None:
    """The campaign's ledger for reading only (`campaign plan`), or None if a send never made one."""
    return SqliteLedger.open_read_only(folder, campaign_id) if SqliteLedger.exists(folder) else None


def open_existing(folder: Path, campaign_id: str) -> Ledger | None:
    """The campaign's ledger if a send ever made one, else None (reading never makes one)."""
    return SqliteLedger.open(folder, campaign_id) if SqliteLedger.exists(folder) else None
