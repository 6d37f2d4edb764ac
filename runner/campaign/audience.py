"""The audience: inline recipients, then the rows of the audience CSV, streamed one at a time.

Each row comes out as a `Recipient` (to be messaged) or a `Skipped` row (suppressed, invalid,
duplicate) carrying its reason, in audience order; nothing holds the whole file in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runner.campaign.phones import BadNumber, to_e164
from runner.campaign.schema import Campaign
from runner.campaign.seen import FingerprintSet
from runner.errors import InvalidInput, Problem

RESERVED = frozenset({"campaign"})  # template names the runner itself provides
SHOWN_HEADER = 80  # characters of a header quoted back in a message: enough to recognise it
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


def read_csv(path: Path, shown: str) -> Iterator[tuple[int, list[str], dict[str, str]]]:
    """Yield (line, header, row) for each data row of a CSV: UTF-8 with or without BOM, quoted
    fields, empty lines skipped. `line` is where the row starts. Errors name `shown:line`."""
    try:
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InvalidInput.at(
            shown, None, "audience file not found; check the path (relative to the campaign file)"
        ) from None
    except OSError as error:
        raise InvalidInput.at(shown, None, f"cannot read: {error.strerror}") from None
    with handle:
        # strict: a quote left open until the end of the file is an error, not one huge field.
        reader = csv.reader(handle, strict=True)
        header: list[str] | None = None
        end = 0
        while True:
            start = end + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            except UnicodeDecodeError:
                raise InvalidInput.at(
                    shown, _first_undecodable_line(path), "not UTF-8 text; save the CSV as UTF-8"
                ) from None
            except csv.Error as error:
                if "unexpected end of data" in str(error):
                    raise InvalidInput.at(
                        shown,
                        start,
                        "a quote opened on this line is not closed before the end of the file"
                        f" (line {reader.line_num}): the lines after it were read as one field; close it,"
                        ' or write a quote inside a field as ""',
                    ) from None
                if "expected after" in str(error) and reader.line_num > start:
                    raise InvalidInput.at(
                        shown,
                        start,
                        f"a quote opened on this line is not closed before line {reader.line_num}: the lines between"
                        ' were read as one field; close it, or write a quote inside a field as ""',
                    ) from None
                raise InvalidInput.at(shown, start, f"unreadable CSV ({error}){_csv_hint(error)}") from None
            end = reader.line_num
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            if header is None:
                header = [name.strip() for name in values]
                _check_header_names(shown, start, header)
                yield start, header, {}
                continue
            if len(values) != len(header):
                if end > start and any("\n" in value for value in values):
                    # A quote left open swallows the lines after it into one field.
                    raise InvalidInput.at(shown, start, _open_quote(values, header, start, end))
                hint = "; quote fields that contain commas" if len(values) > len(header) else ""
                yield (
                    start,
                    header,
                    {FIELD_COUNT: f"row has {len(values)} fields where the header has {len(header)}{hint}"},
                )
                continue
            yield start, header, dict(zip(header, values, strict=True))
    if header is None:
        raise InvalidInput.at(shown, 1, "empty file: the first row must be a header with a `phone` column")


FIELD_COUNT = "\x00field count"  # the one key of a row whose field count is not the header's


def _check_header_names(shown: str, line: int, header: list[str]) -> None:
    """Two columns of one name would silently lose one value; `phone` and `id` are found whatever
    their case, so `phone` and `Phone` are two of one name too."""
    seen: dict[str, int] = {}
    problems = []
    for number, name in enumerate(header, start=1):
        folded = name.lower() if name.lower() in ("phone", "id") else name
        if folded in seen:
            earlier = header[seen[folded] - 1]
            case = "; `phone` and `id` are found whatever their case" if earlier != name else ""
            problems.append(
                Problem(
                    shown,
                    line,
                    f"column {number} ({_shorten(name)!r}) repeats column {seen[folded]} ({_shorten(earlier)!r}):"
                    f" one value would be lost; rename or remove one{case}",
                )
            )
        else:
            seen[folded] = number
    if problems:
        raise InvalidInput(problems)


def _open_quote(values: list[str], header: list[str], start: int, end: int) -> str:
    column = next(i for i, value in enumerate(values) if "\n" in value)
    name = header[column] if column < len(header) else f"field {column + 1}"
    return (
        f"a quote opened on this line (in `{_shorten(name)}`) is not closed before line {end}: the lines after it"
        ' were read as one field; close it, or write a quote inside a field as ""'
    )


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shown_header(header: list[str]) -> str:
    """The header as quoted in a message: the start of it only (the file may not be an audience)."""
    text = ", ".join(header) or "nothing"
    return text if len(text) <= SHOWN_HEADER else text[: SHOWN_HEADER - 3] + "..."


def _first_undecodable_line(path: Path) -> int | None:
    """The first line of `path` that is not UTF-8. The text reader decodes blocks ahead of the
    rows it hands out, so where it fails says nothing about the line; the bytes are read again,
    a line at a time, only on this error path."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _csv_hint(error: csv.Error) -> str:
    if "field larger than field limit" in str(error):
        return (
            f"; a field over {csv.field_size_limit():,} characters: shorten it, or close the quote left open before it"
        )
    return "; is a quote left open?"


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

    def rows(self) -> Iterator[Row]:
        position = 0
        source = str(self.campaign.path)
        for index, inline in enumerate(self.spec.recipients):
            line = self.campaign.line_of("audience", "recipients", index) or 0
            yield Row(position, source, line, {k: str(v) for k, v in inline.items()})
            position += 1
        if self.spec.file is None:
            return
        path = self.campaign.resolve_inside(("audience", "file"), self.spec.file)
        shown = self.display(path)
        for line, header, fields in read_csv(path, shown):
            if not fields:
                self._check_header(shown, line, header)
                continue
            yield Row(position, shown, line, fields)
            position += 1

    def _check_header(self, shown: str, line: int, header: list[str]) -> None:
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
        suppressed = self.suppression()
        # A recipient's key is its id, or else its phone: the phones set covers keys without an
        # id, so only ids need a set of their own (half the memory for an audience without ids).
        ids, phones = FingerprintSet(), FingerprintSet()
        region, check = self.spec.default_region, self.spec.phone_check
        checked_inline: set[frozenset[str]] = set()
        inline_source = str(self.campaign.path)
        # (phone column, id column) per set of column names: a CSV has one, so this is looked up
        # once, not once per row of a million.
        columns: dict[tuple[str, ...], tuple[str | None, str | None]] = {}
        for row in self.rows():
            fields = row.fields
            if FIELD_COUNT in fields:
                reason = fields[FIELD_COUNT]
                yield Skipped(row.position, row.source, row.line, None, "", "invalid", reason)
                continue
            if row.source == inline_source:
                names = frozenset(fields)
                if names not in checked_inline:
                    self._check_names(row.source, row.line, list(fields))
                    checked_inline.add(names)
            header = tuple(fields)
            found = columns.get(header)
            if found is None:
                found = columns[header] = (_find_column(list(header), "phone"), _find_column(list(header), "id"))
            phone_column, id_column = found
            raw_phone = fields.get(phone_column, "") if phone_column else ""
            recipient_id = (fields.get(id_column) or "").strip() if id_column else ""
            if phone_column is None:
                yield Skipped(
                    row.position,
                    row.source,
                    row.line,
                    recipient_id or None,
                    "",
                    "invalid",
                    "no `phone` for this recipient",
                )
                continue
            try:
                phone = to_e164(raw_phone, region, check)
            except BadNumber as error:
                yield Skipped(
                    row.position,
                    row.source,
                    row.line,
                    recipient_id or None,
                    raw_phone.strip(),
                    "invalid",
                    str(error),
                    error.kind,
                )
                continue
            key = recipient_id or phone
            listed = None
            for name, numbers in suppressed:  # usually one list: a loop, not a generator per row
                if phone in numbers:
                    listed = name
                    break
            if listed is not None:
                yield Skipped(
                    row.position,
                    row.source,
                    row.line,
                    recipient_id or None,
                    phone,
                    "suppressed",
                    f"{SUPPRESSED_BY}{listed}",
                )
                continue
            seen_id = bool(recipient_id) and recipient_id in ids
            if seen_id or phone in phones:
                what = f"id {recipient_id!r}" if seen_id else f"phone {phone}"
                yield Skipped(
                    row.position,
                    row.source,
                    row.line,
                    recipient_id or None,
                    phone,
                    "duplicate",
                    f"duplicate: {what} appears earlier in the audience",
                )
                continue
            if recipient_id:
                ids.add(recipient_id)
            phones.add(phone)
            # `phone` (E.164) and `id` are template variables whatever their column's case.
            variables = {k: v for k, v in fields.items() if k not in (phone_column, id_column)}
            variables["phone"] = phone
            if id_column is not None:
                variables["id"] = recipient_id
            yield Recipient(row.position, row.source, row.line, key, recipient_id or None, phone, variables)
