"""The TOML mistakes people make in a campaign file, as `campaign check` reports them: the line,
tomllib's words, and what to do (tomllib's words alone name the parser's state, not the fix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.campaign.helpers import TWO_RECIPIENTS, edit, invoke, line_of, write


@pytest.mark.parametrize(
    ("old", "new", "needle", "said"),
    [
        (
            'url_text = "Track Order"',
            'url_text = "Track Order',
            "url_text =",
            "Illegal character '\\n'; a quoted text must end on its own line: close its quote",
        ),
        (
            'url_id = "urlid1"',
            'url_id = "urlid1"\nurl_id = "again"',
            'url_id = "again"',
            "Cannot overwrite a value; this key is already set above: keep one of the two",
        ),
        (
            "[vars]",
            '[vars]\ncity = "x"\n[vars]  # again',
            "[vars]  # again",
            "this [table] is already declared above: merge the two into one",
        ),
        (
            "fallback_time = 600",
            "fallback_time = soon",
            "fallback_time",
            'quote text with straight double quotes ("...")',
        ),
        ("fallback_time = 600", "fallback_time 600", "fallback_time", "write `key = value`"),
    ],
    ids=["quote left open", "key given twice", "table given twice", "bare word", "no equals sign"],
)
def test_a_toml_mistake_says_what_to_do_at_its_line(tmp_path: Path, old: str, new: str, needle: str, said: str) -> None:
    text = edit(TWO_RECIPIENTS, old, new)
    path = write(tmp_path, "c.toml", text)
    result = invoke("check", str(path), "--outputs", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert f"{path}:{line_of(text, needle)}: TOML syntax: " in result.stderr and said in result.stderr, result.stderr


@pytest.mark.parametrize("value", ["2026-11-28", '"2026-11-28T09:00:00+01:00"', "20261128"])
def test_a_schedule_time_that_is_not_a_toml_time_says_how_to_write_one(tmp_path: Path, value: str) -> None:
    # (before: pydantic's "Input should be a valid datetime", which a date alone or quotes also meet)
    text = edit(TWO_RECIPIENTS, "[vars]", f"[schedule]\nstart = {value}\n\n[vars]")
    path = write(tmp_path, "c.toml", text)
    result = invoke("check", str(path), "--outputs", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert (
        f"{path}:{line_of(text, 'start =')}: `schedule.start`: write a date and time with its UTC offset, "
        "without quotes, e.g. 2026-11-28T09:00:00+01:00"
    ) in result.stderr
