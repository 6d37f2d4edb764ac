"""`[sending] require_plan = true`: cron sends a campaign only with a fresh plan committed beside it
(`<campaign>.plan.json`), in a real git repository made for the test."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.simulator import MakeSimulator
from tests.plan.helpers import commit_all, init_repository, save_plan
from tests.plan.test_plan_matches_send import requests_answered
from tests.sending.helpers import campaign, phone, telesign_env, write_campaign


def test_cron_sends_only_campaigns_with_a_fresh_committed_plan(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    root = tmp_path / "campaigns"
    root.mkdir()
    (tmp_path / "policy.toml").write_text("[sending]\nrequire_plan = true\n", encoding="utf-8")
    planned = write_campaign(root / "planned", digits=[1, 2, 3], campaign_id="planned")
    unplanned = write_campaign(root / "unplanned", digits=[1, 2], campaign_id="unplanned")
    uncommitted = write_campaign(root / "uncommitted", digits=[4], campaign_id="uncommitted")
    out = tmp_path / "out"
    save_plan(planned, out, root / "planned" / "campaign.plan.json")
    init_repository(tmp_path)
    save_plan(uncommitted, out, root / "uncommitted" / "campaign.plan.json")  # made after the commit

    env = telesign_env(sim.url)
    result = campaign("run", str(root), "--outputs", str(out), "--log-format", "plain", env=env)
    assert result.exit_code == 4, result.output
    errors = result.stderr
    assert (
        f"unplanned: skipped: the policy requires a reviewed plan and {unplanned.with_name('campaign.plan.json')}"
        in errors
    )
    assert f"is missing; make one with `campaign plan {unplanned} -o" in errors
    assert "uncommitted: skipped: the policy requires a committed plan" in errors and "is not committed" in errors
    assert requests_answered(sim) == 3  # the planned campaign's three, nothing else

    # The same plan a second time is stale (the ledger moved on): cron refuses it, sends nothing.
    with (root / "planned" / "audience.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"r-0100,{phone(100, 1)},New,60000\n")
    commit_all(tmp_path, "one more recipient")
    result = campaign("run", str(root), "--outputs", str(out), "--log-format", "plain", env=env)
    assert "planned: the plan" in result.stderr and "no longer holds; nothing was sent:" in result.stderr
    assert "audience.csv changed since the plan: 3 -> 4 rows" in result.stderr
    # ... while the plan committed meanwhile (uncommitted's, in the same commit) is now applied.
    assert requests_answered(sim) == 3 + 1


def test_without_the_policy_cron_sends_as_before(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    root = tmp_path / "campaigns"
    write_campaign(root / "a", digits=[1, 2], campaign_id="a")
    (tmp_path / "policy.toml").write_text("[sending]\nrequire_plan = false\n", encoding="utf-8")
    result = campaign("run", str(root), "--outputs", str(tmp_path / "out"), "--log-format", "plain",
                      env=telesign_env(sim.url))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert requests_answered(sim) == 2


def test_cron_refuses_a_plan_whose_commit_git_cannot_read(tmp_path: Path, make_simulator: MakeSimulator) -> None:
    """A repository owned by another user than cron's: git refuses it ("dubious ownership") and
    the plan's commit could not be checked; cron read that as "not in a git repository" and applied
    an uncommitted plan. Now the campaign is skipped (exit 4) with git's reason, nothing sent."""
    from runner.plan import git

    sim = make_simulator()
    root = tmp_path / "campaigns"
    (tmp_path / "policy.toml").write_text("[sending]\nrequire_plan = true\n", encoding="utf-8")
    file = write_campaign(root / "a", digits=[1, 2], campaign_id="a")
    init_repository(tmp_path)
    out = tmp_path / "out"
    git.repository_of.cache_clear()  # a real command starts with none; in-process runs share it
    env = telesign_env(sim.url, GIT_TEST_ASSUME_DIFFERENT_OWNER="1")  # git's own switch for this case
    # Made on the sending host, as its user, and never committed.
    plan = campaign("plan", str(file), "-o", str(root / "a" / "campaign.plan.json"), "--outputs", str(out), env=env)
    assert plan.exit_code == 0, plan.output
    result = campaign("run", str(root), "--outputs", str(out), "--log-format", "plain", env=env)
    assert result.exit_code == 4, result.output
    assert "a: skipped: the policy requires a committed plan and git cannot say whether" in result.stderr
    assert "dubious ownership" in result.stderr
    assert requests_answered(sim) == 0
