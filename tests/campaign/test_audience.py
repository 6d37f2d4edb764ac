"""Audiences: inline recipients and CSV files read as a stream, numbers in E.164, duplicates,
suppression lists and bad rows, each bad row named by its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.campaign.audience import AudienceReader, Recipient
from runner.campaign.schema import load
from runner.errors import InvalidInput
from tests.campaign.helpers import CSV_AUDIENCE, TWO_RECIPIENTS, edit, expand, line_of, write

PEOPLE = "campaigns/audiences/people.csv"


def campaign_with_csv(root: Path, csv: bytes, campaign: str = CSV_AUDIENCE) -> tuple[Path, str]:
    """Write the campaign and its audience; return the campaign path and the CSV as errors name it."""
    path = write(root, "campaigns/t.toml", campaign)
    csv_path = write(root, PEOPLE, csv)
    return path, str(csv_path.resolve())


def file_problems(path: Path) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        expand(path)
    return caught.value.lines()


def test_rows_become_recipients_in_e164_with_their_columns_as_variables(tmp_path: Path) -> None:
    path, _ = campaign_with_csv(
        tmp_path, b"id,phone,order_id,city\nx-1,+1 (555) 867-5309,45390,Austin\n,555 867 5301,2,Reno\n"
    )
    expanded = expand(path)
    first, second = (m.recipient for m in expanded.messages)
    assert (first.key, first.recipient_id, first.phone) == ("x-1", "x-1", "+15558675309")
    # `phone` in E.164 and `id` are variables too (issue 9, item 11)
    assert first.variables == {"order_id": "45390", "city": "Austin", "id": "x-1", "phone": "+15558675309"}
    # no id: the phone in E.164 is the key; the default region supplied the country code
    assert (second.key, second.recipient_id, second.phone) == ("+15558675301", None, "+15558675301")
    assert expanded.bodies()[1]["phone_number"] == "15558675301"


def test_a_byte_order_mark_does_not_hide_the_first_column(tmp_path: Path) -> None:
    path, _ = campaign_with_csv(tmp_path, "\ufeffid,phone,order_id\nx-1,+1 555 867 5309,1\n".encode())
    [message] = expand(path).messages
    assert message.recipient.recipient_id == "x-1"

    path, _ = campaign_with_csv(tmp_path, "\ufeffphone,order_id\n+1 555 867 5309,1\n".encode())
    [message] = expand(path).messages
    assert message.recipient.phone == "+15558675309"


@pytest.mark.parametrize("header", [b"ID,PHONE,order_id", b"Id,Phone,order_id", b" id , phone ,order_id"])
def test_phone_and_id_columns_are_found_whatever_their_case(tmp_path: Path, header: bytes) -> None:
    path, _ = campaign_with_csv(tmp_path, header + b"\nx-1,+1 555 867 5309,1\n")
    [message] = expand(path).messages
    assert (message.recipient.recipient_id, message.recipient.phone) == ("x-1", "+15558675309")
    assert message.recipient.variables == {"order_id": "1", "id": "x-1", "phone": "+15558675309"}


def test_quoted_fields_keep_commas_and_newlines_and_later_lines_stay_right(tmp_path: Path) -> None:
    csv = (
        b"id,phone,order_id,city\n"
        b'x-1,+1 555 867 5309,1,"Lyon, Rh\xc3\xb4ne"\n'
        b'x-2,+1 555 867 5301,2,"first line\nsecond, line\nthird ""quoted"" line"\n'
        b"x-3,bad-number,3,Paris\n"
    )
    path, shown = campaign_with_csv(tmp_path, csv)
    expanded = expand(path)
    assert [m.recipient.variables["city"] for m in expanded.messages] == [
        "Lyon, Rhône",
        'first line\nsecond, line\nthird "quoted" line',
    ]
    assert [m.recipient.line for m in expanded.messages] == [2, 3]
    assert expanded.problems() == [f"{shown}:{line_of(csv, b'bad-number')}: 'bad-number': not a phone number"]


def test_empty_and_blank_lines_are_skipped_and_do_not_shift_line_numbers(tmp_path: Path) -> None:
    csv = b"\n\nid,phone,order_id\r\n\r\nx-1,+1 555 867 5309,1\r\n   \r\n\r\nx-2,+1 555 867 53,2\r\n\r\n"
    path, shown = campaign_with_csv(tmp_path, csv)
    expanded = expand(path)
    assert [m.recipient.line for m in expanded.messages] == [5]
    assert expanded.summary.recipients == 2
    assert expanded.problems() == [
        f"{shown}:8: '+1 555 867 53' is not a possible number (wrong length for its country)"
    ]


def test_a_missing_phone_column_names_the_csv_header_and_the_campaign_key(tmp_path: Path) -> None:
    path, shown = campaign_with_csv(tmp_path, b"id,mobile,order_id\nx-1,+1 555 867 5309,1\n")
    assert file_problems(path) == [
        f"{shown}:1: no `phone` column in the header (found: id, mobile, order_id)",
        f"{path}:{line_of(CSV_AUDIENCE, 'file =')}: the audience file {shown} needs a `phone` column",
    ]


def test_a_three_million_character_field_is_a_clear_error(tmp_path: Path) -> None:
    csv = (
        b"id,phone,order_id\nx-1,+1 555 867 5309,1\nx-2,+1 555 867 5301,"
        + b"9" * 3_000_000
        + b"\nx-3,+1 555 867 5302,3\n"
    )
    path, shown = campaign_with_csv(tmp_path, csv)
    [problem] = file_problems(path)
    assert problem.startswith(f"{shown}:3: unreadable CSV (field larger than field limit")


def test_an_unclosed_quote_is_a_clear_error_at_the_row_where_it_opens(tmp_path: Path) -> None:
    csv = b'id,phone,order_id\nx-1,+1 555 867 5309,1\nx-2,+1 555 867 5301,"2\n' + b"x-3,+1 555 867 5302,3\n" * 20_000
    path, shown = campaign_with_csv(tmp_path, csv)
    [problem] = file_problems(path)
    assert problem.startswith(f"{shown}:3: unreadable CSV")
    assert "is a quote left open?" in problem or "close the quote left open" in problem


@pytest.mark.parametrize("rows_before", [1, 5_000], ids=["small file", "bad byte past the first read block"])
def test_non_utf8_bytes_name_their_line(tmp_path: Path, rows_before: int) -> None:
    rows = b"".join(b"x-%d,+1 555 867 %04d,1\n" % (n, n) for n in range(rows_before))
    csv = b"id,phone,order_id\n" + rows + b"x-latin,+1 555 867 5301,caf\xe9\nx-z,+1 555 867 5302,3\n"
    path, shown = campaign_with_csv(tmp_path, csv)
    assert file_problems(path) == [f"{shown}:{line_of(csv, b'x-latin')}: not UTF-8 text; save the CSV as UTF-8"]


def test_a_row_with_more_fields_than_the_header_is_a_row_problem(tmp_path: Path) -> None:
    path, shown = campaign_with_csv(
        tmp_path, b"id,phone,order_id\nx-1,+1 555 867 5309,Austin, TX\nx-2,+1 555 867 5301,2\n"
    )
    assert expand(path).problems() == [
        f"{shown}:2: row has 4 fields where the header has 3; quote fields that contain commas"
    ]


def test_a_row_with_fewer_fields_says_so_not_that_a_column_is_missing(tmp_path: Path) -> None:
    # Issue 9, item 9: it said "'order_id' is undefined, add that column" though the column exists.
    path, shown = campaign_with_csv(tmp_path, b"id,phone,order_id,city\nx-1,+1 555 867 5309\nx-2,+1 555 867 5301,2,A\n")
    assert expand(path).problems() == [f"{shown}:2: row has 2 fields where the header has 4"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"id,phone,first_name,first_name", "column 4 ('first_name') repeats column 3 ('first_name')"),
        (
            b"id,phone,Phone,order_id",
            "column 3 ('Phone') repeats column 2 ('phone'): one value would be lost; rename or remove one;"
            " `phone` and `id` are found whatever their case",
        ),
        (b"ID,phone,id,order_id", "column 3 ('id') repeats column 1 ('ID')"),
    ],
    ids=["same name", "phone and Phone", "ID and id"],
)
def test_two_columns_of_one_name_are_an_error_at_the_header(tmp_path: Path, header: bytes, message: str) -> None:
    path, shown = campaign_with_csv(tmp_path, header + b"\nx-1,+1 555 867 5309,Ana,Bo\n")
    [problem] = file_problems(path)
    assert problem.startswith(f"{shown}:1: {message}")


def test_an_unclosed_quote_is_reported_where_it_opened(tmp_path: Path) -> None:
    rows = b"".join(b"x-%d,+1 555 867 %04d,%d\n" % (n, n, n) for n in range(1, 40))
    csv = b'id,phone,order_id\nx-0,+1 555 867 5300,1\nx-q,+1 555 867 5399,"45 \n' + rows
    path, shown = campaign_with_csv(tmp_path, csv)
    [problem] = file_problems(path)
    assert problem.startswith(
        f"{shown}:3: a quote opened on this line is not closed before the end of the file (line 42)"
    )
    assert "url" not in problem


def test_a_quoted_field_over_several_lines_is_still_fine(tmp_path: Path) -> None:
    csv = b'id,phone,order_id,city\nx-1,+1 555 867 5309,1,"two\nlines"\nx-2,+1 555 867 5301,2,A\n'
    path, _ = campaign_with_csv(tmp_path, csv)
    assert [m.recipient.line for m in expand(path).messages] == [2, 4]


@pytest.mark.parametrize("name", ["id", "phone"])
def test_the_recipients_id_and_phone_are_template_variables(tmp_path: Path, name: str) -> None:
    # Issue 9, item 11: `{{ id }}` and `{{ phone }}` were "undefined; add that column".
    campaign = edit(CSV_AUDIENCE, 'url_id = "urlid1"', f'url_id = "u-{{{{ {name} }}}}"')
    path, _ = campaign_with_csv(tmp_path, b"ID,Phone,order_id\nx-1,+1 (555) 867-5309,1\n", campaign)
    [message] = expand(path).messages
    assert message.texts.url_id == ("u-x-1" if name == "id" else "u-+15558675309")


def test_id_without_an_id_column_says_to_add_one(tmp_path: Path) -> None:
    campaign = edit(CSV_AUDIENCE, 'url_id = "urlid1"', 'url_id = "u-{{ id }}"')
    path, _ = campaign_with_csv(tmp_path, b"phone,order_id\n+1 555 867 5309,1\n", campaign)
    assert expand(path).problems() == [
        f"{path}:{line_of(campaign, 'url_id')}: `viber.url_id` (the one recipient): 'id' is undefined;"
        " add that column or a [vars] entry"
    ]


@pytest.mark.parametrize("name", ["campaign", "id", "phone"])
def test_a_var_named_like_a_variable_the_runner_gives_is_an_error(tmp_path: Path, name: str) -> None:
    # Issue 9, item 9: `[vars] campaign = ...` was silently overwritten.
    campaign = edit(CSV_AUDIENCE, 'shop = "viatushop.com"', f'shop = "viatushop.com"\n{name} = "x"')
    path, _ = campaign_with_csv(tmp_path, b"id,phone,order_id\nx-1,+1 555 867 5309,1\n", campaign)
    [problem] = file_problems(path)
    line = line_of(campaign, name + ' = "x"')
    assert problem.startswith(f"{path}:{line}: `vars.{name}`: `{name}` is ")
    assert problem.endswith("; rename this entry")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("file", '"/etc/passwd"'),
        ("file", '"../../../../../../etc/passwd"'),
        ("suppress", '["/etc/passwd"]'),
        ("suppress", '["audiences/../../../outside.csv"]'),
    ],
)
def test_audience_files_resolve_inside_the_campaign_repository(tmp_path: Path, key: str, value: str) -> None:
    # Issue 9, item 18: an absolute path read any file on the machine and echoed its first line.
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write(tmp_path, "outside.csv", b"phone\n+1 555 867 5301\n")
    line = f"{key} = {value}" if key == "file" else f'file = "audiences/people.csv"\nsuppress = {value}'
    campaign = edit(CSV_AUDIENCE, 'file = "audiences/people.csv"', line)
    path, _ = campaign_with_csv(root, b"id,phone,order_id\nx-1,+1 555 867 5309,1\n", campaign)
    [problem] = file_problems(path)
    assert problem.startswith(f"{path}:{line_of(campaign, key + ' = ')}: `audience.{key}")
    assert "absolute path" in problem or f"outside the campaign repository ({root.resolve()})" in problem
    assert "root:" not in problem


def test_a_header_is_quoted_back_only_in_part(tmp_path: Path) -> None:
    path, shown = campaign_with_csv(tmp_path, b"secret-" + b"x" * 500 + b",other\n1,2\n")
    problem = file_problems(path)[0]
    assert problem.startswith(f"{shown}:1: no `phone` column in the header (found: secret-xxx")
    assert len(problem) < len(shown) + 200


def test_an_empty_or_missing_audience_file_is_an_error(tmp_path: Path) -> None:
    path, shown = campaign_with_csv(tmp_path, b"")
    assert file_problems(path) == [f"{shown}:1: empty file: the first row must be a header with a `phone` column"]
    (tmp_path / PEOPLE).unlink()
    assert file_problems(path) == [f"{shown}: audience file not found; check the path (relative to the campaign file)"]


def test_duplicates_by_id_and_by_phone_are_reported_and_messaged_once(tmp_path: Path) -> None:
    csv = (
        b"id,phone,order_id\n"
        b"x-1,+1 555 867 5309,1\n"
        b"x-1,+1 555 867 5301,2\n"  # same id, another phone
        b"x-2,(555) 867-5309,3\n"  # another id, the same phone written differently
        b"x-3,+1 555 867 5302,4\n"
    )
    path, shown = campaign_with_csv(tmp_path, csv)
    expanded = expand(path)
    assert [m.recipient.recipient_id for m in expanded.messages] == ["x-1", "x-3"]
    assert [(s.line, s.state, s.reason) for s in expanded.skipped] == [
        (3, "duplicate", "duplicate: id 'x-1' appears earlier in the audience"),
        (4, "duplicate", "duplicate: phone +15558675309 appears earlier in the audience"),
    ]
    assert expanded.summary.by_state["duplicate"] == 2
    assert expanded.problems() == []  # duplicates are reported, not fatal


def test_inline_recipients_come_first_and_a_csv_row_repeating_one_is_a_duplicate(tmp_path: Path) -> None:
    campaign = edit(TWO_RECIPIENTS, "recipients = [", 'file = "audiences/people.csv"\nrecipients = [')
    path, shown = campaign_with_csv(tmp_path, b"phone,order_id\n+1 555 867 5302,9\n+1 555 867 5301,8\n", campaign)
    expanded = expand(path)
    assert [(m.recipient.source, m.recipient.key) for m in expanded.messages] == [
        (str(path), "a"),
        (str(path), "b"),
        (shown, "+15558675302"),
    ]
    [duplicate] = expanded.skipped
    assert (duplicate.source, duplicate.line, duplicate.state) == (shown, 3, "duplicate")


def test_suppressed_numbers_are_never_messaged_whatever_their_format(tmp_path: Path) -> None:
    campaign = edit(
        CSV_AUDIENCE,
        'file = "audiences/people.csv"',
        'file = "audiences/people.csv"\nsuppress = ["audiences/opt-out.csv"]',
    )
    write(tmp_path, "campaigns/audiences/opt-out.csv", b"Phone,opted_out_on\n555.867.5301,2026-10-02\n")
    path, _ = campaign_with_csv(
        tmp_path, b"id,phone,order_id\nx-1,+1 555 867 5309,1\nx-2,+1 555 867 5301,2\n", campaign
    )
    expanded = expand(path)
    assert [m.recipient.recipient_id for m in expanded.messages] == ["x-1"]
    [skipped] = expanded.skipped
    assert (skipped.recipient_id, skipped.state, skipped.reason) == (
        "x-2",
        "suppressed",
        "on the suppression list audiences/opt-out.csv",
    )
    assert expanded.summary.by_state["suppressed"] == 1


def test_a_suppression_list_that_cannot_be_honoured_stops_the_campaign(tmp_path: Path) -> None:
    campaign = edit(
        CSV_AUDIENCE,
        'file = "audiences/people.csv"',
        'file = "audiences/people.csv"\nsuppress = ["audiences/opt-out.csv"]',
    )
    opt_out = write(tmp_path, "campaigns/audiences/opt-out.csv", b"phone\n+1 555 867 5301\nnot a number\n")
    path, _ = campaign_with_csv(tmp_path, b"id,phone,order_id\nx-1,+1 555 867 5309,1\n", campaign)
    shown = str(opt_out.resolve())
    assert file_problems(path) == [f"{shown}:3: suppression list: 'not a number': not a phone number"]

    opt_out.write_bytes(b"number\n+1 555 867 5301\n")
    assert file_problems(path) == [
        f"{path}:{line_of(campaign, 'suppress =')}: {shown} has no `phone` column",
        f"{shown}:1: no `phone` column in the header (found: number)",
    ]


@pytest.mark.parametrize("on_invalid", ["fail", "skip"])
def test_on_invalid_fail_stops_skip_reports_and_goes_on(tmp_path: Path, on_invalid: str) -> None:
    campaign = edit(CSV_AUDIENCE, 'phone_check = "possible"', f'phone_check = "possible"\non_invalid = "{on_invalid}"')
    csv = b"id,phone,order_id\nx-1,+1 555 867 5309,1\nx-2,12345,2\nx-3,+1 555 867 5302,3\n"
    path, shown = campaign_with_csv(tmp_path, csv, campaign)
    expanded = expand(path)
    [skipped] = expanded.skipped
    assert (skipped.recipient_id, skipped.line, skipped.state) == ("x-2", 3, "invalid")
    assert str(skipped.problem) == f"{shown}:3: '12345' is not a possible number (wrong length for its country)"
    if on_invalid == "fail":
        assert expanded.problems() == [str(skipped.problem)]
    else:
        assert expanded.problems() == []
        assert [m.recipient.recipient_id for m in expanded.messages] == ["x-1", "x-3"]


def test_phone_check_valid_refuses_unassigned_numbers_and_says_what_to_do(tmp_path: Path) -> None:
    campaign = edit(CSV_AUDIENCE, 'phone_check = "possible"', 'phone_check = "valid"')
    path, shown = campaign_with_csv(
        tmp_path, b"id,phone,order_id\nx-1,+1 202 555 0110,1\nx-2,+1 555 867 5309,2\n", campaign
    )
    assert expand(path).problems() == [
        f"{shown}:3: '+1 555 867 5309' is not a valid (assigned) number; "
        'fix it, or set phone_check = "possible" for test numbers'
    ]


def test_a_national_number_without_default_region_asks_for_a_country_code(tmp_path: Path) -> None:
    campaign = edit(CSV_AUDIENCE, 'default_region = "US"\n', "")
    path, shown = campaign_with_csv(tmp_path, b"phone,order_id\n555 867 5309,1\n+1 555 867 5301,2\n", campaign)
    assert expand(path).problems() == [
        f"{shown}:2: '555 867 5309': no country code: write it as +<country code> or set [audience] default_region"
    ]


def test_the_audience_is_a_stream_rows_before_a_broken_one_come_out_first(tmp_path: Path) -> None:
    csv = b"phone,order_id\n+1 555 867 5309,1\n+1 555 867 5301,2\n" + b'+1 555 867 5302,"3\n+1 555 867 5303,4\n'
    path, shown = campaign_with_csv(tmp_path, csv)
    rows = iter(AudienceReader(load(path)))
    first, second = next(rows), next(rows)
    assert isinstance(first, Recipient) and isinstance(second, Recipient)
    with pytest.raises(InvalidInput) as caught:
        next(rows)
    assert caught.value.lines()[0].startswith(f"{shown}:4: a quote opened on this line is not closed")
