"""Send windows with an injected clock: the first moment a message may leave, for recipients in
several time zones, across DST changes in both directions, for numbers that map to several zones,
and at the window's edge (docs/policy.md, "Send windows")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.campaign.phones import BadNumber, PhoneCheck, to_e164
from runner.policy.windows import Window, parse_window, zone
from runner.policy.zones import zones_of

TCPA = parse_window("08:00-21:00", None)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def opens(window: Window, at: datetime, *names: str) -> datetime | None:
    return window.next_open(at, [zone(n) for n in names])


# 2026-12-01 16:00 UTC is a Tuesday: 11:00 in New York, 08:00 in Los Angeles (just open),
# 16:00 London, 17:00 Berlin, 01:00 Wednesday in Tokyo, 03:00 Wednesday in Sydney (summer), 21:30 Kolkata.
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("America/New_York", utc(2026, 12, 1, 16)),
        ("America/Los_Angeles", utc(2026, 12, 1, 16)),
        ("Europe/London", utc(2026, 12, 1, 16)),
        ("Europe/Berlin", utc(2026, 12, 1, 16)),
        ("Asia/Tokyo", utc(2026, 12, 1, 23)),  # 08:00 JST
        ("Australia/Sydney", utc(2026, 12, 1, 21)),  # 08:00 AEDT (UTC+11)
        ("Asia/Kolkata", utc(2026, 12, 2, 2, 30)),  # closed at 21:30 IST: 08:00 IST next day
        ("Pacific/Honolulu", utc(2026, 12, 1, 18)),  # 06:00 HST now: opens at 08:00 HST
    ],
)
def test_the_window_opens_at_eight_local_in_each_zone(name: str, expected: datetime) -> None:
    at = opens(TCPA, utc(2026, 12, 1, 16), name)
    assert at == expected
    local = expected.astimezone(zone(name))
    assert local.hour in (8, 11, 16, 17) and TCPA.holds(expected, [zone(name)])


def test_spring_forward_new_york_opens_at_eight_daylight_time() -> None:
    # 2026-03-08: clocks go from 02:00 EST to 03:00 EDT. 08:00 EDT is 12:00 UTC, not 13:00.
    assert opens(TCPA, utc(2026, 3, 8, 5), "America/New_York") == utc(2026, 3, 8, 12)
    # the day before, 08:00 EST is 13:00 UTC
    assert opens(TCPA, utc(2026, 3, 7, 5), "America/New_York") == utc(2026, 3, 7, 13)
    # and it closes at 21:00 EDT = 01:00 UTC
    assert TCPA.holds(utc(2026, 3, 9, 0, 59, 59), [zone("America/New_York")])
    assert not TCPA.holds(utc(2026, 3, 9, 1, 0, 0), [zone("America/New_York")])


def test_fall_back_new_york_opens_at_eight_standard_time() -> None:
    # 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST. 08:00 EST is 13:00 UTC.
    assert opens(TCPA, utc(2026, 11, 1, 5), "America/New_York") == utc(2026, 11, 1, 13)
    assert not TCPA.holds(utc(2026, 11, 1, 12, 30), [zone("America/New_York")])  # 07:30 EST


def test_southern_hemisphere_dst_both_directions() -> None:
    # Sydney: DST ends 2026-04-05 (UTC+11 -> +10), begins 2026-10-04 (+10 -> +11)
    assert opens(TCPA, utc(2026, 4, 5, 12), "Australia/Sydney") == utc(2026, 4, 5, 22)
    assert opens(TCPA, utc(2026, 10, 4, 12), "Australia/Sydney") == utc(2026, 10, 4, 21)


def test_a_window_starting_inside_a_dst_gap_never_opens_early() -> None:
    window = parse_window("02:30-05:00", None)
    at = opens(window, utc(2026, 3, 8, 5), "America/New_York")  # 00:00 EST
    assert at is not None
    local = at.astimezone(zone("America/New_York"))
    assert window.holds(at, [zone("America/New_York")])
    assert (local.hour, local.minute) >= (3, 0)  # 02:30 does not exist that night


def test_a_number_with_several_zones_waits_until_the_window_holds_in_all() -> None:
    russian = zones_of("+79161234567", None, None)
    assert russian.source == "phone" and "Europe/Moscow" in russian.names and "Asia/Anadyr" in russian.names
    zones = [zone(n) for n in russian.names]
    # 16:00 UTC is 19:00 in Moscow (inside) but 04:00 in Anadyr (outside)
    assert not TCPA.holds(utc(2026, 12, 1, 16), zones)
    at = TCPA.next_open(utc(2026, 12, 1, 16), zones)
    assert at == utc(2026, 12, 2, 6)  # 08:00 in Bucharest (UTC+2), the westernmost
    for name in russian.names:
        local = at.astimezone(zone(name))
        assert 8 <= local.hour < 21, name
    assert not TCPA.holds(utc(2026, 12, 2, 9), zones)  # 21:00 in Anadyr (UTC+12): closed


def test_zones_too_far_apart_never_open() -> None:
    narrow = parse_window("09:00-10:00", None)
    assert opens(narrow, utc(2026, 12, 1), "Pacific/Honolulu", "Asia/Tokyo") is None


def test_the_window_edge_is_exclusive_to_the_tenth_of_a_second() -> None:
    ny = [zone("America/New_York")]
    # 20:59:59.9 EST = 01:59:59.9 UTC
    assert TCPA.holds(datetime(2026, 12, 2, 1, 59, 59, 900_000, tzinfo=UTC), ny)
    assert not TCPA.holds(datetime(2026, 12, 2, 2, 0, 0, 100_000, tzinfo=UTC), ny)
    assert TCPA.next_open(datetime(2026, 12, 2, 2, 0, 0, 100_000, tzinfo=UTC), ny) == utc(2026, 12, 2, 13)


def test_days_and_overnight_windows() -> None:
    weekdays = parse_window("09:00-17:00", ["mon", "tue", "wed", "thu", "fri"])
    # Friday 2026-12-04 18:00 in London -> Monday 09:00
    assert opens(weekdays, utc(2026, 12, 4, 18), "Europe/London") == utc(2026, 12, 7, 9)
    night = parse_window("22:00-06:00", None)
    assert night.holds(utc(2026, 12, 1, 23), [zone("Europe/London")])
    assert night.holds(utc(2026, 12, 2, 5, 59), [zone("Europe/London")])
    assert not night.holds(utc(2026, 12, 2, 6), [zone("Europe/London")])


def test_zones_come_from_the_column_then_the_number_then_the_fallback() -> None:
    assert zones_of("+12125551234", "Europe/Paris", None).names == ("Europe/Paris",)
    assert zones_of("+12125551234", None, "Europe/Paris").names == ("America/New_York",)
    unknown = zones_of("+15558675309", None, "Europe/Paris")
    assert (unknown.names, unknown.source) == (("Europe/Paris",), "fallback")
    assert zones_of("+15558675309", None, None).source == "unknown"


@pytest.mark.parametrize("check", ["valid", "possible"])
@pytest.mark.parametrize(
    "written",
    [
        "+44 7400 123456",  # a mobile: its country's zones
        "+44 20 7946 0000",  # a London line: a geographical zone
        "+1 212 555 1234",  # New York
        "+1 907 555 0123",  # Alaska
        "+34 612 345 678",
        "+34 928 123 456",  # the Canaries
        "+39 312 345 6789",
        "+61 2 9374 4000",
        "+1 800 555 0199",  # toll-free
        "+7 495 123 4567",
        "+1 555 867 5309",  # possible, not valid: no zone
    ],
)
def test_a_numbers_zones_are_what_phonenumbers_says(written: str, check: PhoneCheck) -> None:
    # The zone lookup reuses the number type the phone check computed instead of asking
    # phonenumbers.timezone again: the answer must be the same.
    import phonenumbers
    from phonenumbers import timezone

    try:
        e164 = to_e164(written, None, check)
    except BadNumber:
        assert check == "valid"
        return
    expected = sorted(z for z in timezone.time_zones_for_number(phonenumbers.parse(e164)) if z != "Etc/Unknown")
    found = zones_of(e164, None, None)
    assert list(found.names) == expected
    assert found.source == ("phone" if expected else "unknown")


# The opening is remembered per UTC minute and set of zones (windows are written to the minute):
# asked at any second of any minute, it is what the window's own search finds for that moment,
# across DST changes, overnight and weekday-only windows and zones offset by 30 and 45 minutes.
ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Kolkata", "Asia/Kathmandu",
         "Australia/Sydney", "Australia/Adelaide", "Pacific/Chatham", "Asia/Tokyo"]  # fmt: skip
WINDOWS = [TCPA, parse_window("22:00-06:30", None), parse_window("09:15-17:45", ["mon", "tue", "wed", "thu", "fri"])]


@settings(max_examples=300, deadline=None)
@given(
    window=st.sampled_from(WINDOWS),
    at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    names=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True),
)
def test_the_remembered_opening_is_the_searched_one_at_any_second(
    window: Window, at: datetime, names: list[str]
) -> None:
    moment, zones = at.replace(tzinfo=UTC), [zone(n) for n in names]
    assert window.next_open(moment, zones) == window._next_open(moment, zones)
    later_in_that_minute = moment.replace(second=59, microsecond=999_999)
    assert window.next_open(later_in_that_minute, zones) == window._next_open(later_in_that_minute, zones)
