"""Expanding a campaign into messages: audience -> rendered texts -> checked request bodies.

One streaming pass used by `check`, `preview`, `send --dry-run` and `send`, so that what is
checked is exactly what is sent. Problems are collected, never raised midway, so a marketer sees
all of them at once, grouped by cause (docs/campaign-file.md, "Problems"):

- a template problem every recipient shares (an undefined variable, syntax, a static URL Telesign
  refuses, a bound) is the campaign file's error: one line at the key's line, naming the field and
  how many recipients it affects, whatever `on_invalid` says;
- what differs per recipient (a bad phone, a value that makes a bad URL for that row) is a row
  problem; rows sharing one cause are one line with a count and the first few locations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from runner.campaign import request
from runner.campaign.audience import AudienceReader, Recipient, Skipped
from runner.campaign.render import Renderer, RenderProblem, Texts
from runner.campaign.schema import Campaign
from runner.campaign.sms import SmsShape, measure
from runner.errors import InvalidInput, Problem
from runner.policy.rules import Rules, rules_for
from runner.policy.windows import BadWindow
from runner.policy.zones import NO_ZONES, RecipientZones

MAX_CAUSES_LISTED = 200
FIRST_LOCATIONS = 5  # rows named on a shared cause's line


@dataclass(frozen=True)
class Message:
    recipient: Recipient
    external_id: str
    texts: Texts
    body: bytes  # exactly what is POSTed
    sms: SmsShape | None
    zones: RecipientZones  # whose local time the send window is read in (docs/policy.md)


@dataclass
class Cause:
    """Rows with one problem in common: the first row's own message, then how many and where."""

    kind: str
    first: Problem
    hint: str
    key: tuple[str, ...] | None  # the template field, for a render problem
    count: int = 0
    locations: list[tuple[str, int | None]] = field(default_factory=list)

    def add(self, path: str, line: int | None) -> None:
        self.count += 1
        if len(self.locations) < FIRST_LOCATIONS:
            self.locations.append((path, line))

    def problem(self) -> Problem:
        hint = f"; {self.hint}" if self.hint else ""
        if self.count == 1:
            return Problem(self.first.path, self.first.line, self.first.message + hint)
        shown = []
        for path, line in self.locations:
            shown.append(str(line) if path == self.first.path else f"{path}:{line}")
        more = f" and {self.count - len(self.locations)} more" if self.count > len(self.locations) else ""
        what = f"`{'.'.join(self.key)}`: {self.kind}" if self.key else self.kind
        return Problem(
            self.first.path,
            self.first.line,
            f"{what}: {self.count} recipients, at lines {', '.join(shown)}{more}{hint}",
        )


