"""Fixture modules shared by the whole suite."""

pytest_plugins = [
    "tests.fixtures.simulator",
    "tests.fixtures.receiver",
    "tests.fixtures.browser",
    "tests.fixtures.ledger",
]
