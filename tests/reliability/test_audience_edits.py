"""Audience edits between partial sends, generated: a marketer adds or drops the `id` column,
edits ids, adds rows (new phones, or a second id for a phone already there), removes rows,
reorders them and rewrites phones in another format ("+44 7911 123456", "07911 123456" with
default_region GB, "+447911123456"), with `send --limit k` between edits. From the simulator's
side no phone ever gets two messages; at the end a full send reaches every phone of the audience,
once.

CI runs RELIABILITY_ROUNDS=20 rounds (the default) of a seeded random walk; by hand:
RELIABILITY_ROUNDS=500 RELIABILITY_SEED=7 pytest tests/reliability/test_audience_edits.py
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.campaign.phones import to_e164
from tests.fixtures.simulator import MakeSimulator, SimulatorServer
from tests.sending.helpers import campaign, telesign_env, write_campaign

ROUNDS = int(os.environ.get("RELIABILITY_ROUNDS", "20"))
STEPS = 6

pytestmark = pytest.mark.reliability


@dataclass
class Row:
    rid: str | None
    phone: int  # which of the round's phones
    layout: int  # how the phone is written


class Audience:
    """One round's audience CSV as a marketer keeps editing it."""

    def __init__(self, round_number: int, rng: random.Random):
        self.round, self.rng = round_number, rng
        self.with_ids = rng.random() < 0.5
        self.ids_made = 0
        self.rows = [self.new_row(n) for n in range(rng.randint(3, 6))]
        self.phones_made = len(self.rows)
        self.log: list[str] = []

    def new_row(self, phone: int) -> Row:
        return Row(self.fresh_id() if self.with_ids else None, phone, self.rng.randrange(3))

    def e164(self, phone: int) -> str:
        # valid UK mobiles; the last digit never 9 (the simulator refuses those at once)
        return f"+447911{self.round % 100:02d}{phone:02d}{phone % 9}{phone % 7}"

    def written(self, row: Row) -> str:
        national = self.e164(row.phone)[3:]
        return [f"+44 {national[:4]} {national[4:]}", f"0{national[:4]} {national[4:]}", f"+44{national}"][row.layout]

    def edit(self) -> None:
        rng, rows = self.rng, self.rows
        kind = rng.choice(["ids", "id", "add", "second id", "remove", "reorder", "reformat"])
        if kind == "ids":  # the id column added (every row gets an id) or dropped
            self.with_ids = not self.with_ids
            for row in rows:
                row.rid = self.fresh_id() if self.with_ids else None
        elif kind == "id" and self.with_ids and rows:
            rng.choice(rows).rid = self.fresh_id()
        elif kind == "add":
            self.phones_made += 1
            rows.insert(rng.randint(0, len(rows)), self.new_row(self.phones_made))
        elif kind == "second id" and rows:
            if not self.with_ids:
                self.with_ids = True
                for row in rows:
                    row.rid = self.fresh_id()
            twin = Row(self.fresh_id(), rng.choice(rows).phone, rng.randrange(3))
            rows.insert(rng.randint(0, len(rows)), twin)
        elif kind == "remove" and len(rows) > 1:
            rows.pop(rng.randrange(len(rows)))
        elif kind == "reorder":
            rng.shuffle(rows)
        elif kind == "reformat" and rows:
            row = rng.choice(rows)
            row.layout = (row.layout + rng.randint(1, 2)) % 3
        self.log.append(kind)

    def fresh_id(self) -> str:
        self.ids_made += 1
        return f"c-{self.ids_made}"

    def write(self, folder: Path) -> None:
        header = "id,phone,first_name,order_id" if self.with_ids else "phone,first_name,order_id"
        lines = [header]
        for n, row in enumerate(self.rows):
            lines.append((f"{row.rid or ''}," if self.with_ids else "") + f"{self.written(row)},Name{n},{60000 + n}")
        (folder / "audience.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def phones(self) -> set[str]:
        return {self.e164(row.phone) for row in self.rows}


def messages_per_phone(sim: SimulatorServer, campaign_id: str) -> Counter[str]:
    return Counter(
        "+" + request.phone_number
        for request in sim.app.accepted()
        if (request.external_id or "").startswith(campaign_id + ".")
    )


def test_generated_audience_edits_between_partial_sends_never_message_a_phone_twice(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "2026")))
    env = telesign_env(sim.url)
    for round_number in range(ROUNDS):
        campaign_id = f"edits-{round_number}"
        folder = tmp_path / campaign_id
        file = write_campaign(folder, campaign_id=campaign_id, sending="rate = 1000\nconcurrency = 4")
        file.write_text(file.read_text().replace('default_region = "US"', 'default_region = "GB"'))
        audience = Audience(round_number, rng)
        assert all(to_e164(audience.written(r), "GB", "valid") == audience.e164(r.phone) for r in audience.rows)
        out = folder / "out"
        for _ in range(STEPS):
            audience.write(folder)
            limit = str(rng.randint(1, 3))
            result = campaign("send", str(file), "--limit", limit, "--outputs", str(out), env=env)
            assert result.exit_code == 0, f"round {round_number} after {audience.log}: {result.output}"
            counts = messages_per_phone(sim, campaign_id)
            assert not counts or max(counts.values()) == 1, f"round {round_number}, edits {audience.log}: {counts}"
            for _ in range(rng.randint(1, 2)):
                audience.edit()
        audience.write(folder)
        final = campaign("send", str(file), "--outputs", str(out), env=env)
        assert final.exit_code == 0, f"round {round_number} after {audience.log}: {final.output}"
        counts = messages_per_phone(sim, campaign_id)
        assert max(counts.values()) == 1, f"round {round_number}, edits {audience.log}: {counts}"
        assert audience.phones() <= set(counts), f"round {round_number}, edits {audience.log}: a phone left unsent"
