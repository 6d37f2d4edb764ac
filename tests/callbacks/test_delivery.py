"""The merge rules for one message's callbacks (runner.callbacks.rules), by hand and by Hypothesis."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.callbacks.payload import Callback, payload_to_callback
from runner.callbacks.reference import Delivery, apply, fold
from runner.callbacks.rules import is_final

T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    """A Telesign-style updated_on (colon before the milliseconds), `seconds` after T0."""
    moment = T0 + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%d %H:%M:%S:") + f"{moment.microsecond // 1000:03d}"


def callback(
    code: int,
    seconds: float | None,
    arrival: int,
    last_channel: str | None = None,
    channels: Mapping[str, tuple[int, float | None]] | None = None,
    reference_id: str = "35C8B5D509BC10689196FED2AD551B8A",
    **extra: Any,
) -> Callback:
    """A callback built the way the log reader builds them, from a Telesign-shaped payload."""
    status: dict[str, Any] = {"code": code, "description": f"status {code}"}
    if seconds is not None:
        status["updated_on"] = at(seconds)
    if last_channel:
        status["last_channel"] = last_channel
    payload: dict[str, Any] = {"reference_id": reference_id, "status": status, **extra}
    if channels:
        payload["channel_status"] = [
            {name: {"code": c, "description": f"{name} {c}", **({"updated_on": at(s)} if s is not None else {})}}
            for name, (c, s) in channels.items()
        ]
    made = payload_to_callback(payload, "test.log", arrival + 1, arrival)
    assert isinstance(made, Callback)
    return made


def test_a_message_without_callbacks_has_no_status() -> None:
    empty = Delivery()
    assert (empty.code, empty.callbacks, empty.viber, empty.sms, empty.final) == (None, 0, None, None, False)


def test_the_seeds_example_fills_every_column() -> None:
    seed = callback(3000, 121.226, 0, "sms", {"viber": (3056, 0.325), "sms": (3000, 121.226)})
    delivery = fold([seed])
    assert (delivery.code, delivery.description, delivery.last_channel) == (3000, "status 3000", "sms")
    assert delivery.updated_on == T0 + timedelta(seconds=121.226)
    assert delivery.viber is not None and delivery.viber.code == 3056
    assert delivery.sms is not None and delivery.sms.code == 3000
    assert delivery.callbacks == 1 and delivery.final


def test_callbacks_are_ordered_by_updated_on_not_by_arrival() -> None:
    delivered = callback(3000, 60, arrival=0)
    earlier_error = callback(3003, 30, arrival=1)  # arrives later, happened earlier
    assert fold([delivered, earlier_error]).code == 3000
    gateway = callback(3002, 20, arrival=0)
    earlier_progress = callback(3001, 10, arrival=1)
    assert fold([gateway, earlier_progress]).code == 3002


def test_equal_times_are_ordered_by_arrival() -> None:
    first = callback(3003, 60, arrival=4)
    second = callback(3000, 60, arrival=5)
    assert fold([second, first]).code == 3000
    assert fold([first, second]).code == 3000


def test_a_final_code_is_never_replaced_by_a_later_intermediate_one() -> None:
    for final in (3000, 3003, 3006, 3055, 3999):
        for intermediate in (3001, 3002, 3056):
            delivery = fold([callback(final, 10, 0), callback(intermediate, 20, 1)])
            assert delivery.code == final, (final, intermediate)
    assert [is_final(code) for code in (3001, 3002, 3056, 3000, 3005)] == [False, False, False, True, True]


def test_an_intermediate_code_is_replaced_by_a_later_one() -> None:
    assert fold([callback(3001, 10, 0), callback(3056, 20, 1)]).code == 3056


def test_read_follows_delivered_and_delivered_never_replaces_read() -> None:
    assert fold([callback(3000, 10, 0, "viber"), callback(3005, 20, 1, "viber")]).code == 3005
    # Telesign retrying the earlier "delivered" after the read, with a later time
    assert fold([callback(3005, 20, 0, "viber"), callback(3000, 30, 1, "viber")]).code == 3005


def test_a_later_final_code_replaces_an_earlier_final_one() -> None:
    assert fold([callback(3003, 10, 0, "viber"), callback(3000, 20, 1, "sms")]).code == 3000


def test_each_channel_keeps_its_own_latest_status() -> None:
    progress = callback(3001, 1, 0, "viber", {"viber": (3001, 1)})
    viber_failed = callback(3056, 600, 1, "viber", {"viber": (3056, 600)})
    sms_delivered = callback(3000, 605, 2, "sms", {"viber": (3056, 600), "sms": (3000, 605)})
    late_sms_progress = callback(3001, 603, 3, "sms", {"sms": (3001, 603)})
    delivery = fold([sms_delivered, late_sms_progress, progress, viber_failed])
    assert (delivery.code, delivery.last_channel) == (3000, "sms")
    assert delivery.viber is not None and (delivery.viber.code, delivery.viber.description) == (3056, "viber 3056")
    assert delivery.sms is not None and delivery.sms.code == 3000
    assert delivery.sms.updated_on == T0 + timedelta(seconds=605)


def test_a_channel_without_its_own_time_takes_the_callbacks() -> None:
    old = callback(3001, 10, 0, "viber", {"viber": (3001, 10)})
    undated_channel = callback(3000, 20, 1, "viber", {"viber": (3000, None)})
    delivery = fold([undated_channel, old])
    assert delivery.viber is not None and delivery.viber.code == 3000
    assert delivery.viber.updated_on == T0 + timedelta(seconds=20)


def test_an_unreadable_time_orders_before_every_readable_one_of_its_rank() -> None:
    undated = callback(3000, None, arrival=9, last_channel="viber")
    dated = callback(3003, 10, arrival=0, last_channel="sms")
    assert fold([undated, dated]).code == 3003


def test_callbacks_count_distinct_callbacks() -> None:
    delivered = callback(3000, 10, 0)
    resent = msgspec.structs.replace(delivered, arrival=7, line=8)  # the same payload, logged again
    read = callback(3005, 20, 1)
    delivery = fold([delivered, read, resent, delivered])
    assert delivery.callbacks == 2
    assert delivery.code == 3005


def test_apply_is_fold_one_at_a_time() -> None:
    first, second = callback(3001, 1, 0), callback(3000, 2, 1)
    assert apply(apply(Delivery(), first), second) == fold([first, second])


# ---- Hypothesis: the result is a function of the set of callbacks, not of their order ----------

CODES = [3000, 3001, 3002, 3003, 3005, 3006, 3055, 3056]


@st.composite
def callback_sets(draw: st.DrawFn) -> list[Callback]:
    """Callbacks of one message with distinct updated_on (and some channel statuses)."""
    times = draw(st.lists(st.integers(0, 3600), min_size=1, max_size=8, unique=True))
    made = []
    for arrival, seconds in enumerate(times):
        channels = {}
        for name in draw(st.sets(st.sampled_from(["viber", "sms"]))):
            channels[name] = (draw(st.sampled_from(CODES)), draw(st.one_of(st.none(), st.integers(0, 3600))))
        code = draw(st.sampled_from(CODES))
        made.append(callback(code, seconds, arrival, draw(st.sampled_from(["viber", "sms"])), channels))
    return made


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_the_order_callbacks_are_fed_in_does_not_matter(data: st.DataObject) -> None:
    callbacks = data.draw(callback_sets())
    shuffled = data.draw(st.permutations(callbacks))
    assert fold(shuffled) == fold(callbacks)


def sequential_model(callbacks: list[Callback]) -> tuple[int, str | None]:
    """The rules as docs/callbacks.md words them: walk the callbacks in updated_on order, each replacing
    the current status unless the current one is final and the new one intermediate, or the
    current one is 3005 read (and the new one is not)."""
    current: Callback | None = None
    for item in sorted(callbacks, key=lambda c: (c.updated_on, c.arrival)):
        if current is None or not (
            (is_final(current.code) and not is_final(item.code)) or (current.code == 3005 and item.code != 3005)
        ):
            current = item
    assert current is not None
    return current.code, current.last_channel


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_fold_agrees_with_walking_the_callbacks_in_time_order(data: st.DataObject) -> None:
    callbacks = data.draw(st.permutations(data.draw(callback_sets())))
    delivery = fold(callbacks)
    assert (delivery.code, delivery.last_channel) == sequential_model(callbacks)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_repeated_callbacks_change_nothing_but_are_counted_once(data: st.DataObject) -> None:
    callbacks = data.draw(callback_sets())
    repeats = [
        msgspec.structs.replace(c, arrival=100 + n)
        for n, c in enumerate(data.draw(st.lists(st.sampled_from(callbacks))))
    ]
    merged = fold(data.draw(st.permutations(callbacks + repeats)))
    alone = fold(callbacks)
    assert merged.callbacks == alone.callbacks == len(callbacks)
    assert (merged.code, merged.description, merged.updated_on, merged.last_channel) == (
        alone.code,
        alone.description,
        alone.updated_on,
        alone.last_channel,
    )
    assert {n: s.code for n, s in merged.channels} == {n: s.code for n, s in alone.channels}
