"""The audience of a send, expanded once (issue 16): `campaign send` reads, checks and renders
every row before anything is sent (one bad row in any file sends nothing, docs/sending.md), and
the ledger's sync then records those very rows, read back from a spool instead of parsed and
rendered a second time.

The spool is a temporary file (gone when it is closed, or when the process dies) of compressed
batches of rows, so memory stays flat however large the audience. It serves the sync only while
the campaign's inputs are the bytes it was made from: their fingerprint (source_fingerprint) is
taken before the pass, after it, and again at the sync, and any difference sends the sync back to
expanding the audience itself, as it does without a spool. A changed audience is never served from
the spool."""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from runner.campaign.audience import Skipped
from runner.campaign.expansion import Expansion, Message
from runner.campaign.includes import included_templates
from runner.campaign.schema import Campaign
from runner.ledger.records import Planned, SkippedRow
from runner.ledger.states import State
from runner.policy.gate import Gate
from runner.policy.schema import find_policy
from runner.sending.decisions import plan_message, with_policy

BATCH = 2000  # rows per compressed batch: a few hundred KB in memory at a time
_LENGTH = 8  # bytes of each batch's length prefix


def planned_rows(expansion: Expansion, gate: Gate | None = None) -> Iterator[Planned | SkippedRow]:
    """The audience as ledger rows; raises InvalidInput at the end if any row had a problem, which
    rolls back the ledger's sync: nothing from a file with an error is recorded or sent. With the
    policy's `gate`, a message not sent yet is planned pending, deferred (outside its window, over
    its cap) or suppressed (opted out). The opt-outs are read a chunk of the audience at a time, in
    one query each (runner.policy.gate.read_with_claim), not one per row."""
    chunk: list[Message | Skipped] = []
    for item in expansion:
        if isinstance(item, (Message, Skipped)):
            chunk.append(item)
        if len(chunk) >= SYNC_CHUNK:
            yield from _planned(chunk, gate)
            chunk = []
    yield from _planned(chunk, gate)
    expansion.summary.raise_if_problems()


SYNC_CHUNK = 500  # audience rows whose opt-outs the sync reads in one query


def _planned(chunk: list[Message | Skipped], gate: Gate | None) -> Iterator[Planned | SkippedRow]:
    if gate is not None:
        gate.read_with_claim([item.recipient.phone for item in chunk if isinstance(item, Message)])
    for item in chunk:
        yield plan_message(item, gate) if isinstance(item, Message) else _skipped_row(item)


def _skipped_row(item: Skipped) -> SkippedRow:
    return SkippedRow(item.position, item.recipient_id, item.phone, State(item.state), item.reason)


def source_fingerprint(campaign: Campaign, templates_folder: Path | None) -> str:
    """What the campaign's messages are made of: the bytes of the campaign file and of its
    audience, suppression and template files (those its texts include too) and of the
    policy.toml that governs it, each named relative to the campaign's folder. `templates_folder`:
    where its templates are looked up (the Renderer's, found once). By content, not modification
    time or absolute path: senders on several hosts sharing one ledger (docs/scaling-out.md) must
    agree on it, or each would sync the audience again."""
    digest = hashlib.sha256(campaign.path.read_bytes())
    spec = campaign.spec
    names = [n for n in (spec.audience.file, *spec.audience.suppress) if n]
    paths = [campaign.resolve(n) for n in names]
    if templates_folder is not None:
        paths += [
            templates_folder / n for n in (spec.viber.text_template, spec.sms.text_template if spec.sms else None) if n
        ]
        # ... and the files those texts include: an edited footer changes the messages as much as
        # the text does, and a shared ledger skips the sync of inputs it has synced already
        paths += included_templates(campaign, templates_folder)
    # The policy decides what the sync plans for each message (its fallback time zone, its window,
    # its cap): an edit to it must make the next run sync again, or a shared ledger keeps the old
    # plan and cron calls the campaign complete (a message suppressed for want of a time zone stayed
    # so after the policy gave one; one deferred by a narrower window waited for the old opening).
    policy = find_policy(campaign.folder)
    if policy is not None:
        paths.append(policy)
    for path in paths:
        name = os.path.relpath(path, campaign.folder)
        try:
            content = hashlib.sha256(path.read_bytes()).hexdigest()  # (a pass at disk speed: no parsing)
        except OSError:
            content = "missing"
        digest.update(f"{name}:{content}\n".encode())
    return digest.hexdigest()


