"""`campaign check [PATH...]`: validate every campaign file and render every recipient."""

from __future__ import annotations

from pathlib import Path

from runner import terminal
from runner.campaign.expansion import Expansion, Summary
from runner.campaign.schema import POLICY_FILE, find_files, load
from runner.errors import ExitCode, InvalidInput
from runner.policy.rules import Rules
from runner.policy.schema import find_policy, load_policy


def run(paths: list[Path]) -> int:
    files = find_files(paths)
    policies = sorted({p for p in (find_policy(f.parent) for f in files if f.name != POLICY_FILE) if p is not None})
    policies += [f for f in files if f.name == POLICY_FILE and f not in policies]
    files = [f for f in files if f.name != POLICY_FILE]
    bad_policy = 0
    for policy in policies:  # each once, before the campaigns it governs (docs/policy.md)
        try:
            load_policy(policy)
        except InvalidInput as error:
            bad_policy += 1
            for line in error.lines():
                terminal.err(line)
            continue
        terminal.out(f"{policy}: ok: the repository policy")
    if bad_policy and not files:
        return ExitCode.INVALID
    if not files and policies:
        return ExitCode.OK
    if not files:
        terminal.err(f"no campaign files (*.toml) under {', '.join(map(str, paths))}")
        return ExitCode.INVALID
    failed = 0
    for path in files:
        try:
            summary, rules = check_file(path)
        except InvalidInput as error:
            failed += 1
            terminal.error(error)
            continue
        if summary.problems:
            failed += 1
            for problem in summary.problems:
                terminal.err(str(problem))
            if summary.problems_not_listed:
                terminal.err(f"{path}: ... and {summary.problems_not_listed} more problems")
            continue
        for problem in summary.skipped:
            terminal.err(f'{problem.path}:{problem.line}: skipped (on_invalid = "skip"): {problem.message}')
        terminal.out(f"{path}: ok: {describe(summary)}")
        for line in policy_lines(summary, rules):
            terminal.out(f"  {line}")
    failed += bad_policy
    if failed:
        terminal.err(f"{failed} of {len(files)} campaign file(s) have problems; nothing can be sent from them")
        return ExitCode.INVALID
    return ExitCode.OK


def check_file(path: Path) -> tuple[Summary, Rules]:
    expansion = Expansion(load(path), count_affected=True)
    for _ in expansion:
        pass
    return expansion.summary, expansion.rules


def policy_lines(summary: Summary, rules: Rules) -> list[str]:
    """What the repository policy means for this campaign: its window (`any` said out loud), its
    cap, and how many recipients' local time is a guess (docs/policy.md)."""
    lines = rules.describe()
    if rules.window is None:
        return lines
    sources = summary.zone_sources
    if sources["fallback"]:
        lines.append(
            f"{sources['fallback']} recipient(s) with no time zone from a `timezone` column or their number:"
            f" their window is read in the fallback {rules.fallback_zone}"
        )
    if sources["unknown"]:
        lines.append(
            f"{sources['unknown']} recipient(s) with no known time zone and no fallback: they will be suppressed;"
            " add a `timezone` column or set [schedule] timezone"
        )
    return lines


def describe(summary: Summary) -> str:
    states = summary.by_state
    parts = [
        f"{summary.recipients} recipients",
        f"{summary.messages} messages",
        f"{states['suppressed']} suppressed",
        terminal.count(states["duplicate"], "duplicate"),
        f"{states['invalid']} skipped",
    ]
    if summary.sms_encodings:
        encodings = "/".join(sorted(summary.sms_encodings))
        parts.append(f"SMS {encodings}, up to {summary.max_segments} segment{'s' if summary.max_segments != 1 else ''}")
    else:
        parts.append("no SMS fallback")
    return ", ".join(parts)
