"""Phone numbers: parsed with phonenumbers in the campaign's default region, kept in E.164."""

from __future__ import annotations

from typing import Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

PhoneCheck = Literal["valid", "possible"]

NO_COUNTRY_CODE = "no country code: write it as +<country code> or set [audience] default_region"

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: NO_COUNTRY_CODE,
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
    if any(c.isalpha() for c in text):
        # phonenumbers reads three or more letters as keypad digits ("07911 123 ABC" is
        # +447911123222) and drops words and extensions around a number: a typo or a note in the
        # phone column would message someone else's phone, or a number nobody checked.
        reason = "has letters in it: write the number in digits only (+, spaces, - ( ) . allowed)"
        raise BadNumber(f"{_shown(text)} {reason}", reason)
    kind: int | None = None
    if check == "valid":
        # A number's type is what is_valid_number tests (a valid number has one, an invalid one is
        # UNKNOWN); kept, because the time zone lookup needs it again and it is most of its cost.
        kind = phonenumbers.number_type(number)
        if kind == PhoneNumberType.UNKNOWN:
            hint = 'fix it, or set phone_check = "possible" for test numbers'
            raise BadNumber(
                f"{_shown(text)} is not a valid (assigned) number; {hint}", f"not a valid (assigned) number; {hint}"
            )
    elif not phonenumbers.is_possible_number(number):
        reason = "not a possible number (wrong length for its country)"
        raise BadNumber(f"{_shown(text)} is {reason}", reason)
    e164 = str(phonenumbers.format_number(number, PhoneNumberFormat.E164))
    _recent[e164] = (number, kind)
    if len(_recent) > _RECENT:
        del _recent[next(iter(_recent))]
    return e164


# The last numbers parsed, by E.164: the send window's time zone lookup (runner.policy.zones) for
# the same row need not parse the number again (a parse costs about 10 us).
_RECENT = 256
_recent: dict[str, tuple[phonenumbers.PhoneNumber, int | None]] = {}


def typed(e164: str) -> tuple[phonenumbers.PhoneNumber, int]:
    """The number behind an E.164 string and its phonenumbers.PhoneNumberType, from the last
    numbers checked when it is one of them."""
    known = _recent.get(e164)
    number = known[0] if known is not None else phonenumbers.parse(e164, None)
    kind = known[1] if known is not None else None
    return number, kind if kind is not None else phonenumbers.number_type(number)


def digits(e164: str) -> str:
    """Telesign's phone_number: the country code and number, digits only, no `+`."""
    return e164.lstrip("+")
