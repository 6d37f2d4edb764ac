"""`campaign plan --ledger URL` reads a shared ledger as a send from any host would (what is sent
already, what is opted out), on a connection that cannot write: it never creates or migrates the
schema (docs/scaling-out.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.fixtures.ledger import SERVER
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, phone, telesign_env, write_campaign


def schema_exists(url: str) -> bool:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    schema = str(conninfo_to_dict(url)["options"]).split("=", 1)[1]
    with psycopg.connect(SERVER) as conn:
        row = conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)).fetchone()
    return row is not None


def test_plan_reads_the_shared_ledger_and_opt_outs_and_never_writes(
    tmp_path: Path, make_simulator: MakeSimulator, shared_ledger_url: str
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[0, 1, 2, 4, 5])

    def plan(outputs: Path) -> dict[str, Any]:
        shown = campaign(
            "plan", str(file), "--format", "json", "--outputs", str(outputs), "--ledger", shared_ledger_url
        )
        assert shown.exit_code == 0, shown.output
        return dict(json.loads(shown.stdout)["counts"], opt_outs=json.loads(shown.stdout)["opt_outs"])

    # Before any send: the plan of a first send, and the database is left as it was.
    first = plan(tmp_path / "host-a")
    assert (first["to_send"], first["already"]) == (5, {})
    assert not schema_exists(shared_ledger_url)

    # Host A sends two and opts a phone out; host B's plan (its own outputs folder) sees both.
    env = telesign_env(sim.url)
    sent = campaign(
        "send", str(file), "--limit", "2", "--outputs", str(tmp_path / "host-a"), "--ledger", shared_ledger_url, env=env
    )
    assert sent.exit_code == 0, sent.output
    last = phone(4, 5)  # the audience's last: not among the two sent first
    assert last.replace(" ", "").lstrip("+") not in {r.phone_number for r in sim.app.accepted()}
    optout = campaign("optouts", "add", last, "--outputs", str(tmp_path / "host-a"), "--ledger", shared_ledger_url)
    assert optout.exit_code == 0, optout.output
    later = plan(tmp_path / "host-b")
    assert later["already"] == {"accepted": 2}
    assert later["opt_outs"] == 1
    assert (later["to_send"], later["suppressed"]) == (2, {"opted out": 1})
