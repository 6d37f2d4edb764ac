"""A recipient's country from the E.164 number the report holds, fast enough for a million rows.

Most calling codes belong to one region (+44 is not one: GB, GG, IM, JE), and for those the code
alone answers: no parsing. For the dozen codes regions share (+1 for the US, Canada and the
Caribbean, +7, +44, +39...) phonenumbers tells the region from the number's leading digits (an area
code, a mobile prefix such as Guernsey's +44 7911 1), which costs about 13 microseconds a number
(13 s a million): those answers are cached by the number without its last two digits, which the
shared codes' metadata does not tell regions apart by (tests/report/test_countries.py compares
with phonenumbers on random valid numbers of every shared code), so a large audience costs a few
thousand lookups."""

from __future__ import annotations

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

UNKNOWN = "??"
_NON_GEOGRAPHIC = "001"  # phonenumbers' region for +800, +882...: not a country


def calling_code(e164: str) -> int | None:
    """The country calling code at the start of an E.164 number (the codes are prefix-free)."""
    digits = e164[1:] if e164.startswith("+") else e164
    for width in (1, 2, 3):
        head = digits[:width]
        if head.isdigit() and int(head) in COUNTRY_CODE_TO_REGION_CODE:
            return int(head)
    return None


def region_of(e164: str) -> str:
    """ISO 3166 alpha-2 region of the number, or "??" when it cannot be told (an invalid row)."""
    code = calling_code(e164)
    if code is None:
        return UNKNOWN
    regions = COUNTRY_CODE_TO_REGION_CODE[code]
    if len(regions) == 1:
        return UNKNOWN if regions[0] == _NON_GEOGRAPHIC else regions[0]
    prefix = e164[:-2]
    region = _cache.get(prefix)
    if region is None:
        if len(_cache) >= MAX_CACHED:
            _cache.clear()  # a fresh start beats tracking recency: the common prefixes come back at once
        region = _cache[prefix] = _parsed_region(e164)
    return region


MAX_CACHED = 65536
_cache: dict[str, str] = {}


def _parsed_region(e164: str) -> str:
    """phonenumbers' region; for a number no region's metadata knows (a test number such as
    +1 555 867 5309, kept with phone_check = "possible"), the calling code's main region."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return UNKNOWN
    region = phonenumbers.region_code_for_number(parsed) or phonenumbers.region_code_for_country_code(
        parsed.country_code or 0
    )
    return str(region) if region and region != _NON_GEOGRAPHIC and region != "ZZ" else UNKNOWN
