"""A phone column with letters in it: phonenumbers reads three or more letters as keypad digits
("07911 123 ABC" is +447911123222) and drops words around a number, so such a row would message
someone else's phone. It is a bad row at its line, never a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testing.cli import invoke
from tests.testing.files import shipped_campaigns

CAMPAIGN = Path("campaigns/winter-sale.toml")
AUDIENCE = Path("campaigns/audiences/winter-sale.csv")
SAID = "has letters in it: write the number in digits only"


def add_row(phone: str) -> int:
    """Append a recipient with this phone to the shipped audience; its line."""
    with AUDIENCE.open("a", encoding="utf-8") as audience:
        audience.write(f"w-099,{phone},Zoe,A-99999,York\n")
    return len(AUDIENCE.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("phone", ["07911 123 ABC", "07911 123410 ext 5", "call 07911 123410"])
def test_a_phone_with_letters_is_a_bad_row_at_its_line(
    phone: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shipped_campaigns(tmp_path))
    CAMPAIGN.write_text(
        CAMPAIGN.read_text(encoding="utf-8").replace('on_invalid = "skip"', 'on_invalid = "fail"'), encoding="utf-8"
    )
    line = add_row(phone)
    result = invoke("check", str(CAMPAIGN))
    assert result.exit_code == 1, result.output
    assert f"{AUDIENCE}:{line}: '{phone}' {SAID}" in result.stderr


def test_a_skipped_phone_with_letters_is_never_messaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(shipped_campaigns(tmp_path))
    line = add_row("07911 123 ABC")
    checked = invoke("check", str(CAMPAIGN))
    assert f"{AUDIENCE}:{line}: skipped" in checked.stderr and SAID in checked.stderr
    result = invoke("send", "--dry-run", str(CAMPAIGN))
    assert result.exit_code == 0, result.output
    assert "1 skipped" in result.output
    bodies = (tmp_path / "outputs" / "winter-sale-2026" / "dry-run.jsonl").read_text(encoding="utf-8")
    assert "447911123222" not in bodies and "A-99999" not in bodies
