"""The report's country per phone number is phonenumbers' region, also for calling codes that
several regions share (where the answer is cached by the number's leading digits)."""

from __future__ import annotations

import random

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from runner.report.countries import UNKNOWN, region_of

SHARED = sorted(code for code, regions in COUNTRY_CODE_TO_REGION_CODE.items() if len(regions) > 1)


def test_shared_calling_codes_match_phonenumbers_on_random_valid_numbers() -> None:
    rng = random.Random(13)
    checked = 0
    for code in SHARED:
        for _ in range(1500):
            number = f"+{code}{rng.randrange(10**9, 10**10)}"[: len(str(code)) + 1 + rng.choice((8, 9, 10))]
            parsed = phonenumbers.parse(number)
            if not phonenumbers.is_valid_number(parsed):
                continue
            checked += 1
            assert region_of(number) == phonenumbers.region_code_for_number(parsed), number
    assert checked > 1000


def test_examples_and_numbers_that_name_no_country() -> None:
    assert region_of("+12025550110") == "US"
    assert region_of("+14165550123") == "CA"
    assert region_of("+447911123412") == "GG"  # a Guernsey mobile prefix inside +44
    assert region_of("+447400123456") == "GB"
    assert region_of("+15558675309") == "US"  # no region's number: the calling code's main region
    assert region_of("+4915123456713") == "DE"
    assert region_of("+80012345678") == UNKNOWN  # international freephone: no country
    assert region_of("not a number") == UNKNOWN
    assert region_of("") == UNKNOWN
