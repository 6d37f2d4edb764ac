"""One slice of an audience CSV checked, in a worker of runner.campaign.parallel: its verdicts
(each row's phone, suppression and time zones; each text field's size or problem per recipient),
from the cache where it has them, and each row's outcome from them (docs/commands.md).

The outcomes follow the order a one-process render meets problems: the fields in order, then the
SMS segments, the time zone, the body's size. A body's size is its fields' JSON sizes plus a fixed
envelope and the phone's digits (a test builds real bodies and compares)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.campaign import request
from runner.campaign.audience import Recipient, Row, Skipped, parse_rows
from runner.campaign.cache import Cache, key
from runner.campaign.chunks import Slice, read_slice
from runner.campaign.expansion import Expansion
from runner.campaign.fieldcheck import (
    CANDIDATE,
    CANDIDATE_PROBLEM,
    INVALID,
    SUPPRESSED,
    UCS2,
    Candidates,
    column_values,
    field_verdict,
    slice_text,
    sms_code,
)
from runner.campaign.render import RenderProblem
from runner.campaign.seen import FingerprintSet
from runner.errors import InvalidInput, Problem
from runner.policy.windows import BadWindow
from runner.policy.zones import NO_ZONES

__all__ = ["CANDIDATE_PROBLEM", "INVALID", "SUPPRESSED", "UCS2"]  # kept in fieldcheck


@dataclass
class SliceResult:
    lines: list[int]
    codes: list[int]  # per row
    causes: list[tuple[tuple[str, ...] | None, str, str, str]]  # (key, kind, hint, first detail)
    row_cause: dict[int, int]  # row -> cause, for CANDIDATE_PROBLEM and INVALID rows
    phone_fps: list[int]  # per candidate
    id_fps: list[int]  # per candidate, 0 without an id
    sms: list[int]  # per candidate: its sms_code, or -1 without SMS
    zones: list[str]  # per candidate: where its time zone came from
    bodies: list[bytes] | None = None  # per candidate, when the bodies are wanted (dry run)
    index: dict[tuple[Any, ...], int] = field(default_factory=dict)
    failure: list[Problem] | None = None  # the slice cannot be read: InvalidInput's problems
    # Tallied in the worker as if no candidate were a duplicate (the parent, which alone knows
    # them, takes the few duplicates back out): the parent's work is per slice, not per row.
    suppressed: int = 0
    problem_rows: list[tuple[int, int]] = field(default_factory=list)  # (row, its candidate or -1), in order
    messages: int = 0
    zone_sources: Counter[str] = field(default_factory=Counter)  # of the messages
    sms_encodings: Counter[str] = field(default_factory=Counter)
    max_segments: int = 0

    def tally(self) -> SliceResult:
        codes = self.codes
        self.suppressed = codes.count(SUPPRESSED)
        zones, sms = self.zones, self.sms
        if INVALID in codes or CANDIDATE_PROBLEM in codes:
            candidate = -1
            ok = []
            for row, code in enumerate(codes):
                if code == INVALID:
                    self.problem_rows.append((row, -1))
                elif code != SUPPRESSED:
                    candidate += 1
                    if code == CANDIDATE_PROBLEM:
                        self.problem_rows.append((row, candidate))
                    else:
                        ok.append(candidate)
            zones, sms = [zones[c] for c in ok], [sms[c] for c in ok]
        self.messages = len(zones)
        self.zone_sources = Counter(zones)
        shapes = [code for code in sms if code >= 0]
        wide = sum([code & UCS2 for code in shapes])
        self.sms_encodings = +Counter({"UCS-2": wide, "GSM-7": len(shapes) - wide})
        self.max_segments = max([(code >> 1) & 255 for code in shapes], default=0)
        return self

    def add_cause(self, row: int, cause_key: tuple[str, ...] | None, kind: str, hint: str, detail: str) -> None:
        at = self.index.get((cause_key, kind, hint))
        if at is None:
            at = self.index[(cause_key, kind, hint)] = len(self.causes)
            self.causes.append((cause_key, kind, hint, detail))
        self.row_cause[row] = at

    def add_candidate(self, phone: str, recipient_id: str) -> None:
        self.phone_fps.append(FingerprintSet.fingerprint(phone))
        self.id_fps.append(FingerprintSet.fingerprint(recipient_id) if recipient_id else 0)


@dataclass
class SliceContext:
    """What a worker needs, inherited from the parent through fork."""

    expansion: Expansion
    path: Path
    shown: str
    header: list[str]
    cache: Cache
    audience_salt: str
    field_salts: list[str]
    envelope: int  # body bytes without the texts' values and the phone's digits
    bodies: bool


def check_slice(state: SliceContext, piece: Slice) -> SliceResult:
    """One slice's verdicts, from the cache where it has them, and its rows' outcomes."""
    # An exception crosses back to the parent pickled, which InvalidInput does not survive whole.
    try:
        return _checked_slice(state, piece).tally()
    except InvalidInput as error:
        return SliceResult([], [], [], {}, [], [], [], [], failure=error.problems)


def _checked_slice(state: SliceContext, piece: Slice) -> SliceResult:
    data = read_slice(state.path, piece)
    slice_key = key(state.audience_salt, hashlib.sha256(data).digest(), piece.first_line)
    verdict = state.cache.get("audience", slice_key)
    field_keys = [key(salt, slice_key) for salt in state.field_salts]
    fields: list[Any] = [None] * len(field_keys)
    if verdict is not None and not state.bodies:
        fields = [state.cache.get("field", k) for k in field_keys]
    renderer_fields = state.expansion.renderer.fields
    missing = [index for index, f in enumerate(fields) if f is None]
    rows: list[Row] = []
    recipients: list[Recipient] | None = None
    if verdict is None or state.bodies or any(not renderer_fields[i].reads_only_names for i in missing):
        rows = list(parse_rows(slice_text(data), state.shown, state.path, piece.first_line, state.header))
        if verdict is None:
            verdict, recipients = _audience_verdict(state, rows)
            state.cache.put("audience", slice_key, verdict)
        if state.bodies:
            return _with_bodies(state, rows, verdict)
        if recipients is None:
            recipients = _recipients(state, rows, verdict)
    candidates = Candidates(state.expansion.audience, state.shown, state.header, data, verdict, recipients)
    for index in missing:
        fields[index] = field_verdict(state.expansion.renderer, renderer_fields[index], candidates)
        state.cache.put("field", field_keys[index], fields[index])
    return _combine(state, verdict, fields)


def _audience_verdict(state: SliceContext, rows: list[Row]) -> tuple[tuple[Any, ...], list[Recipient]]:
    """Per row: line and code; per invalid row its (reason, kind); per candidate its phone, its
    phone's and id's fingerprints, and its time zones (a source name, or the `timezone` column's
    problem); the columns of few distinct values (fieldcheck.column_values). With the candidates'
    Recipients, for the fields to render."""
    audience, rules = state.expansion.audience, state.expansion.rules
    fingerprint = FingerprintSet.fingerprint
    lines: list[int] = []
    codes: list[int] = []
    invalid: dict[int, tuple[str, str]] = {}
    phones: list[str] = []
    phone_fps: list[int] = []
    id_fps: list[int] = []
    zones: list[str | tuple[str, str]] = []
    recipients: list[Recipient] = []
    for row in rows:
        item = audience.classify(row)
        lines.append(row.line)
        if isinstance(item, Skipped):
            codes.append(SUPPRESSED if item.state == "suppressed" else INVALID)
            if item.state == "invalid":
                invalid[len(codes) - 1] = (item.reason, item.kind or item.reason)
            continue
        codes.append(CANDIDATE)
        recipients.append(item)
        phones.append(item.phone)
        phone_fps.append(fingerprint(item.phone))
        id_fps.append(fingerprint(item.recipient_id) if item.recipient_id else 0)
        try:
            # As Expansion.build: looked up only where a send window applies.
            zones.append((rules.zones(item.phone, item.variables) if rules.window else NO_ZONES).source)
        except BadWindow as error:
            zones.append(("bad", str(error)))
    columns = column_values(recipients, state.header)
    return (lines, codes, invalid, phones, phone_fps, id_fps, zones, columns), recipients


def _recipients(state: SliceContext, rows: list[Row], verdict: tuple[Any, ...]) -> list[Recipient]:
    """The candidates' Recipients again, with their phones from the verdict (not parsed twice)."""
    audience = state.expansion.audience
    codes, phones = verdict[1], verdict[3]
    out: list[Recipient] = []
    for row, code in zip(rows, codes, strict=True):
        if code == CANDIDATE:
            item = audience.classify(row, known=phones[len(out)], unsuppressed=True)
            assert isinstance(item, Recipient)
            out.append(item)
    return out


