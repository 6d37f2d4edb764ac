"""Basic and TSA digest authentication; every failure is 401 with status 3400."""

from __future__ import annotations

import json
from email.utils import formatdate

import httpx

from runner.simulator import DEMO_CREDENTIALS
from runner.telesign.auth import AUTH_METHOD, Credentials, basic_authorization, digest_headers, sign
from tests.fixtures.simulator import AsgiFactory, omnichannel_body

ENDPOINT = "/v1/omnichannel"
OTHER = Credentials(DEMO_CREDENTIALS.customer_id, "b3RoZXIga2V5")


def _raw() -> bytes:
    return json.dumps(omnichannel_body()).encode()


async def _post(client: httpx.AsyncClient, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    # Replace the client's default Basic header with exactly these headers.
    request = client.build_request("POST", ENDPOINT, content=raw, headers=headers)
    del request.headers["authorization"]
    for name, value in headers.items():
        request.headers[name] = value
    return await client.send(request)


def _refused(response: httpx.Response) -> bool:
    return response.status_code == 401 and response.json()["status"]["code"] == 3400


async def test_basic_with_the_right_credentials_is_accepted(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    response = await _post(
        client, _raw(), {"Authorization": basic_authorization(DEMO_CREDENTIALS), "Content-Type": "application/json"}
    )
    assert response.status_code == 200


async def test_basic_with_a_wrong_key_is_401_3400(asgi_simulator: AsgiFactory) -> None:
    app, client = await asgi_simulator()
    raw = json.dumps(omnichannel_body(external_id="winter-sale.w-001")).encode()
    response = await _post(
        client, raw, {"Authorization": basic_authorization(OTHER), "Content-Type": "application/json"}
    )
    assert _refused(response)
    # The 401 schema: status and external_id (echoed), no reference_id.
    assert response.json()["external_id"] == "winter-sale.w-001"
    assert list(response.json()) == ["status", "external_id"]
    assert app.accepted() == [] and app.outcomes()["401"] == 1


async def test_no_authorization_is_401_3400(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    request = client.build_request("POST", ENDPOINT, json=omnichannel_body())
    del request.headers["authorization"]
    assert _refused(await client.send(request))


async def test_the_credentials_in_use_are_the_configured_ones(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator(credentials=OTHER)
    assert (await client.post(ENDPOINT, json=omnichannel_body())).status_code == 200
    demo = await _post(
        client, _raw(), {"Authorization": basic_authorization(DEMO_CREDENTIALS), "Content-Type": "application/json"}
    )
    assert _refused(demo)


async def test_digest_with_date_is_accepted(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    raw = _raw()
    response = await _post(client, raw, digest_headers(DEMO_CREDENTIALS, "POST", ENDPOINT, raw))
    assert response.status_code == 200


async def test_digest_with_x_ts_date_in_telesigns_canonical_form_is_accepted(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    raw = _raw()
    date, nonce = formatdate(usegmt=True), "a1b2c3d4-nonce"
    to_sign = (
        "\n".join(
            [
                "POST",
                "application/json",
                "",
                f"x-ts-auth-method:{AUTH_METHOD}",
                f"x-ts-date:{date}",
                f"x-ts-nonce:{nonce}",
            ]
        ).encode()
        + b"\n"
        + raw
        + b"\n"
        + ENDPOINT.encode()
    )
    headers = {
        "Authorization": f"TSA {DEMO_CREDENTIALS.customer_id}:{sign(DEMO_CREDENTIALS.api_key, to_sign)}",
        "Content-Type": "application/json",
        "x-ts-date": date,
        "x-ts-auth-method": AUTH_METHOD,
        "x-ts-nonce": nonce,
    }
    assert (await _post(client, raw, headers)).status_code == 200


async def test_digest_with_a_wrong_signature_is_refused(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    raw = _raw()
    assert _refused(await _post(client, raw, digest_headers(OTHER, "POST", ENDPOINT, raw)))


async def test_digest_signed_over_another_body_is_refused(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    raw = _raw()
    headers = digest_headers(DEMO_CREDENTIALS, "POST", ENDPOINT, raw.replace(b"15558675300", b"15558675301"))
    assert _refused(await _post(client, raw, headers))


async def test_a_reused_nonce_is_refused(asgi_simulator: AsgiFactory) -> None:
    app, client = await asgi_simulator()
    raw = _raw()
    headers = digest_headers(DEMO_CREDENTIALS, "POST", ENDPOINT, raw, nonce="once-only")
    assert (await _post(client, raw, headers)).status_code == 200
    replay = await _post(client, raw, headers)
    assert _refused(replay)
    assert "nonce" in replay.json()["status"]["description"]
    assert len(app.accepted()) == 1


async def test_a_forged_request_does_not_use_up_a_nonce(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    raw = _raw()
    assert _refused(await _post(client, raw, digest_headers(OTHER, "POST", ENDPOINT, raw, nonce="n-1")))
    assert (
        await _post(client, raw, digest_headers(DEMO_CREDENTIALS, "POST", ENDPOINT, raw, nonce="n-1"))
    ).status_code == 200


async def test_a_stale_date_is_refused(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    raw = _raw()
    stale = "Wed, 14 Oct 2020 21:25:54 GMT"
    assert _refused(await _post(client, raw, digest_headers(DEMO_CREDENTIALS, "POST", ENDPOINT, raw, date=stale)))


async def test_digest_without_a_date_is_refused(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    raw = _raw()
    headers = digest_headers(DEMO_CREDENTIALS, "POST", ENDPOINT, raw)
    del headers["Date"]
    assert _refused(await _post(client, raw, headers))


async def test_a_refusal_never_echoes_the_key(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    response = await _post(
        client, _raw(), {"Authorization": basic_authorization(OTHER), "Content-Type": "application/json"}
    )
    assert OTHER.api_key not in response.text and DEMO_CREDENTIALS.api_key not in response.text


async def test_the_status_endpoint_needs_credentials_too(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator()
    reference = (await client.post(ENDPOINT, json=omnichannel_body())).json()["reference_id"]
    request = client.build_request("GET", f"{ENDPOINT}/{reference}")
    del request.headers["authorization"]
    assert _refused(await client.send(request))
    signed = digest_headers(DEMO_CREDENTIALS, "GET", f"{ENDPOINT}/{reference}", b"", content_type="")
    response = await client.get(f"{ENDPOINT}/{reference}", headers=signed)
    assert response.status_code == 200
