"""Whether a saved plan still describes what a send would do: the plan made again now, by the same
code, compared with the saved one; one line per change, in the user's words (docs/plan.md, "Stale
plans"). Like Terraform's saved plan, a stale plan sends nothing."""

from __future__ import annotations

from datetime import datetime

from runner.errors import ExitCode, RunnerError
from runner.plan.model import VALID_FOR, InputFile, Plan

DONE_STATES = ("accepted", "rejected", "unknown", "sending")  # reached (or may have reached) Telesign


class PlanStale(RunnerError):
    """The plan no longer matches its inputs: nothing is sent (exit 1)."""

    exit_code = ExitCode.INVALID

    def __init__(self, campaign_id: str, plan_path: str, changes: list[str]):
        self.campaign_id = campaign_id
        self.changes = changes
        self.plan_path = plan_path
        super().__init__(f"{campaign_id}: the plan {plan_path} is stale: nothing sent")

    def lines(self) -> list[str]:
        head = f"{self.campaign_id}: the plan {self.plan_path} no longer holds; nothing was sent:"
        tail = f"{self.campaign_id}: review it again: campaign plan FILE -o {self.plan_path}"
        return [head, *(f"  {change}" for change in self.changes), tail]


def _rows(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _file_change(before: InputFile, after: InputFile | None) -> str | None:
    if after is None:
        return f"{before.path} is no longer read by the send (it was the {before.role} file)"
    if before.sha256 == after.sha256:
        return None
    if after.sha256 is None:
        return f"{before.path} is missing since the plan"
    if before.rows is not None and after.rows is not None and before.rows != after.rows:
        return f"{before.path} changed since the plan: {_rows(before.rows)} -> {_rows(after.rows)} rows"
    same = f" (same {_rows(after.rows)} rows)" if after.rows is not None else ""
    return f"{before.path} changed since the plan{same}"


def _ledger_change(saved: Plan, fresh: Plan) -> str:
    before, after = saved.ledger_states, fresh.ledger_states
    sent = sum(after.get(s, 0) for s in DONE_STATES) - sum(before.get(s, 0) for s in DONE_STATES)
    if sent > 0:
        return f"the ledger changed since the plan: {sent:,} message{'s' if sent != 1 else ''} sent by another run"
    moved = sorted(s for s in set(before) | set(after) if before.get(s, 0) != after.get(s, 0))
    shown = ", ".join(f"{s} {before.get(s, 0):,} -> {after.get(s, 0):,}" for s in moved)
    return "the ledger changed since the plan" + (f": {shown}" if shown else " (messages changed state)")


def budget(saved: Plan, fresh: Plan) -> int:
    """How many messages the runs applying the plan may still send: what it counted, less what has
    reached Telesign since it was made (every run since applied it, or only settled answers).
    What it counted: to send now and deferred; and, for a plan made without --limit, those the
    campaign's own [sending] max_per_run leaves for later runs (counts.over_cap), which the review
    showed as such: cron with require_plan sends such a campaign a chunk a run under one plan. A
    plan made with --limit N is a canary: N in all, never the next N each time it is applied."""
    sent = sum(fresh.ledger_states.get(s, 0) for s in DONE_STATES) - sum(
        saved.ledger_states.get(s, 0) for s in DONE_STATES
    )
    counted = saved.counts.to_send + saved.counts.deferred
    if saved.limit is None:
        counted += saved.counts.over_cap
    return max(0, counted - max(0, sent))


def changes_since(saved: Plan, fresh: Plan, now: datetime, own_progress: bool = False) -> list[str]:
    """Every reason the saved plan no longer holds, one line each; empty when it holds.

    `own_progress`: every run that changed the ledger since the plan was made applied this very
    plan (or only settled answers: enrich, poll). Then the ledger and the messages left may have
    moved, but only along the plan: with the same inputs, what is left is part of what it counted,
    so a plan whose deferred messages wait for their window (or whose run was interrupted) goes on
    being applied by later runs (docs/plan.md)."""
    if saved.campaign_id != fresh.campaign_id:
        return [f"the plan is for campaign {saved.campaign_id!r}, not {fresh.campaign_id!r}"]
    changes: list[str] = []
    if saved.valid_until - saved.created_at > VALID_FOR:
        # Only a hand edit makes this: `campaign plan` writes created_at + VALID_FOR. An edited
        # validity would let a day-old review stand for today's send (docs/plan.md).
        changes.append(
            f"the plan's validity was edited: valid until {saved.valid_until.isoformat(timespec='minutes')}, "
            f"{(saved.valid_until - saved.created_at).total_seconds() / 3600:g} hours after it was made "
            f"({saved.created_at.isoformat(timespec='minutes')}); a plan is valid for "
            f"{VALID_FOR.total_seconds() / 3600:g} hours"
        )
    elif now > saved.valid_until:
        hours = (saved.valid_until - saved.created_at).total_seconds() / 3600
        changes.append(
            f"the plan expired at {saved.valid_until.isoformat(timespec='minutes')} "
            f"(made {saved.created_at.isoformat(timespec='minutes')}; a plan is valid for {hours:g} hours)"
        )
    if saved.runner_version != fresh.runner_version:
        changes.append(f"the runner changed since the plan: {saved.runner_version} -> {fresh.runner_version}")
    now_inputs = {(i.role, i.path): i for i in fresh.inputs}
    for before in saved.inputs:
        line = _file_change(before, now_inputs.pop((before.role, before.path), None))
        if line:
            changes.append(line)
    changes += [
        f"{after.path} is read by the send since the plan (the {after.role} file)" for after in now_inputs.values()
    ]
    if saved.opt_outs_digest != fresh.opt_outs_digest:
        new = fresh.opt_outs - saved.opt_outs
        changes.append(
            f"opt-outs: {new:,} new since the plan"
            if new > 0
            else f"opt-outs changed since the plan: {saved.opt_outs:,} -> {fresh.opt_outs:,} phones opted out"
        )
    if not changes and saved.messages_digest != fresh.messages_digest:
        # No file the plan lists changed, yet the messages did: a template found only when
        # rendering (`{% include name %}`), or one that renders differently each time. Checked
        # whoever moved the ledger: after a run of this plan, the texts left must still be the
        # reviewed ones.
        changes.append(
            "the messages differ from the plan though none of the files it lists changed "
            f"({saved.counts.messages:,} -> {fresh.counts.messages:,} messages): something a template reads "
            "changed, or a template renders differently each time (as `random` does), which no plan can hold"
        )
    if own_progress:
        planned, left = saved.counts.to_send + saved.counts.deferred, fresh.counts.to_send + fresh.counts.deferred
        if left > planned:
            changes.append(f"the messages to send differ from the plan: {planned:,} -> {left:,}")
        elif left and not budget(saved, fresh):
            # a plan made with --limit N counts N: applied again, "what is left" is the next N
            changes.append(
                f"every message the plan counted ({planned:,}) is sent already, by the runs that applied it;"
                " plan again to send more"
            )
        return changes
    if saved.ledger_digest != fresh.ledger_digest:
        changes.append(_ledger_change(saved, fresh))
    if not changes and saved.to_send_digest != fresh.to_send_digest:
        changes.append(
            f"the messages to send differ from the plan: {saved.counts.to_send:,} -> {fresh.counts.to_send:,}"
        )
    if not changes and saved.fingerprint != fresh.fingerprint:
        changes.append("something the send depends on changed since the plan (its fingerprint differs)")
    return changes
