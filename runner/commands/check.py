"""`campaign check [PATH...]`: validate every campaign file and render every recipient."""

from __future__ import annotations

from pathlib import Path

from runner import terminal
from runner.campaign.expansion import Expansion, Summary
from runner.campaign.schema import find_files, load
from runner.errors import ExitCode, InvalidInput


def run(paths: list[Path]) -> int:
    files = find_files(paths)
    if not files:
        terminal.err(f"no campaign files (*.toml) under {', '.join(map(str, paths))}")
        return ExitCode.INVALID
    failed = 0
    for path in files:
        try:
            summary = check_file(path)
        except InvalidInput as error:
            failed += 1
            for line in error.lines():
                terminal.err(line)
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
    if failed:
        terminal.err(f"{failed} of {len(files)} campaign file(s) have problems; nothing can be sent from them")
        return ExitCode.INVALID
    return ExitCode.OK


def check_file(path: Path) -> Summary:
    expansion = Expansion(load(path))
    for _ in expansion:
        pass
    return expansion.summary


def describe(summary: Summary) -> str:
    states = summary.by_state
    parts = [
        f"{summary.recipients} recipients",
        f"{summary.messages} messages",
        f"{states['suppressed']} suppressed",
        f"{states['duplicate']} duplicates",
        f"{states['invalid']} skipped",
    ]
    if summary.sms_encodings:
        encodings = "/".join(sorted(summary.sms_encodings))
        parts.append(f"SMS {encodings}, up to {summary.max_segments} segment{'s' if summary.max_segments != 1 else ''}")
    else:
        parts.append("no SMS fallback")
    return ", ".join(parts)