@dataclass
class Summary:
    """Counts gathered while expanding. After the pass: `problems` stop a send (the campaign
    file's own first), `skipped` are bad rows passed over under `on_invalid = "skip"`."""

    recipients: int = 0
    messages: int = 0
    rendered: int = 0  # recipients that reached the templates
    by_state: Counter[str] = field(default_factory=Counter)
    sms_encodings: Counter[str] = field(default_factory=Counter)
    max_segments: int = 0
    problems: list[Problem] = field(default_factory=list)
    problems_not_listed: int = 0  # rows whose cause came after MAX_CAUSES_LISTED others
    skipped: list[Problem] = field(default_factory=list)
    causes: dict[tuple[tuple[str, ...] | None, str], Cause] = field(default_factory=dict)
    zone_sources: Counter[str] = field(default_factory=Counter)  # column, phone, fallback, unknown

    def add_row_problem(self, where: Problem, kind: str, hint: str = "", key: tuple[str, ...] | None = None) -> None:
        cause = self.causes.get((key, kind))
        if cause is None:
            if len(self.causes) >= MAX_CAUSES_LISTED:
                self.problems_not_listed += 1
                return
            cause = self.causes[(key, kind)] = Cause(kind, where, hint, key)
        cause.add(where.path, where.line)

    def finish(self, renderer: Renderer, skip_invalid: bool) -> None:
        """Sort the causes into the campaign file's problems and the rows'."""
        template: list[Problem] = []
        rows: list[Problem] = []
        promoted: set[tuple[str, ...]] = set()
        for cause in self.causes.values():
            if cause.key and cause.count == self.rendered:
                template.append(self._template_problem(renderer, cause.key, cause, renderer.broken.get(cause.key)))
                promoted.add(cause.key)
            else:
                rows.append(cause.problem())
        for key, broken in renderer.broken.items():
            if key not in promoted:  # found before any row; maybe no recipient reached it
                cause = Cause(broken.kind, Problem("", None, broken.detail), broken.hint, key, self.rendered)
                template.append(self._template_problem(renderer, key, cause, broken))
        template.sort(key=lambda p: (p.path, p.line or 0))
        self.problems = template + ([] if skip_invalid else rows)
        self.skipped = rows if skip_invalid else []

    @staticmethod
    def _template_problem(
        renderer: Renderer, key: tuple[str, ...], cause: Cause, broken: RenderProblem | None = None
    ) -> Problem:
        where = renderer.location(broken or RenderProblem(key, cause.kind, cause.first.message))
        n = cause.count
        affected = f"all {n} recipients" if n > 1 else "the one recipient" if n == 1 else "every recipient"
        example = ""
        if broken is None and cause.first.path and cause.kind not in cause.first.message:
            example = f" (first: {cause.first})"
        hint = f"; {cause.hint}" if cause.hint else ""
        return Problem(where.path, where.line, f"`{'.'.join(key)}` ({affected}): {cause.kind}{hint}{example}")

    def raise_if_problems(self) -> None:
        if self.problems:
            more = (
                [Problem("", None, f"... and {self.problems_not_listed} more rows with other problems")]
                if self.problems_not_listed
                else []
            )
            raise InvalidInput(self.problems + more)


