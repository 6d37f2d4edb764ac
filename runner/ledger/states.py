"""A message's state in the ledger, and the groupings every part of the runner decides by.

The states and what moves a message between them are the user's reference in docs/sending.md;
this is the one definition the ledger, the sender, the run, progress and cron read."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PENDING = "pending"  # in the audience, not sent yet
    SENDING = "sending"  # claimed: its request may have left (committed before it does)
    ACCEPTED = "accepted"  # Telesign answered with a reference_id (or a callback proved it)
    REJECTED = "rejected"  # Telesign refused it for good (4xx): never resent
    FAILED = "failed"  # every attempt failed in a way that proves nothing was created: resent next run
    UNKNOWN = "unknown"  # the answer was lost: it may have reached Telesign
    SUPPRESSED = "suppressed"  # audience rows that are not messages (see SKIPPED)
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    EXPIRED = "expired"  # never sent before the schedule's end
    # outside the recipient's send window, or over a frequency cap: not claimed before its
    # not_before (UTC); docs/policy.md
    DEFERRED = "deferred"


# Sent by the next run.
SENDABLE: tuple[State, ...] = (State.PENDING, State.FAILED)
# May have reached Telesign without an answer: resent only with --resend-unknown.
UNSETTLED: tuple[State, ...] = (State.SENDING, State.UNKNOWN)
# A phone in a message in one of these has (or may have) received this campaign's message: it is
# never messaged again under another key (docs/reliability.md, "The phone is the identity").
MESSAGED: tuple[State, ...] = (State.ACCEPTED, *UNSETTLED)
# Audience rows that never become messages.
SKIPPED: tuple[State, ...] = (State.SUPPRESSED, State.INVALID, State.DUPLICATE)
# Not sent yet: an edited campaign file's body and phone still apply to them.
EDITABLE: tuple[State, ...] = (State.PENDING, State.FAILED, State.EXPIRED, State.DEFERRED)
# Not sent, and re-planned by every sync: the policy (window, opt-out, cap) decides again which
# of pending, deferred or suppressed they are. (`suppressed` in the messages table is only ever an
# opt-out or a policy decision, never sent: the audience's own suppressions are skipped rows.)
REPLANNED: tuple[State, ...] = (State.PENDING, State.FAILED, State.EXPIRED, State.DEFERRED, State.SUPPRESSED)
# A run that leaves any message in one of these did not finish the campaign (exit 3).
NOT_ACCEPTED: tuple[State, ...] = (State.REJECTED, State.FAILED, State.UNKNOWN, State.SENDING, State.EXPIRED)
# A delivery callback proves Telesign accepted the message: these become `accepted`.
SETTLED_BY_CALLBACK: tuple[State, ...] = (
    State.UNKNOWN,
    State.SENDING,
    State.FAILED,
    State.PENDING,
    State.EXPIRED,
    State.DEFERRED,
)
# The outcomes of one send, as progress counts them (in this order).
OUTCOMES: tuple[State, ...] = (State.ACCEPTED, State.REJECTED, State.FAILED, State.UNKNOWN)


# States only the policy (or a schedule's end) puts an unsent message in: back to pending when it allows.
POLICY_DECIDED: tuple[State, ...] = (State.EXPIRED, State.DEFERRED, State.SUPPRESSED)


def state_after_sync(prior: State | str | None, planned: State = State.PENDING) -> State:
    """A message's state once a run's sync has seen its recipient: from the state the ledger had
    (None: a recipient new to the ledger) and what the policy planned for it now (pending, deferred
    or suppressed, runner.policy.gate). The SQLite sync writes this rule in SQL from the same
    groupings; `campaign plan` applies it to a read-only ledger to tell what a send would do."""
    if prior is None:
        return planned
    if prior in REPLANNED and planned != State.PENDING:
        return planned
    if prior in POLICY_DECIDED:
        return State.PENDING
    return State(prior)


def claimable(resend_unknown: bool) -> tuple[State, ...]:
    """The states a send run may claim a message from (a deferred one once its not_before is past)."""
    return SENDABLE + (State.DEFERRED,) + (UNSETTLED if resend_unknown else ())


# What a later run still has to do: cron's "complete" is none of these left.
LEFT_TO_SEND: tuple[State, ...] = SENDABLE + (State.DEFERRED,)
