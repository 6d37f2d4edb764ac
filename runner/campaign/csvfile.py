"""Reading an audience CSV: UTF-8 with or without BOM, quoted fields, empty lines skipped, every
row at the line it starts on, and the mistakes people make with CSVs said as such (two columns of
one name, a row with too few or too many fields, a quote left open) (docs/campaign-file.md)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from runner.errors import InvalidInput, Problem

SHOWN_HEADER = 80  # characters of a header quoted back in a message: enough to recognise it


def read_csv(path: Path, shown: str) -> Iterator[tuple[int, list[str], dict[str, str]]]:
    """Yield (line, header, row) for each data row of a CSV: UTF-8 with or without BOM, quoted
    fields, empty lines skipped. `line` is where the row starts. Errors name `shown:line`."""
    try:
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InvalidInput.at(
            shown, None, "audience file not found; check the path (relative to the campaign file)"
        ) from None
    except IsADirectoryError:
        raise InvalidInput.at(shown, None, "a folder, not a CSV file: name the CSV file inside it") from None
    except OSError as error:
        raise InvalidInput.at(shown, None, f"cannot read: {error.strerror}") from None
    with handle:
        yield from parse_csv(handle, shown, path)


def parse_csv(
    handle: Iterable[str], shown: str, path: Path, first_line: int = 1, header: list[str] | None = None
) -> Iterator[tuple[int, list[str], dict[str, str]]]:
    """read_csv's rows from text lines; `first_line` and `header` when the lines are a slice of the
    file after its header (runner.campaign.parallel)."""
    # strict: a quote left open until the end of the file is an error, not one huge field.
    reader = csv.reader(handle, strict=True)
    sliced = header is not None
    end = first_line - 1
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
        end = first_line - 1 + reader.line_num
        if not values or (len(values) == 1 and not values[0].strip()):
            continue
        if header is None:
            header = [name.strip() for name in values]
            check_header_names(shown, start, header)
            yield start, header, {}
            continue
        assert header is not None
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
    if header is None and not sliced:
        raise InvalidInput.at(shown, 1, "empty file: the first row must be a header with a `phone` column")


FIELD_COUNT = "\x00field count"  # the one key of a row whose field count is not the header's


def check_header_names(shown: str, line: int, header: list[str]) -> None:
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
