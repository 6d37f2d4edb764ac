"""Enrichment merges callbacks in memory and in the ledger (runner.callbacks.enrichment); runner.callbacks.reference
states the rules as pure functions. Hypothesis checks that the two never drift apart: callbacks for
a few messages, with ties, repeats, unreadable times, several time formats, both log shapes, read
over one or several enrichments (in small batches, writing out after every message or not), leave
in the ledger what the reference model (runner.callbacks.reference.fold) says of the same callbacks."""

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
from runner.callbacks.log import read_callbacks, receiver_line
from runner.callbacks.payload import Callback
from runner.callbacks.reference import Delivery, fold
from runner.callbacks.timeparse import format_utc
from runner.ledger.backend import open_ledger
from runner.ledger.interface import Ledger
from runner.ledger.records import Batch, Outcome, Planned
from runner.ledger.states import State
from runner.report.csv import COLUMNS

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
    ledger = open_ledger(folder, "test-campaign")
    run = ledger.runs.start("send")
    ledger.audience.sync(
        run, [Planned(f"m{i}", i, f"test-campaign:m{i}", None, f"+1202555010{i}", b"{}") for i in range(3)]
    )
    claimed = ledger.claims.commit(Batch(run, (State.PENDING,), take=3))
    assert [m.key for m in claimed.taken] == ["m0", "m1", "m2"]
    accepted = [Outcome(f"m{i}", State.ACCEPTED, 200, 3001, "ok", REFERENCES[i]) for i in (0, 1)]
    ledger.claims.commit(Batch(run, (State.PENDING,), outcomes=[*accepted, Outcome("m2", State.UNKNOWN)]))
    return ledger


# A message's delivery columns, then its state and reference_id, as the ledger has them.
READ_BACK = (
    "delivery_status_code", "delivery_status_description", "last_channel", "viber_status_code",
    "viber_status_description", "sms_status_code", "sms_status_description", "status_updated_on", "callbacks",
    "state", "reference_id",
)  # fmt: skip


def delivery_columns(ledger: Ledger) -> list[list[Any]]:
    """READ_BACK of each message, in audience order."""
    at = [1 + COLUMNS.index(name) for name in READ_BACK]  # (after `plain`)
    return [[row[i] for i in at] for row in ledger.report_rows()]


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
    """reference.fold of each message's callbacks (message 2's all carry its external_id)."""
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
            first = ledger.deliveries.next_arrival()
            callbacks += [c for c in read_callbacks([log], first) if isinstance(c, Callback)]
            enrich(ledger, [log], folder / "report.csv")
        report = (folder / "report.csv").read_bytes()
        enrich(ledger, [folder / f"log{n}.jsonl" for n in reversed(range(len(runs)))], folder / "report.csv")
        assert (folder / "report.csv").read_bytes() == report  # all read before: nothing changes
        found = dict(enumerate(delivery_columns(ledger)))
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
