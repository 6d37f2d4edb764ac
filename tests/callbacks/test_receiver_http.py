"""The callback receiver over real HTTP on loopback (served in a background thread)."""

from __future__ import annotations

import gzip
import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from runner.callbacks import receiver as receiver_module
from runner.callbacks.log import read_log
from runner.callbacks.payload import Callback
from runner.callbacks.receiver import MAX_BODY_BYTES
from runner.callbacks.timeparse import parse_updated_on
from runner.telesign.auth import Credentials, callback_headers, callback_signature
from tests.fixtures.receiver import (
    TEST_CREDENTIALS,
    MakeServedReceiver,
    ServedReceiver,
    post_over_connections,
    signed_payload,
)


def raw_exchange(served: ServedReceiver, head: bytes, body_chunks: list[bytes]) -> bytes:
    """Send a request by hand (headers, then some body) and return what the server answers,
    without ever finishing the body: the server must answer without reading it all."""
    address = urlsplit(served.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(head)
        for chunk in body_chunks:
            try:
                conn.sendall(chunk)
            except OSError:  # the server answered and closed while we were still sending
                break
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = conn.recv(65536)
            if not data:
                break
            answer += data
        return answer


def test_a_signed_callback_is_logged_and_answered_200(served_receiver: ServedReceiver) -> None:
    payload = signed_payload(1)
    response = served_receiver.post(payload)
    assert response.status_code == 200
    [line] = served_receiver.logged()
    assert line["payload"] == payload
    assert parse_updated_on(line["received_at"]) is not None
    assert served_receiver.receiver.accepted == 1


def test_either_signature_header_is_enough(served_receiver: ServedReceiver) -> None:
    body = json.dumps(signed_payload(1)).encode()
    headers = served_receiver.sign(body)
    only_authorization = {"Authorization": headers["Authorization"]}
    only_ts = {"X-TS-Authorization": headers["X-TS-Authorization"]}
    assert served_receiver.post(body, only_authorization).status_code == 200
    assert served_receiver.post(body, only_ts).status_code == 200
    assert len(served_receiver.logged()) == 2


def test_callbacks_are_taken_on_any_path(served_receiver: ServedReceiver) -> None:
    body = json.dumps(signed_payload(1)).encode()
    base = served_receiver.server.url
    for path in ("/", "/telesign", "/a/b/c?campaign=november"):
        response = served_receiver.client.post(base + path, content=body, headers=served_receiver.sign(body))
        assert response.status_code == 200, path
    assert len(served_receiver.logged()) == 3


def test_unsigned_callbacks_are_refused_401_and_not_logged(served_receiver: ServedReceiver) -> None:
    response = served_receiver.post(signed_payload(1), headers={})
    assert response.status_code == 401
    assert served_receiver.logged() == []
    assert served_receiver.receiver.refused["unsigned"] == 1


def test_wrong_signatures_are_refused_401(served_receiver: ServedReceiver) -> None:
    body = json.dumps(signed_payload(1)).encode()
    other_key = Credentials(TEST_CREDENTIALS.customer_id, "b3RoZXIga2V5IG9mIGFub3RoZXIgYWNjb3VudA==")
    tampered = body.replace(b"3000", b"3003")
    attempts = {
        "another account's key": callback_headers(other_key, body),
        "a body changed after signing": served_receiver.sign(body),
        "basic credentials": {"Authorization": "Basic dXNlcjpwYXNz"},
        # (a bare signature in Authorization, as Telesign's SDK documents it, is accepted when it
        # is right: tests/telesign/test_sdk_peer.py)
        "a bare signature of another key": {"Authorization": callback_signature(other_key.api_key, body)},
        "an empty signature": {"X-TS-Authorization": ""},
    }
    for reason, headers in attempts.items():
        sent = tampered if reason == "a body changed after signing" else body
        assert served_receiver.post(sent, headers).status_code == 401, reason
    assert served_receiver.logged() == []
    assert served_receiver.receiver.accepted == 0


def test_a_signed_body_that_is_not_a_json_object_is_refused_400(served_receiver: ServedReceiver) -> None:
    bodies = [b"not json", b"[1, 2, 3]", b'"text"', b'{"code": NaN}', b"", b"\xff\xfe", b'{"a": 1} trailing']
    for body in bodies:
        assert served_receiver.post(body).status_code == 400, body
    assert served_receiver.logged() == []
    assert served_receiver.receiver.refused["not_json"] == len(bodies)


def test_other_methods_are_refused_405(served_receiver: ServedReceiver) -> None:
    for method in ("GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"):
        response = served_receiver.client.request(method, served_receiver.url)
        assert response.status_code == 405, method
        assert response.headers["allow"] == "POST"


def test_a_body_of_exactly_64_kb_is_taken(served_receiver: ServedReceiver) -> None:
    payload = signed_payload(1, padding="")
    payload["padding"] = "x" * (MAX_BODY_BYTES - len(json.dumps(payload).encode()))
    body = json.dumps(payload).encode()
    assert len(body) == MAX_BODY_BYTES
    assert served_receiver.post(body).status_code == 200


def test_a_body_over_64_kb_is_refused_413(served_receiver: ServedReceiver) -> None:
    body = json.dumps(signed_payload(1, padding="x" * MAX_BODY_BYTES)).encode()
    assert served_receiver.post(body).status_code == 413
    assert served_receiver.logged() == []
    assert served_receiver.receiver.refused["too_large"] == 1


def test_a_large_content_length_is_refused_before_any_body_is_sent(served_receiver: ServedReceiver) -> None:
    head = (
        b"POST /callbacks HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
        b"Content-Length: 50000000\r\nX-TS-Authorization: c2lnbmF0dXJl\r\n\r\n"
    )
    answer = raw_exchange(served_receiver, head, [])
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in answer.lower()


def test_a_chunked_body_is_refused_413_once_it_passes_64_kb(served_receiver: ServedReceiver) -> None:
    head = (
        b"POST /callbacks HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nX-TS-Authorization: c2lnbmF0dXJl\r\n\r\n"
    )
    chunk = b"x" * 8192
    # 80 KB of a body that never ends: no terminating chunk is ever sent.
    chunks = [b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(10)]
    answer = raw_exchange(served_receiver, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert served_receiver.receiver.refused["too_large"] == 1


def test_no_verify_takes_unsigned_callbacks_and_says_so_loudly(
    make_served_receiver: MakeServedReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    served = make_served_receiver(verify=False)
    assert "NOT verified" in capsys.readouterr().err
    assert served.post(signed_payload(1), headers={}).status_code == 200
    assert len(served.logged()) == 1


def test_counters_say_what_was_accepted_and_why_the_rest_was_refused(served_receiver: ServedReceiver) -> None:
    served_receiver.post(signed_payload(1))
    served_receiver.post(signed_payload(2))
    served_receiver.post(signed_payload(3), headers={})
    served_receiver.post(b"nope")
    served_receiver.client.get(served_receiver.url)
    receiver = served_receiver.receiver
    assert receiver.accepted == 2
    assert dict(receiver.refused) == {"unsigned": 1, "not_json": 1, "method_not_allowed": 1}


def test_a_line_torn_by_a_killed_receiver_does_not_swallow_the_next_callback(
    make_served_receiver: MakeServedReceiver, tmp_path: Path
) -> None:
    log = tmp_path / "callbacks.log"
    log.write_bytes(b'{"received_at":"2026-11-28T09:00:00.000000Z","payload":{"reference_id":"0000')  # cut short
    served = make_served_receiver(log_path=log)
    assert served.post(signed_payload(1)).status_code == 200
    records = list(read_log(log))
    assert [(r.line, type(r).__name__) for r in records] == [(1, "Malformed"), (2, "Callback")]


def test_a_callback_the_disk_refuses_gets_500_so_telesign_sends_it_again(
    make_served_receiver: MakeServedReceiver,
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full, a device whose every write fails with 'no space left'")
    served = make_served_receiver(log_path=Path("/dev/full"))
    assert served.post(signed_payload(1)).status_code == 500
    assert served.receiver.accepted == 0 and served.receiver.refused["not_stored"] == 1


async def test_a_thousand_concurrent_callbacks_are_all_logged_exactly_once(served_receiver: ServedReceiver) -> None:
    count, connections = 1000, 200  # 200 connections in flight at once (each end is a file descriptor)
    bodies = [json.dumps(signed_payload(n)).encode() for n in range(count)]
    statuses = await post_over_connections(
        served_receiver.url, [(body, served_receiver.sign(body)) for body in bodies], connections
    )
    assert statuses == [200] * count
    records = list(read_log(served_receiver.log_path))
    assert all(isinstance(r, Callback) for r in records)
    references = sorted(r.reference_id for r in records if isinstance(r, Callback) and r.reference_id)
    assert references == sorted(f"{n:032X}" for n in range(count))
    assert served_receiver.receiver.accepted == count


def test_reopen_moves_to_a_fresh_file_after_rotation(served_receiver: ServedReceiver) -> None:
    assert served_receiver.post(signed_payload(1)).status_code == 200
    rotated = served_receiver.log_path.with_name("callbacks.log.1")
    served_receiver.log_path.rename(rotated)
    served_receiver.receiver.reopen()
    assert served_receiver.post(signed_payload(2)).status_code == 200
    before = [r.reference_id for r in read_log(rotated) if isinstance(r, Callback)]
    after = [r.reference_id for r in read_log(served_receiver.log_path) if isinstance(r, Callback)]
    assert (before, after) == ([f"{1:032X}"], [f"{2:032X}"])


def test_a_log_rotated_and_gzipped_without_sighup_does_not_swallow_acknowledged_callbacks(
    served_receiver: ServedReceiver,
) -> None:
    """mv + gzip with no SIGHUP (a logrotate configuration without its postrotate kill -HUP): the
    receiver used to append on into the renamed file gzip then deleted, answering 200 for callbacks
    that were in no file at all."""
    log = served_receiver.log_path
    assert served_receiver.post(signed_payload(1)).status_code == 200
    rotated = log.with_name("callbacks.log.1")
    log.rename(rotated)
    with rotated.open("rb") as plain, gzip.open(rotated.with_name("callbacks.log.1.gz"), "wb") as packed:
        packed.write(plain.read())
    rotated.unlink()  # (as gzip does)
    assert served_receiver.post(signed_payload(2)).status_code == 200
    assert log.exists(), "the callback answered 200 is in no file"
    before = [r.reference_id for r in read_log(log.with_name("callbacks.log.1.gz")) if isinstance(r, Callback)]
    after = [r.reference_id for r in read_log(log) if isinstance(r, Callback)]
    assert (before, after) == ([f"{1:032X}"], [f"{2:032X}"])
    # renamed and still there: the next callback goes to the path too
    log.rename(rotated)
    assert served_receiver.post(signed_payload(3)).status_code == 200
    assert [r.reference_id for r in read_log(log) if isinstance(r, Callback)] == [f"{3:032X}"]


def test_a_client_that_stalls_mid_body_is_answered_408_and_let_go(
    served_receiver: ServedReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers, part of a body, then nothing: before, the receiver waited for the rest for ever,
    holding the connection, its file descriptor and a task (enough such clients, or connections
    half-dead since a network fault, and no callback could get in)."""
    monkeypatch.setattr(receiver_module, "BODY_SECONDS", 0.5)
    body = json.dumps(signed_payload(1)).encode()
    headers = "".join(f"{name}: {value}\r\n" for name, value in served_receiver.sign(body).items())
    head = f"POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode()
    address = urlsplit(served_receiver.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(head + body[:20])
        started = time.monotonic()
        answer = b""
        while data := conn.recv(65536):  # (the server closes the connection once it has answered)
            answer += data
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
    assert b"connection: close" in answer.lower()
    assert waited < 5
    assert served_receiver.receiver.refused["too_slow"] == 1 and served_receiver.logged() == []
    assert served_receiver.post(signed_payload(2)).status_code == 200  # the others are served as ever
