"""report.csv opened in a spreadsheet runs nothing: cells that start like a formula are shown as
text (OWASP's CSV injection advice), while E.164 phone numbers keep their `+`."""

from __future__ import annotations

import csv
from pathlib import Path

from runner.report.csv import neutralise
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, phone, telesign_env, write_campaign


def test_formula_like_cells_are_prefixed_and_phone_numbers_are_not(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    folder = tmp_path / "c"
    file = write_campaign(folder, digits=[1])
    ids = [
        '=HYPERLINK("https://evil.example","x")',
        "+cmd",
        "-2+3",
        "@SUM(A1)",
    ]  # (the audience reader trims spaces and tabs)
    rows = ["id,phone,first_name,order_id"]
    rows += [f'"{i.replace(chr(34), chr(34) * 2)}",{phone(n, n + 1)},N,{n}' for n, i in enumerate(ids)]
    rows.append('bad-phone,"=1+2",N,9')  # an invalid number, reported as written
    (folder / "audience.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    file.write_text(file.read_text().replace('default_region = "US"', 'default_region = "US"\non_invalid = "skip"'))
    out = tmp_path / "out"
    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output

    with (out / "test-campaign" / "report.csv").open(encoding="utf-8", newline="") as handle:
        report = list(csv.DictReader(handle))
    assert [r["recipient_id"] for r in report] == ["'" + i for i in ids] + ["bad-phone"]
    assert [r["phone_number"] for r in report[:4]] == [f"+1202555{n * 10 + n + 1:04d}" for n in range(4)]
    assert report[4]["phone_number"] == "'=1+2"
    # what was sent is the value itself: only the report's view of it is neutralised
    assert len(sim.app.accepted()) == 4


def test_tab_and_carriage_return_starts_are_neutralised_too() -> None:
    assert neutralise("\tx") == "'\tx" and neutralise("\r=1") == "'\r=1"
    assert neutralise("plain") == "plain" and neutralise(3401) == 3401
