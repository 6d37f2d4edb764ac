"""Building campaign folders in tmp_path, the way a marketer lays them out, and reading back
what the runner makes of them.

    root/campaigns/<name>.toml       campaign files
    root/campaigns/audiences/*.csv   audiences and suppression lists
    root/templates/                  template files (found walking up from campaigns/)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.campaign.audience import Skipped
from runner.campaign.expansion import Expansion, Message, Summary
from runner.campaign.schema import load
from runner.errors import InvalidInput
from tests.seed import seed_request
from tests.testing.cli import invoke as invoke

# The seed page's request example (../shared/seed/viber-link-button.txt), as printed there.
SEED_BODY_JSON = json.dumps(seed_request())  # the seed page's request example


# The seed's message, as the tables that end a campaign file.
MESSAGE_TABLES = """\
[vars]
shop = "viatushop.com"

[viber]
text = "Thanks for your purchase on {{ shop }}! Track your order status here:"
url = "https://{{ shop }}/orders?id={{ order_id }}"
url_text = "Track Order"
url_id = "urlid1"
fallback_time = 600

[sms]
text = "Thanks for your purchase on {{ shop }}! Track your order status here: https://{{ shop }}/orders?id={{ order_id }}"
"""  # noqa: E501

# A campaign file reproducing the seed's example: one recipient, the documentation's test number.
SEED_CAMPAIGN = """\
id = "seed-example"
name = "The seed's order tracking example"
message_type = "MKT"

[audience]
default_region = "US"
phone_check = "possible"
recipients = [
  { phone = "1 555 867 5309", order_id = "45390" },
]

""" + MESSAGE_TABLES.replace("[viber]\n", '[viber]\ntemplate = "url_action"\n')

# Two inline recipients; the base most error tests edit one line of.
TWO_RECIPIENTS = (
    """\
id = "t-1"
message_type = "MKT"

[audience]
default_region = "US"
phone_check = "possible"
recipients = [
  { id = "a", phone = "+1 555 867 5309", order_id = "45390" },
  { id = "b", phone = "+1 555 867 5301", order_id = "45391" },
]

"""
    + MESSAGE_TABLES
)

# The same campaign with its audience in campaigns/audiences/people.csv.
CSV_AUDIENCE = TWO_RECIPIENTS.replace(
    """recipients = [
  { id = "a", phone = "+1 555 867 5309", order_id = "45390" },
  { id = "b", phone = "+1 555 867 5301", order_id = "45391" },
]""",
    'file = "audiences/people.csv"',
)


def edit(text: str, old: str, new: str) -> str:
    """`text` with its one occurrence of `old` replaced (a test that edits nothing proves nothing)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str | bytes, needle: str | bytes) -> int:
    """The 1-based line of the one line containing `needle`."""
    if isinstance(text, str):
        assert isinstance(needle, str)
        lines = [n for n, line in enumerate(text.split("\n"), start=1) if needle in line]
    else:
        assert isinstance(needle, bytes)
        lines = [n for n, line in enumerate(text.split(b"\n"), start=1) if needle in line]
    assert len(lines) == 1, f"{needle!r} is on lines {lines}"
    return lines[0]


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@dataclass
class Expanded:
    messages: list[Message]
    skipped: list[Skipped]
    summary: Summary

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in self.messages]

    def problems(self) -> list[str]:
        return [str(p) for p in self.summary.problems]


def expand(path: Path) -> Expanded:
    """Load and expand a campaign as `check` does (`preview` and `send` raise a template problem
    before the first row instead of counting the recipients it affects)."""
    expansion = Expansion(load(path), count_affected=True)
    messages: list[Message] = []
    skipped: list[Skipped] = []
    for item in expansion:
        if isinstance(item, Skipped):
            skipped.append(item)
        else:
            messages.append(item)
    return Expanded(messages, skipped, expansion.summary)


def problems(path: Path) -> list[str]:
    """Every problem `campaign check` would report for this file, as `path:line: message`."""
    try:
        return expand(path).problems()
    except InvalidInput as error:
        return error.lines()
