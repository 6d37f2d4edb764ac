"""Load and faults: the TPS limit with Retry-After, latency, 503/3500, dropped connections, and
their repeatability under a seed."""

from __future__ import annotations

import httpx
import pytest

from runner.simulator import ConnectionDropped
from tests.fixtures.simulator import AsgiFactory, CallbackReceiver, MakeSimulator, basic_headers, omnichannel_body

ENDPOINT = "/v1/omnichannel"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_more_than_tps_in_a_second_get_429_3204_with_retry_after(asgi_simulator: AsgiFactory) -> None:
    clock = FakeClock()
    app, client = await asgi_simulator(tps=3, clock=clock)
    answers = [await client.post(ENDPOINT, json=omnichannel_body(f"1555867530{i}")) for i in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    refused = answers[3]
    assert refused.json() == {"status": {"code": 3204, "description": "Rate limit exceeded"}, "external_id": None}
    assert refused.headers["Retry-After"] == "1"
    assert len(app.accepted()) == 3 and app.outcomes()["429"] == 2

    clock.now += 0.5  # still within the second of the first three
    assert (await client.post(ENDPOINT, json=omnichannel_body())).status_code == 429
    clock.now += 0.5  # the first three are now a second old
    assert (await client.post(ENDPOINT, json=omnichannel_body())).status_code == 200


async def test_the_window_slides_so_no_second_ever_holds_more_than_tps(asgi_simulator: AsgiFactory) -> None:
    clock = FakeClock(1000.9)
    app, client = await asgi_simulator(tps=2, clock=clock)
    for _ in range(2):
        await client.post(ENDPOINT, json=omnichannel_body())
    clock.now = 1001.1  # a new whole second, but 0.2 s after the first two
    assert (await client.post(ENDPOINT, json=omnichannel_body())).status_code == 429
    assert app.most_accepted_in_one_second() == 2
    assert app.accepted_per_second() == {1000: 2}


async def test_refused_and_failed_requests_do_not_count_toward_the_limit(asgi_simulator: AsgiFactory) -> None:
    _, client = await asgi_simulator(tps=1, clock=FakeClock())
    assert (await client.post(ENDPOINT, json=omnichannel_body(message_type="NOPE"))).status_code == 400
    assert (await client.post(ENDPOINT, json=omnichannel_body())).status_code == 200


async def test_fail_rate_answers_503_3500_and_accepts_nothing(asgi_simulator: AsgiFactory) -> None:
    app, client = await asgi_simulator(fail_rate=1.0)
    response = await client.post(ENDPOINT, json=omnichannel_body())
    assert response.status_code == 503
    assert response.json() == {"status": {"code": 3500, "description": "System Unavailable"}, "external_id": None}
    assert app.accepted() == [] and app.outcomes()["503"] == 1


async def test_a_drop_through_asgi_transport_raises_the_clients_dropped_connection_error(
    asgi_simulator: AsgiFactory,
) -> None:
    app, client = await asgi_simulator(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(ENDPOINT, json=omnichannel_body())
    assert len(app.accepted()) == 1 and app.accepted()[0].dropped


def test_a_drop_over_http_closes_the_connection_without_an_answer_after_accepting(
    make_simulator: MakeSimulator,
) -> None:
    server = make_simulator(drop_rate=1.0)
    app = server.app
    with httpx.Client(base_url=server.url, headers=basic_headers()) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)) as caught:
            client.post(ENDPOINT, json=omnichannel_body("15558675300"))
    assert not isinstance(caught.value, ConnectionDropped)  # a real closed socket, not the fallback
    assert app.accepted_by_phone() == {"15558675300": 1}
    assert app.outcomes() == {"dropped": 1}  # no 500 was answered


def test_a_dropped_request_still_gets_its_callbacks(
    make_simulator: MakeSimulator, callback_receiver: CallbackReceiver
) -> None:
    server = make_simulator(drop_rate=1.0, callback_url=callback_receiver.url)
    with httpx.Client(base_url=server.url, headers=basic_headers()) as client:
        with pytest.raises(httpx.TransportError):
            client.post(ENDPOINT, json=omnichannel_body("15558675301", external_id="c-1"))
    assert server.app.wait_callbacks_settled(10)
    assert [c.payload["external_id"] for c in callback_receiver.calls()] == ["c-1"]


def test_latency_delays_the_answer_past_a_short_client_timeout(make_simulator: MakeSimulator) -> None:
    server = make_simulator(latency_ms=600)
    with httpx.Client(base_url=server.url, headers=basic_headers(), timeout=0.1) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(ENDPOINT, json=omnichannel_body())
    # The request was accepted all the same: the ambiguous case a client must not resend.
    assert len(server.app.accepted()) == 1


async def _outcomes(factory: AsgiFactory, seed: int) -> list[str]:
    app, client = await factory(seed=seed, fail_rate=0.3, drop_rate=0.3)
    seen = []
    for i in range(40):
        try:
            response = await client.post(ENDPOINT, json=omnichannel_body(f"1555867{i:03d}0"))
            seen.append(str(response.status_code))
        except ConnectionDropped:
            seen.append("dropped")
    return seen


async def test_faults_repeat_under_the_same_seed(asgi_simulator: AsgiFactory) -> None:
    first = await _outcomes(asgi_simulator, seed=7)
    again = await _outcomes(asgi_simulator, seed=7)
    other = await _outcomes(asgi_simulator, seed=8)
    assert first == again
    assert {"200", "503", "dropped"} <= set(first)
    assert other != first


async def test_a_resent_request_gets_a_fresh_draw(asgi_simulator: AsgiFactory) -> None:
    app, client = await asgi_simulator(seed=3, fail_rate=0.5)
    answers = [(await client.post(ENDPOINT, json=omnichannel_body())).status_code for _ in range(20)]
    assert set(answers) == {200, 503}
