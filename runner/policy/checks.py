"""The policy's values checked one at a time, for the campaign file's schema and the policy's:
each returns the value as written or raises ValueError with what to write instead (pydantic turns
that into `path:line: message`)."""

from __future__ import annotations

from runner.policy.caps import BadCap, parse_cap
from runner.policy.windows import ANY, BadWindow, parse_days, parse_window, zone


def check_window(value: str) -> str:
    if value.strip().lower() == ANY:
        return ANY
    try:
        parse_window(value, None)
    except BadWindow as error:
        raise ValueError(str(error)) from None
    return value.strip()


def check_days(value: list[str]) -> list[str]:
    try:
        parse_days(value)
    except BadWindow as error:
        raise ValueError(str(error)) from None
    return value


def check_timezone(value: str) -> str:
    try:
        zone(value)
    except BadWindow as error:
        raise ValueError(str(error)) from None
    return value


def check_cap(value: str) -> str:
    try:
        parse_cap(value)
    except BadCap as error:
        raise ValueError(str(error)) from None
    return value.strip()
