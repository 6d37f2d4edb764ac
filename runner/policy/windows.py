"""Send windows in the recipient's local time (docs/policy.md, "Send windows").

A window is a span of local clock time ("09:00-20:00", end excluded; "22:00-06:00" runs over
midnight) on some days of the week. A recipient may live in one of several time zones (a country
code spanning zones): the window must hold in every one of them at once. All times handed in and
out are aware datetimes in UTC; local times are computed with zoneinfo, so DST changes (both
directions) are the zone database's, not arithmetic on offsets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ANY = "any"
# The US TCPA hours: marketing messages default to them (docs/policy.md).
MKT_DEFAULT_WINDOW = "08:00-21:00"
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_LOOKAHEAD_DAYS = 9  # a window on one day a week opens within 8 days, whatever the zones


class BadWindow(ValueError):
    pass


@dataclass(frozen=True)
class Window:
    """Local clock span [start, end) on `days` (0 = Monday). end < start runs over midnight;
    end == 24:00 is written as time.max-like `None` end: until midnight."""

    start: time
    end: time | None  # None: until the end of the day (24:00)
    days: frozenset[int]

    @property
    def overnight(self) -> bool:
        return self.end is not None and self.end <= self.start

    def describe(self) -> str:
        end = "24:00" if self.end is None else self.end.strftime("%H:%M")
        days = "every day" if len(self.days) == 7 else ", ".join(DAYS[d] for d in sorted(self.days))
        return f"{self.start.strftime('%H:%M')}-{end} local, {days}"

    def holds_local(self, local: datetime) -> bool:
        """Whether a local (zone-aware) moment is inside the window."""
        if local.weekday() not in self.days:
            return False
        now = local.time().replace(tzinfo=None)
        if self.end is None:
            return now >= self.start
        if self.overnight:
            return now >= self.start or now < self.end
        return self.start <= now < self.end

    def holds(self, moment: datetime, zones: Sequence[ZoneInfo]) -> bool:
        """Whether a UTC moment is inside the window in every one of the zones."""
        return all(self.holds_local(moment.astimezone(zone)) for zone in zones)

    def next_open(self, moment: datetime, zones: Sequence[ZoneInfo]) -> datetime | None:
        """The first UTC moment at or after `moment` when the window holds in every zone, or None
        if it never does within a week (zones too far apart for the window to overlap)."""
        # Windows are written to the minute and zones are offset by whole minutes, so whether the
        # window holds is the same for every moment of one UTC minute, and so is the next opening
        # after it: asked once per minute and set of zones, not once per recipient (a plan or a
        # sync in the night asks it for every deferred recipient: 37 % of such a plan's time).
        minute = moment.replace(second=0, microsecond=0)
        opens = _next_open_after_minute(self, minute, tuple(zones))
        return moment if opens == minute else opens

    def _next_open(self, moment: datetime, zones: Sequence[ZoneInfo]) -> datetime | None:
        if self.holds(moment, zones):
            return moment
        # The intersection of the zones' windows, when it opens, opens at one zone's window start:
        # those starts (on each day ahead, in each zone) are the only candidates.
        candidates: set[datetime] = set()
        for zone in zones:
            local_day = moment.astimezone(zone).date()
            for ahead in range(-1, _LOOKAHEAD_DAYS):
                day = local_day + timedelta(days=ahead)
                candidates.update(_starts_utc(day, self.start, zone))
                candidates.update(_starts_utc(day, time(0, 0), zone))  # a day allowed again at midnight
        for candidate in sorted(c for c in candidates if c > moment):
            if self.holds(candidate, zones):
                return candidate
        return None

    def covers(self, other: Window) -> bool:
        """Whether every moment `other` allows is allowed by this window (both read in the same
        zone): a week of minutes, exact since windows are written to the minute."""
        monday = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
        for minute in range(7 * 24 * 60):
            moment = monday + timedelta(minutes=minute)
            if other.holds_local(moment) and not self.holds_local(moment):
                return False
        return True


@lru_cache(maxsize=4096)
def _next_open_after_minute(window: Window, minute: datetime, zones: tuple[ZoneInfo, ...]) -> datetime | None:
    return window._next_open(minute, zones)


def _starts_utc(day: date, start: time, zone: ZoneInfo) -> list[datetime]:
    """The UTC moments the local clock reads `start` on `day` (two in a fall-back repeat; in a
    spring-forward gap, the first moment after it)."""
    # In a gap, zoneinfo maps the nonexistent time to instants whose local readings differ from
    # it; `holds` then decides, so a window never opens early (at worst it opens up to the gap's
    # length late, on the one night a year a window starts inside a DST gap).
    return [datetime.combine(day, start, tzinfo=zone).replace(fold=fold).astimezone(UTC) for fold in (0, 1)]


def parse_window(text: str, days: Sequence[str] | None) -> Window:
    """`"09:00-20:00"` and optional day names into a Window; BadWindow says what is wrong."""
    match = _SPAN.match(text)
    if not match:
        raise BadWindow(
            f'{text!r} is not a window: write "HH:MM-HH:MM" in 24-hour local time (e.g. "09:00-20:00"), or "any"'
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise BadWindow(f"{text!r}: hours are 00..23 (24:00 only as an end) and minutes 00..59")
    start = time(h1, m1)
    end = None if h2 == 24 else time(h2, m2)
    if end == start:
        raise BadWindow(f'{text!r} is empty: start and end are the same time (for no limit, write "any")')
    return Window(start, end, parse_days(days))


def parse_days(days: Sequence[str] | None) -> frozenset[int]:
    if days is None:
        return frozenset(range(7))
    found = set()
    for name in days:
        key = name.strip().lower()[:3]
        if key not in DAYS or name.strip().lower() not in (key, _FULL[key]):
            raise BadWindow(f"{name!r} is not a day: use {', '.join(DAYS)}")
        found.add(DAYS.index(key))
    if not found:
        raise BadWindow("`days` is empty: no message could ever be sent; name at least one day")
    return frozenset(found)


_FULL = dict(zip(DAYS, ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), strict=True))


@lru_cache(maxsize=4096)
def zone(name: str) -> ZoneInfo:
    """An IANA zone by name; BadWindow (with the closest names) when there is none."""
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadWindow(f"{name!r} is not an IANA time zone{_closest_zone(name)}") from None


def _closest_zone(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(_all_zones()), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ' (e.g. "Europe/Berlin", "America/New_York")'


@lru_cache(maxsize=1)
def _all_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def format_utc(moment: datetime) -> str:
    """How not_before is written (report, ledger): ISO 8601 in UTC with milliseconds and Z, the
    ledger's own timestamps' form, so that they compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
