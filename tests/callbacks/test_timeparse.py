"""updated_on comes in every format Telesign uses; each must give the same instant, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.callbacks.timeparse import format_micros, format_utc, from_micros, parse_updated_on, to_micros

UTC = UTC


@pytest.mark.parametrize(
    "text, expected",
    [
        # Telesign's omnichannel status: a colon before the milliseconds (the seed's example)
        ("2020-05-04 22:07:01:226", datetime(2020, 5, 4, 22, 7, 1, 226000, UTC)),
        # per-channel status: a dot before the fraction (also in the seed's example)
        ("2020-05-04 22:05:00.325", datetime(2020, 5, 4, 22, 5, 0, 325000, UTC)),
        # RFC 3339, with and without fraction and zone
        ("2020-05-04T22:07:01Z", datetime(2020, 5, 4, 22, 7, 1, 0, UTC)),
        ("2020-05-04T22:07:01.226Z", datetime(2020, 5, 4, 22, 7, 1, 226000, UTC)),
        ("2020-05-04T22:07:01.226+02:00", datetime(2020, 5, 4, 20, 7, 1, 226000, UTC)),
        ("2020-05-04T22:07:01-05:30", datetime(2020, 5, 5, 3, 37, 1, 0, UTC)),
        ("2020-05-04T22:07:01", datetime(2020, 5, 4, 22, 7, 1, 0, UTC)),
        ("2020-05-04t22:07:01.5z", datetime(2020, 5, 4, 22, 7, 1, 500000, UTC)),
        ("2020-05-04T22:07:01.123456789Z", datetime(2020, 5, 4, 22, 7, 1, 123456, UTC)),
        ("2020-05-04 22:07:01 +0200", datetime(2020, 5, 4, 20, 7, 1, 0, UTC)),
        # RFC 1123 (HTTP dates)
        ("Mon, 04 May 2020 22:07:01 GMT", datetime(2020, 5, 4, 22, 7, 1, 0, UTC)),
        ("Mon, 04 May 2020 22:07:01 +0200", datetime(2020, 5, 4, 20, 7, 1, 0, UTC)),
        ("4 May 2020 22:07:01 UTC", datetime(2020, 5, 4, 22, 7, 1, 0, UTC)),
        ("  2020-05-04 22:07:01:226 ", datetime(2020, 5, 4, 22, 7, 1, 226000, UTC)),
    ],
)
def test_every_telesign_format_gives_the_instant_in_utc(text: str, expected: datetime) -> None:
    parsed = parse_updated_on(text)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


def test_the_number_after_a_colon_counts_milliseconds_padded_or_not() -> None:
    assert parse_updated_on("2020-05-04 22:07:01:5") == datetime(2020, 5, 4, 22, 7, 1, 5000, UTC)
    assert parse_updated_on("2020-05-04 22:07:01:005") == datetime(2020, 5, 4, 22, 7, 1, 5000, UTC)


def test_the_two_formats_of_the_seeds_example_order_correctly() -> None:
    viber_failed = parse_updated_on("2020-05-04 22:05:00.325")
    sms_delivered = parse_updated_on("2020-05-04 22:07:01:226")
    assert viber_failed is not None and sms_delivered is not None
    assert viber_failed < sms_delivered


@pytest.mark.parametrize(
    "value",
    [
        None,
        1588629421,
        "",
        "yesterday",
        "2020-13-04 22:07:01:226",
        "2020-02-30 22:07:01",
        "2020-05-04 25:07:01",
        "2020-05-04 22:07:01:+26",
        "2020-05-04 22:07:01:1234",
        "2020-05-04T22:07:01+24:00",
        "Mon, 04 Foo 2020 22:07:01 GMT",
        "Mon, 04 May 2020 22:07:01 XYZ",
        "2020-05-04",
        "2020-05-04 22:07:01:2\u0662\u0666",
    ],
)
def test_anything_else_is_none_never_an_error(value: object) -> None:
    assert parse_updated_on(value) is None


def test_times_are_written_back_as_iso_8601_utc_with_z() -> None:
    moment = parse_updated_on("2020-05-04T22:07:01.226+02:00")
    assert moment is not None
    assert format_utc(moment) == "2020-05-04T20:07:01.226000Z"
    assert parse_updated_on(format_utc(moment)) == moment


@given(st.integers(0, to_micros(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))))
def test_a_time_formatted_from_its_microseconds_is_format_utc_of_it(micros: int) -> None:
    # (format_micros looks seconds up in a table it keeps: each answer as format_utc's)
    assert format_micros(micros) == format_micros(micros) == format_utc(from_micros(micros))
