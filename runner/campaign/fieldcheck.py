"""One text field checked over one slice's candidates (runner.campaign.verdicts): per recipient
the JSON size of its rendered value (and the SMS segments), or its problem; a field that reads only
recipient variables rendered once per distinct value of them (docs/commands.md, "campaign check")."""

from __future__ import annotations

import csv
import io
import operator
from typing import Any

from runner.campaign.audience import AudienceReader, Recipient, Row
from runner.campaign.render import Renderer, RenderProblem
from runner.campaign.request import json_size
from runner.campaign.sms import measure

CANDIDATE, CANDIDATE_PROBLEM, INVALID, SUPPRESSED = 0, 1, 2, 3
# An SMS as one int: characters * 512 + segments * 2 + (1 for UCS-2); -1 for none.
UCS2 = 1


def sms_code(characters: int, segments: int, encoding: str) -> int:
    return characters * 512 + min(segments, 255) * 2 + (UCS2 if encoding == "UCS-2" else 0)


def slice_text(data: bytes) -> io.StringIO:
    return io.StringIO(data.decode("utf-8"), newline="")


class Candidates:
    """The slice's candidates as a field's render needs them: the values of the variables it reads
    (its memo key), and a Recipient for a key not rendered yet. With the audience verdict from the
    cache, a field that reads only recipient variables needs neither the numbers parsed again nor
    a Recipient per row: csv.reader's values, picked by column, are the key, and a Recipient is
    made only for the first row of each distinct key (a changed SMS text at a million rows)."""

    def __init__(
        self,
        audience: AudienceReader,
        shown: str,
        header: list[str],
        data: bytes,
        verdict: tuple[Any, ...],
        recipients: list[Recipient] | None,
    ):
        self.audience, self.shown, self.header = audience, shown, header
        self.data = data
        self.verdict = verdict
        self.recipients = recipients
        self._values: list[tuple[int, list[str]]] | None = None  # (row, csv values) per candidate
        self._known: dict[str, tuple[list[str], list[int]]] | None = None  # what keys() read from

    def __len__(self) -> int:
        return len(self.verdict[3])

    def keys(self, names: tuple[str, ...]) -> list[Any]:
        """Per candidate, a key equal for two candidates whose variables `names` are equal."""
        self._known = None
        if self.recipients is not None:
            return [tuple([r.variables.get(n) for n in names]) for r in self.recipients]
        header = self.header
        known: dict[str, tuple[list[str], list[int]]] = self.verdict[7]
        if all(n in known or n not in header for n in names) and "phone" not in names and "id" not in names:
            # Every column read has its values remembered by index: no CSV parsing at all.
            self._known = {n: known[n] for n in names if n in known}
            indexes = [indexes for _, indexes in self._known.values()]
            return list(zip(*indexes, strict=True)) if indexes else [()] * len(self)
        values = self.values()
        phone_column = next(c for c in header if c.lower() == "phone")
        id_column = next((c for c in header if c.lower() == "id"), None)
        # As AudienceReader.classify makes a recipient's variables: every column but the phone's
        # and the id's, then `phone` in E.164 and `id` stripped.
        plain = [n for n in names if n in header and n not in (phone_column, id_column)]
        if len(plain) == len(names) and names:
            pick = operator.itemgetter(*[header.index(n) for n in names])
            return [pick(v) for _, v in values]
        phones = self.verdict[3]
        id_at = header.index(id_column) if id_column is not None else -1

        def one(candidate: int, v: list[str]) -> tuple[str | None, ...]:
            out: list[str | None] = []
            for n in names:
                if n == "phone":
                    out.append(phones[candidate])
                elif n == "id" and id_at >= 0:
                    out.append(v[id_at].strip())
                else:
                    out.append(v[header.index(n)] if n in plain else None)
            return tuple(out)

        return [one(candidate, v) for candidate, (_, v) in enumerate(values)]

    def recipient(self, candidate: int) -> Recipient:
        if self.recipients is not None:
            return self.recipients[candidate]
        if self._known is not None:
            # The variables the field reads are all it sees (Renderer: memo_names): those alone.
            phone = self.verdict[3][candidate]
            variables = {n: distinct[indexes[candidate]] for n, (distinct, indexes) in self._known.items()}
            return Recipient(candidate, self.shown, 0, phone, None, phone, {**variables, "phone": phone})
        row, values = self.values()[candidate]
        fields = dict(zip(self.header, values, strict=True))
        item = self.audience.classify(
            Row(row, self.shown, self.verdict[0][row], fields), known=self.verdict[3][candidate], unsuppressed=True
        )
        assert isinstance(item, Recipient)
        return item

    def values(self) -> list[tuple[int, list[str]]]:
        """Each candidate's row and csv values, as parse_csv reads them (the slice parsed before,
        with this verdict: no error can come now)."""
        if self._values is None:
            rows = [v for v in csv.reader(slice_text(self.data), strict=True) if v and (len(v) > 1 or v[0].strip())]
            self._values = [
                (row, v) for row, (v, code) in enumerate(zip(rows, self.verdict[1], strict=True)) if code == CANDIDATE
            ]
        return self._values


