"""What a campaign cost, from the prices Telesign reported (docs/report.md, "Cost"): summed per
channel and country, per currency (Telesign reports each message's price in its own currency;
sums never mix currencies)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import phonenumbers


@dataclass(frozen=True)
class CostLine:
    channel: str  # the channel that carried the message (last_channel), "-" when unknown
    country: str  # ISO 3166 region of the phone number, "??" when unknown
    currency: str
    messages: int
    total: Decimal


def country_of(phone: str) -> str:
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return "??"
    return region or "??"


def summarize(rows: Iterable[tuple[str, str | None, str, str | None]]) -> list[CostLine]:
    """(phone, last_channel, price, currency) of each priced message -> lines by channel, country
    and currency, largest total first."""
    sums: dict[tuple[str, str, str], list[Decimal | int]] = {}
    for phone, channel, price, currency in rows:
        try:
            amount = Decimal(price)
        except (InvalidOperation, TypeError):
            continue
        key = (channel or "-", country_of(phone), currency or "?")
        entry = sums.setdefault(key, [0, Decimal(0)])
        entry[0] = int(entry[0]) + 1
        entry[1] = Decimal(entry[1]) + amount
    lines = [CostLine(c, k, cur, int(n), Decimal(t)) for (c, k, cur), (n, t) in sums.items()]
    return sorted(lines, key=lambda line: (-line.total, line.channel, line.country))


def totals(lines: Iterable[CostLine]) -> dict[str, Decimal]:
    """The whole campaign's cost, per currency."""
    out: dict[str, Decimal] = {}
    for line in lines:
        out[line.currency] = out.get(line.currency, Decimal(0)) + line.total
    return out


def describe_totals(lines: list[CostLine]) -> str:
    return (
        ", ".join(f"{total:.4f} {currency}" for currency, total in sorted(totals(lines).items())) or "nothing reported"
    )
