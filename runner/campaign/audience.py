"""The audience: inline recipients, then the rows of the audience CSV, streamed one at a time.

Each row comes out as a `Recipient` (to be messaged) or a `Skipped` row (suppressed, invalid,
duplicate) carrying its reason, in audience order; nothing holds the whole file in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runner.campaign.csvfile import FIELD_COUNT, check_header_names, parse_csv, read_csv, shown_header
from runner.campaign.phones import BadNumber, PhoneCheck, to_e164
from runner.campaign.schema import Campaign
from runner.campaign.seen import FingerprintSet
from runner.errors import InvalidInput, Problem

__all__ = ["FIELD_COUNT", "check_header_names", "read_csv", "shown_header"]  # read here, kept in csvfile

RESERVED = frozenset({"campaign"})  # template names the runner itself provides
SUPPRESSED_BY = "on the suppression list "  # + the list's name: the reason of a suppressed row


@dataclass(frozen=True)
class Row:
    """One audience row as written: where it is and its fields (column -> text)."""

    position: int
    source: str
    line: int
    fields: dict[str, str]


@dataclass(frozen=True)
class Recipient:
    position: int
    source: str
    line: int
    key: str  # the `id` column where present, else the phone in E.164
    recipient_id: str | None
    phone: str  # E.164
    variables: dict[str, str]  # every column, with `phone` in E.164 and `id` stripped


SkipState = Literal["suppressed", "invalid", "duplicate"]


@dataclass(frozen=True)
class Skipped:
    position: int
    source: str
    line: int
    recipient_id: str | None
    phone: str  # E.164 where it parsed, else as written
    state: SkipState
    reason: str
    kind: str = ""  # the cause without this row's values, for grouping rows (default: the reason)

    @property
    def problem(self) -> Problem:
        return Problem(self.source, self.line, self.reason)


def parse_rows(handle: Iterable[str], shown: str, path: Path, first_line: int, header: list[str]) -> Iterator[Row]:
    """The Rows of a slice of an audience CSV (positions count from the slice's first row)."""
    for position, (line, _, fields) in enumerate(parse_csv(handle, shown, path, first_line, header)):
        yield Row(position, shown, line, fields)


def _find_column(header: list[str], name: str) -> str | None:
    for column in header:
        if column.lower() == name:
            return column
    return None


class AudienceReader:
    """Streams a campaign's audience as Recipient / Skipped rows."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self.spec = campaign.spec.audience
        self._suppressed: list[tuple[str, FingerprintSet]] | None = None
        self.suppression_rows: dict[str, int] = {}  # data rows per suppression list, once read
        self._columns: dict[tuple[str, ...], tuple[str | None, str | None]] = {}

    def display(self, path: Path) -> str:
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    def suppression(self) -> list[tuple[str, FingerprintSet]]:
        """The numbers of each `suppress` list, by the list's name as the campaign file writes it
        (a suppressed row is reported with the list that holds it, docs/report.md). An unreadable
        number there is an error: an opt-out we cannot read is an opt-out we might not honour."""
        if self._suppressed is not None:
            return self._suppressed
        lists: list[tuple[str, FingerprintSet]] = []
        problems: list[Problem] = []
        for index, name in enumerate(self.spec.suppress):
            numbers = FingerprintSet()
            lists.append((name, numbers))
            path = self.campaign.resolve_inside(("audience", "suppress", index), name)
            shown = self.display(path)
            phone_column: str | None = None
            for line, header, row in read_csv(path, shown):
                if not row:
                    phone_column = _find_column(header, "phone")
                    if phone_column is None:
                        raise InvalidInput(
                            [
                                self.campaign.problem(
                                    ("audience", "suppress", index), f"{shown} has no `phone` column"
                                ),
                                Problem(
                                    shown, line, f"no `phone` column in the header (found: {shown_header(header)})"
                                ),
                            ]
                        )
                    continue
                assert phone_column is not None
                self.suppression_rows[name] = self.suppression_rows.get(name, 0) + 1
                if FIELD_COUNT in row:
                    problems.append(Problem(shown, line, f"suppression list: {row[FIELD_COUNT]}"))
                    continue
                try:
                    numbers.add(to_e164(row.get(phone_column) or "", self.spec.default_region, "possible"))
                except BadNumber as error:
                    problems.append(Problem(shown, line, f"suppression list: {error}"))
        if problems:
            raise InvalidInput(problems)
        self._suppressed = lists
        return lists

    def inline_rows(self) -> Iterator[Row]:
        source = str(self.campaign.path)
        for index, inline in enumerate(self.spec.recipients):
            line = self.campaign.line_of("audience", "recipients", index) or 0
            yield Row(index, source, line, {k: str(v) for k, v in inline.items()})

    def rows(self) -> Iterator[Row]:
        yield from self.inline_rows()
        position = len(self.spec.recipients)
        if self.spec.file is None:
            return
        path = self.campaign.resolve_inside(("audience", "file"), self.spec.file)
        shown = self.display(path)
        for line, header, fields in read_csv(path, shown):
            if not fields:
                self.check_header(shown, line, header)
                continue
            yield Row(position, shown, line, fields)
            position += 1

    def check_header(self, shown: str, line: int, header: list[str]) -> None:
        if _find_column(header, "phone") is None:
            raise InvalidInput(
                [
                    Problem(shown, line, f"no `phone` column in the header (found: {shown_header(header)})"),
                    self.campaign.problem(("audience", "file"), f"the audience file {shown} needs a `phone` column"),
                ]
            )
        self._check_names(shown, line, header)

    def _check_names(self, source: str, line: int, names: list[str]) -> None:
        clashes = sorted({n for n in names if n in self.campaign.spec.vars or n in RESERVED})
        if clashes:
            raise InvalidInput(
                [
                    Problem(
                        source,
                        line,
                        f"column `{name}` has the same name as "
                        + ("a [vars] entry" if name in self.campaign.spec.vars else "the built-in `campaign` variable")
                        + "; rename one of them",
                    )
                    for name in clashes
                ]
            )

    def __iter__(self) -> Iterator[Recipient | Skipped]:
        # A recipient's key is its id, or else its phone: the phones set covers keys without an
        # id, so only ids need a set of their own (half the memory for an audience without ids).
        yield from self._items(self.rows(), FingerprintSet(), FingerprintSet())

    def inline_items(self, ids: FingerprintSet, phones: FingerprintSet) -> Iterator[Recipient | Skipped]:
        """The inline recipients alone, as __iter__ gives them (the CSV is read elsewhere)."""
        yield from self._items(self.inline_rows(), ids, phones)

    def _items(self, rows: Iterable[Row], ids: FingerprintSet, phones: FingerprintSet) -> Iterator[Recipient | Skipped]:
        checked_inline: set[frozenset[str]] = set()
        inline_source = str(self.campaign.path)
        for row in rows:
            if row.source == inline_source and FIELD_COUNT not in row.fields:
                names = frozenset(row.fields)
                if names not in checked_inline:
                    self._check_names(row.source, row.line, list(row.fields))
                    checked_inline.add(names)
            item = self.classify(row)
            if isinstance(item, Recipient):
                item = dedup(item, ids, phones)
            yield item

    def classify(self, row: Row, known: PhoneVerdict | None = None, unsuppressed: bool = False) -> Recipient | Skipped:
        """One row as a recipient, or why it is skipped, before duplicates are looked for (they
        depend on the rows before it: `dedup`). `known`: this row's phone verdict from a cache
        (runner.campaign.parallel), instead of parsing the number again; `unsuppressed`: the cache
        says it is on no suppression list."""
        fields = row.fields
        if FIELD_COUNT in fields:
            return Skipped(row.position, row.source, row.line, None, "", "invalid", fields[FIELD_COUNT])
        header = tuple(fields)
        found = self._columns.get(header)
        if found is None:
            # (phone column, id column) per set of column names: a CSV has one, so this is looked
            # up once, not once per row of a million.
            found = self._columns[header] = (_find_column(list(header), "phone"), _find_column(list(header), "id"))
        phone_column, id_column = found
        recipient_id = (fields.get(id_column) or "").strip() if id_column else ""
        if phone_column is None:
            return Skipped(
                row.position, row.source, row.line, recipient_id or None, "", "invalid", "no `phone` for this recipient"
            )
        raw_phone = fields.get(phone_column, "")
        verdict = (
            known if known is not None else phone_verdict(raw_phone, self.spec.default_region, self.spec.phone_check)
        )
        if isinstance(verdict, BadNumber):
            return Skipped(
                row.position,
                row.source,
                row.line,
                recipient_id or None,
                raw_phone.strip(),
                "invalid",
                str(verdict),
                verdict.kind,
            )
        phone = verdict
        if not unsuppressed:
            for name, numbers in self.suppression():  # usually one list: a loop, not a generator per row
                if phone in numbers:
                    return Skipped(
                        row.position,
                        row.source,
                        row.line,
                        recipient_id or None,
                        phone,
                        "suppressed",
                        f"{SUPPRESSED_BY}{name}",
                    )
        # `phone` (E.164) and `id` are template variables whatever their column's case.
        variables = {k: v for k, v in fields.items() if k not in (phone_column, id_column)}
        variables["phone"] = phone
        if id_column is not None:
            variables["id"] = recipient_id
        return Recipient(
            row.position, row.source, row.line, recipient_id or phone, recipient_id or None, phone, variables
        )


PhoneVerdict = str | BadNumber  # E.164, or why the number is refused


def phone_verdict(raw: str, region: str | None, check: PhoneCheck) -> PhoneVerdict:
    try:
        return to_e164(raw, region, check)
    except BadNumber as error:
        return error


def dedup(recipient: Recipient, ids: FingerprintSet, phones: FingerprintSet) -> Recipient | Skipped:
    """The recipient, or a duplicate of an earlier one (same id, or same phone); adds it to the
    sets it is looked up in."""
    recipient_id, phone = recipient.recipient_id, recipient.phone
    seen_id = recipient_id is not None and recipient_id in ids
    if seen_id or phone in phones:
        what = f"id {recipient_id!r}" if seen_id else f"phone {phone}"
        r = recipient
        return Skipped(
            r.position,
            r.source,
            r.line,
            recipient_id,
            phone,
            "duplicate",
            f"duplicate: {what} appears earlier in the audience",
        )
    if recipient_id is not None:
        ids.add(recipient_id)
    phones.add(phone)
    return recipient
