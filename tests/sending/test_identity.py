"""Identity across runs is the phone, not the key alone: a phone this campaign already messaged is
never messaged again, whatever its row's key has become (an `id` column added, an id edited, two
ids for one phone); the row is reported as a duplicate of the earlier message, with both keys.
Counted on the simulator's side, including after a kill -9 in the middle of the edited run."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.fixtures.simulator import MakeSimulator, SimulatorServer
from tests.sending.helpers import ROOT, campaign, ledger_rows, phone, subprocess_env, telesign_env, write_campaign


def write_rows(folder: Path, rows: list[tuple[str | None, str]]) -> None:
    """The audience as (id or None, phone) rows: without any id the file has no `id` column."""
    with_ids = any(rid is not None for rid, _ in rows)
    lines = ["id,phone,first_name,order_id" if with_ids else "phone,first_name,order_id"]
    for n, (rid, number) in enumerate(rows):
        lines.append((f"{rid or ''}," if with_ids else "") + f"{number},Name{n},{50000 + n}")
    (folder / "audience.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def report(out: Path) -> list[dict[str, str]]:
    with (out / "test-campaign" / "report.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def send(file: Path, out: Path, sim: SimulatorServer, *more: str) -> int:
    result = campaign("send", str(file), "--outputs", str(out), *more, env=telesign_env(sim.url))
    return result.exit_code


def kill_at_third_answer(file: Path, out: Path, sim: SimulatorServer) -> None:
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.sending.crash_driver", "after_response", "3", "send", str(file)]
        + ["--outputs", str(out), "--log-format", "plain"],
        cwd=ROOT,
        env=subprocess_env(sim.url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr


def assert_once_each_and_nothing_stranded(sim: SimulatorServer, phones: list[str], out: Path) -> None:
    counts = sim.app.accepted_by_phone()
    assert max(counts.values()) == 1, f"a phone got two messages: {counts}"
    # every phone of the audience got its one message, except what the kill left unsettled
    rows = ledger_rows(out)
    unsettled = {r["phone"].lstrip("+") for r in rows if r["state"] in ("sending", "unknown")}
    assert len(unsettled) <= 2  # at most the requests in flight at the kill (concurrency 2)
    assert not [r for r in report(out) if r["state"] in ("pending", "failed")]  # in the audience now
    assert {n.replace(" ", "").lstrip("+") for n in phones} == set(counts) | unsettled


def test_adding_an_id_column_after_a_partial_send_sends_no_phone_twice(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    folder = tmp_path / "c"
    file = write_campaign(folder, sending="rate = 1000\nconcurrency = 2\nmax_attempts = 3")
    numbers = [phone(i, i % 9) for i in range(12)]
    write_rows(folder, [(None, n) for n in numbers])
    out = tmp_path / "out"
    assert send(file, out, sim, "--limit", "5") == 0
    assert len(sim.app.accepted()) == 5

    write_rows(folder, [(f"cust-{i}", n) for i, n in enumerate(numbers)])  # the marketer adds ids
    kill_at_third_answer(file, out, sim)
    send(file, out, sim)
    assert_once_each_and_nothing_stranded(sim, numbers, out)

    rows = report(out)
    duplicates = [r for r in rows if r["state"] == "duplicate"]
    assert [r["recipient_id"] for r in duplicates] == [f"cust-{i}" for i in range(5)]
    first = duplicates[0]["status_description"]
    # both keys: the key it was sent under (its E.164 phone) and the row's key now
    assert "+12025550000" in first and "'cust-0'" in first and "already messaged" in first
    status = campaign("status", str(file), "--outputs", str(out))
    assert "5 duplicate" in status.output


def test_an_edited_id_or_a_second_id_for_a_phone_is_a_duplicate_of_the_message_sent(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    folder = tmp_path / "c"
    file = write_campaign(folder, sending="rate = 1000\nconcurrency = 2\nmax_attempts = 3")
    numbers = [phone(i, i % 9) for i in range(10)]
    rows: list[tuple[str | None, str]] = [(f"cust-{i}", n) for i, n in enumerate(numbers)]
    write_rows(folder, rows)
    out = tmp_path / "out"
    assert send(file, out, sim, "--limit", "6") == 0

    # cust-3 becomes cust-03; cust-2's phone appears again, first, under a new id, and cust-2's
    # own row now comes after it (rows reordered)
    rows[3] = ("cust-03", numbers[3])
    rows.insert(0, ("newcomer", numbers[2]))
    write_rows(folder, rows)
    kill_at_third_answer(file, out, sim)  # of cust-6, 8, 9 (cust-3 and newcomer are duplicates now)
    send(file, out, sim)  # exit 3 when the kill left a message `sending`
    assert_once_each_and_nothing_stranded(sim, numbers, out)

    by_id = {r["recipient_id"]: r for r in report(out)}
    assert by_id["cust-03"]["state"] == "duplicate" and "'cust-3'" in by_id["cust-03"]["status_description"]
    assert by_id["newcomer"]["state"] == "duplicate" and "'cust-2'" in by_id["newcomer"]["status_description"]
    # cust-2's own row is its message, accepted, not "a duplicate of newcomer"
    assert by_id["cust-2"]["state"] == "accepted" and by_id["cust-2"]["reference_id"]


def test_the_plan_counts_a_phone_sent_under_another_key_as_a_duplicate(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    folder = tmp_path / "c"
    file = write_campaign(folder, sending="rate = 1000\nconcurrency = 2\nmax_attempts = 3")
    numbers = [phone(i, i % 9) for i in range(8)]
    write_rows(folder, [(None, n) for n in numbers])
    out = tmp_path / "out"
    assert send(file, out, sim, "--limit", "3") == 0
    write_rows(folder, [(f"cust-{i}", n) for i, n in enumerate(numbers)])

    shown = campaign("plan", str(file), "--format", "json", "--outputs", str(out))
    assert shown.exit_code == 0, shown.output
    counts = json.loads(shown.stdout)["counts"]
    assert (counts["to_send"], counts["duplicates"]) == (5, 3)  # what the send then does
    assert send(file, out, sim) == 0
    assert len(sim.app.accepted()) == 8 and set(sim.app.accepted_by_phone().values()) == {1}
