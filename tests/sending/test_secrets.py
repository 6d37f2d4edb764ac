"""The customer id and API key never leave the process except in the Authorization header: not
in stdout or stderr (plain or JSON logs), not in the report, the ledger, the dry run or any other
file a run leaves, whatever goes wrong (drops, 503s, refused credentials, a missing variable)."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

from runner.ledger.backend import shared_ledger_url
from runner.telesign.auth import Credentials, basic_authorization
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, ledger_messages, subprocess_env, telesign_env, write_campaign

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER_ID = "7C1A0B5E-QUOKKA-4D2F-9E31-ZEBRA0FF1CE5"
API_KEY = base64.b64encode(b"ocelot narwhal distinctive key 4419").decode()
WRONG_KEY = base64.b64encode(b"pangolin wrong key never accepted 77").decode()
CREDENTIALS = Credentials(CUSTOMER_ID, API_KEY)


def forbidden() -> dict[str, bytes]:
    """Every form a secret could leak in."""
    forms = {
        "customer id": CUSTOMER_ID,
        "customer id (lower case)": CUSTOMER_ID.lower(),
        "API key": API_KEY,
        "wrong API key": WRONG_KEY,
        "Basic token": basic_authorization(CREDENTIALS).split()[1],
        "wrong Basic token": basic_authorization(Credentials(CUSTOMER_ID, WRONG_KEY)).split()[1],
    }
    found = {name: value.encode() for name, value in forms.items()}
    found["API key bytes"] = base64.b64decode(API_KEY)
    found["wrong API key bytes"] = base64.b64decode(WRONG_KEY)
    return found


def assert_clean(where: str, data: bytes) -> None:
    for name, secret in forbidden().items():
        assert secret not in data, f"the {name} appears in {where}"


def test_no_secret_in_any_output_or_file_whatever_happens(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    faulty = make_simulator(credentials=CREDENTIALS, drop_rate=0.3, fail_rate=0.3, seed=3)
    file = write_campaign(
        tmp_path / "c", digits=[i % 10 for i in range(30)], sending="rate = 1000\nconcurrency = 4\nmax_attempts = 2"
    )
    out = tmp_path / "out"
    env = telesign_env(faulty.url, TELESIGN_CUSTOMER_ID=CUSTOMER_ID, TELESIGN_API_KEY=API_KEY)
    printed: list[tuple[str, bytes]] = []

    def run(label: str, *args: str, environment: dict[str, str] = env, codes: tuple[int, ...] = (0, 3)) -> None:
        result = campaign(*args, env=environment)
        assert result.exit_code in codes, (label, result.output)
        printed.append((f"the output of {label}", result.stdout_bytes + result.stderr_bytes))

    # a real process too, so that anything written outside click (warnings, tracebacks) is seen
    process = subprocess.run(
        [sys.executable, "-m", "runner", "send", str(file), "--outputs", str(out), "--log-format", "json"],
        cwd=ROOT,
        env=subprocess_env(faulty.url, TELESIGN_CUSTOMER_ID=CUSTOMER_ID, TELESIGN_API_KEY=API_KEY),
        capture_output=True,
        timeout=60,
    )
    assert process.returncode == 3, process.stderr  # drops leave unknowns, 503s failures
    assert b'"event": "summary"' in process.stderr
    printed.append(("a faulty send's stdout and stderr", process.stdout + process.stderr))
    assert faulty.app.outcomes()["dropped"] and faulty.app.outcomes()["503"]

    run(
        "a digest-signed re-run",
        "send",
        str(file),
        "--resend-unknown",
        "--outputs",
        str(out),
        "--log-format",
        "json",
        environment={**env, "TELESIGN_AUTH": "digest"},
    )
    run(
        "a refused run",
        "send",
        str(file),
        "--resend-unknown",
        "--outputs",
        str(out),
        "--log-format",
        "plain",
        environment={**env, "TELESIGN_API_KEY": WRONG_KEY},
        codes=(4,),
    )
    run(
        "a refused test send",
        "send",
        str(file),
        "--test-to",
        "+1 202 555 0911",
        "--outputs",
        str(out),
        environment={**env, "TELESIGN_API_KEY": WRONG_KEY},
        codes=(4,),
    )
    run("a test send", "send", str(file), "--test-to", "+1 202 555 0911", "--outputs", str(out), codes=(0, 3))
    run("a dry run", "send", str(file), "--dry-run", "--outputs", str(out))
    run("status", "status", str(file), "--outputs", str(out))
    run(
        "a send missing the key",
        "send",
        str(file),
        "--outputs",
        str(out),
        environment={**env, "TELESIGN_API_KEY": ""},
        codes=(4,),
    )
    run("cron", "run", str(tmp_path / "c"), "--outputs", str(out), "--log-format", "json")

    for where, data in printed:
        assert_clean(where, data)
    files = [p for p in out.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"report.csv", "dry-run.jsonl"} <= names
    assert "ledger.sqlite" in names or shared_ledger_url() is not None  # (or the ledger is in a database)
    for path in files:
        assert_clean(str(path.relative_to(out)), path.read_bytes())
    for campaign_id in {p.parent.name for p in files if p.name == "report.csv"}:
        assert_clean(f"ledger of {campaign_id}", repr(ledger_messages(out, campaign_id)).encode())
