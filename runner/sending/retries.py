"""What an answer means for its message in a send: the state it leaves the message in, how long
the run waits before trying it again, and when it is not worth waiting (docs/sending.md, "States")."""

from __future__ import annotations

from runner.ledger.states import State
from runner.telesign.client import Answer, Verdict

# The longest Retry-After a run waits for (docs/sending.md). Telesign's 429/3204 asks for seconds;
# a longer wait (an account throttled for hours) would hold the campaign's lock and a cron slot
# for as long: the message is `failed` instead, the run stops claiming, the next run sends it.
MAX_RETRY_AFTER = 60.0

# The state a message is left in by its last answer (an `unauthorized` one gives the claim back).
STATE_AFTER: dict[Verdict, State] = {
    "accepted": State.ACCEPTED,
    "rejected": State.REJECTED,
    "unknown": State.UNKNOWN,
    "retry": State.FAILED,
}


def backoff_step(base: float, cap: float, attempt: int) -> float:
    """The longest backoff after `attempt`: exponential from `base`, capped at `cap` (the wait is
    drawn from 0 to it, full jitter; a 429 without Retry-After pauses everyone for all of it)."""
    return float(min(cap, base * 2 ** (attempt - 1)))


def never_connected(answer: Answer) -> bool:
    """The request could not even be written: no connection (runner.telesign.client's `retry` without HTTP)."""
    return answer.verdict == "retry" and answer.http_status is None