class Expansion:
    """Iterate to get each audience row as a Message or a Skipped row; `summary` is complete when
    the iteration ends.

    With `on_invalid = "fail"` (the default) a bad row is a problem that stops the send; with
    "skip" it is reported as a Skipped row with state `invalid` and the rest go on. A problem of
    the templates themselves stops it either way: constructing an Expansion raises it at once,
    unless `count_affected` (what `check` does) defers it to the end of the pass, counted."""

    def __init__(
        self,
        campaign: Campaign,
        renderer: Renderer | None = None,
        rules: Rules | None = None,
        count_affected: bool = False,
    ):
        self.campaign = campaign
        # The repository policy as it applies here: a bad policy.toml, or a campaign widening it,
        # stops everything before any row is read.
        self.rules = rules or rules_for(campaign)
        self.renderer = renderer or Renderer(campaign)
        self.audience = AudienceReader(campaign)
        self.summary = Summary()
        spec = campaign.spec
        self.skip_invalid = spec.audience.on_invalid == "skip"
        self.max_segments = spec.sms.max_segments if spec.sms else None
        if self.renderer.broken and not count_affected:
            summary = Summary()
            summary.finish(self.renderer, self.skip_invalid)
            summary.raise_if_problems()

    def __iter__(self) -> Iterator[Message | Skipped]:
        for item in self.audience:
            yield self.account(item)
        self.summary.finish(self.renderer, self.skip_invalid)

    def account(self, item: Recipient | Skipped) -> Message | Skipped:
        """One audience row counted in the summary: a Skipped row as it is, a recipient built into
        its Message or, where it cannot be, a Skipped `invalid` row."""
        if isinstance(item, Skipped):
            self._count_skipped(item)
            return item
        result = self.build(item)
        if isinstance(result, RenderProblem):
            return self._count_problem(item, result)
        self._count_message(result.sms, result.zones)
        return result

    def count(self) -> None:
        """Fill the summary as iterating would, without building the request bodies: `check`
        needs only their sizes (request.body_size), not their JSON."""
        envelope = request.envelope_size(self.campaign.spec)
        for item in self.audience:
            if isinstance(item, Skipped):
                self._count_skipped(item)
                continue
            checked = self.checked(item)
            if not isinstance(checked, RenderProblem):
                size = request.body_size(envelope, item.phone, checked[0])
                if size > request.MAX_BODY_BYTES:
                    checked = _too_big(size)
            if isinstance(checked, RenderProblem):
                self._count_problem(item, checked)
            else:
                self._count_message(checked[1], checked[2])
        self.summary.finish(self.renderer, self.skip_invalid)

    def _count_skipped(self, item: Skipped) -> None:
        summary = self.summary
        summary.recipients += 1
        if item.state == "invalid":
            summary.add_row_problem(item.problem, item.kind or item.reason)
        summary.by_state[item.state] += 1

    def _count_problem(self, item: Recipient, problem: RenderProblem) -> Skipped:
        summary = self.summary
        summary.recipients += 1
        summary.rendered += 1
        summary.add_row_problem(
            Problem(item.source, item.line, problem.detail), problem.kind, problem.hint, problem.key or None
        )
        summary.by_state["invalid"] += 1
        return Skipped(item.position, item.source, item.line, item.recipient_id, item.phone, "invalid", problem.detail)

    def _count_message(self, sms: SmsShape | None, zones: RecipientZones) -> None:
        summary = self.summary
        summary.recipients += 1
        summary.rendered += 1
        summary.messages += 1
        summary.zone_sources[zones.source] += 1
        if sms is not None:
            summary.sms_encodings[sms.encoding] += 1
            summary.max_segments = max(summary.max_segments, sms.segments)

    def message(
        self, recipient: Recipient, phone: str | None = None, external_id: str | None = None
    ) -> Message | Problem:
        """Render and build one recipient's request; `phone` and `external_id` override the
        destination and the id (test sends). A problem is located at the recipient's row."""
        result = self.build(recipient, phone, external_id)
        if isinstance(result, RenderProblem):
            hint = f"; {result.hint}" if result.hint else ""
            return Problem(recipient.source, recipient.line, result.detail + hint)
        return result

    def checked(self, recipient: Recipient) -> tuple[Texts, SmsShape | None, RecipientZones] | RenderProblem:
        """The recipient's texts rendered and checked, its SMS measured and its time zones found,
        in the order a problem is met: the texts, the SMS segments, the time zone."""
        texts = self.renderer.render(recipient)
        if isinstance(texts, RenderProblem):
            return texts
        shape = measure(texts.sms_text) if texts.sms_text is not None else None
        if shape is not None and self.max_segments is not None and shape.segments > self.max_segments:
            return RenderProblem(
                ("sms", "text"),
                f"the SMS is over [sms] max_segments = {self.max_segments}",
                f"the SMS is {shape.segments} {shape.encoding} segments ({shape.characters} characters),"
                f" over [sms] max_segments = {self.max_segments}",
            )
        try:
            # (only where a window applies: no campaign without one pays for the lookup)
            zones = self.rules.zones(recipient.phone, recipient.variables) if self.rules.window else NO_ZONES
        except BadWindow as error:
            return RenderProblem((), "`timezone` column: not a time zone", f"`timezone` column: {error}")
        return texts, shape, zones

    def build(
        self, recipient: Recipient, phone: str | None = None, external_id: str | None = None
    ) -> Message | RenderProblem:
        checked = self.checked(recipient)
        if isinstance(checked, RenderProblem):
            return checked
        texts, shape, zones = checked
        spec = self.campaign.spec
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
            return _too_big(len(body))
        return Message(recipient, ext, texts, body, shape, zones)


def _too_big(size: int) -> RenderProblem:
    return RenderProblem(
        (),
        "the request body is over Telesign's 10 KB limit; shorten the texts",
        f"the request body is {size} bytes, over Telesign's 10 KB limit; shorten the texts",
    )
