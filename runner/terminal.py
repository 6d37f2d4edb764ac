"""All terminal output goes through here: one place to keep secrets out and stderr/stdout apart."""

from __future__ import annotations

import sys

import click


def out(line: str = "") -> None:
    """A result line on stdout (what a script pipes on)."""
    click.echo(line)


def err(line: str) -> None:
    """A problem or progress line on stderr."""
    click.echo(line, err=True)


def is_terminal() -> bool:
    return sys.stderr.isatty()
