"""The outputs folder's layout: each campaign's files (ledger, lock, report) in
<outputs>/<campaign-id>/, a sandbox rehearsal's in <outputs>/sandbox/<campaign-id>/ (runner.sandbox).

Its own module so that the commands that only read a campaign's outputs (enrich, status) find them
without importing the sender."""

from __future__ import annotations

from pathlib import Path

SANDBOX_FOLDER = "sandbox"  # a rehearsal's outputs: <outputs>/sandbox/<campaign-id>/ (runner.sandbox)


def campaign_folder(outputs: Path, campaign_id: str) -> Path:
    return outputs / campaign_id
