"""Issue 9 item 15: a run stopped by a 401 reports the code Telesign gave (3401: account
suspended), not a fixed 401/3400; the messages stay pending."""

from __future__ import annotations

from pathlib import Path

from runner.serving import BackgroundServer
from tests.sending.helpers import campaign, ledger_states, telesign_env, write_campaign
from tests.sending.test_client import Scripted, status


def test_a_401_with_code_3401_is_reported_as_401_3401(tmp_path: Path) -> None:
    app = Scripted().then(401, status(3401, "Account suspended"))
    file = write_campaign(tmp_path / "c", digits=[1, 2, 3], sending="rate = 1000\nconcurrency = 1\nmax_attempts = 3")
    out = tmp_path / "out"
    with BackgroundServer(app) as server:
        result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(server.url))
    assert result.exit_code == 4, result.output
    assert "(401/3401 Account suspended)" in result.stderr
    assert "3400" not in result.stderr
    assert len(app.received) == 1  # the first 401 stops the run
    assert set(ledger_states(out).values()) == {"pending"}