def _combine(state: SliceContext, verdict: tuple[Any, ...], fields: list[Any]) -> SliceResult:
    """Each candidate's outcome from its field verdicts, in the order a render meets them: the
    fields in order, the SMS segments, the time zone, the body's size. Most rows have none: the
    sums and scans run over whole lists, the per-row loop only over rows with a problem."""
    lines, codes, invalid, phones, phone_fps, id_fps, zones, _ = verdict
    renderer = state.expansion.renderer
    max_segments = state.expansion.max_segments
    sms_index = len(renderer.fields) - 1 if renderer.has_sms else -1
    sms = list(fields[sms_index][1]) if sms_index >= 0 else [-1] * len(phones)
    result = SliceResult(
        list(lines), [], [], {}, list(phone_fps), list(id_fps), sms, [z if isinstance(z, str) else "" for z in zones]
    )
    problems: dict[int, tuple[tuple[str, ...] | None, str, str, str]] = {}
    for f, (_, _, field_causes, problem_of) in reversed(list(zip(renderer.fields, fields, strict=True))):
        for candidate, at in problem_of.items():  # reversed: the first field's problem is kept
            kind, hint, detail = field_causes[at]
            problems[candidate] = (f.shown, kind, hint, detail)
    late: dict[int, tuple[tuple[str, ...] | None, str, str, str]] = {}
    if max_segments is not None:
        for candidate, code in enumerate(sms):
            if code >= 0 and ((code >> 1) & 255) > max_segments:
                late[candidate] = _segments_problem(code, max_segments)
    for candidate, zone in enumerate(zones):
        if not isinstance(zone, str) and candidate not in late:
            late[candidate] = (None, "`timezone` column: not a time zone", "", f"`timezone` column: {zone[1]}")
    envelope = state.envelope - 1  # a phone's `+` is not in the body
    totals = [sum(sizes) for sizes in zip(*(f[0] for f in fields), strict=True)]
    for candidate, total in enumerate(totals):
        size = envelope + len(phones[candidate]) + total
        if size > request.MAX_BODY_BYTES and candidate not in late:
            late[candidate] = (
                None,
                "the request body is over Telesign's 10 KB limit; shorten the texts",
                "",
                f"the request body is {size} bytes, over Telesign's 10 KB limit; shorten the texts",
            )
    for candidate, problem in late.items():
        problems.setdefault(candidate, problem)
    candidate = -1
    out = result.codes
    for row, code in enumerate(codes):
        if code != CANDIDATE:
            out.append(code)
            if code == INVALID:
                reason, kind = invalid[row]
                result.add_cause(row, None, kind, "", reason)
            continue
        candidate += 1
        found = problems.get(candidate) if problems else None
        if found is None:
            out.append(CANDIDATE)
        else:
            out.append(CANDIDATE_PROBLEM)
            result.add_cause(row, *found)
    return result


