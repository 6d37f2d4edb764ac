"""The simulator refuses bad requests as Telesign does: HTTP status, status.code, and a body shaped
as the Engage reference's 400 schema: reference_id, status {code, description}, external_id echoed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.simulator import AsgiFactory, omnichannel_body

ENDPOINT = "/v1/omnichannel"


def _without(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = body
        for name in parents:
            node = node[name]
        del node[last]

    return edit


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = body
        for name in parents:
            node = node[int(name)] if isinstance(node, list) else node[name]
        node[last] = value

    return edit


CASES = [
    # (name, edit of the seed body, HTTP status, status.code)
    ("channels missing", _without("channels"), 400, 3300),
    ("channels empty", _set("channels", []), 400, 3300),
    ("channel entry without channel", _set("channels", [{"fallback_time": 60}]), 400, 3301),
    ("phone_number missing", _without("phone_number"), 400, 3302),
    ("message missing", _without("message"), 400, 3303),
    ("message of a listed channel missing", _without("message.sms"), 400, 3303),
    ("viber template missing", _without("message.viber.template"), 400, 3303),
    ("url_text missing", _without("message.viber.parameters.url_text"), 400, 3305),
    ("message_type missing", _without("message_type"), 400, 3304),
    ("channel listed twice", _set("channels", [{"channel": "viber"}, {"channel": "viber"}]), 400, 3113),
    ("channel not a name", _set("channels", [{"channel": 7}]), 400, 3113),
    (
        "fallback_time below 30",
        _set("channels", [{"channel": "viber", "fallback_time": 29}, {"channel": "sms"}]),
        400,
        3113,
    ),
    (
        "fallback_time above 3600",
        _set("channels", [{"channel": "viber", "fallback_time": 3601}, {"channel": "sms"}]),
        400,
        3113,
    ),
    ("fallback_time not a number", _set("channels", [{"channel": "viber", "fallback_time": "600"}]), 400, 3113),
    ("external_id not ASCII", _set("external_id", "café-1"), 400, 3103),
    ("external_id over 100 characters", _set("external_id", "x" * 101), 400, 3103),
    ("message_type unknown", _set("message_type", "PROMO"), 400, 3102),
    ("unknown viber template", _set("message.viber.template", "carousel"), 400, 3112),
    ("unknown sms template", _set("message.sms.template", "url_action"), 400, 3112),
    ("viber link to Telegram", _set("message.viber.parameters.url", "https://t.me/shop"), 400, 3108),
    ("viber link to Line", _set("message.viber.parameters.url", "https://line.me/R/ti/p/shop"), 400, 3108),
    ("viber link to Signal", _set("message.viber.parameters.url", "https://signal.me/#p/+15551234567"), 400, 3108),
    ("viber link not a web URL", _set("message.viber.parameters.url", "viatushop.com/orders"), 400, 3108),
    ("phone_number with a plus", _set("phone_number", "+15558675300"), 400, 3110),
    ("phone_number too short", _set("phone_number", "12345"), 400, 3110),
    ("callback_url empty", _set("callback_url", ""), 400, 3106),
    ("account_lifecycle_event unknown", _set("account_lifecycle_event", "signin"), 400, 3104),
    ("originating_ip not an address", _set("originating_ip", "160.199.219"), 400, 3105),
    (
        "recipient without a phone, no phone_number",
        lambda b: b.update(recipient={"email": "a@x.io"}, phone_number=None),
        400,
        3302,
    ),
]


@pytest.mark.parametrize(("name", "edit", "http_status", "code"), CASES, ids=[c[0] for c in CASES])
async def test_each_invalid_request_gets_telesigns_status(
    asgi_simulator: AsgiFactory, name: str, edit: Callable[[dict[str, Any]], None], http_status: int, code: int
) -> None:
    app, client = await asgi_simulator()
    body = omnichannel_body()
    edit(body)
    response = await client.post(ENDPOINT, json=body)
    assert (response.status_code, response.json()["status"]["code"]) == (http_status, code)
    # The 400 schema: reference_id, status {code, description}, external_id (echoed); no errors array.
    assert list(response.json()) == ["reference_id", "status", "external_id"]
    assert set(response.json()["status"]) == {"code", "description"}
    assert response.json()["external_id"] == body.get("external_id")
    assert app.accepted() == []
    assert app.outcomes()[str(http_status)] == 1


async def test_invalid_json_is_3110(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    response = await client.post(ENDPOINT, content=b'{"channels": [', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["status"] == {"code": 3110, "description": "Invalid request: the body is not valid JSON"}
    assert response.json()["external_id"] is None


async def test_a_json_array_is_an_invalid_request(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    response = await client.post(ENDPOINT, json=[omnichannel_body()])
    assert (response.status_code, response.json()["status"]["code"]) == (400, 3110)


async def test_a_body_over_10_kb_is_413_with_3116(asgi_simulator: AsgiFactory) -> None:
    app, client = await asgi_simulator()
    body = omnichannel_body()
    body["message"]["sms"]["parameters"]["text"] = "x" * (10 * 1024)
    response = await client.post(ENDPOINT, json=body)
    assert (response.status_code, response.json()["status"]["code"]) == (413, 3116)
    assert app.accepted() == []


async def test_a_body_just_under_10_kb_is_accepted(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    body = omnichannel_body()
    size = len(json.dumps(body).encode())
    body["message"]["sms"]["parameters"]["text"] += "x" * (10 * 1024 - size)
    assert len(json.dumps(body).encode()) == 10 * 1024
    response = await client.post(ENDPOINT, json=body)
    assert response.status_code == 200


async def test_a_valid_request_is_accepted_with_a_fresh_reference_id(asgi_simulator: AsgiFactory) -> None:
    app, client = await asgi_simulator()
    first = await client.post(ENDPOINT, json=omnichannel_body(external_id="order-tracking:c-1001"))
    second = await client.post(ENDPOINT, json=omnichannel_body())
    assert first.status_code == 200
    assert first.json()["status"] == {"code": 3001, "description": "Message in progress"}
    assert first.json()["external_id"] == "order-tracking:c-1001"
    assert second.json()["external_id"] is None
    references = [first.json()["reference_id"], second.json()["reference_id"]]
    for reference in references:
        assert len(reference) == 32 and reference == reference.upper() and int(reference, 16) >= 0
    assert references[0] != references[1]
    assert [r.reference_id for r in app.accepted()] == references


async def test_a_viber_only_request_without_fallback_time_is_accepted(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    body = omnichannel_body(channels=[{"channel": "viber"}])
    del body["message"]["sms"]
    response = await client.post(ENDPOINT, json=body)
    assert response.status_code == 200


async def test_a_request_that_is_not_json_content_is_refused(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    response = await client.post(
        ENDPOINT, content=json.dumps(omnichannel_body()), headers={"Content-Type": "text/plain"}
    )
    assert (response.status_code, response.json()["status"]["code"]) == (400, 3110)


async def test_the_recipient_object_is_preferred_to_the_deprecated_phone_number(asgi_simulator: AsgiFactory) -> None:
    app, client = await asgi_simulator()
    body = omnichannel_body()
    body["recipient"] = {"phone_number": body.pop("phone_number")}
    assert (await client.post(ENDPOINT, json=body)).status_code == 200
    assert app.accepted()[0].phone_number == body["recipient"]["phone_number"]


async def test_message_default_serves_a_channel_without_its_own_message(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    body = omnichannel_body()
    body["message"]["default"] = body["message"].pop("sms")
    assert (await client.post(ENDPOINT, json=body)).status_code == 200


async def test_valid_lifecycle_event_and_ip_addresses_are_accepted(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    for event, address in (("sign-in", "160.199.219.47"), ("delete", "2001:db8::1")):
        body = omnichannel_body(account_lifecycle_event=event, originating_ip=address)
        assert (await client.post(ENDPOINT, json=body)).status_code == 200
