"""A campaign's files change between runs: new recipients are sent, removed ones are not, an edited
text applies only to messages not yet sent, and each sent message keeps in the ledger the exact
body it was sent with (compared byte for byte with what the simulator received)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, ledger_messages, ledger_rows, phone, telesign_env, write_campaign

V1 = "Hello {{ first_name }}, your order {{ order_id }} is on its way:"
V2 = "Good news {{ first_name }}! Order {{ order_id }} has shipped:"


def digits_of(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


def write_audience(folder: Path, rows: list[tuple[str, str]]) -> None:
    """rows: (recipient id, phone); names and order ids follow from the id."""
    lines = ["id,phone,first_name,order_id"]
    for rid, number in rows:
        n = int(rid.split("-")[1])
        lines.append(f"{rid},{number},Name{n},{50000 + n}")
    (folder / "audience.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def bodies_sent(sim: Any) -> dict[str, list[bytes]]:
    """external_id -> every body the simulator accepted for it, as received."""
    sent: dict[str, list[bytes]] = {}
    for request in sim.app.accepted():
        sent.setdefault(request.external_id, []).append(request.raw_body)
    return sent


def all_messages(out: Path) -> dict[str, dict[str, Any]]:
    """Every message the ledger knows, current audience or not, by recipient id."""
    return {r["recipient_id"]: r for r in ledger_messages(out)}


def test_changes_between_runs_apply_to_what_is_not_sent_yet(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    folder = tmp_path / "c"
    file = write_campaign(folder, text=V1)
    numbers = {f"r-{i:04d}": phone(i, d) for i, d in enumerate([1, 2, 3, 4, 5])}
    write_audience(folder, list(numbers.items()))
    out = tmp_path / "out"
    env = telesign_env(sim.url)

    assert campaign("send", str(file), "--limit", "2", "--outputs", str(out), env=env).exit_code == 0
    # r-0000, r-0001 sent with V1; now: r-0001 (sent) and r-0003 (not sent) leave the file, r-0005
    # joins, r-0002 (not sent) moves to a new number, r-0000 (sent) too, and the text is edited.
    numbers.pop("r-0001")
    numbers.pop("r-0003")
    numbers["r-0002"] = phone(72, 2)
    numbers["r-0000"] = phone(70, 1)
    numbers["r-0005"] = phone(5, 6)
    write_audience(folder, list(numbers.items()))
    file.write_text(file.read_text().replace(V1, V2))

    result = campaign("send", str(file), "--outputs", str(out), env=env)
    assert result.exit_code == 0, result.output

    sent_to = sim.app.accepted_by_phone()
    assert set(sent_to.values()) == {1}
    assert sorted(sent_to) == sorted(
        digits_of(p) for p in [phone(0, 1), phone(1, 2), phone(72, 2), phone(4, 5), phone(5, 6)]
    )
    assert digits_of(phone(3, 4)) not in sent_to  # removed before it was sent: never sent
    assert digits_of(phone(70, 1)) not in sent_to  # already sent to its old number: not sent again

    messages = all_messages(out)
    sent = bodies_sent(sim)
    texts = {}
    for rid, message in messages.items():
        if message["state"] != "accepted":
            continue
        [body] = sent[message["external_id"]]
        assert message["body"].encode("utf-8") == body, f"{rid}: the ledger's body is not the one sent"
        texts[rid] = "Good news" if b"Good news" in body else "Hello"
    assert texts == {
        "r-0000": "Hello",
        "r-0001": "Hello",
        "r-0002": "Good news",
        "r-0004": "Good news",
        "r-0005": "Good news",
    }
    assert messages["r-0000"]["phone"] == "+" + digits_of(phone(0, 1))  # the number it was sent to
    assert messages["r-0003"]["state"] == "pending"  # kept, but no longer in the audience

    # the report follows the current file: removed recipients are not in it
    with (out / "test-campaign" / "report.csv").open(encoding="utf-8") as handle:
        assert [row["recipient_id"] for row in csv.DictReader(handle)] == ["r-0000", "r-0002", "r-0004", "r-0005"]

    # a removed recipient who comes back and was never sent is sent then, once
    numbers["r-0003"] = phone(3, 4)
    write_audience(folder, list(numbers.items()))
    assert campaign("send", str(file), "--outputs", str(out), env=env).exit_code == 0
    assert sim.app.accepted_by_phone()[digits_of(phone(3, 4))] == 1
    assert len(sim.app.accepted()) == 6


def test_a_failed_message_is_resent_with_the_edited_text(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    failing = make_simulator(fail_rate=1.0)
    folder = tmp_path / "c"
    file = write_campaign(folder, digits=[1, 2], text=V1, sending="rate = 1000\nconcurrency = 2\nmax_attempts = 1")
    out = tmp_path / "out"
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(failing.url)).exit_code == 3
    file.write_text(file.read_text().replace(V1, V2))
    healthy = make_simulator()
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(healthy.url)).exit_code == 0
    for message in ledger_rows(out):
        [body] = bodies_sent(healthy)[message["external_id"]]
        assert b"Good news" in body and message["body"].encode("utf-8") == body


def test_a_message_that_may_have_been_sent_keeps_its_body_when_the_text_changes(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    dropping = make_simulator(drop_rate=1.0)
    folder = tmp_path / "c"
    file = write_campaign(folder, digits=[1], text=V1)
    out = tmp_path / "out"
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(dropping.url)).exit_code == 3
    [dropped] = dropping.app.accepted()
    file.write_text(file.read_text().replace(V1, V2))
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(dropping.url)).exit_code == 3
    [message] = ledger_rows(out)
    assert message["state"] == "unknown"
    # the audit trail says what Telesign may have received, not what the file says today
    assert message["body"].encode("utf-8") == dropped.raw_body


def test_an_edited_included_template_applies_to_what_is_not_sent_yet(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    """The text includes templates/footer.j2. Edited between runs, the footer is part of what the
    messages are made of: on a shared ledger, which syncs the audience again only when its inputs
    changed, the next run used to send the old footer."""
    sim = make_simulator()
    folder = tmp_path / "c"
    file = write_campaign(folder, digits=[1, 2, 3, 4], text=V1 + "{% include 'footer.j2' %}")
    (folder / "templates").mkdir()
    footer = folder / "templates" / "footer.j2"
    footer.write_text(" Reply STOP to opt out.", encoding="utf-8")
    out = tmp_path / "out"
    env = telesign_env(sim.url)
    assert campaign("send", str(file), "--limit", "2", "--outputs", str(out), env=env).exit_code == 0
    footer.write_text(" Text QUIT to leave.", encoding="utf-8")
    result = campaign("send", str(file), "--outputs", str(out), env=env)
    assert result.exit_code == 0, result.output

    footers = sorted(
        "old" if b"Reply STOP" in body else "new" if b"Text QUIT" in body else "none"
        for [body] in bodies_sent(sim).values()
    )
    assert footers == ["new", "new", "old", "old"]
