"""Which time zones a recipient lives in (docs/policy.md, "Whose local time").

In this order: the audience's `timezone` column (an IANA name) when the row has one; else the
zones phonenumbers' `timezone` module maps the number to (a country or area code that spans zones
maps to several, and the window must then hold in all of them); else the policy's or campaign's
`[schedule] timezone`, the fallback."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import phonenumbers
from phonenumbers import timezone as number_zones

from runner.policy.windows import BadWindow, zone

ZONE_COLUMN = "timezone"
Source = Literal["column", "phone", "fallback", "unknown"]
_UNKNOWN = "Etc/Unknown"  # what phonenumbers answers for a number it cannot place


@dataclass(frozen=True)
class RecipientZones:
    names: tuple[str, ...]  # sorted; empty when unknown and no fallback is set
    source: Source

    @property
    def text(self) -> str:
        """As the report and the ledger show it: the zones joined with a space."""
        return " ".join(self.names)


def zones_of(phone_e164: str, column: str | None, fallback: str | None) -> RecipientZones:
    """The recipient's zones; BadWindow when the `timezone` column names no IANA zone."""
    if column is not None and column.strip():
        zone(column.strip())  # raises with a "did you mean"
        return RecipientZones((column.strip(),), "column")
    found = _number_zones(phone_e164)
    if found:
        return RecipientZones(found, "phone")
    if fallback is not None:
        return RecipientZones((fallback,), "fallback")
    return RecipientZones((), "unknown")


@lru_cache(maxsize=65536)
def _number_zones(phone_e164: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        return ()
    names = []
    for name in number_zones.time_zones_for_number(number):
        if name == _UNKNOWN:
            continue
        try:
            zone(name)
        except BadWindow:  # a name this machine's zone database lacks: not one to rely on
            continue
        names.append(name)
    return tuple(sorted(names))


def parse_zones(text: str | None) -> tuple[str, ...]:
    """The zones as stored (RecipientZones.text) back into names."""
    return tuple(text.split()) if text else ()
