"""A Retry-After longer than a run waits (docs/sending.md: 60 s) never pauses the campaign: the
message is `failed` with a line saying why, the run stops claiming and releases the lock, and the
next run sends everything, once (counted by the simulator)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.sending.retries import MAX_RETRY_AFTER
from tests.fixtures.simulator import MakeSimulator
from tests.sending import loopback
from tests.sending.helpers import campaign, ledger_states, start_send, telesign_env, write_campaign

RECIPIENTS = 20


@pytest.mark.parametrize("retry_after", ["86400", "Wed, 01 Dec 2100 00:00:00 GMT"])
def test_a_day_long_retry_after_fails_the_message_and_ends_the_run(
    retry_after: str, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    file = write_campaign(
        tmp_path / "c", digits=[i % 9 for i in range(RECIPIENTS)], sending="rate = 1000\nconcurrency = 8"
    )
    out = tmp_path / "out"
    handler = loopback.rate_limited(retry_after)
    with loopback.serving(handler) as url:
        proc = start_send(file, out, url)
        # a bound, not a speed requirement: a run that honoured the header would still be waiting
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stderr
    assert f"more than the {MAX_RETRY_AFTER:.0f}s a run waits: failed, the next run sends it" in stderr
    states = list(ledger_states(out).values())
    assert "sending" not in states and "unknown" not in states
    assert states.count("failed") == handler.posts <= 8  # only what was in flight; the rest untouched
    assert states.count("pending") == RECIPIENTS - handler.posts
    status = campaign("status", str(file), "--outputs", str(out))
    assert "not finished" not in status.output  # the lock and the run are released

    sim = make_simulator()
    rerun = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert rerun.exit_code == 0, rerun.output
    counts = sim.app.accepted_by_phone()
    assert len(counts) == RECIPIENTS and set(counts.values()) == {1}


def test_the_maximum_is_documented() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "sending.md").read_text(encoding="utf-8")
    assert f"{MAX_RETRY_AFTER:.0f} s" in text and "Retry-After" in text
