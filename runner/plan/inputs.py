"""The files a send reads, each with its content hash, rows and git provenance, and the policy
file's settings the plan needs (docs/plan.md, "Provenance" and "Fingerprint")."""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from runner.campaign.includes import included_templates
from runner.campaign.render import find_templates_folder
from runner.campaign.schema import Campaign
from runner.plan import git
from runner.plan.model import InputFile
from runner.policy.schema import find_policy, policy_for
from runner.policy.store import read_store


def runner_version() -> str:
    try:
        return version("campaign-runner")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def policy_file(campaign: Campaign) -> Path | None:
    """The repository policy governing the campaign (docs/policy.md), found by its one loader."""
    return find_policy(campaign.folder)


def plans_required(campaign: Campaign) -> bool:
    """`[sending] require_plan = true` in the policy: cron sends only campaigns with a fresh plan
    (docs/plan.md, "Cron"). An invalid policy stops here with its path:line errors."""
    return policy_for(campaign.folder).spec.sending.require_plan


def sources(campaign: Campaign) -> list[tuple[str, Path]]:
    """(role, path) of every file the send's messages depend on, in a stable order."""
    spec = campaign.spec
    found: list[tuple[str, Path]] = [("campaign", campaign.path.resolve())]
    if spec.audience.file:
        found.append(("audience", campaign.resolve(spec.audience.file)))
    found += [("suppression", campaign.resolve(name)) for name in spec.audience.suppress]
    templates = find_templates_folder(campaign.folder)
    names = [spec.viber.text_template, spec.sms.text_template if spec.sms else None]
    if templates is not None:
        found += [("template", (templates / name).resolve()) for name in names if name]
        # ... and what they include: an edited footer changes every message as much as the text
        found += [("template", path.resolve()) for path in included_templates(campaign, templates)]
    policy = policy_file(campaign)
    if policy is not None:
        found.append(("policy", policy.resolve()))
    return found


def sha256_of(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def describe(role: str, path: Path, rows: int | None = None) -> InputFile:
    state = git.state_of(path) if path.exists() else None
    return InputFile(
        role=role,
        path=git.shown(path),
        sha256=sha256_of(path),
        rows=rows,
        commit=state.commit if state else None,
        dirty=state.dirty if state else None,
    )


def opt_outs(outputs: Path | None, url: str | None = None) -> tuple[int, str]:
    """How many phones are opted out now in the repository's recipient store, and a digest of them
    (docs/policy.md, "Replies"): a reply STOP after the plan makes it stale. No store: (0, "")."""
    store = read_store(outputs, url)
    if store is None:
        return 0, ""
    try:
        digest = hashlib.sha256()
        count = 0
        for out in store.opted_out_all():
            digest.update(f"{out.phone}\0{out.at.isoformat()}\n".encode())
            count += 1
    finally:
        store.close()
    return count, digest.hexdigest() if count else ""
