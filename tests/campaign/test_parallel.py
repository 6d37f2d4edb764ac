"""`campaign check` on every core, and what it remembers (issue 16): the sliced, cached check must
say exactly what the one-process expansion says, at the same lines in the same order, and a
changed audience is never answered from the cache."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import runner
from runner.campaign import parallel, request
from runner.campaign.cache import Cache
from runner.campaign.expansion import Expansion, Message, Summary
from runner.campaign.schema import load
from tests.campaign.helpers import CSV_AUDIENCE, edit, invoke, write

PEOPLE = "campaigns/audiences/people.csv"


def audience(rows: int) -> bytes:
    """Rows of every kind, with the same phone or id again much later (in another slice)."""
    out = [b"id,phone,order_id,note\n"]
    for n in range(rows):
        phone = b"+1 555 867 %04d" % (n % 5000)
        note = b"ok"
        if n % 97 == 5:
            phone = b"12"  # not a possible number
        if n % 89 == 7:
            note = b'"two\nlines"'  # a quoted field over two lines
        if n % 83 == 3:
            note = b"my order"  # a URL with a space for this row
        if n % 211 == 9:
            out.append(b"x-%d,+1 555 867 0001\n" % n)  # a short row
            continue
        if n % 307 == 11:
            note = b"y" * 400  # an SMS over max_segments
        ident = b"x-%d" % (n if n % 131 else 1)  # id x-1 again now and then
        out.append(b"%s,%s,%d,%s\n" % (ident, phone, n, note))
    return b"".join(out)


CAMPAIGN = edit(
    edit(
        CSV_AUDIENCE,
        'file = "audiences/people.csv"',
        'file = "audiences/people.csv"\nsuppress = ["audiences/opt-out.csv"]\n'
        'recipients = [{ id = "inline", phone = "+1 555 867 0002", order_id = "1", note = "a" }]',
    ),
    'url = "https://{{ shop }}/orders?id={{ order_id }}"',
    'url = "https://{{ shop }}/{{ note }}?id={{ order_id }}"\n',
).replace('[sms]\ntext = "', '[sms]\nmax_segments = 2\ntext = "{{ note }} ')


def folder(tmp_path: Path, rows: int = 3000, on_invalid: str = "fail") -> Path:
    write(tmp_path, PEOPLE, audience(rows))
    write(tmp_path, "campaigns/audiences/opt-out.csv", b"phone\n+1 555 867 0003\n+1 555 867 0100\n")
    text = edit(CAMPAIGN, 'phone_check = "possible"', f'phone_check = "possible"\non_invalid = "{on_invalid}"')
    return write(tmp_path, "campaigns/t.toml", text)


def what(summary: Summary) -> dict[str, Any]:
    return {
        "recipients": summary.recipients,
        "messages": summary.messages,
        "rendered": summary.rendered,
        "by_state": dict(summary.by_state),
        "sms": dict(summary.sms_encodings),
        "max_segments": summary.max_segments,
        "zones": dict(summary.zone_sources),
        "problems": [str(p) for p in summary.problems],
        "not_listed": summary.problems_not_listed,
        "skipped": [str(p) for p in summary.skipped],
    }


def one_process(path: Path) -> tuple[dict[str, Any], list[bytes]]:
    expansion = Expansion(load(path), count_affected=True)
    bodies = [m.body for m in expansion if isinstance(m, Message)]
    return what(expansion.summary), bodies


def sliced(path: Path, cache: Cache, with_bodies: bool = False) -> tuple[dict[str, Any], list[bytes]]:
    expansion = Expansion(load(path), count_affected=True)
    bodies: list[bytes] = []
    assert parallel.expand(expansion, cache, bodies.append if with_bodies else None, processes=2, slice_bytes=2000)
    return what(expansion.summary), bodies


@pytest.mark.parametrize(("on_invalid", "message_type"), [("fail", "MKT"), ("skip", "MKT"), ("fail", "ARN")])
def test_slices_on_two_processes_say_what_one_process_says(tmp_path: Path, on_invalid: str, message_type: str) -> None:
    path = folder(tmp_path, on_invalid=on_invalid)
    path.write_text(edit(path.read_text(), 'message_type = "MKT"', f'message_type = "{message_type}"'))
    expected, bodies = one_process(path)
    assert expected["by_state"]["duplicate"] and expected["by_state"]["invalid"] and expected["by_state"]["suppressed"]
    assert len(expected["problems"] + expected["skipped"]) >= 4
    cache = Cache(tmp_path / "outputs" / ".cache")
    cold, _ = sliced(path, cache)
    assert cold == expected
    warm, _ = sliced(path, cache)  # every slice's verdicts from the cache now
    assert warm == expected
    _, dry = sliced(path, Cache(None), with_bodies=True)
    assert dry == bodies


@pytest.mark.parametrize("on_invalid", ["fail", "skip"])
def test_counting_without_bodies_says_what_building_them_says(tmp_path: Path, on_invalid: str) -> None:
    # `check` in one process adds up body sizes instead of encoding bodies (Expansion.count).
    path = folder(tmp_path, rows=700, on_invalid=on_invalid)
    path.write_text(edit(path.read_text(), "max_segments = 2\n", ""))
    with (tmp_path / PEOPLE).open("ab") as people:
        people.write(b"big-1,+1 555 867 4001,1,%s\n" % (b"z" * 5000))  # a body over 10 KB
    expected, _ = one_process(path)
    assert any("over Telesign's 10 KB limit" in p for p in expected["problems"] + expected["skipped"])
    expansion = Expansion(load(path), count_affected=True)
    expansion.count()
    assert what(expansion.summary) == expected


def test_a_changed_text_is_checked_again_from_the_remembered_audience(tmp_path: Path) -> None:
    path = folder(tmp_path)
    cache = Cache(tmp_path / "outputs" / ".cache")
    sliced(path, cache)
    text = path.read_text(encoding="utf-8")
    path.write_text(edit(text, "max_segments = 2", "max_segments = 1"), encoding="utf-8")
    assert sliced(path, cache)[0] == one_process(path)[0]
    path.write_text(edit(text, 'url_text = "Track Order"', 'url_text = "{{ frist }}"'), encoding="utf-8")
    changed = sliced(path, cache)[0]
    assert changed == one_process(path)[0]
    assert "'frist' is undefined" in changed["problems"][0]


def test_a_changed_text_rendered_by_its_variables_alone_says_what_one_process_says(tmp_path: Path) -> None:
    # With the audience remembered, a text that reads only recipient variables is rendered once
    # per distinct value of them: whether a row renders empty here turns on its E.164 phone (with
    # its `note`), or on its id (with its `note`), so a key that missed one would count wrong rows.
    path = folder(tmp_path)
    cache = Cache(tmp_path / "outputs" / ".cache")
    sliced(path, cache)
    text = path.read_text(encoding="utf-8")
    by_phone = "{% if phone.startswith('+1555') and phone.endswith('1') %}{{ note[:3] }}{% endif %}"
    text = edit(text, 'url_text = "Track Order"', f"url_text = \"{by_phone}{{{{ nope | default('') }}}}\"")
    path.write_text(edit(text, 'url_id = "urlid1"', "url_id = \"{% if id.endswith('7') %}{{ note[:3] }}{% endif %}\""))
    changed = sliced(path, cache)[0]
    assert changed == one_process(path)[0]
    assert sum("renders empty" in p for p in changed["problems"]) == 2


@pytest.mark.parametrize(
    ("old", "new"),
    [(b"x-1500,+1 555 867 1500", b"x-1500,+1 555 867 150"), (b"x-1500,+1 555 867 1500", b"x-1500,+1 555 867 1509")],
    ids=["a phone made invalid", "a phone made another"],
)
def test_a_changed_audience_is_never_answered_from_the_cache(tmp_path: Path, old: bytes, new: bytes) -> None:
    # Issue 16: edit one row, one byte.
    path = folder(tmp_path)
    cache = Cache(tmp_path / "outputs" / ".cache")
    before = sliced(path, cache)[0]
    people = tmp_path / PEOPLE
    data = people.read_bytes()
    assert data.count(old) == 1
    people.write_bytes(data.replace(old, new))
    after = sliced(path, cache)[0]
    assert after == one_process(path)[0]
    assert after != before


def test_a_changed_suppression_list_is_never_answered_from_the_cache(tmp_path: Path) -> None:
    path = folder(tmp_path)
    cache = Cache(tmp_path / "outputs" / ".cache")
    before = sliced(path, cache)[0]
    write(tmp_path, "campaigns/audiences/opt-out.csv", b"phone\n+1 555 867 0004\n+1 555 867 0006\n+1 555 867 0100\n")
    after = sliced(path, cache)[0]
    assert after == one_process(path)[0]
    assert after["by_state"]["suppressed"] != before["by_state"]["suppressed"]


def test_another_phone_metadata_release_is_never_answered_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """phonenumbers' metadata follows the numbering plans: after an upgrade a number may be read
    differently, so what the older release said is not looked up."""
    import phonenumbers

    from runner.campaign.cache import code_version

    path = folder(tmp_path)
    folder_ = tmp_path / "outputs" / ".cache"
    expected = sliced(path, Cache(folder_))[0]
    before = {p.name for p in folder_.rglob("*") if p.is_file()}
    monkeypatch.setattr(phonenumbers, "__version__", phonenumbers.__version__ + ".next")
    code_version.cache_clear()
    try:
        assert sliced(path, Cache(folder_))[0] == expected
        after = {p.name for p in folder_.rglob("*") if p.is_file()}
    finally:
        monkeypatch.undo()
        code_version.cache_clear()
    assert before and after - before and not (after - before) & before


def test_a_damaged_or_deleted_cache_is_a_slower_check_not_a_wrong_one(tmp_path: Path) -> None:
    path = folder(tmp_path)
    folder_ = tmp_path / "outputs" / ".cache"
    expected = sliced(path, Cache(folder_))[0]
    entries = [p for p in folder_.rglob("*") if p.is_file()]
    assert entries
    for entry in entries[::2]:
        entry.write_bytes(entry.read_bytes()[:-3] + b"xyz")
    assert sliced(path, Cache(folder_))[0] == expected
    for entry in folder_.rglob("*"):
        if entry.is_file():
            entry.unlink()
    assert sliced(path, Cache(folder_))[0] == expected


def test_the_command_line_check_remembers_and_is_never_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 1)
    folder(tmp_path, on_invalid="skip")
    first = invoke("check", "campaigns/t.toml")
    assert (tmp_path / "outputs" / ".cache").is_dir()
    again = invoke("check", "campaigns/t.toml")
    assert (again.exit_code, again.stdout, again.stderr) == (first.exit_code, first.stdout, first.stderr)
    people = tmp_path / PEOPLE
    people.write_bytes(people.read_bytes().replace(b"x-2,+1 555 867 0002", b"x-2,+1 555 867 000"))
    changed = invoke("check", "campaigns/t.toml")
    assert changed.stderr != first.stderr
    assert f"{PEOPLE}:4: " in changed.stderr


@given(st.text())
def test_a_values_size_in_the_body_is_its_json_size(value: str) -> None:
    assert request.json_size(value) == len(json.dumps(value, ensure_ascii=False).encode("utf-8")) - 2


def test_a_body_is_its_envelope_plus_its_phone_and_texts(tmp_path: Path) -> None:
    # The cached check adds up sizes instead of building bodies: the sum must be the body's length.
    path = folder(tmp_path, rows=300)
    expansion = Expansion(load(path), count_affected=True)
    envelope = request.envelope_size(expansion.campaign.spec)
    messages = [m for m in expansion if isinstance(m, Message)]
    assert len(messages) > 200
    for message in messages:
        t = message.texts
        texts = [t.viber_text, t.url, t.url_text, t.url_id, t.sms_text or ""]
        size = envelope - 1 + len(message.recipient.phone) + sum(request.json_size(v) for v in texts)
        assert size == request.body_size(envelope, message.recipient.phone, t) == len(message.body)


def test_checks_at_once_share_the_cache_safely(tmp_path: Path) -> None:
    # Two `campaign check` processes at once write the same entries; each prints the whole truth,
    # and a third, answered from the cache, prints the same.
    folder(tmp_path, rows=400, on_invalid="skip")
    command = [sys.executable, "-m", "runner", "check", "campaigns/t.toml"]
    env = {**os.environ, "PYTHONPATH": str(Path(runner.__file__).resolve().parents[1])}
    runs = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    said = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    third = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=300)
    entries = list((tmp_path / "outputs" / ".cache" / "check" / "result").rglob("*"))
    assert [p for p in entries if p.is_file() and not p.name.startswith(".")]
    assert not [p for p in entries if p.name.startswith(".")]  # no temporary file left behind

    def without_times(text: bytes) -> list[str]:
        return [re.sub(r"^\d{4}-\d\d-\d\dT\S+ ", "", line) for line in text.decode().splitlines()]

    assert without_times(said[0][1]) == without_times(said[1][1]) == without_times(third.stderr)
    assert without_times(said[0][0]) == without_times(third.stdout)
    assert "skipped (on_invalid" in third.stderr.decode()
