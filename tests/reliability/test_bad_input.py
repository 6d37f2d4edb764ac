"""Bad input, generated: broken encodings, huge fields, odd types, template injection. The
program never crashes with a traceback; a bad campaign exits 1 with `path:line` lines and sends
nothing; a bad callback log is counted line by line and never fatal."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.serving import BackgroundServer
from runner.simulator import SimulatorConfig, create_app
from tests.fixtures.simulator import SimulatorServer
from tests.sending.helpers import campaign, telesign_env, write_campaign

pytestmark = pytest.mark.reliability
# `path:line: message`, after the UTC time that send prints first when not on a terminal (docs/sending.md)
LOCATED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ )?[^\s:][^:]*:(\d+:)? ", re.MULTILINE)

INJECTIONS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ lipsum.__globals__['os'] }}",
    "{% for x in range(10**9) %}x{% endfor %}",
    "{{ order_id.__class__ }}",
    "{{ config }}",
    "{% include '/etc/passwd' %}",
    "{% import '../../../etc/passwd' as p %}",
    "{{ 'a' * 100000 }}",
]
ODD_VALUES = [
    "[1, 2]",
    "{ a = 1 }",
    "1979-05-27T07:32:00Z",
    "true",
    "-5",
    "1e400",
    '"\\u0000"',
    '""',
    '"' + "x" * 200 + '"',
    "nan",
]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    with BackgroundServer(create_app(SimulatorConfig(time_scale=0.001))) as server:
        yield server


def run_send(file: Path, out: Path, url: str) -> Any:
    result = campaign("send", str(file), "--outputs", str(out), env=telesign_env(url))
    assert "Traceback" not in result.output
    return result


def assert_refused(result: Any, sim: SimulatorServer, before: int) -> None:
    assert result.exit_code == 1, result.output
    assert LOCATED.search(result.output), result.output
    assert len(sim.app.accepted()) == before  # nothing sent


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(attack=st.sampled_from(INJECTIONS), where=st.sampled_from(["text", "url_text", "sms"]))
def test_template_injection_is_refused_cleanly(attack: str, where: str, sim: SimulatorServer) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        file = write_campaign(folder / "c", digits=[1, 2])
        text = file.read_text()
        escaped = attack.replace("\\", "\\\\").replace('"', '\\"')
        if where == "text":
            text = text.replace('text = "Hello', f'text = "{escaped} Hello', 1)
        elif where == "url_text":
            text = text.replace('url_text = "Track"', f'url_text = "{escaped}"')
        else:
            text = text.replace('text = "Your order', f'text = "{escaped} Your order')
        file.write_text(text)
        before = len(sim.app.accepted())
        result = run_send(file, folder / "out", sim.url)
        if result.exit_code != 1:
            # only a harmless expression may render (e.g. an empty `config`?): it must not leak
            assert "passwd" not in result.output and "popen" not in result.output
            assert result.exit_code in (0, 3)
        else:
            assert_refused(result, sim, before)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@SETTINGS
@given(
    key=st.sampled_from(
        [
            "id",
            "message_type",
            "viber.fallback_time",
            "sending.rate",
            "audience.default_region",
            "viber.url",
            "audience.on_invalid",
        ]
    ),
    value=st.sampled_from(ODD_VALUES),
)
def test_odd_types_in_the_campaign_file_are_located(key: str, value: str, sim: SimulatorServer) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        file = write_campaign(folder / "c", digits=[1])
        lines = file.read_text().splitlines()
        table, _, name = key.rpartition(".")
        current = ""
        replaced = False
        for i, line in enumerate(lines):
            if line.startswith("["):
                current = line.strip("[]")
            elif current == table and line.split("=")[0].strip() == name:
                lines[i] = f"{name} = {value}"
                replaced = True
        if not replaced:
            header = lines.index(f"[{table}]") if table else 0
            lines.insert(header + 1, f"{name} = {value}")
        file.write_text("\n".join(lines) + "\n")
        before = len(sim.app.accepted())
        result = run_send(file, folder / "out", sim.url)
        assert result.exit_code in (0, 1), result.output
        if result.exit_code == 1:
            assert_refused(result, sim, before)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@SETTINGS
@given(
    row=st.one_of(
        st.binary(min_size=1, max_size=200), st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))
    ),
    huge=st.booleans(),
)
def test_broken_csv_rows_are_located_and_nothing_is_sent(row: bytes, huge: bool, sim: SimulatorServer) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        file = write_campaign(folder / "c", digits=[1, 2])
        audience = folder / "c" / "audience.csv"
        bad = b"r-x," + (b"x" * 300_000 if huge else b"") + row.replace(b"\n", b" ").replace(b"\r", b" ") + b",N,1\n"
        audience.write_bytes(audience.read_bytes() + bad)
        before = len(sim.app.accepted())
        result = run_send(file, folder / "out", sim.url)
        assert_refused(result, sim, before)
        assert "audience.csv:4" in result.output or "audience.csv:" in result.output
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@SETTINGS
@given(lines=st.lists(st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode)), max_size=30))
def test_any_callback_log_is_read_without_failing(lines: list[bytes], sim: SimulatorServer) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        file = write_campaign(folder / "c", digits=[1])
        out = folder / "out"
        campaign("send", str(file), "--outputs", str(out), env=telesign_env(sim.url))
        log = folder / "log.jsonl"
        log.write_bytes(b"\n".join(lines))
        result = campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
    finally:
        shutil.rmtree(folder, ignore_errors=True)
