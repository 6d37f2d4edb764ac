"""Where a file stands in git: the last commit that touched it and whether the work tree differs
from that commit (docs/plan.md, "Provenance"). Git is asked through its command line, the way a
reviewer would ask it; outside a repository (or without git) every answer is None."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class GitState:
    commit: str | None  # None: the file was never committed
    dirty: bool  # the work tree differs from `commit` (edited, or not committed at all)


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@lru_cache(maxsize=64)
def repository_of(folder: Path) -> Path | None:
    """The work tree holding `folder`, or None."""
    top = _git(folder, "rev-parse", "--show-toplevel")
    return Path(top.strip()).resolve() if top and top.strip() else None


def state_of(path: Path) -> GitState | None:
    """The file's last commit and whether it differs from it; None outside a git repository."""
    path = path.resolve()
    if repository_of(path.parent) is None:
        return None
    log = _git(path.parent, "log", "-1", "--format=%H", "--", path.name)
    commit = log.strip() or None if log is not None else None
    status = _git(path.parent, "status", "--porcelain", "--", path.name)
    return GitState(commit, commit is None or bool(status and status.strip()))


def unreadable(path: Path) -> str | None:
    """Why git cannot answer for `path` though a work tree holds it (a `.git` in its folder or
    above): git missing, or refusing a repository another user owns ("dubious ownership"). None
    when git answers, or when there is no repository. `state_of` reads both cases as "not in git",
    right for provenance but not where a commit is required (cron's require_plan): there, a git
    that cannot read must not pass for no git at all."""
    folder = path.resolve().parent
    if not any((f / ".git").exists() for f in (folder, *folder.parents)):
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"git could not be run: {error}"
    if done.returncode == 0:
        return None
    said = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return said[0].removeprefix("fatal: ") if said else f"git exited with {done.returncode}"


# What lets git read a repository another user owns (git's own "dubious ownership" refusal).
LET_GIT_READ = "let git read it as this user: its owner, or `git config --global --add safe.directory DIR`"


def why_no_commit(path: Path) -> str:
    """Why no commit can be recorded for `path` (state_of gave None): outside any repository, or
    in one git cannot read, which the user can fix."""
    why = unreadable(path)
    if why is None:
        return "not in a git repository"
    return f"git cannot read the repository ({why}; {LET_GIT_READ})"


def shown(path: Path) -> str:
    """A path as a reviewer reads it: relative to its repository's root, else to the current
    folder, else absolute."""
    path = path.resolve()
    top = repository_of(path.parent) if path.parent.exists() else None
    for base in (top, Path.cwd().resolve()):
        if base is not None and path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return str(path)
