"""`campaign send` over real HTTP against the simulator: outcomes, re-runs, the report."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from runner.report.csv import COLUMNS
from tests.fixtures.simulator import MakeSimulator
from tests.seed import seed_request
from tests.sending.helpers import campaign, ledger_rows, ledger_states, phone, telesign_env, write_campaign


def test_each_message_is_accepted_once_and_reported(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=range(9))
    out = tmp_path / "out"
    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output
    assert set(sim.app.accepted_by_phone().values()) == {1} and len(sim.app.accepted_by_phone()) == 9
    rows = list(csv.DictReader((out / "test-campaign" / "report.csv").open(encoding="utf-8")))
    assert [r["recipient_id"] for r in rows] == [f"r-{i:04d}" for i in range(9)]
    accepted = {a.reference_id: a for a in sim.app.accepted()}
    for row in rows:
        assert row["state"] == "accepted" and row["status_code"] == "3001" and row["http_status"] == "200"
        assert row["reference_id"] in accepted
        assert accepted[row["reference_id"]].external_id == row["external_id"]
        assert row["phone_number"].startswith("+1202555")

    again = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert again.exit_code == 0
    assert len(sim.app.accepted()) == 9  # a re-run sends nothing already accepted


def test_report_columns_are_designs_and_rows_follow_audience_order(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    folder = tmp_path / "c"
    file = write_campaign(folder, digits=[1, 2, 3, 4])
    audience = folder / "audience.csv"
    lines = audience.read_text().splitlines()
    # a duplicate phone, an invalid number and a suppressed one, in between real recipients
    lines.insert(2, f"r-dup,{phone(0, 1)},Dup,1")
    lines.insert(4, "r-bad,12,Bad,2")
    lines.append(f"r-opt,{phone(7, 7)},Opt,3")
    audience.write_text("\n".join(lines) + "\n")
    (folder / "optout.csv").write_text(f"phone\n{phone(7, 7)}\n")
    text = file.read_text().replace(
        'default_region = "US"', 'default_region = "US"\nsuppress = ["optout.csv"]\non_invalid = "skip"'
    )
    file.write_text(text)
    out = tmp_path / "out"
    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output
    with (out / "test-campaign" / "report.csv").open(encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [dict(zip(header, r, strict=False)) for r in reader]
    assert tuple(header) == COLUMNS and header[0] == "reference_id"
    assert [(r["recipient_id"], r["state"]) for r in rows] == [
        ("r-0000", "accepted"),
        ("r-dup", "duplicate"),
        ("r-0001", "accepted"),
        ("r-bad", "invalid"),
        ("r-0002", "accepted"),
        ("r-0003", "accepted"),
        ("r-opt", "suppressed"),
    ]
    assert "duplicate" in rows[1]["status_description"] and rows[1]["reference_id"] == ""
    assert len(sim.app.accepted()) == 4


def test_a_refused_number_is_rejected_with_its_code_and_exit_3(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[0, 9])
    out = tmp_path / "out"
    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 3
    rows = ledger_rows(out)
    assert [r["state"] for r in rows] == ["accepted", "rejected"]
    assert rows[1]["http_status"] == 400 and rows[1]["status_code"] is not None and rows[1]["attempts"] == 1
    # rejected is final: a re-run does not try it again
    campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert ledger_rows(out)[1]["attempts"] == 1


def test_503_is_retried_up_to_max_attempts_then_failed_and_sent_by_the_next_run(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    failing = make_simulator(fail_rate=1.0)
    file = write_campaign(tmp_path / "c", digits=[1, 2, 3], sending="rate = 1000\nconcurrency = 3\nmax_attempts = 3")
    out = tmp_path / "out"
    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(failing.url))
    assert result.exit_code == 3
    assert failing.app.outcomes()["503"] == 9  # 3 messages x 3 attempts
    assert [r["state"] for r in ledger_rows(out)] == ["failed"] * 3
    healthy = make_simulator()
    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(healthy.url))
    assert result.exit_code == 0
    assert len(healthy.app.accepted()) == 3 and set(healthy.app.accepted_by_phone().values()) == {1}


def test_a_dropped_connection_is_unknown_and_never_resent_without_asking(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator(drop_rate=1.0)
    file = write_campaign(tmp_path / "c", digits=[1, 2])
    out = tmp_path / "out"
    first = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert first.exit_code == 3
    assert set(ledger_states(out).values()) == {"unknown"}
    assert len(sim.app.accepted()) == 2  # the simulator did accept them
    second = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert second.exit_code == 3
    assert len(sim.app.accepted()) == 2  # not resent
    status = campaign("status", str(file), "--outputs", str(out))
    assert "2 unknown" in status.output and "--resend-unknown" in status.output
    healthy = make_simulator()
    third = campaign("send", str(file), "--resend-unknown", "--outputs", str(out), env=telesign_env(healthy.url))
    assert third.exit_code == 0 and len(healthy.app.accepted()) == 2


def test_the_rate_holds_as_counted_by_the_simulator(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(
        tmp_path / "c", digits=[i % 9 for i in range(45)], sending="rate = 20\nconcurrency = 16\nmax_attempts = 3"
    )
    result = campaign("send", str(file), "--outputs", str(tmp_path / "out"), env=telesign_env(sim.url))
    assert result.exit_code == 0
    assert len(sim.app.accepted()) == 45
    # any one-second window: at most rate + 1
    worst = sim.app.most_accepted_in_one_second()
    assert worst <= 21


def test_429_pauses_the_whole_campaign_for_retry_after(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator(tps=5)
    file = write_campaign(
        tmp_path / "c", digits=[i % 9 for i in range(15)], sending="rate = 1000\nconcurrency = 8\nmax_attempts = 10"
    )
    result = campaign("send", str(file), "--outputs", str(tmp_path / "out"), env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output
    assert len(sim.app.accepted()) == 15 and set(sim.app.accepted_by_phone().values()) == {1}
    refused = sim.app.outcomes()["429"]
    assert refused >= 1
    # Without a shared pause each of the 8 workers would keep hitting the limit on its own
    # backoff; with it, the first burst's refusals are about all there is.
    assert refused <= 8 * 3
    assert "slow down" in result.output


def test_wrong_credentials_stop_the_run_with_exit_4_and_leave_messages_pending(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=range(6))
    out = tmp_path / "out"
    env = telesign_env(sim.url, TELESIGN_API_KEY="V3JvbmdXcm9uZ1dyb25nS2V5MTIzNDU2Nzg5MA==")
    result = campaign("send", str(file), "--outputs", str(out), env=env)
    assert result.exit_code == 4
    assert "refused the credentials" in result.output
    assert "V3JvbmdXcm9uZ1dyb25nS2V5" not in result.output
    assert set(ledger_states(out).values()) == {"pending"}
    assert len(sim.app.accepted()) == 0
    fixed = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert fixed.exit_code == 0 and len(sim.app.accepted()) == 6


def test_missing_credentials_exit_4_before_anything_else(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=[1])
    env = {"TELESIGN_CUSTOMER_ID": "", "TELESIGN_API_KEY": "", "TELESIGN_BASE_URL": sim.url}
    result = campaign("send", str(file), "--outputs", str(tmp_path / "out"), env=env)
    assert result.exit_code == 4
    assert "TELESIGN_CUSTOMER_ID" in result.output and "TELESIGN_API_KEY" in result.output
    assert not (tmp_path / "out").exists() and sim.app.outcomes() == Counter()


def test_an_invalid_file_sends_nothing_and_records_nothing(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    folder = tmp_path / "c"
    file = write_campaign(folder, digits=[1, 2, 3])
    audience = folder / "audience.csv"
    audience.write_text(audience.read_text() + "r-x,not a number,X,1\n")
    out = tmp_path / "out"
    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 1
    assert f"{audience}:5:" in result.output or "audience.csv:5:" in result.output
    assert len(sim.app.accepted()) == 0
    assert not (out / "test-campaign").exists()  # a first send of an invalid file creates nothing (issue 9)


def test_digest_authentication_signs_the_exact_body(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = write_campaign(tmp_path / "c", digits=range(4))
    result = campaign(
        "send", str(file), "--outputs", str(tmp_path / "out"), env=telesign_env(sim.url, TELESIGN_AUTH="digest")
    )
    assert result.exit_code == 0, result.output
    assert len(sim.app.accepted()) == 4


def test_the_seed_campaign_posts_the_seed_body(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = tmp_path / "seed.toml"
    file.write_text(
        """id = "seed"
[schedule]
window = "any"
[audience]
phone_check = "possible"
recipients = [ { phone = "+1 555 867 5300" } ]
[viber]
text = "Thanks for your purchase on viatushop.com! Track your order status here:"
url = "https://viatushop.com/orders?id=45390"
url_text = "Track Order"
url_id = "urlid1"
fallback_time = 600
[sms]
text = "Thanks for your purchase on viatushop.com! Track your order status here: https://viatushop.com/orders?id=45390"
"""
    )
    result = campaign("send", str(file), "--outputs", str(tmp_path / "out"), env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output
    [sent] = sim.app.accepted()
    body = dict(sent.body)
    assert body.pop("external_id").startswith("seed.")
    # The seed's number ends in 9, which the simulator refuses; this one differs only there.
    expected = seed_request()
    expected["phone_number"] = "15558675300"
    assert body == expected
    assert list(body) == list(expected)
    assert list(body["message"]["viber"]["parameters"]) == list(expected["message"]["viber"]["parameters"])
