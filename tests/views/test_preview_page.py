"""`campaign preview --html` in headless Chromium: the phone mocks show what a send would post,
mark what came from variables, warn where Viber cuts, count the SMS as the text view does, escape
whatever a campaign contains, and load nothing from anywhere."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.browser import Browser

ROOT = Path(__file__).resolve().parents[2]


def campaign(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def write_campaign(folder: Path, first_name: str, text: str, url_text: str, sms: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "audience.csv").write_text(
        "id,phone,first_name,city\n" + f'a-1,+1 202 555 0110,"{first_name}",Leeds\n' + "a-2,+1 202 555 0121,Ben,York\n",
        encoding="utf-8",
    )
    path = folder / "campaign.toml"
    path.write_text(
        f"""id = "preview-test"
name = "Preview test"
message_type = "ARN"
[audience]
file = "audience.csv"
default_region = "US"
[vars]
shop = "shop.example"
[viber]
text = {json.dumps(text)}
url = "https://{{{{ shop }}}}/o?n={{{{ first_name | urlencode }}}}"
url_text = {json.dumps(url_text)}
url_id = "o"
fallback_time = 60
[sms]
text = {json.dumps(sms)}
""",
        encoding="utf-8",
    )
    return path


def test_shipped_campaign_page_shows_each_recipients_message_as_sent(tmp_path: Path, browser: Browser) -> None:
    out = tmp_path / "preview.html"
    done = campaign("preview", "campaigns/winter-sale.toml", "--limit", "3", "--html", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout
    bodies = [
        json.loads(line) for line in campaign("preview", "campaigns/winter-sale.toml", "--json").stdout.splitlines()
    ]
    text_view = campaign("preview", "campaigns/winter-sale.toml").stdout
    page = browser.open(out)
    browser.screenshot("preview.png")
    assert browser.outside(out) == []
    cards = page.query_selector_all("article.recipient")
    assert len(cards) == 3
    assert "3 of 18 recipients" in page.inner_text("header")
    sms_lines = re.findall(r"SMS fallback \((\S+), (\d+) characters, (\d+) segments?\)", text_view)
    for card, body, (encoding, characters, segments) in zip(cards, bodies, sms_lines, strict=False):
        viber = body["message"]["viber"]["parameters"]
        assert card.eval_on_selector(".viber .text", "e => e.textContent") == viber["text"]
        assert card.eval_on_selector(".button", "e => e.innerText") == viber["url_text"]
        assert card.eval_on_selector(".button", "e => e.getAttribute('href')") == viber["url"]
        assert card.eval_on_selector(".url", "e => e.textContent") == viber["url"]
        assert card.eval_on_selector(".sms .text", "e => e.textContent") == body["message"]["sms"]["parameters"]["text"]
        facts = card.query_selector(".sms-facts")
        assert facts is not None
        assert (facts.get_attribute("data-encoding"), facts.get_attribute("data-characters")) == (encoding, characters)
        assert facts.get_attribute("data-segments") == segments and f"{segments} segment" in facts.inner_text()
        assert card.query_selector_all("[data-warning]") == []
    first = cards[0]
    personal = first.eval_on_selector_all("mark.personal", "els => els.map(e => e.textContent)")
    shared = first.eval_on_selector_all("mark.campaign", "els => els.map(e => e.textContent)")
    assert {"Amelia", "London", "A-77310"} <= set(personal)  # the row's first_name, city, customer_ref
    assert {"viatushop.com", "30", "winter-sale-2026"} <= set(shared)  # [vars] shop, discount; campaign.id
    assert "Our winter sale is on" not in " ".join(personal + shared)  # the template's own text is not marked


def test_warnings_where_viber_cuts_the_caption_and_the_text(tmp_path: Path, browser: Browser) -> None:
    long_text = "Hello {{ first_name }}! " + "Sale " * 220  # about 1,110 characters
    file = write_campaign(
        tmp_path / "c", "Ana", long_text, "Track your order and see what is new", "Hi {{ first_name }}"
    )
    out = tmp_path / "p.html"
    assert campaign("preview", str(file), "--recipient", "a-1", "-o", str(out)).returncode == 0
    page = browser.open(out)
    browser.screenshot("preview-warnings.png")
    assert browser.outside(out) == []
    assert len(page.query_selector_all("article.recipient")) == 1
    caption = page.query_selector("[data-warning=caption]")
    text = page.query_selector("[data-warning=text]")
    assert caption is not None and caption.is_visible() and "36 characters; Viber shows 30" in caption.inner_text()
    assert text is not None and text.is_visible()
    button = page.inner_text(".button")
    assert button == "Track your order and see what…" and len(button) == 30
    rendered = "Hello Ana! " + "Sale " * 220
    assert f"The text is {len(rendered):,} characters; Viber shows 1,000" in text.inner_text()
    assert page.eval_on_selector(".viber .text .cut", "e => e.textContent") == rendered[1000:]
    assert page.eval_on_selector(".viber .text", "e => e.textContent") == rendered  # all of it, the cut part struck


def test_ucs2_sms_names_the_character_and_counts_segments(tmp_path: Path, browser: Browser) -> None:
    sms = "Привет {{ first_name }}, " + "скидка " * 12  # Cyrillic: UCS-2, 67 per part
    file = write_campaign(tmp_path / "c", "Ana", "Hi {{ first_name }}", "Open", sms)
    out = tmp_path / "p.html"
    assert campaign("preview", str(file), "--html", "-o", str(out)).returncode == 0
    text_view = campaign("preview", str(file)).stdout
    page = browser.open(out)
    browser.screenshot("preview-ucs2.png")
    assert browser.outside(out) == []
    facts = page.query_selector_all(".sms-facts")
    expected = re.findall(r"SMS fallback \((\S+), (\d+) characters, (\d+) segments?\)", text_view)
    assert [
        (f.get_attribute("data-encoding"), f.get_attribute("data-characters"), f.get_attribute("data-segments"))
        for f in facts
    ] == expected
    assert expected[0][0] == "UCS-2" and int(expected[0][2]) == 2
    note = page.inner_text("[data-note=ucs2]")
    # Cyrillic is ten different letters outside GSM-7 here: taking out the first would not do
    assert "UCS-2 because of 10 different characters outside GSM-7, the first at character 1: “П”, “р”" in note
    assert "and 5 more. The text could go as GSM-7 only without all of them." in note
    assert "without it" not in note


def test_an_invisible_character_that_forces_ucs2_is_named(tmp_path: Path, browser: Browser) -> None:
    # a zero-width space pasted into an otherwise GSM-7 text: quoted, it would show as “”
    file = write_campaign(tmp_path / "c", "Ana", "Hi {{ first_name }}", "Open", "Hi\u200b {{ first_name }}")
    out = tmp_path / "p.html"
    assert campaign("preview", str(file), "--recipient", "a-1", "-o", str(out)).returncode == 0
    page = browser.open(out)
    assert browser.outside(out) == []
    assert page.get_attribute(".sms-facts", "data-encoding") == "UCS-2"
    assert page.inner_text("[data-note=ucs2]") == (
        "UCS-2 because of U+200B ZERO WIDTH SPACE (character 3), the only character outside GSM-7: "
        "without it the text could go as GSM-7."
    )


@pytest.mark.parametrize(
    "hostile",
    [
        '<script>window.pwned = 1</script><img src="http://127.0.0.1:9/x.png" onerror="window.pwned = 2">',
        "</p></div><iframe src=http://127.0.0.1:9/></iframe><style>body{display:none}</style>",
    ],
)
def test_a_hostile_template_or_column_is_shown_as_text_never_run(
    tmp_path: Path, browser: Browser, hostile: str
) -> None:
    column = hostile.replace('"', '""')  # CSV quoting of the row's value
    file = write_campaign(
        tmp_path / "c",
        column,
        "Hi {{ first_name }} " + hostile.replace('"', "'"),
        hostile.replace('"', "'")[:25],
        hostile.replace('"', "'"),
    )
    out = tmp_path / "p.html"
    done = campaign("preview", str(file), "--recipient", "a-1", "-o", str(out))
    assert done.returncode == 0, done.stderr
    page = browser.open(out)
    browser.screenshot("preview-hostile.png")
    assert browser.outside(out) == []  # the <img>/<iframe> never became elements, so nothing was fetched
    assert page.evaluate("window.pwned") is None
    assert page.query_selector_all("main script, main img, main iframe, main style") == []
    assert hostile in page.eval_on_selector(".viber .text", "e => e.textContent")  # the column, shown as written
    assert page.is_visible("article.recipient")


def test_a_template_that_transforms_a_value_is_shown_right_but_unmarked(tmp_path: Path, browser: Browser) -> None:
    file = write_campaign(
        tmp_path / "c", "Ana", "Dear {{ first_name[0] }}. {{ city | truncate(4, true, '', 0) }}", "Open", "Hi"
    )
    out = tmp_path / "p.html"
    assert campaign("preview", str(file), "--recipient", "a-1", "-o", str(out)).returncode == 0
    page = browser.open(out)
    browser.screenshot("preview-unmarked.png")
    assert browser.outside(out) == []
    assert page.eval_on_selector(".viber .text", "e => e.textContent") == "Dear A. Leed"
    assert page.query_selector_all(".viber .text mark") == []
    assert "not marked" in page.inner_text(".viber")


def test_html_and_json_together_is_a_usage_error(tmp_path: Path) -> None:
    done = campaign("preview", "campaigns/order-tracking.toml", "--json", "--html")
    assert done.returncode == 2 and "choose one" in done.stderr


def test_the_readme_shows_both_pages_from_pictures_in_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("preview.png", "report.png"):
        assert f"(docs/{name})" in readme
        assert (ROOT / "docs" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_right_to_left_texts_read_as_on_the_phone_and_a_rows_override_stays_in_its_value(
    tmp_path: Path, browser: Browser
) -> None:
    file = write_campaign(tmp_path / "c", "שלום", "{{ first_name }}, תודה!", "{{ first_name }}", "{{ first_name }}.")
    audience = tmp_path / "c" / "audience.csv"  # a-2's id holds a right-to-left override
    audience.write_text(audience.read_text(encoding="utf-8").replace("a-2,", "a-2\u202e,"), encoding="utf-8")
    out = tmp_path / "p.html"
    assert campaign("preview", str(file), "--html", "-o", str(out)).returncode == 0
    page = browser.open(out)
    browser.screenshot("preview-rtl.png")
    assert browser.outside(out) == []
    first, second = page.query_selector_all("article.recipient")
    direction = "e => getComputedStyle(e).direction"
    # Hebrew first: right to left, as Viber and the SMS app show it; Ben's text stays left to right
    assert [first.eval_on_selector(s, direction) for s in (".viber .text", ".button", ".sms .text")] == ["rtl"] * 3
    assert [second.eval_on_selector(s, direction) for s in (".viber .text", ".button", ".sms .text")] == ["ltr"] * 3
    # the override in a-2's id does not reverse the phone number and the file after it
    order = second.eval_on_selector(
        "h2",
        """h2 => {
            const walker = document.createTreeWalker(h2, NodeFilter.SHOW_TEXT);
            let node;
            while ((node = walker.nextNode()) && !node.data.includes("+12025550121")) {}
            const range = document.createRange();
            range.selectNodeContents(node);
            const phone = range.getBoundingClientRect();
            return [phone.right <= h2.querySelector(".where").getBoundingClientRect().left, node.data.trim()];
        }""",
    )
    assert order[0] is True, order
