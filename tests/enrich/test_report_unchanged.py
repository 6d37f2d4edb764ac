"""Enrichment's speed-ups change no report: generated logs (both line shapes, a .gz, repeats, ties,
every time format, channels the report has no column for, prices, lost answers joined by external_id,
bad lines, callbacks of other campaigns), enriched in two runs, give byte for byte the report that
the enrichment of commit bba5ee0 (before issue 16) gave for the same logs, kept in
tests/fixtures/enrich/report.csv.

Regenerate the fixture only for an intended change of the report, with the code that defines it:
    python -m tests.enrich.test_report_unchanged
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from runner.callbacks.enrichment import enrich
from runner.callbacks.log import receiver_line
from runner.ledger.backend import open_ledger, shared_ledger_url
from runner.ledger.interface import Ledger
from runner.ledger.records import Batch, Outcome, Planned
from runner.ledger.states import State

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "enrich" / "report.csv"
MESSAGES = 300
LOST = range(280, 290)  # answers lost: their callbacks join by external_id
UNSENT = range(290, 300)
TIMES = [
    "2026-11-27 10:{m:02d}:{s:02d}:{ms:03d}",
    "2026-11-27 10:{m:02d}:{s:02d}.{ms:03d}",
    "2026-11-27T10:{m:02d}:{s:02d}.{ms:03d}Z",
    "2026-11-27T12:{m:02d}:{s:02d}+02:00",
    "Fri, 27 Nov 2026 10:{m:02d}:{s:02d} GMT",
    "soon",
    None,
]
CODES = [3001, 3001, 3002, 3056, 3000, 3000, 3003, 3005, 3006, 3033, 3999]
TEXTS = [
    "Delivered",
    "Message in progress",
    "Délivré",
    "",
    None,
    "Message failed to deliver in specified fallback time",
]


def reference(i: int) -> str:
    return f"{i:032X}"


def make_ledger(folder: Path) -> Ledger:
    ledger = open_ledger(folder, "test-campaign", shared_ledger_url())
    run = ledger.runs.start("send")
    run = ledger.audience.sync(
        run,
        [Planned(f"m{i}", i, f"test-campaign:m{i}", f"r{i}", f"+1202555{i:04d}", b"{}") for i in range(MESSAGES)],
    )
    sent = [i for i in range(MESSAGES) if i not in UNSENT]
    ledger.claims.commit(Batch(run, (State.PENDING,), retries=[(f"m{i}", (State.PENDING,)) for i in sent]))
    ledger.claims.commit(
        Batch(
            run,
            (State.PENDING,),
            outcomes=[
                Outcome(f"m{i}", State.UNKNOWN)
                if i in LOST
                else Outcome(f"m{i}", State.ACCEPTED, 200, 3001, "ok", reference(i), "2026-11-27T00:00:00Z")
                for i in sent
            ],
        )
    )
    return ledger


def payload(rng: random.Random, n: int) -> dict[str, object]:
    i = rng.randrange(MESSAGES + 5)  # past MESSAGES: another campaign's
    m, s, ms = rng.randrange(3), rng.randrange(60), rng.randrange(1000)

    def when() -> str | None:
        chosen = rng.choice(TIMES)
        return None if chosen is None else chosen.format(m=m, s=s, ms=ms)

    status: dict[str, object] = {"code": rng.choice(CODES), "description": rng.choice(TEXTS)}
    for key, value in (("updated_on", when()), ("last_channel", rng.choice(["viber", "SMS", "sms", None]))):
        if value is not None:
            status[key] = value
    channels = [
        {name: {k: v for k, v in (("code", rng.choice([*CODES, None])), ("description", rng.choice(TEXTS)),
                                  ("updated_on", when())) if v is not None}}
        for name in rng.sample(["viber", "sms", "Viber", "whatsapp"], rng.randrange(3))
    ]  # fmt: skip
    ids: dict[str, object] = {"reference_id": reference(i), "external_id": "null"}
    if i in LOST:
        ids = {"reference_id": rng.choice([reference(i), None]), "external_id": f"test-campaign:m{i}"}
    body = {**ids, "status": status, "channel_status": channels, "n": n % 7}
    if rng.random() < 0.3:  # what it cost (rule 6)
        price = rng.choice(["0.0050", "0.0051", "0.0120", 0.007, "free"])
        body["additional_info"] = {"price": price, "currency": "USD", "message_parts_count": rng.choice([1, 2])}
    return body


def logs(folder: Path) -> list[list[Path]]:
    """The logs of each enrichment run."""
    rng = random.Random(16)
    lines = []
    for n in range(2400):
        body = payload(rng, n)
        lines.append(body)
        if rng.random() < 0.1:  # a retried callback, logged again later
            lines.insert(rng.randrange(len(lines)), body)
    encoded = [
        receiver_line("2026-11-27T10:00:00.000000Z", body) if rng.random() < 0.8 else json.dumps(body).encode() + b"\n"
        for body in lines
    ]
    encoded[100:100] = [b"not json\n", b'{"reference_id": "X"}\n', b"\n", b'{"status": {"code": 3000}}\n']
    third = len(encoded) // 3
    rotated, first, second = folder / "callbacks.log.1.gz", folder / "callbacks.log", folder / "later.log"
    with gzip.open(rotated, "wb") as out:
        out.write(b"".join(encoded[:third]))
    first.write_bytes(b"".join(encoded[third : 2 * third]))
    second.write_bytes(b"".join(encoded[2 * third :]) + encoded[5].rstrip(b"\n"))  # a last line without newline
    return [[rotated, first], [second, first]]  # the second run reads `first` again: nothing changes


def enriched_report(folder: Path) -> bytes:
    ledger = make_ledger(folder)
    try:
        for run in logs(folder):
            enrich(ledger, run, folder / "report.csv")
    finally:
        ledger.close()
    return (folder / "report.csv").read_bytes()


def test_enrichment_gives_the_report_it_gave_before_the_speed_ups(tmp_path: Path) -> None:
    assert enriched_report(tmp_path) == FIXTURE.read_bytes()


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as temp:
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_bytes(enriched_report(Path(temp)))
    print(f"wrote {FIXTURE}")
