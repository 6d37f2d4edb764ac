"""Credentials that could not make a valid request are refused before anything is claimed: exit 4
with a line naming the variable (never its value), no ledger, nothing at the simulator; with the
credentials fixed the next send messages every phone once. A digest key is decoded as Telesign's
own SDK decodes it (lenient base64), so a key pasted with stray characters signs as the SDK signs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from telesign.rest import RestClient

from runner.simulator import SimulatorConfig
from runner.telesign.auth import DEMO_API_KEY, DEMO_CUSTOMER_ID, Credentials, digest_headers
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, telesign_env, write_campaign

RECIPIENTS = 16


@pytest.mark.parametrize(
    ("customer_id", "api_key", "auth", "named", "problem"),
    [
        ("Müller-00000000-0000", DEMO_API_KEY, "digest", "TELESIGN_CUSTOMER_ID", "not ASCII"),
        (DEMO_CUSTOMER_ID + "\r\nX-Injected: 1", DEMO_API_KEY, "basic", "TELESIGN_CUSTOMER_ID", "line break"),
        (DEMO_CUSTOMER_ID, DEMO_API_KEY[:8] + "\n" + DEMO_API_KEY[8:], "basic", "TELESIGN_API_KEY", "line break"),
        (DEMO_CUSTOMER_ID + "\rX", DEMO_API_KEY, "digest", "TELESIGN_CUSTOMER_ID", "line break"),
        (DEMO_CUSTOMER_ID, "clé-secrète", "digest", "TELESIGN_API_KEY", "not ASCII"),
        (DEMO_CUSTOMER_ID, DEMO_API_KEY[:-2], "digest", "TELESIGN_API_KEY", "not base64"),
        (
            DEMO_CUSTOMER_ID,
            "\t".join(DEMO_API_KEY[i : i + 8] for i in range(0, 16, 8)),
            "basic",
            "TELESIGN_API_KEY",
            "control",
        ),
    ],
)
def test_unusable_credentials_stop_before_anything_is_claimed(
    customer_id: str, api_key: str, auth: str, named: str, problem: str, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[i % 9 for i in range(RECIPIENTS)])
    out = tmp_path / "out"
    env = telesign_env(sim.url, TELESIGN_AUTH=auth, TELESIGN_CUSTOMER_ID=customer_id, TELESIGN_API_KEY=api_key)
    for command in (["send", str(file)], ["run", str(file.parent)]):
        result = campaign(*command, "--outputs", str(out), env=env)
        assert result.exit_code == 4, result.output
        assert named in result.output and problem in result.output
        secret = api_key if named == "TELESIGN_API_KEY" else customer_id
        assert secret.strip() not in result.output  # named, never shown
        assert not (out / "test-campaign").exists()  # nothing claimed: not even a ledger
    assert sim.app.accepted() == [] and sum(sim.app.outcomes().values()) == 0

    fixed = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url, TELESIGN_AUTH=auth))
    assert fixed.exit_code == 0, fixed.output
    counts = sim.app.accepted_by_phone()
    assert len(counts) == RECIPIENTS and set(counts.values()) == {1}


# Keys as people paste them: wrapped, with spaces, with URL-safe characters the SDK drops.
ODD_KEYS = [
    DEMO_API_KEY[:20] + " " + DEMO_API_KEY[20:],
    DEMO_API_KEY[:12] + "-_" + DEMO_API_KEY[12:],
    base64.b64encode(b"\x00\xff" * 16).decode()[:20] + "*" + base64.b64encode(b"\x00\xff" * 16).decode()[20:],
    DEMO_API_KEY,
]


@pytest.mark.parametrize("api_key", ODD_KEYS)
def test_a_digest_signature_is_the_sdks_for_the_same_key(api_key: str) -> None:
    body = b'{"phone_number": "15558675300"}'
    date, nonce = "Tue, 01 Dec 2026 12:00:00 GMT", "0b5e2f8c-4a53-4f5e-9a8e-1f2d3c4b5a69"
    ours = digest_headers(
        Credentials(DEMO_CUSTOMER_ID, api_key), "POST", "/v1/omnichannel", body, date=date, nonce=nonce
    )
    sdks = RestClient.generate_telesign_headers(
        DEMO_CUSTOMER_ID,
        api_key,
        "POST",
        "/v1/omnichannel",
        body.decode(),
        date_rfc2616=date,
        nonce=nonce,
        content_type="application/json",
    )
    assert ours["Authorization"] == sdks["Authorization"]


def test_a_key_with_stray_characters_sends_with_digest_auth(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    odd = ODD_KEYS[1]
    # the simulator checks signatures against the key as Telesign holds it: the clean one
    sim = make_simulator(credentials=SimulatorConfig().credentials)
    file = write_campaign(tmp_path / "c", digits=[1, 2, 3])
    env = telesign_env(sim.url, TELESIGN_AUTH="digest", TELESIGN_API_KEY=odd)
    result = campaign("send", str(file), "--outputs", str(tmp_path / "out"), env=env)
    assert result.exit_code == 0, result.output
    assert len(sim.app.accepted()) == 3


@pytest.mark.parametrize(
    ("base_url", "problem"),
    [
        ("https://rest-ww.tele sign.com", "a space"),
        ("https://rest-ww.telesign.com:99999", "Port out of range"),
        ("https://", "no host name"),
        ("https://[::1", "not a URL"),
        ("{url}/v1?x=1", "scheme and host only"),
        ("https://customer:secret-pw@rest-ww.telesign.com", "scheme and host only"),
    ],
)
def test_a_mistyped_base_url_is_one_line_naming_it_and_sends_nothing(
    base_url: str, problem: str, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[i % 9 for i in range(RECIPIENTS)])
    out = tmp_path / "out"
    env = telesign_env(base_url.format(url=sim.url))
    for command in (["send", str(file)], ["send", str(file), "--test-to", "+1 202 555 0911"]):
        result = campaign(*command, "--outputs", str(out), env=env)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert "TELESIGN_BASE_URL" in result.output and problem in result.output
        assert "secret-pw" not in result.output  # a password in the URL is never echoed
        assert not (out / "test-campaign").exists()
    assert sim.app.accepted() == [] and sum(sim.app.outcomes().values()) == 0
