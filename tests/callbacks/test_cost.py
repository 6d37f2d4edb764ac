"""What a message cost, as Telesign's status reports tell it (additional_info price, currency and
SMS parts), read from a callback or a polled status, and merged by rule 6 (runner.callbacks.rules)."""

from __future__ import annotations

import itertools
from typing import Any

from runner.callbacks.payload import Callback, payload_to_callback
from runner.callbacks.reference import fold
from tests.callbacks.test_delivery import callback


def read(payload: dict[str, Any]) -> Callback:
    made = payload_to_callback({"reference_id": "35C8B5D509BC10689196FED2AD551B8A", **payload}, "log", 1, 0)
    assert isinstance(made, Callback)
    return made


def test_the_price_is_read_from_additional_info_or_where_get_status_examples_put_it() -> None:
    status = {"code": 3000, "description": "Delivered"}
    info = {"price": "0.0050", "currency": "USD", "message_parts_count": 2, "mcc": "310"}
    got = read({"status": status, "additional_info": info})
    assert (got.price, got.currency, got.parts) == ("0.0050", "USD", 2)
    top = read({"status": status, "currency": "USD", "price": "0.0050", "additional_info": {"mcc": "310"}})
    assert (top.price, top.currency, top.parts) == ("0.0050", "USD", None)
    for odd in ("free", "-0.5", "", None, True):
        assert read({"status": status, "additional_info": {"price": odd, "currency": "USD"}}).price is None


def test_the_cost_comes_from_the_greatest_priced_report_whatever_the_order() -> None:
    reports = [
        callback(3001, 1.0, 0),  # in progress: no price yet
        callback(3000, 2.0, 1, "viber", additional_info={"price": "0.0050", "currency": "USD"}),
        callback(3005, 10.0, 2, "viber", additional_info={"price": "0.0051", "currency": "USD"}),
        callback(3001, 30.0, 3),  # a late "in progress" without a price erases nothing
    ]
    for order in itertools.permutations(reports):
        delivery = fold(order)
        assert delivery.code == 3005
        assert delivery.cost is not None and (delivery.cost.price, delivery.cost.currency) == ("0.0051", "USD")
    assert fold(reports[:1]).cost is None
