"""`campaign check` and `send --dry-run` over a large audience CSV: slices on every core, each
slice's verdicts remembered (docs/commands.md, "campaign check").

The parent reads the campaign, the suppression lists and the templates once, cuts the CSV into
slices of whole records (runner.campaign.chunks) and forks workers, which inherit all of that.
Each worker does for its slice what the one-process expansion does for each row (the same
`AudienceReader.classify`, `Renderer`, request limits), except the duplicate test, which depends
on every row before: it hands back each recipient's phone and id fingerprints and the parent,
reading slices in file order, decides duplicates and counts. Problems therefore come out at their
exact lines, in file order, grouped by cause as always.

What a worker finds is cached (runner.campaign.cache) in two layers, each keyed by the slice's
bytes and what its meaning depends on:

- the audience verdict: each row's line, phone in E.164 (or why not), suppression, time zones;
  keyed by the slice, the header, region, phone_check, the suppression lists and the policy's
  fallback zone. Phone numbers are the dearest part of a check.
- one verdict per text field: for each recipient, the JSON size of the field's rendered value
  (and the SMS segments), or its problem; keyed by the audience verdict and the field's template,
  the templates folder and [vars]. A body's size is the sum of its fields' sizes plus a fixed
  envelope, so a changed SMS text re-renders the SMS alone.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterator
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

from runner.campaign import request
from runner.campaign.audience import (
    check_header_names,
)
from runner.campaign.cache import Cache, file_digest, key
from runner.campaign.chunks import SLICE_BYTES, Layout, Slice, remembered_layout
from runner.campaign.expansion import Expansion, Message
from runner.campaign.seen import FingerprintSet
from runner.campaign.verdicts import (
    UCS2,
    SliceContext,
    SliceResult,
    check_slice,
)
from runner.errors import InvalidInput, Problem

# Below this one process is as fast as starting workers. Measured on the 2-core machine
# (bench.check_speed's campaign): two workers spent no more CPU than one process even at 2,000 rows
# (90 KB), so from a few thousand rows the second core is a gain, not a cost.
MIN_PARALLEL_BYTES = 1 << 18
SLICES_PER_WORKER = 4  # at least: a file just over the threshold still keeps every worker busy
IN_FLIGHT = 2  # slices queued per worker: enough to keep it busy, few enough to keep memory flat
_STATE: SliceContext | None = None  # set by the parent before it forks; each worker reads its copy


def workers() -> int:
    """Processes to check with: one per core (at most 8), or CAMPAIGN_CHECK_PROCESSES."""
    wanted = os.environ.get("CAMPAIGN_CHECK_PROCESSES", "")
    if wanted.isdigit() and int(wanted) >= 1:
        return int(wanted)
    return max(1, min(os.cpu_count() or 1, 8))


def wanted(expansion: Expansion) -> Path | None:
    """The audience CSV, where it is big enough to be worth slicing."""
    spec = expansion.campaign.spec.audience
    if spec.file is None or workers() < 2:
        return None
    path = expansion.campaign.resolve_inside(("audience", "file"), spec.file)
    try:
        return path if path.stat().st_size >= MIN_PARALLEL_BYTES else None
    except OSError:
        return None


def expand(
    expansion: Expansion,
    cache: Cache,
    bodies: Callable[[bytes], None] | None = None,
    processes: int | None = None,
    slice_bytes: int | None = None,
) -> bool:
    """Fill `expansion.summary` as iterating it would, on every core; `bodies` receives each
    message's body in audience order (dry run). False (nothing done) where the file cannot be
    sliced: the caller iterates the expansion itself, which reports why."""
    audience = expansion.audience
    campaign = expansion.campaign
    assert campaign.spec.audience.file is not None
    path = campaign.resolve_inside(("audience", "file"), campaign.spec.audience.file)
    processes = processes or workers()
    shape = remembered_layout(path, cache, slice_bytes or _slice_bytes(path, processes))
    if shape is None:
        return False
    shown = audience.display(path)
    check_header_names(shown, shape.header_line, shape.header)
    audience.check_header(shown, shape.header_line, shape.header)
    summary = expansion.summary
    audience_salt = _audience_salt(expansion, shape)
    # Which candidates repeat an earlier recipient depends on the audience alone: remembered by
    # the whole file, a changed text skips the parent's one pass over every row.
    duplicates_key = key(
        "duplicates", audience_salt, shape.digest, repr(shape.slices), repr(campaign.spec.audience.recipients)
    )
    known = cache.get("duplicates", duplicates_key)
    if not (isinstance(known, list) and len(known) == len(shape.slices)):
        known = None
    global _STATE
    _STATE = SliceContext(
        expansion,
        path,
        shown,
        shape.header,
        cache,
        audience_salt,
        _field_salts(expansion),
        request.envelope_size(expansion.campaign.spec),
        bodies is not None,
    )
    try:
        # The workers are forked first: what the parent allocates after (its duplicate sets, 32 MB
        # at a million rows) is not in their memory.
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            # Grown as rows come, not sized from the file: an estimate too high doubles a table,
            # and the ids set stays empty for an audience without ids.
            phones, ids = FingerprintSet(), FingerprintSet()
            for item in audience.inline_items(ids, phones):
                built = expansion.account(item)
                if bodies is not None and isinstance(built, Message):
                    bodies(built.body)
            found: list[list[int]] = []
            for result in _results(pool, shape, processes):
                duplicates = set(known[len(found)]) if known is not None else None
                found.append(_merge(expansion, shown, result, duplicates, ids, phones, bodies))
    finally:
        _STATE = None
    if known is None:
        cache.put("duplicates", duplicates_key, found)
    summary.finish(expansion.renderer, expansion.skip_invalid)
    return True


def _slice_bytes(path: Path, processes: int) -> int:
    """SLICE_BYTES, or less for a file too small to give each worker SLICES_PER_WORKER slices."""
    try:
        size = path.stat().st_size
    except OSError:
        return SLICE_BYTES
    return max(1 << 16, min(SLICE_BYTES, size // (processes * SLICES_PER_WORKER)))


def _results(pool: Pool, shape: Layout, processes: int) -> Iterator[SliceResult]:
    """Each slice's result, in file order, with at most IN_FLIGHT slices per worker queued."""
    pending = []
    queue = iter(shape.slices)
    for piece in queue:
        pending.append(pool.apply_async(_check_slice, (piece,)))
        if len(pending) >= processes * IN_FLIGHT:
            break
    while pending:
        result = pending.pop(0).get()
        piece_next = next(queue, None)
        if piece_next is not None:
            pending.append(pool.apply_async(_check_slice, (piece_next,)))
        yield result


