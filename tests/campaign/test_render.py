"""Rendering: Jinja's sandbox with StrictUndefined, template files under templates/ only, the
variables docs/campaign-file.md lists, and every rendered message checked before anything could be sent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.campaign.render import url_problem
from tests.campaign.helpers import TWO_RECIPIENTS, edit, expand, line_of, problems, write

VIBER_TEXT = 'text = "Thanks for your purchase on {{ shop }}! Track your order status here:"'
SMS_TEXT = (
    'text = "Thanks for your purchase on {{ shop }}! Track your order status here: '
    'https://{{ shop }}/orders?id={{ order_id }}"'
)
A_LINE = line_of(TWO_RECIPIENTS, '{ id = "a"')
B_LINE = line_of(TWO_RECIPIENTS, '{ id = "b"')


def campaign(root: Path, text: str, name: str = "campaigns/t.toml") -> Path:
    return write(root, name, text)


def with_viber_text(value: str) -> str:
    return edit(TWO_RECIPIENTS, VIBER_TEXT, value)


def test_columns_vars_and_the_campaign_are_template_variables(tmp_path: Path) -> None:
    text = edit(TWO_RECIPIENTS, 'message_type = "MKT"', 'name = "November orders"\nmessage_type = "MKT"')
    text = edit(
        text, VIBER_TEXT, 'text = "{{ campaign.name }} ({{ campaign.id }}) on {{ shop }}, order {{ order_id }}"'
    )
    first, second = expand(campaign(tmp_path, text)).messages
    assert first.texts.viber_text == "November orders (t-1) on viatushop.com, order 45390"
    assert second.texts.viber_text == "November orders (t-1) on viatushop.com, order 45391"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ('text = "Hi {{ first_name }}"', "template: 'first_name' is undefined"),
        ('text = "Hi{% if first_name %} {{ first_name }}{% endif %}"', "template: 'first_name' is undefined"),
        ('text = "{{ shop.owner }}"', "template: 'str object' has no attribute 'owner'"),
    ],
    ids=["output", "if test", "attribute"],
)
def test_a_missing_variable_is_an_error_at_each_recipients_row_never_an_empty_string(
    tmp_path: Path, template: str, message: str
) -> None:
    path = campaign(tmp_path, with_viber_text(template))
    found = problems(path)
    assert [p.split(": ", 1)[0] for p in found] == [f"{path}:{A_LINE}", f"{path}:{B_LINE}"]
    assert all(p.split(": ", 1)[1].startswith(message) for p in found), found


@pytest.mark.parametrize(
    "attack",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ shop.format.__self__ }}",
    ],
)
def test_the_sandbox_refuses_escapes_as_a_clean_error(tmp_path: Path, attack: str) -> None:
    text = edit(TWO_RECIPIENTS, 'url_text = "Track Order"', f'url_text = "{attack}"')
    path = campaign(tmp_path, text)
    found = problems(path)
    assert [p.split(": ", 1)[0] for p in found] == [f"{path}:{A_LINE}", f"{path}:{B_LINE}"]
    # Refused outright, or (an unsafe attribute of a function) treated as undefined: either way a
    # clean error, and nothing of the Python objects reached leaks into a message.
    assert all(
        "template refused by the sandbox: access to attribute" in p or "has no attribute '__self__'" in p for p in found
    ), found
    assert not any("<" in p or "os" in p.split(": ", 1)[1].split() for p in found)


def test_jinja_helpers_still_work_and_range_keeps_the_sandbox_bound(tmp_path: Path) -> None:
    text = with_viber_text(
        "text = \"{% for n in range(3) %}{{ n }}{{ loop.cycle(',', '') }}{% endfor %} {{ cycler('x').next() }}\""
    )
    first, _ = expand(campaign(tmp_path, text)).messages
    assert first.texts.viber_text == "0,12, x"

    path = campaign(tmp_path, with_viber_text('text = "{{ range(10000000) | length }}"'))
    found = problems(path)
    assert [p.split(": ", 1)[0] for p in found] == [f"{path}:{A_LINE}", f"{path}:{B_LINE}"]
    assert all("Range too big" in p for p in found)


@pytest.mark.parametrize(
    ("template", "message"),
    [("{{ 1 / 0 }}", "template: ZeroDivisionError: division by zero"), ("{{ order_id + 1 }}", "template: TypeError:")],
    ids=["division by zero", "text plus number"],
)
def test_errors_while_rendering_are_clean_errors_at_the_row(tmp_path: Path, template: str, message: str) -> None:
    path = campaign(tmp_path, with_viber_text(f'text = "{template}"'))
    assert [
        p.startswith(f"{path}:{line}: {message}") for p, line in zip(problems(path), (A_LINE, B_LINE), strict=False)
    ] == [
        True,
        True,
    ]


def test_an_inline_template_syntax_error_is_reported_once_at_its_key(tmp_path: Path) -> None:
    text = with_viber_text('text = "Hi {{ shop "')
    path = campaign(tmp_path, text)
    [problem] = problems(path)  # compiled once per campaign, not once per recipient
    key_line = line_of(text, 'text = "Hi')
    assert problem.startswith(f"{path}:{key_line}: template syntax: ")


@pytest.mark.parametrize("campaign_name", ["campaigns/t.toml", "campaigns/seasonal/t.toml"])
def test_template_files_are_found_in_the_nearest_templates_folder_up(tmp_path: Path, campaign_name: str) -> None:
    write(tmp_path, "templates/orders/viber.txt.j2", "Order {{ order_id }} from {{ shop }}\n")
    path = campaign(tmp_path, with_viber_text('text_template = "orders/viber.txt.j2"'), campaign_name)
    first, _ = expand(path).messages
    assert first.texts.viber_text == "Order 45390 from viatushop.com"


def test_the_sms_text_can_come_from_a_template_file(tmp_path: Path) -> None:
    write(tmp_path, "templates/sms.txt.j2", "{{ shop }}: order {{ order_id }} shipped")
    path = campaign(tmp_path, edit(TWO_RECIPIENTS, SMS_TEXT, 'text_template = "sms.txt.j2"'))
    first, _ = expand(path).messages
    assert first.texts.sms_text == "viatushop.com: order 45390 shipped"


@pytest.mark.parametrize(
    "name",
    ["../campaigns/t.toml", "orders/../../campaigns/t.toml", "/etc/hostname", "link-out.j2"],
    ids=["parent", "through a subfolder", "absolute", "symlink out"],
)
def test_a_template_path_that_escapes_templates_is_an_error_at_its_key(tmp_path: Path, name: str) -> None:
    write(tmp_path, "templates/orders/ok.j2", "fine")
    os.symlink(tmp_path / "campaigns" / "t.toml", tmp_path / "templates" / "link-out.j2")
    text = with_viber_text(f'text_template = "{name}"')
    path = campaign(tmp_path, text)
    [problem] = problems(path)
    assert problem.startswith(
        f"{path}:{line_of(text, 'text_template')}: '{name}' is outside {tmp_path.resolve() / 'templates'}"
    )


def test_template_file_problems_name_where_to_look(tmp_path: Path) -> None:
    text = with_viber_text('text_template = "orders/viber.txt.j2"')
    path = campaign(tmp_path, text)
    key_line = line_of(text, "text_template")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:{key_line}: no templates/ folder found above")

    (tmp_path / "templates").mkdir()
    [problem] = problems(path)
    assert (
        problem == f"{path}:{key_line}: template 'orders/viber.txt.j2' not found in {tmp_path.resolve() / 'templates'}"
    )

    template = write(tmp_path, "templates/orders/viber.txt.j2", "Hello\n{% if order_id %}\nOrder {{ order_id }}\n")
    [problem] = problems(path)
    assert problem.startswith(f"{template.resolve()}:3: template syntax: Unexpected end of template")

    template.write_bytes(b"Caf\xe9 {{ shop }}")
    assert problems(path) == [f"{template.resolve()}: not UTF-8 text; save the template as UTF-8"]


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://viatushop.com/orders?id=45390", None),
        ("http://shop.example/a%20b", None),
        ("https://line.me/R/ti/p/@shop", "Line, Signal or Telegram"),
        ("https://LIN.EE/abc", "Line, Signal or Telegram"),
        ("https://signal.me/#p/+15558675309", "Line, Signal or Telegram"),
        ("https://t.me/shopbot", "Line, Signal or Telegram"),
        ("https://web.telegram.org/k/", "Line, Signal or Telegram"),
        ("https://notline.me.example.com/x", None),
        ("https://viatushop.com/my orders", "whitespace"),
        ("https://viatushop.com/\torders", "whitespace"),
        ("", "empty"),
        ("/orders?id=1", "absolute http(s) URL with a host"),
        ("viatushop.com/orders", "absolute http(s) URL with a host"),
        ("ftp://viatushop.com/orders", "absolute http(s) URL with a host"),
        ("https:///orders", "absolute http(s) URL with a host"),
        ("javascript:alert(1)", "absolute http(s) URL with a host"),
    ],
)
def test_link_button_urls_telesign_would_refuse(url: str, refused: str | None) -> None:
    problem = url_problem(url)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and refused in problem


def test_whitespace_around_a_rendered_url_is_trimmed_not_refused(tmp_path: Path) -> None:
    text = edit(TWO_RECIPIENTS, 'url = "https://{{ shop }}', 'url = "  https://{{ shop }}')
    first, _ = expand(campaign(tmp_path, text)).messages
    assert first.texts.url == "https://viatushop.com/orders?id=45390"


def test_the_sms_encoding_and_segments_are_computed_per_recipient(tmp_path: Path) -> None:
    text = edit(TWO_RECIPIENTS, 'order_id = "45391"', 'order_id = "45391", greeting = "Привет, дорогой клиент"')
    text = edit(text, 'order_id = "45390"', 'order_id = "45390", greeting = "Hello"')
    text = edit(
        text, SMS_TEXT, 'text = "{{ greeting }}! Order {{ order_id }}: https://{{ shop }}/orders?id={{ order_id }} " '
    )
    expanded = expand(campaign(tmp_path, text))
    first, second = expanded.messages
    assert first.sms is not None and (first.sms.encoding, first.sms.segments) == ("GSM-7", 1)
    assert second.sms is not None and (second.sms.encoding, second.sms.segments) == ("UCS-2", 2)
    assert dict(expanded.summary.sms_encodings) == {"GSM-7": 1, "UCS-2": 1}
    assert expanded.summary.max_segments == 2


def test_max_segments_counts_ucs2_segments(tmp_path: Path) -> None:
    text = edit(TWO_RECIPIENTS, SMS_TEXT, 'text = "{{ order_id }} ✓"\nmax_segments = 1')
    text = edit(text, 'order_id = "45391"', 'order_id = "' + "x" * 69 + '"')
    path = campaign(tmp_path, text)
    assert problems(path) == [
        f"{path}:{B_LINE}: the SMS is 2 UCS-2 segments (71 characters), over [sms] max_segments = 1"
    ]


def test_a_campaign_without_sms_is_viber_only(tmp_path: Path) -> None:
    text = TWO_RECIPIENTS[: TWO_RECIPIENTS.index("[sms]")]
    expanded = expand(campaign(tmp_path, text))
    assert all(m.sms is None and m.texts.sms_text is None for m in expanded.messages)
    assert [b["channels"] for b in expanded.bodies()] == [[{"channel": "viber", "fallback_time": 600}]] * 2


@pytest.mark.parametrize("expression", ["{{ 2**100000000 }}", "{{ 'x' * 1000000000 }}", "{{ [1] * 10**8 }}"])
def test_expressions_that_would_hang_or_exhaust_memory_are_refused(tmp_path: Path, expression: str) -> None:
    path = campaign(tmp_path, with_viber_text(f'text = "{expression}"'))
    found = problems(path)
    assert found and all("refused by the sandbox" in p for p in found)
    assert found[0].startswith(f"{path}:{A_LINE}:")
