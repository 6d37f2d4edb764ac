"""`campaign send FILE --plan PLAN.json`: a fresh plan sends exactly what it counted; a plan that
no longer holds sends nothing (checked at the simulator), exits 1 and says what changed, one line
per change."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fixtures.simulator import MakeSimulator, SimulatorServer
from tests.plan.helpers import mixed_campaign, save_plan
from tests.plan.test_plan_matches_send import requests_answered
from tests.sending.helpers import campaign, phone, telesign_env

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")  # plain log lines start with the time


def send_with_plan(file: Path, plan: Path, out: Path, sim: SimulatorServer) -> tuple[int, list[str]]:
    """The exit code and the stderr lines (without their time stamps) of `send FILE --plan PLAN`."""
    result = campaign("send", str(file), "--plan", str(plan), "--outputs", str(out), env=telesign_env(sim.url))
    return result.exit_code, [STAMP.sub("", line) for line in result.stderr.splitlines()]


def test_a_fresh_plan_sends_what_it_counted_once(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = mixed_campaign(tmp_path / "c")
    out, plan = tmp_path / "out", tmp_path / "c" / "campaign.plan.json"
    counted = save_plan(file, out, plan)["counts"]["to_send"]

    code, _ = send_with_plan(file, plan, out, sim)
    assert code == 3  # one refused by the simulator, as in any send of this audience
    assert requests_answered(sim) == counted == 8

    # Applied again: the ledger moved on only by this plan's own run, so it still holds; nothing
    # is left to send and nothing is sent twice.
    code, lines = send_with_plan(file, plan, out, sim)
    assert code == 3, lines
    assert requests_answered(sim) == 8

    # Another run (a plain send) changing the ledger makes the plan stale.
    campaign("send", str(file), "--resend-unknown", "--outputs", str(out), env=telesign_env(sim.url))
    code, lines = send_with_plan(file, plan, out, sim)
    assert code == 1
    assert any(line.startswith("  the ledger changed since the plan") for line in lines), lines


def test_a_plan_with_a_cap_sends_only_its_count(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = mixed_campaign(tmp_path / "c")
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    assert save_plan(file, out, plan, "--limit", "3")["counts"]["to_send"] == 3
    send_with_plan(file, plan, out, sim)
    assert requests_answered(sim) == 3

    # Applied again (the same command run twice, or cron with require_plan): the plan counted 3
    # and they are sent. Before, it held ("the ledger moved only by this plan") and sent the next
    # 3, and so on, a reviewed canary of 3 becoming the whole campaign.
    code, lines = send_with_plan(file, plan, out, sim)
    assert code == 1
    assert (
        "  every message the plan counted (3) is sent already, by the runs that applied it; plan again to send more"
    ) in lines
    assert requests_answered(sim) == 3


def test_every_kind_of_change_is_refused_with_its_line(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    folder = tmp_path / "c"
    file = mixed_campaign(folder)
    (tmp_path / "policy.toml").write_text("[sending]\n", encoding="utf-8")
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    save_plan(file, out, plan)

    with (folder / "audience.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"n-0001,{phone(30, 3)},New,70001\n")
    with (folder / "opt-out.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"{phone(5, 6)}\n")
    file.write_text(file.read_text(encoding="utf-8").replace('url_text = "Track"', 'url_text = "Track it"'))
    (tmp_path / "policy.toml").write_text("[sending]\nrequire_plan = true\n", encoding="utf-8")

    code, lines = send_with_plan(file, plan, out, sim)
    assert code == 1
    assert lines[0] == f"test-campaign: the plan {plan} no longer holds; nothing was sent:"
    assert set(lines[1:-1]) == {
        f"  {file.relative_to(Path.cwd()) if file.is_relative_to(Path.cwd()) else file} changed since the plan",
        f"  {shown(folder / 'audience.csv')} changed since the plan: 12 -> 13 rows",
        f"  {shown(folder / 'opt-out.csv')} changed since the plan: 2 -> 3 rows",
        f"  {shown(tmp_path / 'policy.toml')} changed since the plan",
    }
    assert requests_answered(sim) == 0


def shown(path: Path) -> str:
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def test_a_changed_template_and_a_changed_ledger_are_refused(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    folder = tmp_path / "c"
    file = mixed_campaign(folder)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "viber.txt.j2").write_text("Hi {{ first_name }}!", encoding="utf-8")
    text = file.read_text(encoding="utf-8")
    file.write_text(text.replace('text = "Hello {{ first_name }}', 'text_template = "viber.txt.j2"\n# "', 1))
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    save_plan(file, out, plan)

    (tmp_path / "templates" / "viber.txt.j2").write_text("Hello {{ first_name }}!", encoding="utf-8")
    assert campaign("send", str(file), "--limit", "2", "--outputs", str(out), env=telesign_env(sim.url)).exit_code == 0
    code, lines = send_with_plan(file, plan, out, sim)
    assert code == 1
    assert f"  {shown(tmp_path / 'templates' / 'viber.txt.j2')} changed since the plan" in lines
    assert "  the ledger changed since the plan: 2 messages sent by another run" in lines
    assert requests_answered(sim) == 2  # the two of the plain send only


def test_an_expired_plan_and_another_runner_are_refused(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = mixed_campaign(tmp_path / "c")
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    data = save_plan(file, out, plan)
    made = datetime.now(UTC) - timedelta(hours=25)
    data["created_at"] = made.isoformat()
    data["valid_until"] = (made + timedelta(hours=24)).isoformat()
    data["runner_version"] = "0.0.1"
    plan.write_text(json.dumps(data), encoding="utf-8")

    code, lines = send_with_plan(file, plan, out, sim)
    assert code == 1
    assert any(line.startswith("  the plan expired at ") and "valid for 24 hours" in line for line in lines)
    assert any(line.startswith("  the runner changed since the plan: 0.0.1 -> ") for line in lines)
    assert requests_answered(sim) == 0


def test_a_plan_of_another_campaign_or_no_plan_at_all(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    file = mixed_campaign(tmp_path / "c")
    other = mixed_campaign(tmp_path / "d")
    other.write_text(other.read_text(encoding="utf-8").replace('id = "test-campaign"', 'id = "other"'))
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    save_plan(other, out, plan)
    code, lines = send_with_plan(file, plan, out, sim)
    assert (code, lines[1]) == (1, "  the plan is for campaign 'other', not 'test-campaign'")

    plan.write_text('{"plan_format": 2, "campaign_id": "test-campaign"', encoding="utf-8")
    code, lines = send_with_plan(file, plan, out, sim)
    assert code == 1 and lines[0].startswith(f"{plan}:1: not a plan (JSON: ")
    code, lines = send_with_plan(file, tmp_path / "missing.json", out, sim)
    assert code == 1 and "no such plan file" in lines[0]
    assert requests_answered(sim) == 0


def test_new_opt_outs_make_the_plan_stale(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    from runner.ledger.backend import shared_ledger_url
    from runner.policy.store import OptEvent, open_store

    sim = make_simulator()
    file = mixed_campaign(tmp_path / "c")
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    save_plan(file, out, plan)
    store = open_store(out, shared_ledger_url())
    try:
        for i in range(3):
            store.record(OptEvent(f"reply-{i}", f"+1202555{i:04d}", "opt_out", datetime.now(UTC), "reply"))
    finally:
        store.close()
    code, lines = send_with_plan(file, plan, out, sim)
    assert (code, lines[1:-1]) == (1, ["  opt-outs: 3 new since the plan"])
    assert requests_answered(sim) == 0


def test_status_shows_the_applied_plans_cost_estimate(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    folder = tmp_path / "c"
    file = mixed_campaign(folder)
    (folder / "prices.csv").write_text("country,channel,price,currency\n*,viber,0.01,EUR\n*,sms,0.05,EUR\n")
    out, plan = tmp_path / "out", folder / "campaign.plan.json"
    cost = save_plan(file, out, plan)["cost"]
    assert (cost["best"], cost["worst"]) == (0.08, 0.48)  # 8 messages: 8 x 0.01, then + 8 segments x 0.05
    send_with_plan(file, plan, out, sim)
    status = campaign("status", str(file), "--outputs", str(out)).stdout
    assert "plan estimate (campaign.plan.json): 0.0800 to 0.4800 EUR" in status


def test_options_a_plan_does_not_take_are_refused_never_ignored(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    """`--recipient` with `--plan` sent the whole campaign (it was silently ignored); every option
    a plan does not take is a usage error, named, and nothing is sent."""
    sim = make_simulator()
    file = mixed_campaign(tmp_path / "c")
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    save_plan(file, out, plan)
    for option in (["--recipient", "r-0000"], ["--dry-run"], ["--limit", "1"], ["--test-to", phone(0, 1)]):
        result = campaign(
            "send", str(file), "--plan", str(plan), "--outputs", str(out), *option, env=telesign_env(sim.url)
        )
        assert result.exit_code == 2, (option, result.output)
        assert f"drop {option[0]}" in result.stderr
        assert ("campaign plan FILE --limit N" in result.stderr) == (option[0] == "--limit")
    assert requests_answered(sim) == 0


def test_a_hand_edited_time_is_refused_with_its_line_not_a_traceback(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    """A plan's times without their UTC offset stopped the send with a TypeError traceback (naive
    against aware datetimes); a validity stretched by hand was honoured."""
    sim = make_simulator()
    file = mixed_campaign(tmp_path / "c")
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    data = save_plan(file, out, plan)

    naive = {**data, "created_at": data["created_at"][:19], "valid_until": data["valid_until"][:19]}
    plan.write_text(json.dumps(naive), encoding="utf-8")
    code, lines = send_with_plan(file, plan, out, sim)
    assert code == 1 and lines == [f"{plan}: not a plan (created_at: Input should have timezone info); make it again"]

    stretched = {**data, "valid_until": (datetime.now(UTC) + timedelta(days=30)).isoformat()}
    plan.write_text(json.dumps(stretched), encoding="utf-8")
    code, lines = send_with_plan(file, plan, out, sim)
    assert code == 1
    assert lines[1].startswith("  the plan's validity was edited: valid until ") and "valid for 24 hours" in lines[1]
    assert requests_answered(sim) == 0


def included_footer_campaign(folder: Path, include: str) -> Path:
    """A campaign whose Viber text includes templates/footer.j2 (`include` names it), sent at
    most two messages per run, so that a plan is applied by several runs."""
    file = mixed_campaign(folder, sending="rate = 1000\nconcurrency = 8\nmax_attempts = 3\nmax_per_run = 2")
    (folder / "templates").mkdir()
    (folder / "templates" / "footer.j2").write_text(" Reply STOP to opt out.", encoding="utf-8")
    text = file.read_text(encoding="utf-8")
    text = text.replace("is on its way:", "is on its way:" + include)
    text = text.replace('message_type = "ARN"', 'message_type = "ARN"\n[vars]\nfooter = "footer.j2"')
    file.write_text(text, encoding="utf-8")
    return file


def test_an_edited_included_template_is_refused_before_and_after_a_run_of_the_plan(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    """A file the text includes was no input of the plan: edited before the send, the refusal said
    only 'the messages to send differ from the plan: 2 -> 2'; edited after a first run of the plan,
    the next run sent the new text, never reviewed. Now it is an input, named when it changes."""
    sim = make_simulator()
    folder = tmp_path / "c"
    file = included_footer_campaign(folder, "{% include 'footer.j2' %}")
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    inputs = save_plan(file, out, plan)["inputs"]
    assert [i["path"] for i in inputs if i["role"] == "template"] == [shown(folder / "templates" / "footer.j2")]

    footer = folder / "templates" / "footer.j2"
    footer.write_text(" Text STOP to quit.", encoding="utf-8")
    code, lines = send_with_plan(file, plan, out, sim)
    assert (code, lines[1:-1]) == (1, [f"  {shown(footer)} changed since the plan"])

    footer.write_text(" Reply STOP to opt out.", encoding="utf-8")
    assert send_with_plan(file, plan, out, sim)[0] == 0
    assert requests_answered(sim) == 2  # max_per_run: the rest for the plan's next runs
    footer.write_text(" Text STOP to quit.", encoding="utf-8")
    code, lines = send_with_plan(file, plan, out, sim)
    assert (code, lines[1:-1]) == (1, [f"  {shown(footer)} changed since the plan"])
    assert requests_answered(sim) == 2


def test_a_template_named_when_rendering_is_an_input_as_every_file_it_may_be(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    """`{% include footer %}` names its file only when rendering: every file of the templates
    folder may be it, so every one is an input of the plan (but an editor's own files), and an
    edit after a run of the plan is refused naming the file."""
    sim = make_simulator()
    folder = tmp_path / "c"
    file = included_footer_campaign(folder, "{% include footer %}")
    (folder / "templates" / ".footer.j2.swp").write_bytes(b"an editor's swap file")
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    inputs = save_plan(file, out, plan)["inputs"]
    footer = folder / "templates" / "footer.j2"
    assert [i["path"] for i in inputs if i["role"] == "template"] == [shown(footer)]
    assert send_with_plan(file, plan, out, sim)[0] == 0
    assert requests_answered(sim) == 2

    (folder / "templates" / ".footer.j2.swp").write_bytes(b"the editor saved its swap file again")
    # the plan still holds: its next two messages are sent (the simulator refuses one of them, exit 3)
    assert send_with_plan(file, plan, out, sim)[0] == 3
    assert requests_answered(sim) == 4
    footer.write_text(" Text STOP to quit.", encoding="utf-8")
    code, lines = send_with_plan(file, plan, out, sim)
    assert (code, lines[1:-1]) == (1, [f"  {shown(footer)} changed since the plan"])
    assert requests_answered(sim) == 4


def test_messages_that_differ_each_time_they_are_made_can_never_be_sent_with_a_plan(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    """A text that renders differently each time (`random`) changes no file the plan lists; the
    digest of every message tells, and the refusal says so."""
    sim = make_simulator()
    folder = tmp_path / "c"
    file = included_footer_campaign(folder, " {{ range(100000) | random }}")
    out, plan = tmp_path / "out", tmp_path / "plan.json"
    save_plan(file, out, plan)
    code, lines = send_with_plan(file, plan, out, sim)
    assert code == 1
    assert lines[1:-1] == [
        "  the messages differ from the plan though none of the files it lists changed (8 -> 8 messages): "
        "something a template reads changed, or a template renders differently each time (as `random` does), "
        "which no plan can hold"
    ]
    assert requests_answered(sim) == 0
