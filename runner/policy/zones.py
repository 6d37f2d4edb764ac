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
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberType
from phonenumbers import timezone as number_zones
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from runner.campaign.phones import typed
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


NO_ZONES = RecipientZones((), "unknown")  # not looked up: no window applies


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


def _number_zones(phone_e164: str) -> tuple[str, ...]:
    # A country in one time zone (Germany, France, India, Japan...) answers without parsing the
    # number: libphonenumber would give that zone for every valid number of it. (Parsing and typing
    # a number costs ~20 us, a fifth of what checking a row costs.)
    digits = phone_e164[1:4]
    for length in (1, 2, 3):
        only = _single_zone(digits[:length])
        if only is not None:
            return only
    return _looked_up(phone_e164)


@lru_cache(maxsize=1024)
def _single_zone(country_code: str) -> tuple[str, ...] | None:
    if not country_code.isdigit() or int(country_code) not in COUNTRY_CODE_TO_REGION_CODE:
        return None
    names = TIMEZONE_DATA.get(country_code)
    if names is None or len(names) != 1 or names[0] == _UNKNOWN:
        return None
    try:
        zone(names[0])
    except BadWindow:
        return None
    return (names[0],)


@lru_cache(maxsize=65536)
def _looked_up(phone_e164: str) -> tuple[str, ...]:
    try:
        number, kind = typed(phone_e164)
    except phonenumbers.NumberParseException:
        return ()
    names = []
    for name in time_zones_for_number(number, kind):
        if name == _UNKNOWN:
            continue
        try:
            zone(name)
        except BadWindow:  # a name this machine's zone database lacks: not one to rely on
            continue
        names.append(name)
    return tuple(sorted(names))


def time_zones_for_number(number: phonenumbers.PhoneNumber, kind: int) -> tuple[str, ...]:
    """phonenumbers.timezone.time_zones_for_number, given the number's type (which the phone
    check computed already): the geographical zones of a fixed line, else its country's."""
    if kind == PhoneNumberType.UNKNOWN:
        return (_UNKNOWN,)
    if phonenumbers.is_number_type_geographical(kind, number.country_code or 0):
        return tuple(number_zones.time_zones_for_geographical_number(number))
    code = str(number.country_code)  # as phonenumbers' _country_level_time_zones_for_number
    for length in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        names = TIMEZONE_DATA.get(code[: 1 + length])
        if names is not None:
            return tuple(names)
    return (_UNKNOWN,)


def parse_zones(text: str | None) -> tuple[str, ...]:
    """The zones as stored (RecipientZones.text) back into names."""
    return tuple(text.split()) if text else ()
