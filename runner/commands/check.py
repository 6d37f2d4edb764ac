"""`campaign check [PATH...]`: validate every campaign file and render every recipient."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner import terminal
from runner.campaign import parallel
from runner.campaign.cache import Cache, file_digest, folder_for, key
from runner.campaign.expansion import Expansion, Summary
from runner.campaign.render import find_templates_folder
from runner.campaign.schema import POLICY_FILE, find_files, load
from runner.errors import ExitCode, InvalidInput, Problem
from runner.policy.rules import Rules
from runner.policy.schema import find_policy, load_policy


def run(paths: list[Path], outputs: Path = Path("outputs")) -> int:
    files = find_files(paths)
    policies = sorted({p for p in (find_policy(f.parent) for f in files if f.name != POLICY_FILE) if p is not None})
    policies += [f for f in files if f.name == POLICY_FILE and f not in policies]
    files = [f for f in files if f.name != POLICY_FILE]
    bad_policy = 0
    shown: set[tuple[Any, ...]] = set()  # a policy's problems, printed once, not again for each campaign it governs
    for policy in policies:  # each once, before the campaigns it governs (docs/policy.md)
        try:
            load_policy(policy)
        except InvalidInput as error:
            bad_policy += 1
            for line in error.lines():
                terminal.err(line)
            shown.update(("error", p.path, p.line, p.message) for p in error.problems)
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
    cache = Cache(folder_for(outputs))
    for path in files:
        said = remembered_check(path, cache)
        for entry in said:
            if entry not in shown:
                show(entry)
        failed += any(entry[0] == "error" for entry in said)
    if failed or bad_policy:
        terminal.err(f"{failed} of {len(files)} campaign file(s) have problems; nothing can be sent from them")
        return ExitCode.INVALID
    return ExitCode.OK


# What checking one file prints, in order, as plain data (the cache keeps it): ("error", path,
# line, message) for a problem (path None: a closing line), ("note", text) for a skipped row,
# ("out", text) for a result line.
Said = list[tuple[Any, ...]]


def show(entry: tuple[Any, ...]) -> None:
    if entry[0] == "error" and entry[1] is None:  # a conclusion, not a problem at a place
        terminal.err(entry[3], "error", "error")
    elif entry[0] == "error":
        _, path, line, message = entry
        problem = Problem(path, line, message)
        terminal.err(str(problem), "error", "error", file=path or None, line=line, reason=message)
    elif entry[0] == "note":
        terminal.err(entry[1])
    else:
        terminal.out(entry[1])


def remembered_check(path: Path, cache: Cache) -> Said:
    """What checking `path` prints, from the cache when nothing it depends on changed."""
    name = result_key(path)
    if name is not None:
        said = cache.get("result", name)
        if isinstance(said, list) and all(isinstance(entry, tuple) for entry in said):
            return said
    said = check_lines(path, cache)
    if name is not None:
        cache.put("result", name, said)
    return said


def result_key(path: Path) -> str | None:
    """A name for everything one file's check depends on: where it runs and how the path is
    written (both appear in the lines), the campaign file, its audience and suppression lists,
    every template and the policy, by content; None when the file does not even load or one of
    them cannot be read."""
    try:
        campaign = load(path)
        spec = campaign.spec.audience
        named = [campaign.resolve_inside(("audience", "file"), spec.file)] if spec.file else []
        named += [campaign.resolve_inside(("audience", "suppress", i), n) for i, n in enumerate(spec.suppress)]
    except InvalidInput:
        return None
    try:
        parts: list[bytes | str | int | None] = [str(Path.cwd()), str(path), path.read_bytes()]
        for file in named:
            parts += [str(file), file_digest(file) if file.is_file() else None]
        templates = find_templates_folder(campaign.folder)
        if templates is not None:
            for file in sorted(p for p in templates.rglob("*") if p.is_file()):
                parts += [str(file), file_digest(file)]
        policy = find_policy(campaign.folder)
        parts += [str(policy), policy.read_bytes() if policy else None]
    except OSError:
        return None  # a file that cannot be read (chmod 000) is not remembered: the check itself names it
    return key("check result", *parts)


def check_lines(path: Path, cache: Cache) -> Said:
    try:
        summary, rules = check_file(path, cache)
    except InvalidInput as error:
        said: Said = [("error", p.path, p.line, p.message) for p in error.problems]
        return said + ([("error", None, None, error.conclusion)] if error.conclusion else [])
    if summary.problems:
        said = [("error", p.path, p.line, p.message) for p in summary.problems]
        if summary.problems_not_listed:
            said.append(
                ("error", str(path), None, f"... and {summary.problems_not_listed} more rows with other problems")
            )
        return said
    said = [("note", f'{p.path}:{p.line}: skipped (on_invalid = "skip"): {p.message}') for p in summary.skipped]
    said.append(("out", f"{path}: ok: {describe(summary)}"))
    said += [("out", f"  {line}") for line in policy_lines(summary, rules)]
    return said


def check_file(path: Path, cache: Cache | None = None) -> tuple[Summary, Rules]:
    """Check one campaign file: on every core for a large audience CSV (runner.campaign.parallel),
    else in this process."""
    expansion = Expansion(load(path), count_affected=True)
    if parallel.wanted(expansion) is None or not parallel.expand(expansion, cache or Cache(None)):
        expansion.count()
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
    elif summary.messages:  # with no message at all, no SMS says nothing of the campaign's [sms]
        parts.append("no SMS fallback")
    return ", ".join(parts)
