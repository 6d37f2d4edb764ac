"""Enrichment merges callbacks in memory and in the ledger (runner.callbacks.enrichment); runner.callbacks.rules
states the rules as pure functions. Hypothesis checks that the two never drift apart: callbacks for
a few messages, with ties, repeats, unreadable times, several time formats, both log shapes, read
over one or several enrichments (in small batches, writing out after every message or not), leave
in the ledger what delivery.fold says of the same callbacks. Plus a ledger made before the merge
state was kept (a `callbacks` table) going on where it stopped."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.callbacks import enrichment
from runner.callbacks.enrichment import enrich
from runner.callbacks.log import Callback, read_callbacks, receiver_line
from runner.callbacks.rules import Delivery, fold
from runner.callbacks.timeparse import format_utc
from runner.ledger.store import Ledger, Outcome, Planned

REFERENCES = ["A" * 32, "B" * 32]  # messages 0 and 1 were accepted with these
LOST = ("C" * 32, "test-campaign:m2")  # message 2's answer was lost: its callbacks join by external_id
# One instant in the formats Telesign uses (equal instants must tie whatever the format), a later
# one, and times that cannot be read.
INSTANTS = [
    ["2020-05-04 22:07:01:226", "2020-05-04 22:07:01.226", "2020-05-04T22:07:01.226Z", "2020-05-05T00:07:01.226+02:00"],
    ["2020-05-04 22:09:00:000", "Mon, 04 May 2020 22:09:00 GMT"],
    ["soon"],
    [None],
]
CODES = [3000, 3001, 3002, 3003, 3005, 3006, 3055, 3056, 3999]


def make_ledger(folder: Path) -> Ledger:
    ledger = Ledger.open(folder, "test-campaign")
    run = ledger.start_run("send")
    ledger.sync(run, [Planned(f"m{i}", i, f"test-campaign:m{i}", None, f"+1202555010{i}", b"{}") for i in range(3)])
    ledger.commit([("m0", ("pending",)), ("m1", ("pending",)), ("m2", ("pending",))], [])
    ledger.commit([], [Outcome("m0", "accepted", 200, 3001, "ok", REFERENCES[0]),
                       Outcome("m1", "accepted", 200, 3001, "ok", REFERENCES[1]),
                       Outcome("m2", "unknown")])  # fmt: skip
    return ledger


@st.composite
def callback_payloads(draw: st.DrawFn) -> dict[str, Any]:
    message = draw(st.integers(0, 3))  # 3: a message of another campaign
    if message == 2:
        ids = {"reference_id": LOST[0] if draw(st.booleans()) else None, "external_id": LOST[1]}
    else:
        ids = {"reference_id": REFERENCES[message] if message < 2 else "D" * 32, "external_id": None}

    def when() -> str | None:
        chosen: str | None = draw(st.sampled_from(draw(st.sampled_from(INSTANTS))))
        return chosen

    status = {"code": draw(st.sampled_from(CODES)), "description": draw(st.sampled_from(["x", "y"]))}
    status.update(
        {
            k: v
            for k, v in (("updated_on", when()), ("last_channel", draw(st.sampled_from(["viber", "SMS", None]))))
            if v is not None
        }
    )
    channels = [
        {name: {k: v for k, v in (("code", draw(st.sampled_from([*CODES, None]))),
                                  ("description", name + draw(st.sampled_from("pq"))),
                                  ("updated_on", when())) if v is not None}}
        for name in draw(st.lists(st.sampled_from(["viber", "sms", "Viber", "whatsapp"]), max_size=3))
    ]  # fmt: skip
    return {**ids, "status": status, "channel_status": channels}


@st.composite
def enrichments(draw: st.DrawFn) -> list[list[bytes]]:
    """The lines of one log per enrichment: callbacks, some repeated (in either shape)."""
    payloads = draw(st.lists(callback_payloads(), min_size=1, max_size=12))
    lines = []
    for payload in payloads + draw(st.lists(st.sampled_from(payloads), max_size=4)):
        if draw(st.booleans()):
            lines.append(receiver_line("2026-11-28T09:00:00.000000Z", payload))
        else:
            lines.append(json.dumps(payload).encode() + b"\n")
    lines = draw(st.permutations(lines))
    cuts = sorted(draw(st.lists(st.integers(0, len(lines)), max_size=2)))
    return [lines[a:b] for a, b in zip([0, *cuts], [*cuts, len(lines)], strict=False)]


def expected(callbacks: list[Callback]) -> dict[int, Delivery]:
    """delivery.fold of each message's callbacks (message 2's all carry its external_id)."""
    by_message: dict[int, list[Callback]] = {}
    for callback in callbacks:
        if callback.external_id == LOST[1]:
            by_message.setdefault(2, []).append(callback)
        elif callback.reference_id in REFERENCES:
            by_message.setdefault(REFERENCES.index(callback.reference_id), []).append(callback)
    return {message: fold(found) for message, found in by_message.items()}


def columns(delivery: Delivery) -> tuple[Any, ...]:
    status, viber, sms = delivery.status, delivery.viber, delivery.sms
    assert status is not None
    when = format_utc(status.updated_on) if status.updated_on is not None else status.updated_on_raw
    return (
        status.code, status.description, delivery.last_channel, viber and viber.code, viber and viber.description,
        sms and sms.code, sms and sms.description, when, delivery.callbacks,
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(enrichments(), st.sampled_from([1, 3, 10_000]), st.sampled_from([1, 2, 250_000]))
def test_enrichment_leaves_what_delivery_fold_says(runs: list[list[bytes]], batch: int, max_messages: int) -> None:
    with tempfile.TemporaryDirectory() as temp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(enrichment, "BATCH", batch)
        patch.setattr(enrichment, "MAX_MESSAGES", max_messages)
        folder = Path(temp)
        ledger = make_ledger(folder)
        callbacks: list[Callback] = []
        for number, lines in enumerate(runs):
            log = folder / f"log{number}.jsonl"
            log.write_bytes(b"".join(lines))
            first = ledger.next_arrival()
            callbacks += [c for c in read_callbacks([log], first) if isinstance(c, Callback)]
            enrich(ledger, [log], folder / "report.csv")
        report = (folder / "report.csv").read_bytes()
        enrich(ledger, [folder / f"log{n}.jsonl" for n in reversed(range(len(runs)))], folder / "report.csv")
        assert (folder / "report.csv").read_bytes() == report  # all read before: nothing changes
        found = {
            position: row for position, *row in ledger.db.execute(
                """SELECT position, delivery_status_code, delivery_status_description, last_channel, viber_status_code,
                          viber_status_description, sms_status_code, sms_status_description, status_updated_on,
                          callbacks, state, reference_id FROM messages ORDER BY position"""
            )
        }  # fmt: skip
        merged = expected(callbacks)
        for position, row in found.items():
            delivery = merged.get(position)
            if delivery is None:
                assert row[:9] == [None] * 8 + [0]
            else:
                assert tuple(row[:9]) == columns(delivery)
        assert found[2][9] == ("accepted" if 2 in merged else "unknown")  # a callback settles a lost answer
        assert found[2][10] in (None, LOST[0])
        ledger.close()


def test_a_ledger_from_before_goes_on_where_it_stopped(tmp_path: Path) -> None:
    """A ledger whose enrichments kept every callback in a `callbacks` table (before DELIVERIES):
    the next enrichment merges those first, then the new log, and drops the table."""
    ledger = make_ledger(tmp_path)
    ledger.db.executescript(
        """CREATE TABLE callbacks (digest TEXT PRIMARY KEY, message_key TEXT NOT NULL, arrival INTEGER NOT NULL,
                                   source TEXT NOT NULL, line INTEGER NOT NULL, payload TEXT NOT NULL)"""
    )
    # as the earlier enrichment stored them: message 0 read (3005), message 1 delivered (3000) by SMS
    old = [
        (
            "d1",
            0,
            [
                REFERENCES[0],
                None,
                3005,
                "Read",
                "viber",
                "2020-05-04 22:08:00:000",
                [["viber", 3005, "Read", None, None]],
            ],
        ),
        (
            "d2",
            1,
            [
                REFERENCES[1],
                None,
                3000,
                "Delivered",
                "sms",
                "2020-05-04 22:07:01:226",
                [["sms", 3000, "Delivered", None, None]],
            ],
        ),
    ]
    ledger.db.executemany(
        "INSERT INTO callbacks VALUES (?, ?, ?, 'old.log', ?, ?)",
        [
            (digest.ljust(64, "0"), f"m{arrival}", arrival, arrival + 1, json.dumps(stored))
            for digest, arrival, stored in old
        ],
    )
    log = tmp_path / "new.jsonl"
    late = {
        "reference_id": REFERENCES[0],
        "status": {"code": 3000, "description": "Delivered", "updated_on": "2020-05-04 22:09:00:000"},
    }
    log.write_bytes(receiver_line("2026-11-28T09:00:00.000000Z", late))
    result = enrich(ledger, [log], tmp_path / "report.csv")
    assert (result.lines, result.callbacks, result.messages) == (1, 1, 2)
    rows = ledger.db.execute(
        "SELECT delivery_status_code, viber_status_code, sms_status_code, callbacks FROM messages ORDER BY position"
    ).fetchall()
    assert rows[:2] == [(3005, 3005, None, 2), (3000, None, 3000, 1)]  # a read is never undone
    assert ledger.db.execute("SELECT name FROM sqlite_master WHERE name = 'callbacks'").fetchone() is None
    assert ledger.next_arrival() == 3
    report = (tmp_path / "report.csv").read_bytes()
    enrich(ledger, [log], tmp_path / "report.csv")
    assert (tmp_path / "report.csv").read_bytes() == report