def _segments_problem(sms: int, max_segments: int) -> tuple[tuple[str, ...], str, str, str]:
    # The same words as Expansion.build's.
    characters, segments, encoding = sms >> 9, (sms >> 1) & 255, "UCS-2" if sms & UCS2 else "GSM-7"
    return (
        ("sms", "text"),
        f"the SMS is over [sms] max_segments = {max_segments}",
        "",
        f"the SMS is {segments} {encoding} segments ({characters} characters),"
        f" over [sms] max_segments = {max_segments}",
    )


def _with_bodies(state: SliceContext, rows: list[Row], verdict: tuple[Any, ...]) -> SliceResult:
    """The dry run's slice: each candidate built whole (Expansion.build), its body kept."""
    lines, codes, invalid, phones, _, _, _, _ = verdict
    audience, expansion = state.expansion.audience, state.expansion
    result = SliceResult(list(lines), [], [], {}, [], [], [], [], bodies=[])
    assert result.bodies is not None
    candidate = -1
    for row_index, (row, code) in enumerate(zip(rows, codes, strict=True)):
        if code != CANDIDATE:
            result.codes.append(code)
            if code == INVALID:
                reason, kind = invalid[row_index]
                result.add_cause(row_index, None, kind, "", reason)
            continue
        candidate += 1
        item = audience.classify(row, known=phones[candidate], unsuppressed=True)
        assert isinstance(item, Recipient)
        result.add_candidate(item.phone, item.recipient_id or "")
        built = expansion.build(item)
        if isinstance(built, RenderProblem):
            result.codes.append(CANDIDATE_PROBLEM)
            result.add_cause(row_index, built.key or None, built.kind, built.hint, built.detail)
            result.bodies.append(b"")
            result.sms.append(-1)
            result.zones.append("")
            continue
        result.codes.append(CANDIDATE)
        result.bodies.append(built.body)
        shape = built.sms
        result.sms.append(sms_code(shape.characters, shape.segments, shape.encoding) if shape is not None else -1)
        result.zones.append(built.zones.source)
    return result
