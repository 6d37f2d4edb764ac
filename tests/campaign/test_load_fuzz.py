"""Whatever a campaign file, audience CSV or recipient holds, checking it ends in the project's
own error type (a clean `path:line: message`), never in another exception, i.e. a traceback."""

from __future__ import annotations

import copy
import csv
import io
import tomllib
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.campaign.expansion import Expansion
from runner.campaign.schema import load
from runner.errors import RunnerError
from tests.campaign.helpers import CSV_AUDIENCE, TWO_RECIPIENTS, write

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every key the schema knows, so generated documents reach past "unknown key" into validation.
VOCABULARY = [
    "id",
    "name",
    "message_type",
    "schedule",
    "start",
    "end",
    "sending",
    "rate",
    "concurrency",
    "max_attempts",
    "max_per_run",
    "audience",
    "file",
    "default_region",
    "phone_check",
    "suppress",
    "on_invalid",
    "recipients",
    "phone",
    "vars",
    "viber",
    "template",
    "text",
    "text_template",
    "url",
    "url_text",
    "url_id",
    "fallback_time",
    "sms",
    "max_segments",
    "campaign",
]
# Paths a file-valued key may name: real files, missing ones, a folder, escapes. Never an
# arbitrary path: /dev/zero is a user's own foot to shoot, not what this test is about.
FILE_NAMES = ["audiences/people.csv", "audiences/missing.csv", ".", "..", "../templates/t.j2", "t.j2", "/", ""]

keys = st.one_of(st.sampled_from(VOCABULARY), st.text(min_size=1, max_size=8))
scalars = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        FILE_NAMES
        + ["MKT", "OTP", "valid", "possible", "skip", "fail", "US", "+1 555 867 5309", "{{ x }}", "url_action"]
    ),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
    st.datetimes(timezones=st.one_of(st.none(), st.just(UTC))),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3), max_leaves=8
)
paths = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=3)
mutations = st.lists(st.tuples(paths, st.one_of(st.none(), values)), min_size=1, max_size=4)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    write(root, "campaigns/audiences/people.csv", "id,phone,order_id\nx-1,+1 555 867 5309,1\n")
    write(root, "templates/t.j2", "Hello {{ order_id }}")
    return root


def check(folder: Path, campaign: str | bytes, audience: bytes | None = None) -> None:
    """Load and expand as `campaign check` does; only RunnerError may come out."""
    path = write(folder, "campaigns/fuzz.toml", campaign)
    if audience is not None:
        write(folder, "campaigns/audiences/fuzz.csv", audience)
    try:
        expansion = Expansion(load(path))
        for _ in expansion:
            pass
    except RunnerError as error:
        assert error.lines()


def mutate(document: dict[str, Any], changes: list[tuple[list[str], Any]]) -> dict[str, Any]:
    document = copy.deepcopy(document)
    for path, value in changes:
        table = document
        for key in path[:-1]:
            if not isinstance(table.get(key), dict):
                table[key] = {}
            table = table[key]
        if value is None:
            table.pop(path[-1], None)
        else:
            table[path[-1]] = value
    return document


VALID = tomllib.loads(TWO_RECIPIENTS)


@FUZZ
@given(text=st.text())
def test_arbitrary_text(folder: Path, text: str) -> None:
    check(folder, text)


@FUZZ
@given(data=st.binary())
def test_arbitrary_bytes(folder: Path, data: bytes) -> None:
    check(folder, data)


@FUZZ
@given(changes=mutations)
def test_valid_toml_with_wrong_keys_and_values(folder: Path, changes: list[tuple[list[str], Any]]) -> None:
    check(folder, tomli_w.dumps(mutate(VALID, changes)))


@FUZZ
@given(
    position=st.integers(min_value=0, max_value=len(TWO_RECIPIENTS)), insert=st.text(max_size=12), cut=st.integers(0, 8)
)
def test_a_valid_file_with_a_few_characters_changed(folder: Path, position: int, insert: str, cut: int) -> None:
    check(folder, TWO_RECIPIENTS[:position] + insert + TWO_RECIPIENTS[position + cut :])


@FUZZ
@given(
    recipients=st.lists(
        st.dictionaries(
            st.sampled_from(["phone", "id", "order_id", "shop", "campaign", "x"]), st.text(max_size=25), max_size=4
        ),
        min_size=1,
        max_size=4,
    )
)
def test_arbitrary_inline_recipients(folder: Path, recipients: list[dict[str, str]]) -> None:
    document = copy.deepcopy(VALID)
    document["audience"]["recipients"] = recipients
    check(folder, tomli_w.dumps(document))


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_audience_bytes(folder: Path, data: bytes) -> None:
    check(folder, CSV_AUDIENCE.replace("people.csv", "fuzz.csv"), b"id,phone,order_id\n" + data)


@FUZZ
@given(
    rows=st.lists(st.lists(st.text(max_size=12), max_size=5), max_size=6),
    header=st.lists(st.sampled_from(["id", "phone", "PHONE", "order_id", "shop", "campaign", "", "x"]), max_size=5),
)
def test_arbitrary_audience_rows(folder: Path, rows: list[list[str]], header: list[str]) -> None:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    check(folder, CSV_AUDIENCE.replace("people.csv", "fuzz.csv"), out.getvalue().encode("utf-8"))


# No "*": the sandbox bounds `**` and `*` (runner/campaign/render.py, tested in test_render.py), so
# random templates built from them would mostly exercise that one refusal, not the parser.
TEMPLATE_TOKENS = [
    *"{}%#()[]|.'\"_ abcx019+/~-",
    "{{",
    "}}",
    "{%",
    "%}",
    " order_id ",
    " shop ",
    " if ",
    " for ",
    " in ",
    " endif ",
    " endfor ",
    " loop ",
    " range(3) ",
    " campaign ",
    " __class__ ",
    " mro ",
    " else ",
]


@FUZZ
@given(template=st.lists(st.sampled_from(TEMPLATE_TOKENS), max_size=16).map("".join))
def test_arbitrary_templates(folder: Path, template: str) -> None:
    write(folder, "templates/t.j2", template)
    document = copy.deepcopy(VALID)
    document["viber"]["url_text"] = template
    check(folder, tomli_w.dumps(document))
    del document["viber"]["text"]
    document["viber"]["text_template"] = "t.j2"
    check(folder, tomli_w.dumps(document))