def with_opt_ins(fingerprint: str, opt_ins: int) -> str:
    """The fingerprint the sync records: the inputs', and how many opt-ins the recipient store
    holds, since an opt-in can make a message the last sync suppressed sendable again (an opt-out
    needs no new sync: every claim reads the store). A shared ledger syncs again when it changes."""
    return fingerprint if not opt_ins else hashlib.sha256(f"{fingerprint}\nopt-ins:{opt_ins}".encode()).hexdigest()


def rows_to_sync(
    campaign: Campaign, expansion: Expansion, checked: CheckedAudience | None, gate: Gate, fingerprint: str
) -> Iterator[Planned | SkippedRow]:
    """What the sync records: the checked rows while the inputs are still those `fingerprint`
    names; else the audience expanded (again), by `expansion` if it is still unread."""
    if checked is None:
        return planned_rows(expansion, gate)
    if checked.serves(fingerprint):
        return checked.rows(gate)
    return _expanded_again(campaign, gate)


def _expanded_again(campaign: Campaign, gate: Gate) -> Iterator[Planned | SkippedRow]:
    # A fresh expansion: the templates may have changed too. Made as the sync reads its first
    # row, so that a problem it finds is the sync's, which rolls back (nothing recorded or sent).
    yield from planned_rows(Expansion(campaign), gate)


class CheckedAudience:
    """A campaign whose every row was checked, with the rows kept for the sync (close it after)."""

    def __init__(self, expansion: Expansion, fingerprint: str | None, spool: IO[bytes] | None):
        self.expansion = expansion  # its rules and renderer: the send goes on with the same
        self.fingerprint = fingerprint  # None: the inputs changed during the pass (the spool serves nothing)
        self._spool = spool

    def serves(self, fingerprint: str) -> bool:
        """Whether the spool holds what expanding the inputs now would give."""
        spool = self._spool
        return (
            spool is not None and not spool.closed and self.fingerprint is not None and self.fingerprint == fingerprint
        )

    def rows(self, gate: Gate | None = None) -> Iterator[Planned | SkippedRow]:
        """The checked rows as ledger rows, with the policy's decisions of now (as planned_rows)."""
        spool = self._spool
        assert spool is not None
        spool.seek(0)
        while head := spool.read(_LENGTH):
            batch: list[Any] = marshal.loads(zlib.decompress(spool.read(int.from_bytes(head, "little"))))
            if gate is not None:  # (the batch's opt-outs in one query: runner.policy.gate.read_with_claim)
                gate.read_with_claim([row[4] for row in batch if len(row) == 7])
            for row in batch:
                if len(row) == 7:  # a message (else a skipped row: check_every_row)
                    key, position, external_id, recipient_id, phone, body, zones = row
                    yield with_policy(
                        Planned(key, position, external_id, recipient_id, phone, body, timezone=zones), gate
                    )
                else:
                    position, recipient_id, phone, state, reason = row
                    yield SkippedRow(position, recipient_id, phone, State(state), reason)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()


def check_every_row(campaign: Campaign, expansion: Expansion | None = None, keep: bool = True) -> CheckedAudience:
    """Render every row; raises InvalidInput for the problems a send would stop on. With `keep`,
    the rows are kept for the sync (CheckedAudience.rows)."""
    expansion = expansion or Expansion(campaign)
    templates = expansion.renderer.templates_folder
    before = source_fingerprint(campaign, templates) if keep else None
    spool = tempfile.TemporaryFile(prefix="campaign-send-") if keep else None
    try:
        batch: list[tuple[Any, ...]] = []
        for item in expansion:
            if spool is None:
                continue
            if isinstance(item, Message):
                r = item.recipient
                zones = item.zones.text or None
                batch.append((r.key, r.position, item.external_id, r.recipient_id, r.phone, item.body, zones))
            else:
                batch.append((item.position, item.recipient_id, item.phone, item.state, item.reason))
            if len(batch) >= BATCH:
                _write(spool, batch)
                batch = []
        if spool is not None:
            _write(spool, batch)
        expansion.summary.raise_if_problems()
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    if before is not None and source_fingerprint(campaign, templates) != before:
        before = None  # an input changed while it was read: the sync reads it again
    return CheckedAudience(expansion, before, spool)


def _write(spool: IO[bytes], batch: list[tuple[Any, ...]]) -> None:
    if batch:
        # Level 1: the bodies of one campaign differ by a few fields, so even the fastest level
        # shrinks them several times over (a spool on a tmpfs /tmp is memory).
        packed = zlib.compress(marshal.dumps(batch), 1)
        spool.write(len(packed).to_bytes(_LENGTH, "little") + packed)
