"""Outcomes by the phone number's last digit, told by signed callbacks to a real receiver over
loopback, and by GET /v1/omnichannel/{reference_id}; the time scale."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime
from typing import Any

import httpx
import pytest

from runner.simulator import DEMO_CREDENTIALS
from tests.fixtures.simulator import (
    AsgiFactory,
    CallbackReceiver,
    MakeSimulator,
    ReceivedCallback,
    SimulatorServer,
    basic_headers,
    omnichannel_body,
)

ENDPOINT = "/v1/omnichannel"
UPDATED_ON = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
HEX32 = re.compile(r"^[0-9A-F]{32}$")

VIBER_THEN_SMS = [{"channel": "viber", "fallback_time": 30}, {"channel": "sms"}]
# digit -> callbacks in time order, each (status.code, last_channel, [(channel, code), ...])
EXPECTED: dict[str, list[tuple[int, str, list[tuple[str, int]]]]] = {
    "0": [(3000, "viber", [("viber", 3000)]), (3005, "viber", [("viber", 3005)])],
    "1": [(3000, "viber", [("viber", 3000)])],
    "2": [(3000, "viber", [("viber", 3000)]), (3005, "viber", [("viber", 3005)])],
    "3": [(3000, "viber", [("viber", 3000)])],
    "4": [(3000, "viber", [("viber", 3000)]), (3005, "viber", [("viber", 3005)])],
    "5": [(3000, "viber", [("viber", 3000)])],
    "6": [(3056, "viber", [("viber", 3056)]), (3000, "sms", [("viber", 3056), ("sms", 3000)])],
    "7": [(3056, "viber", [("viber", 3056)]), (3000, "sms", [("viber", 3056), ("sms", 3000)])],
    "8": [(3056, "viber", [("viber", 3056)]), (3003, "sms", [("viber", 3056), ("sms", 3003)])],
}


def _signature_is_telesigns(callback: ReceivedCallback) -> bool:
    """Recompute: base64 HMAC-SHA256 of the raw body under the base64-decoded API key."""
    key = base64.b64decode(DEMO_CREDENTIALS.api_key)
    expected = base64.b64encode(hmac.new(key, callback.body, hashlib.sha256).digest()).decode()
    return (
        callback.headers["authorization"] == f"TSA {DEMO_CREDENTIALS.customer_id}:{expected}"
        and callback.headers["x-ts-authorization"] == expected
    )


def _summary(payload: dict[str, Any]) -> tuple[int, str, list[tuple[str, int]]]:
    channels = [(name, status["code"]) for entry in payload["channel_status"] for name, status in entry.items()]
    return payload["status"]["code"], payload["status"]["last_channel"], channels


@pytest.fixture
def sending(make_simulator: MakeSimulator, callback_receiver: CallbackReceiver) -> tuple[SimulatorServer, httpx.Client]:
    server = make_simulator(callback_url=callback_receiver.url)
    return server, httpx.Client(base_url=server.url, headers=basic_headers())


def test_each_last_digit_gets_its_outcome_in_signed_callbacks(
    sending: tuple[SimulatorServer, httpx.Client], callback_receiver: CallbackReceiver
) -> None:
    server, client = sending
    references = {}
    with client:
        for digit in EXPECTED:
            body = omnichannel_body(f"155586753{digit}{digit}", channels=VIBER_THEN_SMS, external_id=f"c-{digit}")
            response = client.post(ENDPOINT, json=body)
            assert response.status_code == 200
            references[digit] = response.json()["reference_id"]
    assert server.app.wait_callbacks_settled(10)

    for digit, expected in EXPECTED.items():
        callbacks = callback_receiver.for_reference(references[digit])
        assert all(_signature_is_telesigns(c) for c in callbacks)
        payloads = sorted((c.payload for c in callbacks), key=lambda p: p["status"]["updated_on"])
        assert [_summary(p) for p in payloads] == expected, f"last digit {digit}"
        for payload in payloads:
            assert list(payload) == ["status", "channel_status", "reference_id", "external_id", "additional_info"]
            # What the message cost is known, and told, once its status is final (docs/simulator.md).
            if payload["status"]["code"] in (3000, 3003, 3005):
                assert payload["additional_info"]["currency"] == "USD"
                assert re.fullmatch(r"\d+\.\d{4}", payload["additional_info"]["price"])
            else:
                assert "price" not in payload["additional_info"]
            assert payload["external_id"] == f"c-{digit}"
            assert UPDATED_ON.match(payload["status"]["updated_on"])
            for entry in payload["channel_status"]:
                (status,) = entry.values()
                assert set(status) == {"code", "description", "reference_id", "updated_on"}
                assert HEX32.match(status["reference_id"]) and status["reference_id"] != references[digit]
                assert UPDATED_ON.match(status["updated_on"])
            # The overall status was last updated when the last channel's status was.
            last = payload["channel_status"][-1][payload["status"]["last_channel"]]
            assert last["updated_on"] == payload["status"]["updated_on"]


def test_last_digit_9_is_refused_at_once_without_callbacks(
    sending: tuple[SimulatorServer, httpx.Client], callback_receiver: CallbackReceiver
) -> None:
    server, client = sending
    with client:
        response = client.post(ENDPOINT, json=omnichannel_body("15558675309"))
    assert response.status_code == 400
    assert response.json()["status"]["code"] == 3110
    assert server.app.accepted() == []
    assert server.app.wait_callbacks_settled(10) and callback_receiver.calls() == []


@pytest.mark.parametrize("digit", ["6", "8"])
def test_viber_only_failure_ends_with_delivery_error_on_viber_and_overall(
    sending: tuple[SimulatorServer, httpx.Client], callback_receiver: CallbackReceiver, digit: str
) -> None:
    server, client = sending
    body = omnichannel_body(f"155586753{digit}{digit}", channels=[{"channel": "viber", "fallback_time": 30}])
    del body["message"]["sms"]
    with client:
        reference = client.post(ENDPOINT, json=body).json()["reference_id"]
    assert server.app.wait_callbacks_settled(10)
    assert [_summary(c.payload) for c in callback_receiver.for_reference(reference)] == [
        (3003, "viber", [("viber", 3003)])
    ]


def test_a_600_second_fallback_takes_a_moment_at_a_small_time_scale(
    sending: tuple[SimulatorServer, httpx.Client], callback_receiver: CallbackReceiver
) -> None:
    server, client = sending
    with client:
        reference = client.post(ENDPOINT, json=omnichannel_body("15558675307")).json()["reference_id"]
    assert server.app.wait_callbacks_settled(10)
    assert [_summary(c.payload)[0] for c in callback_receiver.for_reference(reference)] == [3056, 3000]


def test_callbacks_are_retried_until_the_receiver_answers_200(
    make_simulator: MakeSimulator, callback_receiver: CallbackReceiver
) -> None:
    callback_receiver.failures = [500, 503]
    server = make_simulator(callback_url=callback_receiver.url)
    with httpx.Client(base_url=server.url, headers=basic_headers()) as client:
        client.post(ENDPOINT, json=omnichannel_body("15558675301"))
    assert server.app.wait_callbacks_settled(10)
    received = callback_receiver.calls()
    assert len(received) == 3 and len({c.body for c in received}) == 1
    assert [a.status_code for a in server.app.callbacks_sent()] == [500, 503, 200]
    assert [a.attempt for a in server.app.callbacks_sent()] == [1, 2, 3]


def test_telesign_retries_a_callback_up_to_4_times() -> None:
    from runner.simulator.callbacks import SEND_TIMEOUT_S
    from runner.simulator.config import SimulatorConfig

    assert SimulatorConfig().callback_attempts == 1 + 4 and SEND_TIMEOUT_S == 5.0


def test_callbacks_give_up_after_a_few_tries_when_the_receiver_is_down(
    make_simulator: MakeSimulator,
) -> None:
    gone = make_simulator()
    gone.stop()  # nothing listens on its port any more
    server = make_simulator(callback_url=gone.url + "/callbacks", callback_attempts=3)
    with httpx.Client(base_url=server.url, headers=basic_headers()) as client:
        client.post(ENDPOINT, json=omnichannel_body("15558675301"))
    assert server.app.wait_callbacks_settled(10)
    attempts = server.app.callbacks_sent()
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all(a.status_code is None and a.error for a in attempts)


def test_a_callback_url_in_the_request_takes_precedence(
    make_simulator: MakeSimulator, callback_receiver: CallbackReceiver
) -> None:
    server = make_simulator()  # no callback URL configured
    with httpx.Client(base_url=server.url, headers=basic_headers()) as client:
        client.post(ENDPOINT, json=omnichannel_body("15558675301", callback_url=callback_receiver.url))
    assert server.app.wait_callbacks_settled(10)
    assert len(callback_receiver.calls()) == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


async def test_the_status_endpoint_follows_the_scaled_timeline(asgi_simulator: AsgiFactory) -> None:
    clock = FakeClock()
    _, client = await asgi_simulator(time_scale=0.5, clock=clock)
    reference = (await client.post(ENDPOINT, json=omnichannel_body("15558675300"))).json()["reference_id"]

    async def status() -> dict[str, Any]:
        response = await client.get(f"{ENDPOINT}/{reference}")
        assert response.status_code == 200
        return dict(response.json())

    # Viber delivers 2 simulated seconds after acceptance and is read 8 later: 1 s and 5 s at 0.5.
    clock.now = 500.99
    assert _summary(await status()) == (3001, "viber", [("viber", 3001)])
    clock.now = 501.0
    assert _summary(await status()) == (3000, "viber", [("viber", 3000)])
    clock.now = 505.0
    final = await status()
    assert _summary(final) == (3005, "viber", [("viber", 3005)])
    assert final["reference_id"] == reference


async def test_updated_on_times_are_spaced_by_the_time_scale(asgi_simulator: AsgiFactory) -> None:
    clock = FakeClock()
    app, client = await asgi_simulator(time_scale=0.5, clock=clock)
    body = omnichannel_body("15558675306", channels=VIBER_THEN_SMS)
    reference = (await client.post(ENDPOINT, json=body)).json()["reference_id"]
    clock.now += 3600
    payload = app.status_of(reference)
    assert payload is not None and _summary(payload) == (3000, "sms", [("viber", 3056), ("sms", 3000)])
    viber, sms = (next(iter(entry.values()))["updated_on"] for entry in payload["channel_status"])
    gap = datetime.fromisoformat(sms) - datetime.fromisoformat(viber)
    assert gap.total_seconds() == pytest.approx(1.5, abs=0.0011)  # SMS delivers 3 simulated s later


@pytest.mark.parametrize("reference", ["0" * 32, "not-a-reference", "35c8b5d509bc10689196fed2ad551b8a"])
async def test_an_unknown_or_malformed_reference_is_400_3311(asgi_simulator: AsgiFactory, reference: str) -> None:
    _, client = await asgi_simulator()
    response = await client.get(f"{ENDPOINT}/{reference}")
    assert response.status_code == 400
    assert response.json() == {"status": {"code": 3311, "description": "Invalid value for parameter reference_id"}}


async def test_a_message_over_12_hours_old_is_404_10004(asgi_simulator: AsgiFactory) -> None:
    clock = FakeClock()
    _, client = await asgi_simulator(clock=clock)
    reference = (await client.post(ENDPOINT, json=omnichannel_body("15558675300"))).json()["reference_id"]
    clock.now += 12 * 3600
    assert (await client.get(f"{ENDPOINT}/{reference}")).status_code == 200
    clock.now += 1
    response = await client.get(f"{ENDPOINT}/{reference}")
    assert response.status_code == 404
    assert response.json() == {"status": {"code": -10004, "description": "ReferenceID expired."}}


async def test_the_status_answer_carries_additional_info_with_the_price(asgi_simulator: AsgiFactory) -> None:
    clock = FakeClock()
    _, client = await asgi_simulator(clock=clock)
    body = omnichannel_body("15558675306", channels=VIBER_THEN_SMS)
    body["message"]["sms"]["parameters"]["text"] = "x" * 200  # two GSM-7 parts
    reference = (await client.post(ENDPOINT, json=body)).json()["reference_id"]
    in_progress = (await client.get(f"{ENDPOINT}/{reference}")).json()
    assert in_progress["additional_info"] == {}
    clock.now += 3600
    final = (await client.get(f"{ENDPOINT}/{reference}")).json()
    # +1 is the simulator's US price: 0.0079 an SMS part (docs/simulator.md, "Prices")
    assert final["additional_info"] == {"price": "0.0158", "currency": "USD", "message_parts_count": 2}


async def test_a_channel_not_enabled_gets_3100_and_the_next_channel_is_tried(asgi_simulator: AsgiFactory) -> None:
    clock = FakeClock()
    app, client = await asgi_simulator(clock=clock)
    body = omnichannel_body("15558675301", channels=[{"channel": "whatsapp"}, *VIBER_THEN_SMS])
    reference = (await client.post(ENDPOINT, json=body)).json()["reference_id"]
    clock.now += 3600
    payload = app.status_of(reference)
    assert payload is not None
    assert _summary(payload) == (3000, "viber", [("whatsapp", 3100), ("viber", 3000)])
    assert [c.code for c in app.accepted()[0].changes] == [3100, 3000]


async def test_no_channel_enabled_ends_3006(asgi_simulator: AsgiFactory) -> None:
    clock = FakeClock()
    app, client = await asgi_simulator(clock=clock)
    body = omnichannel_body("15558675301", channels=[{"channel": "rcs"}, {"channel": "whatsapp"}])
    body["message"] = {"default": {"template": "text", "parameters": {"text": "hi"}}}
    reference = (await client.post(ENDPOINT, json=body)).json()["reference_id"]
    payload = app.status_of(reference)
    assert payload is not None
    assert _summary(payload) == (3006, "whatsapp", [("rcs", 3100), ("whatsapp", 3100)])
    assert payload["status"]["description"] == "None of the channels is enabled for the customer"


@pytest.mark.parametrize(("ending", "code"), [("033", 3033), ("036", 3036), ("071", 3071)])
async def test_message_level_final_codes_come_from_the_outcome_table(
    asgi_simulator: AsgiFactory, ending: str, code: int
) -> None:
    clock = FakeClock()
    app, client = await asgi_simulator(clock=clock)
    reference = (await client.post(ENDPOINT, json=omnichannel_body(f"15558675{ending}"))).json()["reference_id"]
    clock.now += 3600
    payload = app.status_of(reference)
    assert payload is not None and payload["status"]["code"] == code
    assert payload["additional_info"] == {"price": "0.0000", "currency": "USD"}