def _merge(
    expansion: Expansion,
    shown: str,
    result: SliceResult,
    duplicates: set[int] | None,
    ids: FingerprintSet,
    phones: FingerprintSet,
    bodies: Callable[[bytes], None] | None,
) -> list[int]:
    """One slice's result added to the summary, as iterating its rows would; its duplicates
    (candidates) are found here, in file order, unless the cache knew them. Returns them."""
    if result.failure is not None:
        raise InvalidInput(result.failure)
    if duplicates is None:
        duplicates = _duplicates(result, ids, phones)
    summary = expansion.summary
    by_state = summary.by_state
    candidates = len(result.codes) - result.suppressed - sum(1 for _, c in result.problem_rows if c < 0)
    summary.recipients += len(result.codes)
    by_state["suppressed"] += result.suppressed
    by_state["duplicate"] += len(duplicates)
    summary.rendered += candidates - len(duplicates)
    for row, candidate in result.problem_rows:
        if candidate not in duplicates:  # (-1, an audience problem, is never one)
            _add_cause(summary, shown, result, row)
            by_state["invalid"] += 1
    zones, sms, max_segments = result.zone_sources, result.sms_encodings, result.max_segments
    messages = result.messages
    if duplicates:
        problems = {c for _, c in result.problem_rows}
        sent = [c for c in duplicates if c not in problems]  # duplicates tallied as messages
        messages -= len(sent)
        zones, sms = Counter(zones), Counter(sms)
        zones.subtract(result.zones[c] for c in sent)
        sms.subtract("UCS-2" if result.sms[c] & UCS2 else "GSM-7" for c in sent if result.sms[c] >= 0)
        zones, sms = +zones, +sms
        skip = problems | duplicates
        max_segments = max(
            [(code >> 1) & 255 for c, code in enumerate(result.sms) if code >= 0 and c not in skip], default=0
        )
    summary.messages += messages
    summary.zone_sources.update(zones)
    summary.sms_encodings.update(sms)
    summary.max_segments = max(summary.max_segments, max_segments)
    if bodies is not None and result.bodies is not None:
        skip = {c for _, c in result.problem_rows} | duplicates
        for candidate, body in enumerate(result.bodies):
            if candidate not in skip:
                bodies(body)
    return sorted(duplicates)


def _duplicates(result: SliceResult, ids: FingerprintSet, phones: FingerprintSet) -> set[int]:
    """The slice's candidates that repeat an earlier recipient: as audience.dedup, the same id,
    or else the same phone."""
    found = set()
    contains, add = ids.contains_fingerprint, phones.add_fingerprint
    for candidate, (id_fp, phone_fp) in enumerate(zip(result.id_fps, result.phone_fps, strict=True)):
        if (id_fp and contains(id_fp)) or not add(phone_fp):
            found.add(candidate)
        elif id_fp:
            ids.add_fingerprint(id_fp)
    return found


def _add_cause(summary: Any, shown: str, result: SliceResult, row: int) -> None:
    cause_key, kind, hint, detail = result.causes[result.row_cause[row]]
    summary.add_row_problem(Problem(shown, result.lines[row], detail), kind, hint, cause_key)


# ---------------------------------------------------------------------------------------------
# The keys


def _audience_salt(expansion: Expansion, shape: Layout) -> str:
    campaign = expansion.campaign
    spec = campaign.spec.audience
    suppress = [
        file_digest(campaign.resolve_inside(("audience", "suppress", i), name)) for i, name in enumerate(spec.suppress)
    ]
    return key(
        "audience", shape.header_bytes, spec.default_region, spec.phone_check, *suppress, expansion.rules.fallback_zone
    )


def _field_salts(expansion: Expansion) -> list[str]:
    renderer = expansion.renderer
    spec = expansion.campaign.spec
    folder = renderer.templates_folder
    templates: list[bytes] = []
    if folder is not None:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            templates += [str(path.relative_to(folder)).encode(), hashlib.sha256(path.read_bytes()).digest()]
    base = repr(sorted((k, repr(v)) for k, v in spec.vars.items())) + repr((spec.id, spec.name))
    salts = []
    for f in renderer.fields:
        source = getattr(spec, f.shown[0]).model_dump()
        salts.append(key("field", repr(f.shown), repr(source), base, *templates))
    return salts


# ---------------------------------------------------------------------------------------------
# In a worker


def _check_slice(piece: Slice) -> SliceResult:
    assert _STATE is not None
    return check_slice(_STATE, piece)
