"""Every send records the git commit of its campaign file and whether the work tree differed;
`status` lists the runs with their commits and the report says which commit each message's text
came from. Real git repositories made for each test; outside one the columns are empty and the
send says so once."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.fixtures.simulator import MakeSimulator
from tests.plan.helpers import commit_all, git, init_repository, plan_json
from tests.sending.helpers import campaign, telesign_env, write_campaign


def report(out: Path, campaign_id: str = "test-campaign") -> list[dict[str, str]]:
    with (out / campaign_id / "report.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_each_message_carries_the_commit_it_was_sent_from(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    repository = tmp_path / "shop"
    file = write_campaign(repository / "campaigns", digits=[1, 2, 3, 4])
    init_repository(repository)
    first = git(repository, "rev-parse", "HEAD")
    out, env = tmp_path / "out", telesign_env(sim.url)

    assert campaign("send", str(file), "--limit", "2", "--outputs", str(out), env=env).exit_code == 0
    file.write_text(file.read_text(encoding="utf-8").replace('url_text = "Track"', 'url_text = "Track it"'))
    second = commit_all(repository, "a better button")
    file.write_text(file.read_text(encoding="utf-8") + "\n# an edit not committed\n")
    assert campaign("send", str(file), "--outputs", str(out), env=env).exit_code == 0

    rows = report(out)
    assert [r["campaign_commit"] for r in rows] == [first, first, second, second]
    assert [r["state"] for r in rows] == ["accepted"] * 4

    status = campaign("status", str(file), "--outputs", str(out)).stdout
    [newest, oldest] = [line for line in status.splitlines() if line.startswith("    #")]
    assert f"campaign commit {second[:12]} (work tree differed)" in newest
    assert f"campaign commit {first[:12]}" in oldest and "differed" not in oldest


def test_the_plan_names_each_inputs_commit_and_a_dirty_tree(tmp_path: Path) -> None:
    repository = tmp_path / "shop"
    file = write_campaign(repository / "campaigns", digits=[1, 2])
    init_repository(repository)
    head = git(repository, "rev-parse", "HEAD")
    (repository / "campaigns" / "audience.csv").write_text(
        (repository / "campaigns" / "audience.csv").read_text(encoding="utf-8") + "r-9,+1 202 555 0191,N,1\n"
    )
    plan = plan_json(file, tmp_path / "out")
    inputs = {i["role"]: i for i in plan["inputs"]}
    assert inputs["campaign"] | {"sha256": None} == {
        "role": "campaign", "path": "campaigns/campaign.toml", "sha256": None, "rows": None, "commit": head,
        "dirty": False,
    }  # fmt: skip
    assert (inputs["audience"]["commit"], inputs["audience"]["dirty"], inputs["audience"]["rows"]) == (head, True, 3)
    assert plan["git"] is None

    markdown = campaign("plan", str(file), "--format", "markdown", "--outputs", str(tmp_path / "out")).stdout
    assert f"| audience | `campaigns/audience.csv` | 3 | {head[:12]} (work tree differs) |" in markdown
    assert "> Differs from its last commit: campaigns/audience.csv." in markdown


def test_outside_git_commits_are_empty_and_said_once(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    one = write_campaign(tmp_path / "a", digits=[1], campaign_id="one")
    two = write_campaign(tmp_path / "b", digits=[2], campaign_id="two")
    out = tmp_path / "out"
    result = campaign("send", str(one), str(two), "--outputs", str(out), env=telesign_env(sim.url))
    assert result.exit_code == 0, result.output
    assert result.stderr.count("not in a git repository") == 1
    assert [r["campaign_commit"] for r in report(out, "one") + report(out, "two")] == ["", ""]
    assert "no campaign commits recorded" in campaign("status", str(one), "--outputs", str(out)).stdout

    plan = plan_json(one, out)
    assert plan["git"] == "not in a git repository: no commits to show"
    assert all(i["commit"] is None and i["dirty"] is None for i in plan["inputs"])


def test_a_repository_git_cannot_read_is_said_as_such(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    """In a repository another user owns, git refuses to answer ("dubious ownership"): the send and
    the plan used to say "not in a git repository", and the user looked for a missing .git."""
    from runner.plan import git as runner_git

    sim = make_simulator()
    repository = tmp_path / "shop"
    file = write_campaign(repository / "campaigns", digits=[1])
    init_repository(repository)
    runner_git.repository_of.cache_clear()  # a real command starts with none; in-process runs share it
    env = telesign_env(sim.url, GIT_TEST_ASSUME_DIFFERENT_OWNER="1")  # git's own switch for this case
    out = tmp_path / "out"
    result = campaign("send", str(file), "--outputs", str(out), env=env)
    assert result.exit_code == 0, result.output
    assert "not in a git repository" not in result.stderr
    [said] = [line for line in result.stderr.splitlines() if "runs record no campaign commit" in line]
    assert "git cannot read the repository (detected dubious ownership" in said and "safe.directory" in said
    assert [r["campaign_commit"] for r in report(out)] == [""]

    shown = campaign("plan", str(file), "--format", "json", "--outputs", str(out), env=env)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["git"].startswith("git cannot read the repository (detected dubious ownership")
