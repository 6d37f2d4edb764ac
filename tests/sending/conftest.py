"""Every test here runs against each ledger backend (tests.fixtures.ledger); `virtual`, a virtual
clock for asyncio (tests.sending.virtual_time), is a fixture for all of them."""

from __future__ import annotations

import pytest

from tests.fixtures.ledger import LedgerBackend
from tests.sending.virtual_time import virtual  # noqa: F401  # (a fixture, for the tests here)


@pytest.fixture(autouse=True)
def every_ledger(ledger_backend: LedgerBackend) -> LedgerBackend:
    return ledger_backend
