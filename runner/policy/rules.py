"""What the policy means for one campaign: its send window, its fallback time zone, its frequency
cap and the reply keywords, with the campaign's own narrowing applied (docs/policy.md).

A campaign may narrow the policy, never widen it silently: a window that allows a moment the
policy's does not, more days, or a looser cap is an error at the campaign's line, unless the
policy says `[schedule] campaigns_may_widen = true`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from runner.campaign.schema import Campaign
from runner.errors import InvalidInput, Problem
from runner.policy.caps import Cap, parse_cap
from runner.policy.keywords import Keywords
from runner.policy.schema import Policy, policy_for
from runner.policy.windows import ANY, DAYS, MKT_DEFAULT_WINDOW, Window, parse_days, parse_window, zone
from runner.policy.zones import ZONE_COLUMN, RecipientZones, zones_of

WHOLE_DAY = "00:00-24:00"  # any time of the named days
ALL_DAYS = frozenset(range(7))


@dataclass(frozen=True)
class Rules:
    """The policy as it applies to one campaign."""

    campaign_id: str
    message_type: str
    window: Window | None  # None: any time
    window_origin: str  # where the window comes from, as `check` prints it
    fallback_zone: str | None
    cap: Cap | None  # marketing campaigns only
    keywords: Keywords
    policy: Policy

    def zones(self, phone: str, variables: dict[str, str]) -> RecipientZones:
        return zones_of(phone, variables.get(ZONE_COLUMN), self.fallback_zone)

    def next_open(self, moment: datetime, zones: RecipientZones) -> datetime | None:
        """When this recipient's window next holds (`moment` itself if now); None if never."""
        if self.window is None:
            return moment
        return self.window.next_open(moment, [zone(name) for name in zones.names])

    def describe(self) -> list[str]:
        lines = []
        if self.window is None:
            lines.append(f"window: any time ({self.window_origin})")
        else:
            lines.append(f"window: {self.window.describe()} ({self.window_origin})")
        if self.cap is not None:
            lines.append(f"frequency cap: {self.cap.describe()}")
        return lines


def rules_for(campaign: Campaign, policy: Policy | None = None) -> Rules:
    """The campaign's rules under its repository policy; InvalidInput where it widens it."""
    policy = policy if policy is not None else policy_for(campaign.folder)
    spec, pspec = campaign.spec, policy.spec
    problems: list[Problem] = []
    may_widen = pspec.schedule.campaigns_may_widen
    marketing = spec.message_type == "MKT"

    base: Window | None
    if marketing:
        text = pspec.schedule.window or MKT_DEFAULT_WINDOW
        base = _window(text, pspec.schedule.days)
        origin = "policy.toml" if pspec.schedule.window or pspec.schedule.days else "the default for MKT"
    else:
        base, origin = None, f"no default window for {spec.message_type}"
    window = base
    own = spec.schedule
    if own.window is not None or own.days is not None:
        if own.window == ANY:
            mine: Window | None = _window(ANY, own.days)
        else:
            start_end = own.window or (_span(base) if base is not None else WHOLE_DAY)
            mine = parse_window(start_end, own.days if own.days is not None else _day_names(base))
        # Only a window the policy file sets binds a campaign; the built-in default is a default.
        binding = marketing and (pspec.schedule.window is not None or pspec.schedule.days is not None)
        if base is not None and binding and not may_widen and (mine is None or not base.covers(mine)):
            key = ("schedule", "window") if own.window is not None else ("schedule", "days")
            problems.append(
                campaign.problem(
                    key,
                    f"this widens the repository's window ({base.describe()}, {origin}): a campaign may only narrow it"
                    + (f"; or set [schedule] campaigns_may_widen = true in {policy.path}" if policy.path else ""),
                )
            )
        window, origin = mine, "the campaign file"

    cap: Cap | None = None
    if marketing:
        cap = parse_cap(pspec.sending.max_per_phone) if pspec.sending.max_per_phone else None
        if spec.sending.max_per_phone is not None:
            mine_cap = parse_cap(spec.sending.max_per_phone)
            if cap is not None and not may_widen and not mine_cap.at_least_as_strict_as(cap):
                problems.append(
                    campaign.problem(
                        ("sending", "max_per_phone"),
                        f"{mine_cap.text} is looser than the repository's max_per_phone = {cap.text!r}:"
                        " a campaign may only allow fewer messages or a longer period",
                    )
                )
            cap = mine_cap
    if problems:
        raise InvalidInput(problems)
    fallback = own.timezone or pspec.schedule.timezone
    keywords = Keywords.of(pspec.opt_out.keywords, pspec.opt_out.opt_in)
    return Rules(spec.id, spec.message_type, window, origin, fallback, cap, keywords, policy)


def _window(text: str, days: Sequence[str] | None) -> Window | None:
    """A `window` and `days` as written. `"any"` is no window at all (no time zone needed) unless
    the days leave some out: then it is any time of those days, in the recipient's local calendar.
    (`window = "any"` beside `days = ["mon", ..., "fri"]` used to drop the days with the window, so
    messages left on the weekend the file ruled out.)"""
    if text == ANY:
        return None if days is None or parse_days(days) == ALL_DAYS else parse_window(WHOLE_DAY, days)
    return parse_window(text, days)


def _span(window: Window) -> str:
    end = "24:00" if window.end is None else window.end.strftime("%H:%M")
    return f"{window.start.strftime('%H:%M')}-{end}"


def _day_names(window: Window | None) -> list[str] | None:
    return None if window is None else [DAYS[d] for d in sorted(window.days)]
