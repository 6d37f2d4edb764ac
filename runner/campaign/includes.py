"""The template files a campaign's texts include, import or extend, besides those it names: inputs
of what the send makes as much as the campaign file, for the plan (runner.plan.inputs) and for the
shared ledger's sync (runner.sending.audience_pass.source_fingerprint)."""

from __future__ import annotations

from pathlib import Path

import jinja2
from jinja2 import meta

from runner.campaign.schema import Campaign


def included_templates(campaign: Campaign, templates_folder: Path | None) -> list[Path]:
    """The template files the campaign's texts include, import or extend (`{% include "footer.j2"
    %}`), and those theirs do in turn, in the order first met, without the text templates the
    campaign names itself. The send reads them as it renders, so they make its messages as much as
    the files it names (the plan lists them as inputs, the shared ledger's sync compares them). A
    name computed when rendering (`{% include name %}`) cannot be known here: any file of the
    templates folder may be it, so all of them are listed."""
    if templates_folder is None:
        return []
    spec = campaign.spec
    sms = spec.sms
    named = [n for n in (spec.viber.text_template, sms.text_template if sms else None) if n]
    inline = [spec.viber.text, spec.viber.url, spec.viber.url_text, spec.viber.url_id, sms.text if sms else None]
    seen = set(named)
    found: list[Path] = []
    env = jinja2.Environment()  # only to parse: the Renderer's sandbox uses the same syntax
    queue = [s for s in inline if s] + [_read(templates_folder / n) for n in named]
    while queue:
        try:
            tree = env.parse(queue.pop(0))
        except jinja2.TemplateSyntaxError:  # the Renderer has refused it already
            continue
        for name in meta.find_referenced_templates(tree):
            if name is None:  # any file may be it (but those named or found already)
                every = _every_template(templates_folder)
                return found + [p for p in every if p.relative_to(templates_folder).as_posix() not in seen]
            if name in seen:
                continue
            seen.add(name)
            found.append(templates_folder / name)
            queue.append(_read(templates_folder / name))
    return found


def _every_template(folder: Path) -> list[Path]:
    """The files of the templates folder, but an editor's own (hidden files, `name~` backups): an
    open editor must not make a plan stale."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not path.name.endswith("~")
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )  # fmt: skip


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # missing or unreadable: the render says so, per row
        return ""
