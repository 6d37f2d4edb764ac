"""Every test here runs against each ledger backend (tests.fixtures.ledger)."""

from __future__ import annotations

import pytest

from tests.fixtures.ledger import LedgerBackend


@pytest.fixture(autouse=True)
def every_ledger(ledger_backend: LedgerBackend) -> LedgerBackend:
    return ledger_backend
