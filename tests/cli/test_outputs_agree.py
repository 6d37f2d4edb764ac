"""Issue 9 item 19 (the rest): what a run prints agrees with `status`; after a sandbox run,
`status` and `enrich` say which --outputs holds its ledger; a cut .gz log is "truncated"."""

from __future__ import annotations

import json
import re
from pathlib import Path

from runner.callbacks.log import read_log
from runner.callbacks.payload import Malformed
from tests.callbacks.test_callback_log import receiver_lines, write_lines
from tests.sending.helpers import campaign, ledger_states, telesign_env, write_campaign
from tests.sending.test_exit_codes import closed_port_url


def test_endpoint_down_the_last_progress_line_counts_what_status_counts(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c", digits=range(8), sending="rate = 1000\nconcurrency = 8\nmax_attempts = 3")
    out = tmp_path / "out"
    env = telesign_env(closed_port_url())
    result = campaign("send", str(file), "--outputs", str(out), "--log-format", "json", env=env)
    assert result.exit_code == 4
    [summary] = [r for r in map(json.loads, result.stderr.splitlines()) if r["event"] == "summary"]
    failed_in_ledger = sum(state == "failed" for state in ledger_states(out).values())
    assert failed_in_ledger > 1  # each worker's message failed once before the run stopped
    assert summary["failed"] == failed_in_ledger
    status = campaign("status", str(file), "--outputs", str(out))
    assert re.search(rf"\b{failed_in_ledger} failed\b", status.stdout)


def test_after_a_sandbox_run_status_and_enrich_name_the_outputs_to_pass(tmp_path: Path) -> None:
    file = write_campaign(tmp_path / "c", digits=[1, 2])
    out = tmp_path / "out"
    rehearsal = campaign("send", str(file), "--sandbox", "--outputs", str(out))
    assert rehearsal.exit_code == 0, rehearsal.output
    sandbox = out / "sandbox"
    assert f"campaign status {file} --outputs {sandbox}" in rehearsal.stdout
    status = campaign("status", str(file), "--outputs", str(out))
    assert f"a sandbox rehearsal's outputs are in {sandbox / 'test-campaign'}" in status.stdout
    assert f"campaign status {file} --outputs {sandbox}" in status.stdout
    log = sandbox / "test-campaign" / "callbacks.jsonl"
    enrich = campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))
    assert enrich.exit_code == 1
    assert f"campaign enrich {file} --outputs {sandbox}" in enrich.stderr
    followed = campaign("status", str(file), "--outputs", str(sandbox))
    assert "test-campaign: 2 accepted" in followed.stdout


def test_a_gz_cut_short_is_reported_as_truncated_not_as_bad_json(tmp_path: Path) -> None:
    whole = write_lines(tmp_path / "whole.gz", receiver_lines(200), compress=True).read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    bad = [r for r in read_log(cut) if isinstance(r, Malformed)]
    assert len(bad) == 1, [r.reason for r in bad]
    assert "truncated" in bad[0].reason and "not JSON" not in bad[0].reason
