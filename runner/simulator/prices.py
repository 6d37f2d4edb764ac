"""What the simulator charges, so that a sandbox run shows a cost (docs/simulator.md, "Prices").

Telesign reports what a message cost in `additional_info.price` and `additional_info.currency` of
its callbacks and of GET /v1/omnichannel/{reference_id} (Engage API reference: "price: The cost
incurred for sending the message", "currency: The currency in which the price is expressed",
and for SMS `message_parts_count`). Prices are strings with four decimals, as in its examples
("0.0050"). These per-country figures are the simulator's own, round and plausible: they are not
Telesign's price list.

A channel is charged when it delivers (3000, or 3005 after it); an SMS is charged per part. A
message that no channel delivered costs 0.0000.
"""

from __future__ import annotations

from decimal import Decimal

CURRENCY = "USD"
ZERO = Decimal("0")

# calling code -> (Viber per message, SMS per part); longest calling code first when matching
PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "1": (Decimal("0.0050"), Decimal("0.0079")),
    "33": (Decimal("0.0110"), Decimal("0.0750")),
    "34": (Decimal("0.0110"), Decimal("0.0680")),
    "39": (Decimal("0.0110"), Decimal("0.0720")),
    "44": (Decimal("0.0090"), Decimal("0.0380")),
    "48": (Decimal("0.0080"), Decimal("0.0300")),
    "49": (Decimal("0.0100"), Decimal("0.0820")),
    "55": (Decimal("0.0060"), Decimal("0.0250")),
    "91": (Decimal("0.0030"), Decimal("0.0040")),
}
DEFAULT_PRICES = (Decimal("0.0100"), Decimal("0.0500"))  # any other country
_LONGEST = max(len(code) for code in PRICES)


def country_prices(phone_number: str) -> tuple[Decimal, Decimal]:
    """(Viber per message, SMS per part) for the number's country (digits, country code first)."""
    for length in range(_LONGEST, 0, -1):
        found = PRICES.get(phone_number[:length])
        if found is not None:
            return found
    return DEFAULT_PRICES


def price(phone_number: str, channel: str, sms_parts: int) -> Decimal:
    """What delivering the message on `channel` costs."""
    viber, sms = country_prices(phone_number)
    return viber if channel == "viber" else sms * sms_parts


def shown(amount: Decimal) -> str:
    """As Telesign writes prices: four decimals."""
    return f"{amount:.4f}"
