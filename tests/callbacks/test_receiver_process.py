"""`campaign callbacks serve` as a real process: kill -9 under load, SIGHUP rotation, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.callbacks.log import read_log
from runner.callbacks.payload import Callback
from runner.main import cli
from tests.fixtures.receiver import TEST_CREDENTIALS, post_over_connections, signed_payload

ROOT = Path(__file__).resolve().parents[2]


class ReceiverProcess:
    def __init__(self, log_path: Path, extra_env: dict[str, str] | None = None):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log_path = log_path
        env = {**os.environ, "TELESIGN_API_KEY": TEST_CREDENTIALS.api_key, **(extra_env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runner", "callbacks", "serve", "--port", str(self.port), "--log", str(log_path)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._wait_until_listening()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callbacks"

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 30  # a bound on a slow machine, not a speed requirement
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                _, errors = self.process.communicate()
                raise AssertionError(f"the receiver exited: {errors.decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("the receiver did not start listening")

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.terminate()
        _, errors = self.process.communicate(timeout=30)
        return self.process.returncode, errors.decode()


@pytest.fixture
def receiver_process(tmp_path: Path) -> Iterator[ReceiverProcess]:
    started = ReceiverProcess(tmp_path / "callbacks.log")
    yield started
    if started.process.poll() is None:
        started.process.kill()
        started.process.wait()


def signed_requests(first: int, count: int) -> list[tuple[bytes, dict[str, str]]]:
    from runner.telesign.auth import callback_headers

    bodies = [json.dumps(signed_payload(n)).encode() for n in range(first, first + count)]
    return [(body, callback_headers(TEST_CREDENTIALS, body)) for body in bodies]


def logged_references(path: Path) -> list[str]:
    return [r.reference_id for r in read_log(path) if isinstance(r, Callback) and r.reference_id]


async def test_every_callback_answered_200_survives_kill_9_under_load(receiver_process: ReceiverProcess) -> None:
    requests = signed_requests(0, 4000)
    acknowledged = 0

    def on_status(index: int, status: int) -> None:
        nonlocal acknowledged
        acknowledged += status == 200
        if acknowledged == 300:  # mid-load: dozens of requests are in flight right now
            receiver_process.process.send_signal(signal.SIGKILL)

    statuses = await post_over_connections(receiver_process.url, requests, 64, on_status)
    receiver_process.process.wait()
    assert receiver_process.process.returncode == -signal.SIGKILL

    answered = [f"{n:032X}" for n, status in enumerate(statuses) if status == 200]
    assert len(answered) >= 300 and len(answered) < len(requests)
    logged = logged_references(receiver_process.log_path)
    assert set(answered) <= set(logged)  # acknowledged means on disk
    assert len(logged) == len(set(logged))  # and each once


async def test_sighup_reopens_the_log_for_rotation(receiver_process: ReceiverProcess) -> None:
    log = receiver_process.log_path
    assert await post_over_connections(receiver_process.url, signed_requests(0, 20), 4) == [200] * 20
    rotated = log.with_name("callbacks.log.1")
    log.rename(rotated)
    receiver_process.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while not log.exists():  # the receiver creates the new file as soon as it reopens
        assert time.monotonic() < deadline, "the log was not reopened after SIGHUP"
        time.sleep(0.01)
    assert await post_over_connections(receiver_process.url, signed_requests(20, 10), 4) == [200] * 10

    assert sorted(logged_references(rotated)) == sorted(f"{n:032X}" for n in range(20))
    assert sorted(logged_references(log)) == sorted(f"{n:032X}" for n in range(20, 30))

    code, said = receiver_process.stop()
    assert code == 143  # SIGTERM: a graceful stop, then the conventional exit code
    assert "stopped: 30 callbacks logged" in said
    assert TEST_CREDENTIALS.api_key not in said


def test_serve_without_an_api_key_is_refused_with_exit_4(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["callbacks", "serve", "--log", str(tmp_path / "c.log")], env={"TELESIGN_API_KEY": None}
    )
    assert result.exit_code == 4
    assert "TELESIGN_API_KEY" in result.output and "--no-verify" in result.output
    assert not (tmp_path / "c.log").exists()


def test_serve_on_a_port_in_use_is_refused_with_exit_4(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli,
            ["callbacks", "serve", "--port", str(port), "--log", str(tmp_path / "c.log")],
            env={"TELESIGN_API_KEY": TEST_CREDENTIALS.api_key},
        )
    assert result.exit_code == 4
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert TEST_CREDENTIALS.api_key not in result.output
