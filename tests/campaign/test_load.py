"""Loading a campaign file: every problem at once, each as `path:line: message` at the line of the
offending key, and the defaults docs/campaign-file.md promises when a key is left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.campaign.schema import find_files, load
from runner.errors import InvalidInput
from tests.campaign.helpers import TWO_RECIPIENTS, edit, line_of, write


def load_problems(path: Path) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        load(path)
    return caught.value.lines()


def test_a_valid_file_loads_with_the_documented_defaults(tmp_path: Path) -> None:
    text = edit(TWO_RECIPIENTS, 'message_type = "MKT"\n', "")
    text = edit(text, "fallback_time = 600\n", "")
    campaign = load(write(tmp_path, "c.toml", text))

    spec = campaign.spec
    assert campaign.id == "t-1"
    assert spec.message_type == "MKT"
    assert spec.viber.template == "url_action"
    assert spec.viber.fallback_time == 300  # Telesign's default
    assert (spec.sending.rate, spec.sending.concurrency, spec.sending.max_attempts) == (10, 8, 5)
    assert spec.audience.phone_check == "possible" and spec.audience.on_invalid == "fail"
    assert spec.sms is not None and spec.sms.max_segments is None


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            'url_text = "Track Order"',
            'url_text = "Track Order',
            'url_text = "Track Order',
            "TOML syntax: Illegal character '\\n'",
        ),
        (
            'url_id = "urlid1"',
            'url_id = "urlid1"\nurl_id = "again"',
            'url_id = "again"',
            "TOML syntax: Cannot overwrite a value",
        ),
        ("fallback_time = 600", "fallback_time = soon", "fallback_time", "TOML syntax: Invalid value"),
        ("[vars]", "[vars", "[vars", "TOML syntax:"),
    ],
    ids=["unterminated string", "key given twice", "bare word value", "unclosed table header"],
)
def test_toml_syntax_errors_are_reported_at_their_own_line(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    text = edit(TWO_RECIPIENTS, old, new)
    path = write(tmp_path, "c.toml", text)
    [problem] = load_problems(path)
    assert problem.startswith(f"{path}:{line_of(text, needle)}: {message}")


def test_a_file_that_is_not_utf8_names_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    raw = edit(TWO_RECIPIENTS, "[vars]", '[vars]\ncity = "Zürich"').encode("utf-8").replace("ü".encode(), b"\xfc")
    path = write(tmp_path, "c.toml", raw)
    assert load_problems(path) == [f"{path}:{line_of(raw, b'city =')}: not UTF-8 text; save the file as UTF-8"]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "c.toml", "\ufeff".encode() + TWO_RECIPIENTS.encode())
    assert load(path).id == "t-1"


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            'message_type = "MKT"',
            'message_type = "MKT"\nnmae = "x"',
            "nmae",
            "unknown key `nmae`; did you mean `name`?",
        ),
        ("[viber]", "[viberr]", "[viberr]", "unknown key `viberr`; did you mean `viber`?"),
        (
            "phone_check =",
            "phone_chek =",
            "phone_chek",
            "unknown key `audience.phone_chek`; did you mean `phone_check`?",
        ),
        (
            "[sms]\n",
            "[sms]\nmax_segment = 2\n",
            "max_segment ",
            "unknown key `sms.max_segment`; did you mean `max_segments`?",
        ),
        (
            'message_type = "MKT"',
            'message_type = "MKT"\ncolour = "blue"',
            "colour",
            "unknown key `colour`; known keys: id, name, message_type, schedule, sending, audience, vars, viber, sms",
        ),
    ],
    ids=["top level", "table", "in a table", "in [sms]", "nothing close"],
)
def test_an_unknown_key_is_reported_at_its_line_with_a_suggestion(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    text = edit(TWO_RECIPIENTS, old, new)
    path = write(tmp_path, "c.toml", text)
    assert f"{path}:{line_of(text, needle)}: {message}" in load_problems(path)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            'message_type = "MKT"',
            'message_type = "SMS"',
            "message_type",
            "`message_type`: Input should be 'MKT', 'ARN' or 'OTP'",
        ),
        ('id = "t-1"', 'id = "Order Tracking"', 'id = "Order', "`id`: 'Order Tracking' is not a campaign id"),
        (
            "fallback_time = 600",
            'fallback_time = "600s"',
            "fallback_time",
            "`viber.fallback_time`: Input should be a valid integer",
        ),
        (
            'phone_check = "possible"',
            'phone_check = "lenient"',
            "phone_check",
            "`audience.phone_check`: Input should be 'valid' or 'possible'",
        ),
        (
            'phone_check = "possible"',
            'phone_check = "possible"\non_invalid = "ignore"',
            "on_invalid",
            "`audience.on_invalid`: Input should be 'fail' or 'skip'",
        ),
        (
            "[sms]\n",
            "[sms]\nmax_segments = 0\n",
            "max_segments",
            "`sms.max_segments`: Input should be greater than or equal to 1",
        ),
        ("[vars]", "[sending]\nrate = 0\n\n[vars]", "rate = 0", "`sending.rate`: Input should be greater than 0"),
        ('shop = "viatushop.com"', 'shop = ["a", "b"]', "shop =", "`vars.shop`: must be text, a number or true/false"),
        (
            'order_id = "45391"',
            "order_id = { n = 1 }",
            '{ id = "b"',
            "`audience.recipients.1.order_id`: must be text, a number or true/false",
        ),
    ],
    ids=[
        "message_type",
        "campaign id",
        "integer as text",
        "phone_check",
        "on_invalid",
        "max_segments",
        "rate",
        "var list",
        "recipient value",
    ],
)
def test_a_wrong_value_is_reported_at_its_key(tmp_path: Path, old: str, new: str, needle: str, message: str) -> None:
    text = edit(TWO_RECIPIENTS, old, new)
    path = write(tmp_path, "c.toml", text)
    [problem] = load_problems(path)
    assert problem.startswith(f"{path}:{line_of(text, needle)}: {message}")


def test_a_missing_key_is_reported_at_its_table(tmp_path: Path) -> None:
    text = edit(TWO_RECIPIENTS, 'url_id = "urlid1"\n', "")
    path = write(tmp_path, "c.toml", text)
    assert load_problems(path) == [f"{path}:{line_of(text, '[viber]')}: missing required key `viber.url_id`"]


def test_missing_tables_and_wrong_keys_are_all_listed_in_line_order(tmp_path: Path) -> None:
    text = edit(TWO_RECIPIENTS, "[viber]", "[viberr]")
    text = edit(text, 'message_type = "MKT"', 'message_type = "mkt"')
    path = write(tmp_path, "c.toml", text)
    assert load_problems(path) == [
        f"{path}: missing required key `viber`",
        f"{path}:{line_of(text, 'message_type')}: `message_type`: Input should be 'MKT', 'ARN' or 'OTP'",
        f"{path}:{line_of(text, '[viberr]')}: unknown key `viberr`; did you mean `viber`?",
    ]


def test_an_empty_file_names_every_required_key(tmp_path: Path) -> None:
    path = write(tmp_path, "c.toml", "")
    assert load_problems(path) == [
        f"{path}: missing required key `audience`",
        f"{path}: missing required key `id`",
        f"{path}: missing required key `viber`",
    ]


def test_each_inline_recipient_is_located_at_its_own_line(tmp_path: Path) -> None:
    text = edit(
        TWO_RECIPIENTS,
        '  { id = "a", phone = "+1 555 867 5309", order_id = "45390" },',
        '  "+1 555 867 5309",\n  { id = "a", phone = "+1 555 867 5309", order_id = [45390] },',
    )
    path = write(tmp_path, "c.toml", text)
    string_line, table_line = line_of(text, '  "+1 555 867 5309",'), line_of(text, '{ id = "a"')
    assert load_problems(path) == [
        f"{path}:{string_line}: `audience.recipients.0`: Input should be a valid dictionary",
        f"{path}:{table_line}: `audience.recipients.1.order_id`: must be text, a number or true/false",
    ]


def test_lines_inside_multiline_strings_and_quoted_or_dotted_keys_do_not_mislead(tmp_path: Path) -> None:
    text = edit(
        TWO_RECIPIENTS,
        'message_type = "MKT"',
        'message_type = "MKT"\nsending.rate = -1\nname = """\nfallback_time = 1\n[viber]\nurl_id = 2\n"""',
    )
    quoted_key = '"fallback_time" = 5'
    text = edit(text, "fallback_time = 600", quoted_key)
    path = write(tmp_path, "c.toml", text)
    assert load_problems(path) == [
        f"{path}:{line_of(text, 'sending.rate')}: `sending.rate`: Input should be greater than 0",
        f"{path}:{line_of(text, quoted_key)}: `viber.fallback_time`: Input should be greater than or equal to 30",
    ]


@pytest.mark.parametrize(
    ("schedule", "needle", "message"),
    [
        ("start = 2026-11-28T09:00:00\n", "start", "`schedule.start`: give the time with its UTC offset"),
        (
            "start = 2026-11-28T09:00:00+01:00\nend = 2026-11-28T08:00:00+01:00\n",
            "[schedule]",
            "`schedule`: end must be after start",
        ),
    ],
    ids=["no offset", "end before start"],
)
def test_schedule_problems(tmp_path: Path, schedule: str, needle: str, message: str) -> None:
    text = edit(TWO_RECIPIENTS, "[audience]", f"[schedule]\n{schedule}\n[audience]")
    path = write(tmp_path, "c.toml", text)
    [problem] = load_problems(path)
    assert problem.startswith(f"{path}:{line_of(text, needle)}: {message}")


def test_viber_needs_exactly_one_of_text_and_text_template(tmp_path: Path) -> None:
    text = edit(TWO_RECIPIENTS, 'url_id = "urlid1"', 'url_id = "urlid1"\ntext_template = "x.txt.j2"')
    path = write(tmp_path, "c.toml", text)
    assert load_problems(path) == [
        f"{path}:{line_of(text, '[viber]')}: `viber`: "
        "give exactly one of `text` (inline) or `text_template` (a file under templates/)"
    ]


def test_an_audience_needs_a_file_or_recipients(tmp_path: Path) -> None:
    start = TWO_RECIPIENTS.index("recipients = [")
    text = TWO_RECIPIENTS[:start] + TWO_RECIPIENTS[TWO_RECIPIENTS.index("[vars]") :]
    path = write(tmp_path, "c.toml", text)
    [problem] = load_problems(path)
    assert problem.startswith(f"{path}:{line_of(text, '[audience]')}: `audience`: name an audience")


def test_a_missing_campaign_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    assert load_problems(tmp_path / "nope.toml") == [f"{tmp_path / 'nope.toml'}: no such file"]


def test_find_files_lists_named_files_and_toml_under_folders_in_a_stable_order(tmp_path: Path) -> None:
    b = write(tmp_path, "campaigns/b.toml", "")
    a = write(tmp_path, "campaigns/sub/a.toml", "")
    write(tmp_path, "campaigns/audiences/x.csv", "")
    single = write(tmp_path, "elsewhere.toml", "")
    assert find_files([tmp_path / "campaigns", single]) == [b, a, single]
    with pytest.raises(InvalidInput):
        find_files([tmp_path / "missing"])
