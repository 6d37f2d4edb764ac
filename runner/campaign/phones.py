"""Phone numbers: parsed with phonenumbers in the campaign's default region, kept in E.164."""

from __future__ import annotations

from typing import Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

PhoneCheck = Literal["valid", "possible"]

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: (
        "no country code: write it as +<country code> or set [audience] default_region"
    ),
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


class BadNumber(ValueError):
    """Why a number is refused: the message names the number; `kind` is the cause alone (rows that
    share it are reported as one line)."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def to_e164(raw: str, region: str | None, check: PhoneCheck) -> str:
    """The number in E.164 (`+15558675309`), or BadNumber saying why not."""
    text = raw.strip()
    if not text:
        raise BadNumber("empty phone number", "empty phone number")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as error:
        reason = _PARSE_REASONS.get(error.error_type, "not a phone number")
        raise BadNumber(f"{_shown(text)}: {reason}", reason) from None
    if check == "valid":
        if not phonenumbers.is_valid_number(number):
            hint = 'fix it, or set phone_check = "possible" for test numbers'
            raise BadNumber(
                f"{_shown(text)} is not a valid (assigned) number; {hint}", f"not a valid (assigned) number; {hint}"
            )
    elif not phonenumbers.is_possible_number(number):
        reason = "not a possible number (wrong length for its country)"
        raise BadNumber(f"{_shown(text)} is {reason}", reason)
    e164 = str(phonenumbers.format_number(number, PhoneNumberFormat.E164))
    _recent[e164] = number
    if len(_recent) > _RECENT:
        del _recent[next(iter(_recent))]
    return e164


# The last numbers parsed, by E.164: the send window's time zone lookup (runner.policy.zones) for
# the same row need not parse the number again (a parse costs about 10 us).
_RECENT = 256
_recent: dict[str, phonenumbers.PhoneNumber] = {}


def parsed(e164: str) -> phonenumbers.PhoneNumber:
    """The number behind an E.164 string, from the last numbers parsed when it is one of them."""
    number = _recent.get(e164)
    return number if number is not None else phonenumbers.parse(e164, None)


def digits(e164: str) -> str:
    """Telesign's phone_number: the country code and number, digits only, no `+`."""
    return e164.lstrip("+")
