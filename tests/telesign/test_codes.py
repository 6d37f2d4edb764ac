"""The one table of Telesign codes (runner.telesign.codes), as the rules and the client read it."""

from __future__ import annotations

import httpx
import pytest

from runner.callbacks.reference import fold
from runner.callbacks.rules import is_final
from runner.telesign import codes
from runner.telesign.client import classify
from tests.callbacks.test_delivery import callback

# Telesign marks these "(Intermediate)", or tries the next channel after them (issue 14).
DOCUMENTED_INTERMEDIATE = {3001, 3002, 3056, 3100, 3101, 3200, 3202, 3306}


def test_the_intermediate_codes_are_exactly_the_documented_ones() -> None:
    assert codes.INTERMEDIATE == DOCUMENTED_INTERMEDIATE
    assert all(not is_final(code) for code in DOCUMENTED_INTERMEDIATE)
    assert is_final(3999)  # a code nobody documents is not waited on forever


@pytest.mark.parametrize("intermediate", sorted(DOCUMENTED_INTERMEDIATE))
def test_a_late_intermediate_status_never_replaces_a_final_one(intermediate: int) -> None:
    final = callback(3003, 10.0, 0)
    late = callback(intermediate, 20.0, 1)
    assert fold([final, late]).code == 3003
    assert fold([late, final]).code == 3003
    assert not fold([late]).final


def test_every_code_has_telesigns_description() -> None:
    assert codes.description(3005) == "Message is read"
    assert codes.description(3006) == "None of the channels is enabled for the customer"
    assert codes.description(4242) is None
    assert all(entry.description for entry in codes.CODES.values())


@pytest.mark.parametrize(("code", "verdict"), [(3204, "retry"), (3203, "rejected"), (3206, "rejected")])
def test_the_client_retries_a_429_only_where_the_table_says(code: int, verdict: str) -> None:
    response = httpx.Response(429, json={"status": {"code": code, "description": codes.description(code)}})
    assert classify(response).verdict == verdict


def test_every_code_is_in_the_docs_table() -> None:
    from pathlib import Path

    page = (Path(__file__).parents[2] / "docs" / "callbacks.md").read_text(encoding="utf-8")
    for entry in codes.CODES.values():
        assert f"| {entry.code} | {entry.description} |" in page, entry.code
