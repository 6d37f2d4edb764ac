"""Telesign's own Python SDK (telesignenterprise, on telesign) as a peer: its client sends to the
simulator and reads its answers, with Basic and with digest (HMAC-SHA256) authentication; its
callback helper accepts the simulator's signatures; and the receiver accepts a callback signed the
way the SDK documents Telesign signing them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from telesign.util import verify_telesign_callback_signature
from telesignenterprise.messaging import MessagingClient

from runner.simulator import DEMO_CREDENTIALS
from tests.fixtures.receiver import ServedReceiver, signed_payload
from tests.fixtures.simulator import CallbackReceiver, MakeSimulator, omnichannel_body


def sdk_client(url: str, auth_method: str | None) -> Any:
    # auth_method None is the SDK's default: the HMAC-SHA256 digest.
    return MessagingClient(
        DEMO_CREDENTIALS.customer_id, DEMO_CREDENTIALS.api_key, rest_endpoint=url, auth_method=auth_method
    )


@pytest.mark.parametrize("auth_method", ["Basic", None], ids=["basic", "digest"])
def test_the_sdks_client_sends_to_the_simulator_and_reads_its_answers(
    make_simulator: MakeSimulator, auth_method: str | None
) -> None:
    server = make_simulator()
    client = sdk_client(server.url, auth_method)
    body = omnichannel_body("15558675301", external_id="winter-sale.w-001")

    sent = client.omniMessage(body)
    assert sent.status_code == 200
    assert sent.json["status"] == {"code": 3001, "description": "Message in progress"}
    assert sent.json["external_id"] == "winter-sale.w-001"
    reference = sent.json["reference_id"]
    assert [r.reference_id for r in server.app.accepted()] == [reference]

    status = client.get(f"/v1/omnichannel/{reference}")
    assert status.status_code == 200
    assert status.json["reference_id"] == reference and status.json["status"]["code"] in (3001, 3000)
    assert "additional_info" in status.json

    del body["message_type"]
    refused = client.omniMessage(body)
    assert (refused.status_code, refused.json["status"]["code"]) == (400, 3304)
    assert refused.json["external_id"] == "winter-sale.w-001"


def test_a_wrong_key_in_the_sdk_is_refused_401(make_simulator: MakeSimulator) -> None:
    server = make_simulator()
    other = base64.b64encode(b"some other key").decode()
    client = MessagingClient(DEMO_CREDENTIALS.customer_id, other, rest_endpoint=server.url)
    refused = client.omniMessage(omnichannel_body("15558675301"))
    assert (refused.status_code, refused.json["status"]["code"]) == (401, 3400)
    assert server.app.accepted() == []


def test_the_sdks_callback_helper_accepts_the_simulators_signatures(
    make_simulator: MakeSimulator, callback_receiver: CallbackReceiver
) -> None:
    server = make_simulator(callback_url=callback_receiver.url)
    client = sdk_client(server.url, "Basic")
    reference = client.omniMessage(omnichannel_body("15558675300")).json["reference_id"]
    assert server.app.wait_callbacks_settled(10)
    callbacks = callback_receiver.for_reference(reference)
    assert len(callbacks) == 2  # delivered, then read
    for callback in callbacks:
        text = callback.body.decode("utf-8")
        assert verify_telesign_callback_signature(
            DEMO_CREDENTIALS.api_key, callback.headers["x-ts-authorization"], text
        )
        assert not verify_telesign_callback_signature(
            DEMO_CREDENTIALS.api_key, callback.headers["x-ts-authorization"], text + " "
        )


def test_the_receiver_accepts_a_callback_signed_as_the_sdk_documents(served_receiver: ServedReceiver) -> None:
    # The SDK's verify_telesign_callback_signature takes "the TeleSign Authorization header value
    # supplied in the callback" and compares it, whole, with base64(HMAC-SHA256(body, b64decode(key))):
    # a bare signature in Authorization. The same helper must agree before the receiver is asked.
    body = json.dumps(signed_payload(7)).encode()
    key = base64.b64decode(served_receiver.credentials.api_key)
    signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    assert verify_telesign_callback_signature(served_receiver.credentials.api_key, signature, body.decode())
    response = served_receiver.post(body, headers={"Authorization": signature, "Content-Type": "application/json"})
    assert response.status_code == 200
    assert [line["payload"]["reference_id"] for line in served_receiver.logged()] == [signed_payload(7)["reference_id"]]
    forged = served_receiver.post(
        body, headers={"Authorization": signature[:-4] + "AAA=", "Content-Type": "application/json"}
    )
    assert forged.status_code == 401
