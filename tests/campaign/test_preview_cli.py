"""`campaign preview`: a readable view per recipient, and --json printing exactly the bodies a
send would POST."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.campaign.helpers import CSV_AUDIENCE, TWO_RECIPIENTS, edit, expand, invoke, line_of, write

CAMPAIGN = "campaigns/t.toml"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readable_view_shows_viber_button_and_sms_per_recipient(in_tmp: Path) -> None:
    text = edit(TWO_RECIPIENTS, 'order_id = "45391"', 'order_id = "45391", greeting = "Привет"')
    text = edit(text, 'order_id = "45390"', 'order_id = "45390", greeting = "Hi"')
    text = edit(text, '[sms]\ntext = "', '[sms]\ntext = "{{ greeting }}! ')
    write(in_tmp, CAMPAIGN, text)

    result = invoke("preview", CAMPAIGN)

    assert result.exit_code == 0, result.output
    a_line, b_line = line_of(text, '{ id = "a"'), line_of(text, '{ id = "b"')
    assert result.stdout == (
        f"── a (+15558675309)  [{CAMPAIGN}:{a_line}]\n"
        "Viber:\n"
        "  Thanks for your purchase on viatushop.com! Track your order status here:\n"
        "  [ Track Order ] -> https://viatushop.com/orders?id=45390  (url_id urlid1)\n"
        "SMS fallback (GSM-7, 114 characters, 1 segment):\n"
        "  Hi! Thanks for your purchase on viatushop.com! Track your order status here: https://viatushop.com/orders?id=45390\n"
        "\n"
        f"── b (+15558675301)  [{CAMPAIGN}:{b_line}]\n"
        "Viber:\n"
        "  Thanks for your purchase on viatushop.com! Track your order status here:\n"
        "  [ Track Order ] -> https://viatushop.com/orders?id=45391  (url_id urlid1)\n"
        "SMS fallback (UCS-2, 118 characters, 2 segments):\n"
        "  Привет! Thanks for your purchase on viatushop.com! Track your order status here: https://viatushop.com/orders?id=45391\n"
        "\n"
    )


def test_json_prints_exactly_the_bodies_a_send_would_post_one_per_line(in_tmp: Path) -> None:
    write(in_tmp, CAMPAIGN, CSV_AUDIENCE)
    write(
        in_tmp,
        "campaigns/audiences/people.csv",
        "id,phone,order_id\nx-1,+1 555 867 5309,1\nx-2,+1 555 867 5309,2\nx-3,+1 555 867 5302,3\n",
    )

    result = invoke("preview", CAMPAIGN, "--json")

    assert result.exit_code == 0, result.output
    expected = [m.body for m in expand(Path(CAMPAIGN)).messages]  # the duplicate x-2 is not there
    assert len(expected) == 2
    assert result.stdout_bytes == b"".join(body + b"\n" for body in expected)


def test_limit_and_recipient_pick_what_is_shown(in_tmp: Path) -> None:
    write(in_tmp, CAMPAIGN, TWO_RECIPIENTS)
    bodies = [m.body.decode() for m in expand(Path(CAMPAIGN)).messages]

    assert invoke("preview", CAMPAIGN, "--json", "--limit", "1").stdout.splitlines() == bodies[:1]
    assert invoke("preview", CAMPAIGN, "--json", "--recipient", "b").stdout.splitlines() == bodies[1:]
    assert invoke("preview", CAMPAIGN, "--json", "--recipient", "+15558675309").stdout.splitlines() == bodies[:1]
    assert "── b (+15558675301)" in invoke("preview", CAMPAIGN, "--recipient", "b").stdout


def test_an_unknown_recipient_is_a_clear_error(in_tmp: Path) -> None:
    write(in_tmp, CAMPAIGN, TWO_RECIPIENTS)
    result = invoke("preview", CAMPAIGN, "--recipient", "zz")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"{CAMPAIGN}: no recipient with id or phone 'zz' among the messages\n"


def test_preview_of_an_invalid_campaign_prints_its_problems_at_their_lines(in_tmp: Path) -> None:
    text = edit(TWO_RECIPIENTS, "fallback_time = 600", "fallback_time = 6000")
    write(in_tmp, CAMPAIGN, text)
    result = invoke("preview", CAMPAIGN)
    assert result.exit_code == 1
    assert result.stderr == (
        f"{CAMPAIGN}:{line_of(text, 'fallback_time')}: "
        "`viber.fallback_time`: Input should be less than or equal to 3600\n"
    )


def test_preview_reports_bad_recipients_after_showing_the_good_ones(in_tmp: Path) -> None:
    text = edit(TWO_RECIPIENTS, '"+1 555 867 5301"', '"+1 555"')
    write(in_tmp, CAMPAIGN, text)
    result = invoke("preview", CAMPAIGN, "--json")
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    b_line = line_of(text, '{ id = "b"')
    assert result.stderr.startswith(f"{CAMPAIGN}:{b_line}: '+1 555'")


def test_preview_of_a_missing_file(in_tmp: Path) -> None:
    result = invoke("preview", "campaigns/nope.toml")
    assert result.exit_code == 1
    assert result.stderr == "campaigns/nope.toml: no such file\n"
