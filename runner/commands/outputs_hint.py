"""Where a campaign's outputs are, for the commands that read them (status, enrich): when the
folder asked for has no ledger but a sandbox rehearsal left one, say which `--outputs` to pass."""

from __future__ import annotations

from pathlib import Path

from runner.ledger.backend import ledger_exists
from runner.outputs import SANDBOX_FOLDER, campaign_folder


def sandbox_hint(outputs: Path, campaign_id: str, command: str, file: Path) -> str | None:
    """When outputs/<id>/ has no ledger but outputs/sandbox/<id>/ has: the command to run instead."""
    sandbox = outputs / SANDBOX_FOLDER
    if not ledger_exists(campaign_folder(sandbox, campaign_id), campaign_id):
        return None
    return (
        f"a sandbox rehearsal's outputs are in {campaign_folder(sandbox, campaign_id)}: "
        f"campaign {command} {file} --outputs {sandbox}"
    )
