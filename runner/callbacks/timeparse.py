"""Parse the `updated_on` times Telesign puts in delivery callbacks, in every format it uses.

Telesign is not consistent about this field, even inside one callback (the seed's example has both
of the first two):

- "2020-05-04 22:07:01:226"   a colon before the milliseconds (omnichannel status)
- "2020-05-04 22:05:00.325"   a dot before the fraction (per-channel status)
- "2020-05-04T22:05:00Z", "2020-05-04T22:05:00.325+02:00", "2020-05-04T22:05:00"  RFC 3339,
  with or without fraction and zone
- "Mon, 04 May 2020 22:07:01 GMT"   RFC 1123 (the HTTP date format)

A time written without a zone is UTC: Telesign's API works in UTC throughout.
`parse_updated_on` returns an aware datetime in UTC, or None for anything it cannot read, so that
a caller can count an odd timestamp instead of failing on it.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

UTC = UTC

# Date and time, separated by T, t or a space; then an optional fraction introduced by "." (a
# decimal fraction) or ":" (Telesign's milliseconds); then an optional zone.
_NUMERIC = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})"
    r"(?:(\.)(\d{1,9})|:(\d{1,3}))?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?",
    re.ASCII,
)

# RFC 1123: "Mon, 04 May 2020 22:07:01 GMT" (the day name is optional in RFC 5322, which
# email.utils also reads; the zone may be GMT, UT, UTC or a numeric offset).
_RFC1123 = re.compile(
    r"(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{2}:\d{2}(?::\d{2})?\s+(?:GMT|UTC?|[+-]\d{4})",
    re.ASCII,
)


def parse_updated_on(value: object) -> datetime | None:
    """The instant `value` names, as an aware UTC datetime; None when it is not a time we know."""
    if not isinstance(value, str):
        return None
    return _parse_text(value)


# Microseconds since 0001-01-01T00:00:00Z: an integer that orders like the instant it names, so
# that enrichment can keep millions of callback times in compact arrays and compare them cheaply.
_ORIGIN = datetime(1, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """An aware datetime as microseconds since 0001-01-01T00:00:00Z."""
    return (moment - _ORIGIN) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The inverse of `to_micros`: an aware UTC datetime."""
    return _ORIGIN + timedelta(microseconds=micros)


def updated_on_micros(value: object) -> int | None:
    """`parse_updated_on(value)` as microseconds since 0001-01-01T00:00:00Z, or None."""
    if not isinstance(value, str):
        return None
    if len(value) == 23 and value[10] == " " and (value[19] == ":" or value[19] == "."):
        # Telesign's two usual forms, "2020-05-04 22:07:01:226" and "2020-05-04 22:05:00.325",
        # nearly every time in a log: the second is looked up (a log's lines come in time order,
        # so it repeats) and the milliseconds added; a whole-string cache would miss every time.
        millis = value[20:]
        if millis.isascii() and millis.isdigit():
            second = _second_micros(value[:19])
            if second is not None:
                return second + int(millis) * 1000
    moment = _parse_text(value)
    return None if moment is None else (moment - _ORIGIN) // _MICROSECOND


_SECOND = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)


@functools.lru_cache(maxsize=1024)
def _second_micros(text: str) -> int | None:
    """ "2020-05-04 22:07:01" (UTC) as microseconds since 0001-01-01T00:00:00Z, or None."""
    if _SECOND.fullmatch(text) is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:  # 2020-13-04, 25:00...
        return None
    return (moment.replace(tzinfo=UTC) - _ORIGIN) // _MICROSECOND


# One callback usually repeats a time (its status and its last channel's status share one), and
# enrichment parses millions: a small cache of recent strings pays for itself.
@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> datetime | None:
    return _parse(value)


def _parse(value: str) -> datetime | None:
    try:
        return _parse_stripped(value.strip())
    except OverflowError:  # e.g. "0001-01-01T00:00:00+01:00": before the first instant datetime has
        return None


def _parse_stripped(text: str) -> datetime | None:
    if len(text) == 23 and text[19] == ":" and text[10] == " ":
        # Fast path for Telesign's most common form, "2020-05-04 22:07:01:226" (enrichment reads
        # millions of these): the ISO parser in C for the seconds, the milliseconds by hand.
        millis = text[20:]
        if millis.isascii() and millis.isdigit():
            try:
                base = datetime.fromisoformat(text[:19])
            except ValueError:
                return None
            if base.tzinfo is not None:  # not the shape this path is for
                return None
            return base.replace(microsecond=int(millis) * 1000, tzinfo=UTC)
    match = _NUMERIC.fullmatch(text)
    if match is not None:
        return _from_numeric(text, match)
    if _RFC1123.fullmatch(text):
        return _from_rfc1123(text)
    return None


def _from_numeric(text: str, match: re.Match[str]) -> datetime | None:
    year, month, day, hour, minute, second, dot, fraction, millis, zulu, sign, zh, zm = match.groups()
    if not millis and (not fraction or len(fraction) <= 6) and zulu != "z" and text[10] != "t":
        # Validated as RFC 3339 above: the C parser reads this subset faster than Python does.
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            pass  # e.g. a space before the zone: read by hand below
        else:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if dot:
        # A decimal fraction: ".3" is 300 ms; digits past microseconds are dropped (truncated,
        # so that a time never moves into the next second).
        micro = int(fraction[:6].ljust(6, "0"))
    elif millis:
        # Telesign's "22:07:01:226" gives milliseconds as a number after a colon; read it as a
        # count of milliseconds, so ":5" is 5 ms whether or not Telesign pads it to ":005".
        micro = int(millis) * 1000
    else:
        micro = 0
    zone = UTC
    if sign and (zh != "00" or zm != "00"):
        offset = timedelta(hours=int(zh), minutes=int(zm))
        if offset >= timedelta(hours=24):
            return None
        zone = timezone(offset if sign == "+" else -offset)
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=zone)
    except ValueError:  # month 13, 25:00, 30 February...
        return None
    return moment if zone is UTC else moment.astimezone(UTC)


def _from_rfc1123(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000": no zone information; Telesign means UTC
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the report and the receiver's log write times."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


_NAIVE_ORIGIN = datetime(1, 1, 1)


def format_micros(micros: int) -> str:
    """`format_utc` of a time given as `to_micros` gives it. (The second is looked up: enrichment
    formats one time per message, a quarter of a million a run, and a log's times share seconds.)"""
    second, fraction = divmod(micros, 1_000_000)
    text = _SECONDS.get(second)
    if text is None:
        if len(_SECONDS) >= _SECONDS_KEPT:
            _SECONDS.clear()
        text = _SECONDS[second] = (_NAIVE_ORIGIN + timedelta(seconds=second)).isoformat(timespec="seconds")
    return f"{text}.{fraction:06d}Z"


_SECONDS: dict[int, str] = {}  # whole seconds (as to_micros counts them, over a million) -> ISO text
_SECONDS_KEPT = 4096
