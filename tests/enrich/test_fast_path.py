"""The fast way a receiver line is read (runner.callbacks.log.parse_line: a typed decoder for the
usual shape) must read every line exactly as the general rules do (parse_line_carefully):
the same Callback, or the same Malformed with the same reason. Hypothesis throws odd payloads at both."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.callbacks.log import parse_line, parse_line_carefully, receiver_line

TIMES = ["2020-05-04 22:07:01:226", "2020-05-04 22:05:00.325", "2020-05-04T22:05:00Z", "Mon, 04 May 2020 22:07:01 GMT",
         "2020-13-04 22:07:01:226", "2020-05-04 22:07:01:2x6", "soon", "", " 2020-05-04 22:07:01:226"]  # fmt: skip
IDS = ["35C8B5D509BC10689196FED2AD551B8A", " 35C8 ", "null", "NULL", "", "ext-1", "\u00e9t\u00e9", "\ud800"]


def anything() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=5)
    )


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nearly always a sensible value (so that many lines take the fast way), now and then anything."""
    return st.integers(0, 19).flatmap(lambda n: anything() if n == 0 else values)


codes = maybe(
    st.sampled_from(
        [3000, 3001, 3002, 3003, 3005, 3006, 3055, 3056, 3000, 3001, 3056, 0, 2**31 - 1, 2**31, -1, "3000", " 3005 "]
    )
)
texts = maybe(st.sampled_from(["Delivered", "Message in progress", "Délivré", "", "\ud83d\ude00", None]))
times = maybe(st.sampled_from(TIMES + TIMES[:2] * 4))
ids = maybe(st.sampled_from(IDS + IDS[:1] * 6))
channel_names = st.sampled_from(["viber", "sms", "Viber", "SMS", "whatsapp", ""])


@st.composite
def channel_statuses(draw: st.DrawFn) -> Any:
    def status() -> dict[str, Any]:
        fields = {"code": codes, "description": texts, "updated_on": times, "reference_id": ids, "extra": anything()}
        return {k: draw(v) for k, v in fields.items() if draw(st.integers(0, 4)) or k == "code"}

    shape = draw(st.sampled_from(["list"] * 7 + ["object", "absent", "null", "odd"]))
    if shape == "list":
        return [{draw(channel_names): status()} for _ in range(draw(st.integers(0, 3)))]
    if shape == "object":
        return {draw(channel_names): status() for _ in range(draw(st.integers(0, 2)))}
    return {"absent": ..., "null": None}.get(shape, draw(st.one_of(anything(), st.just([1, 2]), st.just([{"sms": 5}]))))


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for key, values in (("reference_id", ids), ("external_id", ids)):
        if draw(st.integers(0, 4)):
            payload[key] = draw(values)
    if draw(st.integers(0, 9)):
        status = {"code": codes, "description": texts, "last_channel": maybe(channel_names), "updated_on": times}
        payload["status"] = {k: draw(v) for k, v in status.items() if draw(st.integers(0, 4)) or k == "code"}
    else:
        payload["status"] = draw(anything())
    channels = draw(channel_statuses())
    if channels is not ...:
        payload["channel_status"] = channels
    prices = maybe(st.sampled_from(["0.0050", "0.0000", " 0.01 ", "-1", "free", "", 0.005, 3, True, None]))
    currencies = maybe(st.sampled_from(["USD", "EUR", "", None, "\ud800"]))
    if draw(st.integers(0, 2)):
        info = {"price": prices, "currency": currencies, "message_parts_count": maybe(st.sampled_from([1, 2, 0, 5000]))}
        payload["additional_info"] = {k: draw(v) for k, v in info.items() if draw(st.integers(0, 3))}
    if not draw(st.integers(0, 5)):  # where Telesign's GET status examples put them
        payload["price"], payload["currency"] = draw(prices), draw(currencies)
    if not draw(st.integers(0, 4)):
        payload["unknown_field"] = draw(anything())
    return payload


def careful(raw: bytes) -> Any:
    return parse_line_carefully(raw, "log", 7, 3)


@settings(max_examples=400, deadline=None)
@given(payloads())
def test_a_receiver_line_reads_the_same_fast_or_carefully(payload: dict[str, Any]) -> None:
    raw = receiver_line("2026-11-28T09:00:01.123456Z", payload)
    assert parse_line(raw, "log", 7, 3) == careful(raw)


@settings(max_examples=100, deadline=None)
@given(payloads(), st.sampled_from(["plain", "spaced", "wrapped-other-way", "extra-key", "odd-time"]))
def test_other_line_shapes_read_the_same_as_well(payload: dict[str, Any], shape: str) -> None:
    received = "2026-11-28T09:00:01.123456Z"
    raw = {
        "plain": json.dumps(payload).encode() + b"\n",
        "spaced": json.dumps({"received_at": received, "payload": payload}, indent=1).replace("\n", " ").encode()
        + b"\n",
        "wrapped-other-way": json.dumps({"payload": payload, "received_at": received}).encode() + b"\n",
        "extra-key": receiver_line(received, payload)[:-2] + b',"x":1}\n',
        "odd-time": receiver_line('a\\"b', payload),
    }[shape]
    assert parse_line(raw, "log", 7, 3) == careful(raw)
