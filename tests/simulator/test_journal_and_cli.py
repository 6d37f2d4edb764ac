"""What a test outside the simulator's process can count (the journal file), and the command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from runner.serving import free_port
from runner.simulator import read_journal_file
from runner.telesign.auth import Credentials, basic_authorization
from tests.fixtures.simulator import MakeSimulator, basic_headers, omnichannel_body

ENDPOINT = "/v1/omnichannel"


def test_the_journal_file_holds_one_line_per_accepted_request(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    journal = tmp_path / "sim" / "journal.jsonl"
    server = make_simulator(journal_path=journal)
    with httpx.Client(base_url=server.url, headers=basic_headers()) as client:
        first = client.post(ENDPOINT, json=omnichannel_body("15558675300", external_id="c-1")).json()
        client.post(ENDPOINT, json=omnichannel_body("15558675300", message_type="BAD"))  # refused
        client.post(ENDPOINT, json=omnichannel_body("15558675301"))
        # Flushed as accepted: readable while the simulator still runs.
        lines = list(read_journal_file(journal))
    assert [(line["phone_number"], line["external_id"]) for line in lines] == [
        ("15558675300", "c-1"),
        ("15558675301", None),
    ]
    assert lines[0]["reference_id"] == first["reference_id"]
    assert lines[0]["body"] == omnichannel_body("15558675300", external_id="c-1")
    assert server.app.accepted_by_phone() == {"15558675300": 1, "15558675301": 1}
    assert server.app.outcomes() == {"200": 2, "400": 1}


def test_campaign_simulate_serves_with_the_environments_credentials(tmp_path: Path) -> None:
    credentials = Credentials("ACME-CUSTOMER-0001", "c2VjcmV0IGtleSBvZiB0aGUgdGVzdA==")
    env = {**os.environ, "TELESIGN_CUSTOMER_ID": credentials.customer_id, "TELESIGN_API_KEY": credentials.api_key}
    port = free_port()
    journal = tmp_path / "journal.jsonl"
    command = [sys.executable, "-m", "runner", "simulate", "--port", str(port), "--journal", str(journal)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.strip() == f"Telesign simulator listening on http://127.0.0.1:{port}"
        url = f"http://127.0.0.1:{port}{ENDPOINT}"
        auth = {"Authorization": basic_authorization(credentials)}
        for _ in range(200):  # the line is printed just before the socket opens
            try:
                response = httpx.post(url, json=omnichannel_body(), headers=auth)
                break
            except httpx.ConnectError:
                time.sleep(0.02)
        assert response.status_code == 200
        assert httpx.post(url, json=omnichannel_body(), headers=basic_headers()).status_code == 401
        assert [line["reference_id"] for line in read_journal_file(journal)] == [response.json()["reference_id"]]
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    # uvicorn shuts down gracefully on SIGTERM, then raises it again: the command's own handler
    # says so and exits 143 (docs/commands.md), as every command stopped by SIGTERM does.
    assert process.returncode == 143
    assert err.strip().splitlines()[-1].endswith("terminated")
    assert "Traceback" not in err
    assert credentials.api_key not in first + out + err


def test_campaign_simulate_refuses_half_set_credentials() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELESIGN_")}
    env["TELESIGN_CUSTOMER_ID"] = "ACME"
    done = subprocess.run(
        [sys.executable, "-m", "runner", "simulate", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 4
    assert "TELESIGN_API_KEY is not set" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("option", "value"), [("--tps", "0"), ("--time-scale", "-1"), ("--callback-url", "ftp://x")])
def test_campaign_simulate_refuses_bad_options_in_one_line(option: str, value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "runner", "simulate", "--port", str(free_port()), option, value],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("campaign simulate:") and "Traceback" not in done.stderr


def test_campaign_simulate_with_a_journal_it_cannot_write_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder\n", encoding="utf-8")
    journal = tmp_path / "blocker" / "journal.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "runner", "simulate", "--port", str(free_port()), "--journal", str(journal)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 4, done.stderr
    assert done.stderr.splitlines() == [
        f"{tmp_path / 'blocker'}: cannot write there (a file is in the way of a folder); "
        "choose a folder you may write to (--journal FILE) or fix its permissions"
    ]