COLUMN_VALUES = 256  # distinct values of a column in a slice, at most, for them to be remembered


def column_values(recipients: list[Recipient], header: list[str]) -> dict[str, tuple[list[str], list[int]]]:
    """Per column of few distinct values in the slice (a first name, a city; not an id): those
    values, and per candidate the index of its value. Remembered with the audience, they key a
    changed text's renders without the slice being read again."""
    out: dict[str, tuple[list[str], list[int]]] = {}
    names = [n for n in header if n.lower() not in ("phone", "id")]
    for name in names:
        index: dict[str, int] = {}
        indexes = []
        for recipient in recipients:
            value = recipient.variables[name]
            at = index.get(value)
            if at is None:
                if len(index) >= COLUMN_VALUES:
                    break
                at = index[value] = len(index)
            indexes.append(at)
        else:
            out[name] = (list(index), indexes)
    return out


def field_verdict(renderer: Renderer, f: Any, candidates: Candidates) -> tuple[Any, ...]:
    """Per candidate: the field's JSON size, and for the SMS its segments code; or its problem.
    A field that reads only recipient variables is rendered once per distinct value of them."""
    sizes: list[int] = []
    sms: list[int] = []
    causes: list[tuple[str, str, str]] = []
    problem_of: dict[int, int] = {}
    seen: dict[tuple[str, str], int] = {}
    is_sms = f.shown == ("sms", "text")
    is_url = f.shown == ("viber", "url")

    def outcome(recipient: Recipient) -> tuple[int, int, int]:
        """(size, SMS code, cause or -1)"""
        value = renderer.render_field(f, recipient)
        if isinstance(value, RenderProblem):
            cause = seen.get((value.kind, value.hint))
            if cause is None:
                cause = seen[(value.kind, value.hint)] = len(causes)
                causes.append((value.kind, value.hint, value.detail))
            return 0, -1, cause
        if not is_sms:
            return json_size(value.strip() if is_url else value), -1, -1
        shape = measure(value)
        return json_size(value), sms_code(shape.characters, shape.segments, shape.encoding), -1

    if f.reads_only_names:
        known: dict[Any, tuple[int, int, int]] = {}
        outcomes = []
        for candidate, k in enumerate(candidates.keys(f.memo_names)):
            found = known.get(k)
            if found is None:
                found = known[k] = outcome(candidates.recipient(candidate))
            outcomes.append(found)
    else:
        outcomes = [outcome(candidates.recipient(c)) for c in range(len(candidates))]
    for candidate, (size, code, cause) in enumerate(outcomes):
        sizes.append(size)
        sms.append(code)
        if cause >= 0:
            problem_of[candidate] = cause
    return (sizes, sms if is_sms else [], causes, problem_of)
