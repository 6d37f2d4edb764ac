"""Where each key of a TOML file is: tomllib parses values but forgets lines, and every error a
marketer sees must name `path:line`. This scanner walks the text once, tracking strings, comments
and bracket depth, and maps each key path to the line it is written on. Elements of an array of
inline tables (the inline `recipients`) get their own line, so an error in recipient 3 points at
recipient 3."""

from __future__ import annotations

import re

KeyPath = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_PART = r"(?:[A-Za-z0-9_-]+|\"[^\"\n]*\"|'[^'\n]*')"
_KEY = re.compile(rf"({_PART}(?:\s*\.\s*{_PART})*)\s*=")
_SCALAR = re.compile(r"[^,\]\n#]+")


def _split_key(text: str) -> list[str]:
    """Split a dotted TOML key (`a."b.c".d`) into its parts."""
    parts: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t.":
            i += 1
        elif ch in "\"'":
            end = text.find(ch, i + 1)
            end = n if end < 0 else end
            parts.append(text[i + 1 : end])
            i = end + 1
        else:
            m = _BARE.match(text, i)
            if not m:
                break
            parts.append(m.group(0))
            i = m.end()
    return parts


class KeyLines:
    """Key path -> 1-based line number, for one TOML text."""

    def __init__(self, text: str):
        self.lines: dict[KeyPath, int] = {}
        self._pending: KeyPath = ()  # the key whose value is being read
        self._scan(text)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of the longest known prefix of `path` (a value's own line when known)."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def _scan(self, text: str) -> None:
        table: KeyPath = ()
        array_counts: dict[KeyPath, int] = {}
        line = 1
        i, n = 0, len(text)
        # Stack of open brackets inside a value: ("[" or "{", key path of that container, index)
        stack: list[tuple[str, KeyPath, list[int]]] = []
        at_line_start = True
        while i < n:
            ch = text[i]
            if ch == "\n":
                line += 1
                i += 1
                at_line_start = True
                continue
            if ch in " \t\r":
                i += 1
                continue
            if ch == "#":
                nl = text.find("\n", i)
                i = n if nl < 0 else nl
                continue
            if not stack and at_line_start and ch == "[":
                double = text.startswith("[[", i)
                end = text.find("]", i)
                end = n if end < 0 else end
                name = _split_key(text[i + (2 if double else 1) : end])
                table = tuple(name)
                if double:
                    idx = array_counts.get(table, 0)
                    array_counts[table] = idx + 1
                    table = table + (idx,)
                self.lines.setdefault(table, line)
                nl = text.find("\n", end)
                i = n if nl < 0 else nl
                continue
            expects_key = (not stack and at_line_start) or (
                stack and stack[-1][0] == "{" and text[i - 1 : i] in ("{", ",", " ", "\t") and self._after_sep(text, i)
            )
            if expects_key and (ch.isalnum() or ch in "_-\"'"):
                m = _KEY.match(text, i)
                if m:
                    base = stack[-1][1] if stack else table
                    path = base + tuple(_split_key(m.group(1)))
                    self.lines.setdefault(path, line)
                    self._pending = path
                    i = m.end()
                    at_line_start = False
                    continue
            if ch in "\"'":
                # After the key check, so a quoted key (`"text" = ...`) gets its line too.
                if stack and stack[-1][0] == "[":  # a string element of an array: its own line
                    self.lines.setdefault(stack[-1][1] + (stack[-1][2][0],), line)
                    stack[-1][2][0] += 1
                i, line = self._skip_string(text, i, line)
                at_line_start = False
                continue
            if ch in "[{":
                if stack and stack[-1][0] == "[":
                    parent = stack[-1]
                    idx = parent[2][0]
                    parent[2][0] += 1
                    path = parent[1] + (idx,)
                    self.lines.setdefault(path, line)
                else:
                    path = self._pending
                stack.append((ch, path, [0]))
                i += 1
                at_line_start = False
                continue
            if ch in "]}":
                if stack:
                    stack.pop()
                i += 1
                continue
            if ch == "," and stack and stack[-1][0] == "[":
                i += 1
                continue
            if stack and stack[-1][0] == "[" and ch not in ",":
                # a scalar element of an array: count it so later inline tables keep their index
                m2 = _SCALAR.match(text, i)
                self.lines.setdefault(stack[-1][1] + (stack[-1][2][0],), line)
                stack[-1][2][0] += 1
                i = m2.end() if m2 else i + 1
                continue
            i += 1
            at_line_start = False

    @staticmethod
    def _after_sep(text: str, i: int) -> bool:
        j = i - 1
        while j >= 0 and text[j] in " \t":
            j -= 1
        return j >= 0 and text[j] in "{,"

    @staticmethod
    def _skip_string(text: str, i: int, line: int) -> tuple[int, int]:
        quote = text[i]
        n = len(text)
        if text.startswith(quote * 3, i):
            end = text.find(quote * 3, i + 3)
            end = n if end < 0 else end + 3
            while end < n and text[end] == quote:  # up to two quotes may close a multi-line string
                end += 1
            return end, line + text.count("\n", i, end)
        j = i + 1
        while j < n and text[j] != quote and text[j] != "\n":
            if quote == '"' and text[j] == "\\":
                j += 1
            j += 1
        return min(j + 1, n), line
