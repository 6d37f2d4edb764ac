"""The docs and the program in step (the idea of sqlite-utils' test_docs.py): every command and
option that `campaign --help` shows is in docs/, every key a campaign file (or the repository
policy) accepts is documented, and every docs/ page that code, tests or the README cite exists."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from runner.campaign.schema import CampaignFile
from runner.main import cli
from runner.policy.schema import PolicyFile

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# (schema model, the page that documents its keys). A model added for another file (the repository
# policy, a price table) joins this list with its page.
DOCUMENTED_MODELS: list[tuple[type[BaseModel], str]] = [(CampaignFile, "campaign-file.md"), (PolicyFile, "policy.md")]


def all_docs() -> str:
    return "\n".join(page.read_text(encoding="utf-8") for page in sorted(DOCS.glob("*.md")))


def commands(group: click.Group, prefix: str = "campaign") -> Iterator[tuple[str, click.Command]]:
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from commands(command, path)


COMMANDS = list(commands(cli))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_every_command_and_option_is_in_the_docs(path: str, command: click.Command) -> None:
    text = all_docs()
    assert f"`{path}" in text, f"{path} is not documented under docs/"
    if isinstance(command, click.Group):
        return
    for parameter in command.params:
        if not isinstance(parameter, click.Option):
            continue
        names = [name for name in parameter.opts if name.startswith("--") and name != "--help"]
        for name in names:
            assert re.search(rf"`{re.escape(name)}[` =\[]", text), f"{path} {name} is not documented under docs/"


def keys(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, key) of every key the model accepts, nested tables included."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        yield prefix + key, key
        annotation = field.annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                yield from keys(candidate, f"{prefix}{key}.")


MODEL_KEYS = [(page, path, key) for model, page in DOCUMENTED_MODELS for path, key in keys(model)]


@pytest.mark.parametrize(("page", "path", "key"), MODEL_KEYS, ids=[f"{p}:{k}" for p, k, _ in MODEL_KEYS])
def test_every_file_key_is_documented(page: str, path: str, key: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    table = path.rsplit(".", 1)[0] if "." in path else None
    # a key is documented as `key` in its table's list, a table as its [header]
    assert f"`{key}`" in text or f"[{path}]" in text, (
        f"`{path}` is accepted in a file but not documented in docs/{page}"
    )
    if table is not None:
        assert f"[{table}]" in text, f"the table [{table}] is not documented in docs/{page}"


CITED = re.compile(r"docs/([\w.-]+\.(?:md|png))")


def citing_files() -> Iterator[Path]:
    yield ROOT / "README.md"
    yield from DOCS.glob("*.md")
    for folder in ("runner", "tests", "bench"):
        yield from (ROOT / folder).rglob("*.py")


def test_every_cited_docs_file_exists() -> None:
    missing = sorted(
        f"{source.relative_to(ROOT)} cites docs/{name}"
        for source in citing_files()
        for name in set(CITED.findall(source.read_text(encoding="utf-8")))
        if not (DOCS / name).exists()
    )
    assert missing == []


def test_docs_pages_link_to_pages_that_exist() -> None:
    broken = sorted(
        f"{page.name} links to {target}"
        for page in DOCS.glob("*.md")
        for target in re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]+)?\)", page.read_text(encoding="utf-8"))
        if not (DOCS / target).exists()
    )
    assert broken == []


def test_nothing_cites_a_design_document_outside_the_repository() -> None:
    citing = sorted(
        str(source.relative_to(ROOT))
        for source in citing_files()
        if source != Path(__file__) and "DESIGN.md" in source.read_text(encoding="utf-8")
    )
    assert citing == []
