"""The Telesign page the project started from (a copy of ../shared/seed, so a clean clone has it),
and its request example: the shape every request must have."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SEED_PAGE = Path(__file__).resolve().parent / "data" / "viber-link-button.txt"


def seed_request() -> dict[str, Any]:
    """The request example's JSON body, keys in the page's order."""
    text = SEED_PAGE.read_text(encoding="utf-8")
    start = text.index("{", text.index("Request example"))
    example, _ = json.JSONDecoder().raw_decode(text[start:])
    assert isinstance(example, dict)
    return example
