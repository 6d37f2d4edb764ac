"""`campaign send` renders each row once: the check pass keeps the rows it rendered and the
ledger's sync records those (runner.sending.audience_pass). What the sync records is what the
audience says when it runs: an input edited after the check is read again, never served from the
kept rows; and a send killed during or right after the sync sends each message once on a re-run."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from runner.campaign.expansion import Expansion
from runner.campaign.schema import load
from runner.errors import InvalidInput
from runner.ledger.backend import shared_ledger_url
from runner.ledger.records import SYNC_BATCH
from runner.sending.audience_pass import check_every_row, planned_rows
from runner.sending.run import SendOptions, send_campaign
from runner.telesign import settings as config
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, has_ledger, ledger_messages, ledger_states, telesign_env, write_campaign
from tests.sending.test_crashes import run_driver

RECIPIENTS = 12


def send_checked(file: Path, out: Path, url: str, edit: str = "") -> int:
    """What `campaign send FILE` does, with the audience file edited (`edit`: one row's new text)
    between the check pass and the sync."""
    loaded = load(file)
    checked = check_every_row(loaded)
    try:
        if edit:
            audience = file.parent / "audience.csv"
            lines = audience.read_text(encoding="utf-8").splitlines()
            lines[1] = edit
            audience.write_text("\n".join(lines) + "\n", encoding="utf-8")
        settings = config.from_environment(telesign_env(url))
        options = SendOptions(outputs=out, log_format="plain", checked=True, ledger_url=shared_ledger_url())
        return send_campaign(loaded, settings, options, checked).exit_code
    finally:
        checked.close()


def test_the_kept_rows_are_the_rows_an_expansion_gives(tmp_path: Path) -> None:
    # Over several of the spool's batches, with skipped rows (duplicates) among the messages.
    digits = [i % 9 for i in range(4500)]
    file = write_campaign(tmp_path / "c", digits=digits)
    audience = file.parent / "audience.csv"
    lines = audience.read_text(encoding="utf-8").splitlines()
    lines[3000] = lines[2999].replace("r-2998", "r-9998")  # the same phone again: a duplicate row
    audience.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = load(file)
    checked = check_every_row(loaded)
    try:
        kept = list(checked.rows())
    finally:
        checked.close()
    expanded = list(planned_rows(Expansion(loaded)))
    assert len(expanded) == 4500 and kept == expanded
    assert sum(1 for row in kept if row.state == "duplicate") == 1


def test_an_edit_after_the_check_is_sent_as_edited(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2, 3])
    out = tmp_path / "out"
    # One byte: the first recipient's order id 50000 becomes 50009.
    assert send_checked(file, out, sim.url, edit="r-0000,+1 202 555 0001,Name0,50009") == 0
    sent = {r.external_id: r.raw_body for r in sim.app.accepted()}
    assert len(sent) == 3
    first = next(m for m in ledger_messages(out) if m["recipient_id"] == "r-0000")
    assert b"50009" in sent[first["external_id"]] and b"50000" not in sent[first["external_id"]]
    assert first["body"].encode("utf-8") == sent[first["external_id"]]


def test_an_edit_after_the_check_that_breaks_a_row_sends_nothing(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1, 2, 3])
    out = tmp_path / "out"
    with pytest.raises(InvalidInput) as raised:
        send_checked(file, out, sim.url, edit="r-0000,not a phone,Name0,50000")
    assert any(p.line == 2 and "audience.csv" in p.path for p in raised.value.problems)
    assert sim.app.accepted() == []
    assert ledger_states(out) == {}  # the sync rolled back: no message recorded


@pytest.mark.parametrize(
    ("point", "nth", "recipients"),
    [
        ("during_sync", 6, RECIPIENTS),
        # after a first batch of SYNC_BATCH rows was written (PostgreSQL: copied into the staging
        # table and upserted), in the sync's still open transaction
        ("during_sync", SYNC_BATCH + 200, SYNC_BATCH + 500),
        ("after_sync", 1, RECIPIENTS),
    ],
    ids=["early", "after-a-batch", "after"],
)
def test_kill_9_at_the_sync_then_rerun_sends_each_message_once(
    point: str, nth: int, recipients: int, tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator(latency_ms=20)
    file = write_campaign(tmp_path / "c", digits=[i % 9 for i in range(recipients)])
    out = tmp_path / "out"
    crashed = run_driver(point, nth, file, out, sim.url)
    # Killed there: the sync read the rows the check pass kept (else it would not have died).
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert sim.app.accepted() == []
    if point == "after_sync":
        assert set(ledger_states(out).values()) == {"pending"}
    else:
        assert has_ledger(out) is False or ledger_states(out) == {}  # rolled back
    rerun = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert rerun.exit_code in (0, 3), rerun.output
    counts = sim.app.accepted_by_phone()
    assert max(counts.values()) == 1
    states = ledger_states(out)
    assert len(states) == recipients
    assert len(counts) == sum(1 for state in states.values() if state == "accepted")
    again = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert sim.app.accepted_by_phone() == counts and again.exit_code == rerun.exit_code
