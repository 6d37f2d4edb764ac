"""`campaign check` as a marketer runs it: every error of issue 2 printed as `path:line: message`
at the exact line, nothing else (no traceback), exit code 1; valid files get one summary line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.campaign.helpers import CSV_AUDIENCE, TWO_RECIPIENTS, edit, expand, invoke, line_of, write
from tests.testing.files import shipped_campaigns

CAMPAIGN = "campaigns/t.toml"
PEOPLE = "campaigns/audiences/people.csv"
A = '{ id = "a"'  # recipient a's line in TWO_RECIPIENTS
B = '{ id = "b"'


@dataclass
class Case:
    campaign: str
    expected: list[tuple[str, str | bytes, str]]  # (file, text on the offending line, message part)
    files: dict[str, str | bytes] = field(default_factory=dict)


def viber(key: str, value: str) -> str:
    """TWO_RECIPIENTS with one [viber] line replaced."""
    old = {
        "text": 'text = "Thanks for your purchase on {{ shop }}! Track your order status here:"',
        "url": 'url = "https://{{ shop }}/orders?id={{ order_id }}"',
        "url_text": 'url_text = "Track Order"',
        "url_id": 'url_id = "urlid1"',
    }[key]
    return edit(TWO_RECIPIENTS, old, value)


def with_column(name: str, a: str, b: str, campaign: str = TWO_RECIPIENTS) -> str:
    """Give recipients a and b one more inline column."""
    campaign = edit(campaign, 'order_id = "45390" }', f'order_id = "45390", {name} = "{a}" }}')
    return edit(campaign, 'order_id = "45391" }', f'order_id = "45391", {name} = "{b}" }}')


CSV_HEADER = b"id,phone,order_id\n"

CASES: dict[str, Case] = {
    "toml syntax at its own line": Case(
        viber("url_text", 'url_text = "Track Order'), [(CAMPAIGN, 'url_text = "Track Order', "TOML syntax")]
    ),
    "unknown key says did you mean": Case(
        viber("url_id", 'url_id = "urlid1"\nfalback_time = 60'),
        [(CAMPAIGN, "falback_time", "unknown key `viber.falback_time`; did you mean `fallback_time`?")],
    ),
    "wrong type": Case(
        edit(TWO_RECIPIENTS, "fallback_time = 600", 'fallback_time = "ten minutes"'),
        [(CAMPAIGN, "fallback_time", "`viber.fallback_time`: Input should be a valid integer")],
    ),
    "fallback_time under 30": Case(
        edit(TWO_RECIPIENTS, "fallback_time = 600", "fallback_time = 29"),
        [(CAMPAIGN, "fallback_time", "greater than or equal to 30")],
    ),
    "fallback_time over 3600": Case(
        edit(TWO_RECIPIENTS, "fallback_time = 600", "fallback_time = 3601"),
        [(CAMPAIGN, "fallback_time", "less than or equal to 3600")],
    ),
    "an inline recipient's bad phone at its line": Case(
        edit(TWO_RECIPIENTS, '"+1 555 867 5301"', '"12"'), [(CAMPAIGN, B, "'12' is not a possible number")]
    ),
    "a CSV row at the CSV's path:line": Case(
        CSV_AUDIENCE,
        [(PEOPLE, b"x-bad", "'867 53' is not a possible number")],
        {PEOPLE: CSV_HEADER + b"x-1,+1 555 867 5309,1\n\nx-2,+1 555 867 5301,2\nx-bad,867 53,3\n"},
    ),
    "missing phone column": Case(
        CSV_AUDIENCE,
        [
            (PEOPLE, b"id,tel", "no `phone` column in the header (found: id, tel, order_id)"),
            (CAMPAIGN, "file =", "needs a `phone` column"),
        ],
        {PEOPLE: b"id,tel,order_id\nx-1,+1 555 867 5309,1\n"},
    ),
    "CSV column clashes with a var": Case(
        CSV_AUDIENCE,
        [(PEOPLE, b"shop", "column `shop` has the same name as a [vars] entry")],
        {PEOPLE: b"id,phone,order_id,shop\nx-1,+1 555 867 5309,1,elsewhere.com\n"},
    ),
    "inline column clashes with a var": Case(
        with_column("shop", "a.com", "b.com"), [(CAMPAIGN, A, "column `shop` has the same name as a [vars] entry")]
    ),
    "template path escaping templates/": Case(
        viber("text", 'text_template = "../campaigns/t.toml"'),
        [(CAMPAIGN, "text_template", "is outside")],
        {"templates/ok.txt.j2": "fine"},
    ),
    "missing variable at the recipient's row": Case(
        edit(TWO_RECIPIENTS, 'order_id = "45391"', 'order = "45391"'),
        [(CAMPAIGN, B, "'order_id' is undefined")],
    ),
    # A cause every recipient shares is the campaign file's: once, at the key (issue 9, item 7).
    "relative url": Case(
        viber("url", 'url = "/orders?id={{ order_id }}"'),
        [(CAMPAIGN, "url = ", "`viber.url` (all 2 recipients): url is not an absolute http(s) URL with a host")],
    ),
    "static relative url": Case(
        viber("url", 'url = "/orders"'),
        [(CAMPAIGN, "url = ", "`viber.url` (all 2 recipients): url '/orders' must be an absolute http(s) URL")],
    ),
    "url with whitespace": Case(
        viber("url", 'url = "https://{{ shop }}/my orders?id={{ order_id }}"'),
        [(CAMPAIGN, "url = ", "`viber.url` (all 2 recipients): url is empty or contains whitespace")],
    ),
    "url with whitespace from a column": Case(
        with_column("path", "orders", "my orders", viber("url", 'url = "https://{{ shop }}/{{ path }}"')),
        [(CAMPAIGN, B, "contains whitespace")],
    ),
    "body over 10 KB": Case(
        with_column("note", "short", "x" * 11_000, viber("text", 'text = "{{ note }}"')),
        [(CAMPAIGN, B, "over Telesign's 10 KB limit")],
    ),
    "max_segments exceeded": Case(
        edit(with_column("note", "ok", "y" * 100), '[sms]\ntext = "', '[sms]\nmax_segments = 1\ntext = "{{ note }} '),
        [(CAMPAIGN, B, "the SMS is 2 GSM-7 segments (211 characters), over [sms] max_segments = 1")],
    ),
}

for host in ("line.me", "signal.me", "t.me", "www.telegram.me"):
    CASES[f"url to {host}"] = Case(
        viber("url", f'url = "https://{host}/x/{{{{ order_id }}}}"'),
        [(CAMPAIGN, "url = ", "`viber.url` (all 2 recipients): url links to Line, Signal or Telegram")],
    )
    CASES[f"static url to {host}"] = Case(
        viber("url", f'url = "https://{host}/shop"'),
        [(CAMPAIGN, "url = ", f"`viber.url` (all 2 recipients): url 'https://{host}/shop' links to Line, Signal")],
    )

for key in ("text", "url_text", "url_id"):
    CASES[f"empty {key}"] = Case(
        with_column("label", "something", " ", viber(key, f'{key} = "{{{{ label }}}}"')),
        [(CAMPAIGN, B, f"`viber.{key}` renders empty for this recipient")],
    )
CASES["empty sms text"] = Case(
    with_column(
        "label",
        "something",
        "",
        edit(
            TWO_RECIPIENTS,
            '[sms]\ntext = "Thanks for your purchase on {{ shop }}! Track your order status here: '
            'https://{{ shop }}/orders?id={{ order_id }}"',
            '[sms]\ntext = "{{ label }}"',
        ),
    ),
    [(CAMPAIGN, B, "`sms.text` renders empty for this recipient")],
)


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_each_error_is_printed_at_its_path_and_line_and_nothing_else(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, CAMPAIGN, case.campaign)
    for name, content in case.files.items():
        write(tmp_path, name, content)

    result = invoke("check", CAMPAIGN)

    assert result.exit_code == 1
    assert result.stdout == ""
    printed = result.stderr.splitlines()
    assert printed[-1] == "1 of 1 campaign file(s) have problems; nothing can be sent from them"
    assert len(printed) == len(case.expected) + 1, printed
    for line, (name, needle, message) in zip(printed, case.expected, strict=False):
        content = case.campaign if name == CAMPAIGN else case.files[name]
        assert line.startswith(f"{name}:{line_of(content, needle)}: "), line
        assert message in line


def test_every_problem_of_a_file_is_listed_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = edit(TWO_RECIPIENTS, "phone_check =", "phone_chek =")
    text = edit(text, 'url_id = "urlid1"\n', "")
    text = edit(text, "fallback_time = 600", "fallback_time = 5")
    write(tmp_path, CAMPAIGN, text)

    result = invoke("check", CAMPAIGN)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[:-1] == [
        f"{CAMPAIGN}:{line_of(text, 'phone_chek')}: unknown key `audience.phone_chek`; did you mean `phone_check`?",
        f"{CAMPAIGN}:{line_of(text, '[viber]')}: missing required key `viber.url_id`",
        f"{CAMPAIGN}:{line_of(text, 'fallback_time')}: "
        "`viber.fallback_time`: Input should be greater than or equal to 30",
    ]


def test_every_bad_recipient_is_listed_not_only_the_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rows = b"".join(b"x-%d,+1 555 867 %04d,%d\n" % (n, n, n) for n in range(1, 6))
    csv = b"id,phone,order_id\n" + rows.replace(b"+1 555 867 0002", b"nope").replace(b"+1 555 867 0004", b"")
    write(tmp_path, CAMPAIGN, CSV_AUDIENCE)
    write(tmp_path, PEOPLE, csv)

    result = invoke("check", CAMPAIGN)

    assert result.exit_code == 1
    printed = result.stderr.splitlines()
    assert [line.split(": ", 1)[0] for line in printed[:-1]] == [f"{PEOPLE}:3", f"{PEOPLE}:5"]
    assert "'nope': not a phone number" in printed[0]
    assert "empty phone number" in printed[1]


def test_a_valid_campaign_gets_one_summary_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = edit(
        TWO_RECIPIENTS, '  { id = "b"', '  { id = "c", phone = "+1 (555) 867-5309", order_id = "1" },\n  { id = "b"'
    )
    write(tmp_path, CAMPAIGN, text)

    result = invoke("check", CAMPAIGN)

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout == (
        f"{CAMPAIGN}: ok: 3 recipients, 2 messages, 0 suppressed, 1 duplicate, 0 skipped, SMS GSM-7, up to 1 segment\n"
        # a marketing campaign says its send window and whose local time is unknown (docs/policy.md)
        "  window: 08:00-21:00 local, every day (the default for MKT)\n"
        "  2 recipient(s) with no known time zone and no fallback: they will be suppressed;"
        " add a `timezone` column or set [schedule] timezone\n"
    )


def test_check_without_arguments_searches_campaigns_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "campaigns/a.toml", TWO_RECIPIENTS)
    write(tmp_path, "campaigns/nested/b.toml", edit(TWO_RECIPIENTS, 'id = "t-1"', 'id = "t-2"'))
    write(tmp_path, "campaigns/audiences/not-a-campaign.csv", "phone\n")

    result = invoke("check")

    assert result.exit_code == 0, result.output
    assert [line.split(": ok:")[0] for line in result.stdout.splitlines() if not line.startswith("  ")] == [
        "campaigns/a.toml",
        "campaigns/nested/b.toml",
    ]


def test_one_bad_file_fails_the_check_but_the_good_one_is_still_summarised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "campaigns/good.toml", TWO_RECIPIENTS)
    write(tmp_path, "campaigns/bad.toml", edit(TWO_RECIPIENTS, 'id = "t-1"', 'id = "T 1"'))

    result = invoke("check", "campaigns")

    assert result.exit_code == 1
    assert result.stdout.startswith("campaigns/good.toml: ok: 2 recipients, 2 messages")
    assert result.stderr.splitlines() == [
        "campaigns/bad.toml:1: `id`: 'T 1' is not a campaign id: use 1-64 lower-case letters, digits, '.', '_' or '-',"
        ' starting with a letter or digit (e.g. "order-tracking-2026-11")',
        "1 of 2 campaign file(s) have problems; nothing can be sent from them",
    ]


def test_a_path_that_does_not_exist_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("check", "campaigns/missing.toml")
    assert result.exit_code == 1
    assert result.stderr == "campaigns/missing.toml: no such file or folder\n"


def test_a_folder_without_campaign_files_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "campaigns").mkdir()
    result = invoke("check")
    assert result.exit_code == 1
    assert "no campaign files (*.toml) under campaigns" in result.stderr


def test_skipped_rows_do_not_fail_the_check_and_are_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = edit(CSV_AUDIENCE, 'phone_check = "possible"', 'phone_check = "possible"\non_invalid = "skip"')
    write(tmp_path, CAMPAIGN, text)
    write(tmp_path, PEOPLE, b"id,phone,order_id\nx-1,+1 555 867 5309,1\nx-2,12,2\nx-3,+1 555 867 5301,3\n")

    result = invoke("check", CAMPAIGN)

    assert result.exit_code == 0, result.output
    assert "3 recipients, 2 messages, 0 suppressed, 0 duplicates, 1 skipped" in result.stdout
    expanded = expand(Path(CAMPAIGN))
    assert [m.recipient.recipient_id for m in expanded.messages] == ["x-1", "x-3"]


def test_check_lists_the_rows_it_would_skip(tmp_path: Path) -> None:
    root = tmp_path
    write(root, "campaigns/audiences/a.csv", "id,phone,order_id\na,+1 555 867 5300,1\nb,not a phone,2\n")
    text = (
        'id = "skipper"\n[audience]\nfile = "audiences/a.csv"\nphone_check = "possible"\non_invalid = "skip"\n'
        '[viber]\ntext = "Order {{ order_id }}"\nurl = "https://shop.example/o/{{ order_id }}"\n'
        'url_text = "Open"\nurl_id = "o"\n'
    )
    path = write(root, "campaigns/s.toml", text)
    result = invoke("check", str(path))
    assert result.exit_code == 0
    assert "a.csv:3: skipped" in result.output and "not a phone" in result.output
    assert "1 skipped" in result.output


@pytest.mark.parametrize(
    ("line", "value"),
    [("fallback_time = 600", 'fallback_time = "600"'), ("rate = ", None)],
    ids=["string for a number", "number where text is"],
)
def test_types_are_strict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, value: str | None) -> None:
    # Issue 9, item 9: `fallback_time = "600"` was accepted as 600.
    monkeypatch.chdir(tmp_path)
    text = edit(TWO_RECIPIENTS, line, value) if value else edit(TWO_RECIPIENTS, 'url_id = "urlid1"', "url_id = 1")
    write(tmp_path, CAMPAIGN, text)
    result = invoke("check", CAMPAIGN)
    assert result.exit_code == 1
    needle = value or "url_id = 1"
    key = "viber.fallback_time" if value else "viber.url_id"
    assert result.stderr.splitlines()[0].startswith(f"{CAMPAIGN}:{line_of(text, needle)}: `{key}`: Input should be")


def test_an_audience_of_a_header_alone_does_not_say_the_campaign_has_no_sms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (a header-only CSV, or every row skipped, used to read "..., no SMS fallback" beside an [sms])
    monkeypatch.chdir(shipped_campaigns(tmp_path))
    Path("campaigns/audiences/winter-sale.csv").write_text("id,phone,first_name,customer_ref,city\n", encoding="utf-8")
    result = invoke("check", "campaigns/winter-sale.toml")
    assert result.exit_code == 0, result.output
    summary = next(line for line in result.stdout.splitlines() if line.startswith("campaigns/winter-sale.toml: ok"))
    assert summary.endswith("0 messages, 0 suppressed, 0 duplicates, 0 skipped"), summary
