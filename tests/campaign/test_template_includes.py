"""A template that calls itself, or includes a file that is not under templates/: one line saying
so, at the field's line (before: Python's "RecursionError: maximum recursion depth exceeded", and
for a name with '..' the bare name, "template: ../../etc/passwd")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testing.cli import invoke
from tests.testing.files import shipped_campaigns

TEMPLATE = Path("templates/winter_sale/viber.txt.j2")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
            "over a render bound: the template calls itself (a macro or an include) without end",
        ),
        (
            '{% include "winter_sale/viber.txt.j2" %}',
            "over a render bound: the template calls itself (a macro or an include) without end",
        ),
        (
            '{% include "../../../etc/passwd" %}',
            "template '../../../etc/passwd' not found; include, import or extend only files under templates/",
        ),
        ('{% extends "/etc/passwd" %}', "template '/etc/passwd' not found"),
    ],
    ids=["recursive macro", "includes itself", "dot-dot include", "absolute extends"],
)
def test_a_template_that_recurses_or_reaches_outside_is_one_clear_line(
    text: str, said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shipped_campaigns(tmp_path))
    TEMPLATE.write_text(text + "\n", encoding="utf-8")
    result = invoke("check", "campaigns/winter-sale.toml")
    assert result.exit_code == 1
    assert f"campaigns/winter-sale.toml:26: `viber.text` (all 18 recipients): {said}" in result.stderr, result.stderr
    assert "Error:" not in result.stderr
