"""Expanding a campaign into messages: audience -> rendered texts -> checked request bodies.

One streaming pass used by `check`, `preview`, `send --dry-run` and `send`, so that what is
checked is exactly what is sent. Problems are collected, never raised midway, so a marketer sees
all of them at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from runner.campaign import request
from runner.campaign.audience import AudienceReader, Recipient, Skipped
from runner.campaign.render import Renderer, Texts
from runner.campaign.schema import Campaign
from runner.campaign.sms import SmsShape, measure
from runner.errors import InvalidInput, Problem
from runner.policy.rules import Rules, rules_for
from runner.policy.windows import BadWindow
from runner.policy.zones import RecipientZones

MAX_PROBLEMS_LISTED = 200


@dataclass(frozen=True)
class Message:
    recipient: Recipient
    external_id: str
    texts: Texts
    body: bytes  # exactly what is POSTed
    sms: SmsShape | None
    zones: RecipientZones  # whose local time the send window is read in (docs/policy.md)


@dataclass
class Summary:
    """Counts gathered while expanding; `problems` are the rows that stop a send."""

    recipients: int = 0
    messages: int = 0
    by_state: Counter[str] = field(default_factory=Counter)
    sms_encodings: Counter[str] = field(default_factory=Counter)
    max_segments: int = 0
    problems: list[Problem] = field(default_factory=list)
    problems_not_listed: int = 0
    skipped: list[Problem] = field(default_factory=list)  # bad rows passed over (on_invalid = "skip")
    zone_sources: Counter[str] = field(default_factory=Counter)  # column, phone, fallback, unknown

    def add_problem(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS_LISTED:
            self.problems.append(problem)
        else:
            self.problems_not_listed += 1

    def add_skipped(self, problem: Problem) -> None:
        if len(self.skipped) < MAX_PROBLEMS_LISTED:
            self.skipped.append(problem)

    def raise_if_problems(self) -> None:
        if self.problems:
            more = (
                [Problem("", None, f"... and {self.problems_not_listed} more problems")]
                if self.problems_not_listed
                else []
            )
            raise InvalidInput(self.problems + more)


class Expansion:
    """Iterate to get each audience row as a Message or a Skipped row; `summary` fills as you go.

    With `on_invalid = "fail"` (the default) a bad row is a problem that stops the send; with
    "skip" it is reported as a Skipped row with state `invalid` and the rest go on."""

    def __init__(self, campaign: Campaign, renderer: Renderer | None = None, rules: Rules | None = None):
        self.campaign = campaign
        # The repository policy as it applies here: a bad policy.toml, or a campaign widening it,
        # stops everything before any row is read.
        self.rules = rules or rules_for(campaign)
        self.renderer = renderer or Renderer(campaign)
        self.audience = AudienceReader(campaign)
        self.summary = Summary()
        spec = campaign.spec
        self._skip_invalid = spec.audience.on_invalid == "skip"
        self._max_segments = spec.sms.max_segments if spec.sms else None

    def __iter__(self) -> Iterator[Message | Skipped]:
        summary = self.summary
        for item in self.audience:
            summary.recipients += 1
            if isinstance(item, Skipped):
                if item.state == "invalid":
                    (summary.add_skipped if self._skip_invalid else summary.add_problem)(item.problem)
                summary.by_state[item.state] += 1
                yield item
                continue
            result = self.message(item)
            if isinstance(result, Problem):
                skipped = Skipped(
                    item.position, item.source, item.line, item.recipient_id, item.phone, "invalid", result.message
                )
                (summary.add_skipped if self._skip_invalid else summary.add_problem)(result)
                summary.by_state["invalid"] += 1
                yield skipped
                continue
            summary.messages += 1
            summary.zone_sources[result.zones.source] += 1
            if result.sms is not None:
                summary.sms_encodings[result.sms.encoding] += 1
                summary.max_segments = max(summary.max_segments, result.sms.segments)
            yield result

    def message(
        self, recipient: Recipient, phone: str | None = None, external_id: str | None = None
    ) -> Message | Problem:
        """Render and build one recipient's request; `phone` and `external_id` override the
        destination and the id (test sends)."""
        texts = self.renderer.render(recipient)
        if isinstance(texts, Problem):
            return texts
        spec = self.campaign.spec
        shape = measure(texts.sms_text) if texts.sms_text is not None else None
        if shape is not None and self._max_segments is not None and shape.segments > self._max_segments:
            return Problem(
                recipient.source,
                recipient.line,
                f"the SMS is {shape.segments} {shape.encoding} segments ({shape.characters} characters), "
                f"over [sms] max_segments = {self._max_segments}",
            )
        try:
            zones = self.rules.zones(recipient.phone, recipient.variables)
        except BadWindow as error:
            return Problem(recipient.source, recipient.line, f"`timezone` column: {error}")
        ext = external_id or request.external_id(spec.id, recipient.key)
        body = request.encode(
            request.build(
                phone_e164=phone or recipient.phone,
                texts=texts,
                fallback_time=spec.viber.fallback_time,
                message_type=spec.message_type,
                external_id=ext,
            )
        )
        if len(body) > request.MAX_BODY_BYTES:
            return Problem(
                recipient.source,
                recipient.line,
                f"the request body is {len(body)} bytes, over Telesign's 10 KB limit; shorten the texts",
            )
        return Message(recipient, ext, texts, body, shape, zones)
