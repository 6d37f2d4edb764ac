"""The optional price table and what a send is expected to cost (docs/plan.md, "Cost").

The policy's `[pricing] file`, else `prices.csv`, the nearest one walking up from the campaign
file's folder (as `templates/` is found); one row per country and channel:

    country,channel,price,currency
    GB,viber,0.0120,EUR
    GB,sms,0.0350,EUR
    *,sms,0.0600,EUR

`country` is the ISO 3166 code of the recipient's number (`*`: any country not listed), `channel`
is `viber` (per message) or `sms` (per segment). The best case is every Viber message delivered;
the worst, every message also falling back to SMS (Telesign then bills both)."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import phonenumbers

from runner.campaign.schema import Campaign
from runner.errors import InvalidInput, Problem
from runner.plan.model import Cost, CountryCost
from runner.policy.schema import policy_for

PRICE_FILE = "prices.csv"
CHANNELS = ("viber", "sms")
ANY = "*"


@dataclass(frozen=True)
class PriceTable:
    path: Path
    shown: str
    currency: str
    prices: dict[tuple[str, str], Decimal]  # (country, channel) -> price

    def price(self, country: str, channel: str) -> Decimal | None:
        return self.prices.get((country, channel), self.prices.get((ANY, channel)))


def find_price_table(campaign: Campaign) -> Path | None:
    """The policy's `[pricing] file` (relative to policy.toml) where it names one, else the nearest
    prices.csv walking up from the campaign file's folder."""
    policy = policy_for(campaign.folder)
    if policy.spec.pricing.file is not None:
        named = policy.resolve(policy.spec.pricing.file)
        if not named.is_file():
            raise InvalidInput([policy.problem(("pricing", "file"), f"price table {named} not found")])
        return named
    start = campaign.folder
    for folder in [start.resolve(), *start.resolve().parents]:
        candidate = folder / PRICE_FILE
        if candidate.is_file():
            return candidate
    return None


def load_prices(path: Path, shown: str) -> PriceTable:
    problems: list[Problem] = []
    prices: dict[tuple[str, str], Decimal] = {}
    currencies: set[str] = set()
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise InvalidInput.at(shown, None, f"cannot read the price table: {error.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("country", "channel", "price", "currency") if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput.at(
                shown, 1, f"the header needs country,channel,price,currency (missing {', '.join(missing)})"
            )
        for row in reader:
            line = reader.line_num
            country = (row["country"] or "").strip().upper()
            channel = (row["channel"] or "").strip().lower()
            if country != ANY and (len(country) != 2 or not country.isalpha()):
                problems.append(Problem(shown, line, f"country {country!r}: write an ISO 3166 code (GB, DE) or *"))
                continue
            if channel not in CHANNELS:
                problems.append(
                    Problem(shown, line, f"channel {channel!r}: write viber (per message) or sms (per segment)")
                )
                continue
            try:
                price = Decimal((row["price"] or "").strip())
            except InvalidOperation:
                problems.append(Problem(shown, line, f"price {row['price']!r} is not a number"))
                continue
            if (country, channel) in prices:
                problems.append(Problem(shown, line, f"{country} {channel} is priced twice"))
            prices[(country, channel)] = price
            currencies.add((row["currency"] or "").strip().upper())
    if len(currencies) > 1:
        problems.append(Problem(shown, None, f"one currency per table, found {', '.join(sorted(currencies))}"))
    if problems:
        raise InvalidInput(problems)
    return PriceTable(path, shown, currencies.pop() if currencies else "", prices)


_BY_PREFIX: dict[str, str] = {}  # leading characters of numbers with a shared calling code -> country
_PREFIX = 9  # "+" and eight digits: enough for phonenumbers' leading-digit patterns of shared codes


def country_of(phone: str) -> str:
    """The ISO country of an E.164 number. A calling code with one country needs nothing more; a
    shared one (+1, +7, +44...) is told apart by its leading digits, which the first eight
    characters hold in phonenumbers' metadata, so each prefix is looked up once."""
    code = _calling_code(phone)
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    if len(regions) == 1:
        return str(regions[0])
    prefix = phone[:_PREFIX]
    found = _BY_PREFIX.get(prefix)
    if found is None:
        try:
            found = phonenumbers.region_code_for_number(phonenumbers.parse(phone)) or "ZZ"
        except phonenumbers.NumberParseException:
            found = "ZZ"
        if len(_BY_PREFIX) < 65536:
            _BY_PREFIX[prefix] = found
    return found


def _calling_code(phone: str) -> int:
    for size in (1, 2, 3):  # calling codes are prefix-free: the first that exists is the one
        code = int(phone[1 : 1 + size]) if phone[1 : 1 + size].isdigit() else 0
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code
    return 0


class CostTally:
    """Messages and SMS segments to send, by country (only with a price table: without one the
    plan gives segments and messages only, and spares the per-number lookup)."""

    def __init__(self, table: PriceTable | None) -> None:
        self.table = table
        self.messages: Counter[str] = Counter()
        self.segments: Counter[str] = Counter()

    def add(self, phone: str, sms_segments: int) -> None:
        if self.table is None:
            return
        country = country_of(phone)
        self.messages[country] += 1
        self.segments[country] += sms_segments

    def result(self) -> Cost:
        table = self.table
        if table is None:
            return Cost(table=None, currency=None, countries=[], best=None, worst=None, unpriced=[])
        rows: list[CountryCost] = []
        best = worst = Decimal(0)
        unpriced: list[str] = []
        for country, messages in sorted(self.messages.items(), key=lambda kv: (-kv[1], kv[0])):
            segments = self.segments[country]
            viber, sms = table.price(country, "viber"), table.price(country, "sms")
            if viber is None or (segments and sms is None):
                unpriced.append(country)
                rows.append(
                    CountryCost(country=country, messages=messages, sms_segments=segments, best=None, worst=None)
                )
                continue
            low = viber * messages
            high = low + (sms or Decimal(0)) * segments
            best, worst = best + low, worst + high
            rows.append(
                CountryCost(
                    country=country, messages=messages, sms_segments=segments, best=float(low), worst=float(high)
                )
            )
        return Cost(
            table=table.shown,
            currency=table.currency,
            countries=rows,
            best=float(best),
            worst=float(worst),
            unpriced=unpriced,
        )
