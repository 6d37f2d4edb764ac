"""What the callbacks say about one message: the merge rules, as pure functions (no I/O).

Telesign posts several callbacks per message (reference_id): in progress, failed within the
fallback time on Viber, delivered by SMS, read... They arrive in any order and may repeat (its
Transaction Callback Service retries a callback that was not acknowledged). The rules
(docs/callbacks.md, "The merge rules"):

1. Callbacks are ordered by status.updated_on; equal times are ordered by arrival (the order
   they were read from the logs).
2. A final code (3000 delivered, 3003 delivery error, 3005 read, 3006 no channel enabled, 3033
   expired, ... and any code that is not intermediate) is never replaced by a later intermediate
   one (3001 in progress, 3002 delivered to gateway, 3056 failed within the fallback time, and the
   per-channel 3100, 3101, 3200, 3202, 3306 after which the next channel is tried): late or
   retried "in progress" callbacks are common. Which codes are intermediate is
   runner.telesign.codes's table, shared with the client and the simulator.
3. 3005 read may follow 3000 delivered, but nothing replaces 3005: a message that was read was
   delivered, whatever a later callback says (nor does a 3000 retried after the read undo it).
4. Each channel (viber, sms...) keeps its own latest status by the same rules, ordered by that
   channel's own updated_on (the callback's when the channel gives none).
5. `callbacks` counts distinct callbacks: a repeat (same content hash) counts once, and takes
   part once, as the copy that arrived first (a retry logged later must not win a tie by arrival).
6. What the message cost (additional_info's price, currency and SMS parts) is the one carried by
   the greatest status report, by the same order, that carries a price: a read receipt repeating
   the delivered price changes nothing, and a later report without a price cannot erase it. A
   polled status (runner.callbacks.poll) is one more status report, merged by these same rules.

Applying these rules in time order is the same as taking, among all the statuses seen, the
greatest by (rank, updated_on, arrival), where rank is intermediate < final < read: the state can
only move up in rank, and within a rank the latest wins (`order_head` packs the first two). So the
result does not depend on the order callbacks are fed in. A status without a readable updated_on
ranks before every timed one of its rank: only its arrival orders it.

This module holds the rules' parts that production code asks (rank, `order_head`, `is_final`);
runner.callbacks.enrichment merges by them at speed, and runner.callbacks.reference states the
whole merge plainly, as the specification the tests hold enrichment to.
"""

from __future__ import annotations

from runner.telesign import codes

# The codes these rules name; what each means, and which are intermediate, is runner.telesign.codes.
IN_PROGRESS = codes.IN_PROGRESS
DELIVERED_TO_GATEWAY = codes.DELIVERED_TO_GATEWAY
FAILED_WITHIN_FALLBACK_TIME = codes.FAILED_WITHIN_FALLBACK_TIME
DELIVERED = codes.DELIVERED
DELIVERY_ERROR = codes.DELIVERY_ERROR
READ = codes.READ
NO_CHANNEL_ENABLED = codes.NO_CHANNEL_ENABLED
CHANNEL_NOT_SUPPORTED = codes.CHANNEL_NOT_SUPPORTED

INTERMEDIATE_CODES = codes.INTERMEDIATE

is_final = codes.is_final  # (re-exported: callers ask the rules whether a status is final)


def rank(code: int) -> int:
    """0 intermediate, 1 final, 2 read: a status is only ever replaced by one of equal or higher
    rank."""
    if code in INTERMEDIATE_CODES:
        return 0
    return 2 if code == READ else 1


# Microseconds from year 1 to year 9999 fit in 59 bits; rank and "timed" go above them.
_TIME_BITS = 59
_TIMED = 1 << _TIME_BITS
_TIME_MASK = _TIMED - 1
_RANKED = {code: rank(code) << (_TIME_BITS + 1) for code in (*INTERMEDIATE_CODES, READ)}
_FINAL = 1 << (_TIME_BITS + 1)


# (public for runner.callbacks.enrichment, which writes order_head out in its hot loop)
ORDER_OF_CODE, ORDER_OF_FINAL, ORDER_TIMED = _RANKED, _FINAL, _TIMED


def order_head(code: int, updated_on_micros: int | None) -> int:
    """(rank, timed, updated_on) packed into one non-negative int (under 2**62) that orders like
    them: the part of a status's order that comes before its arrival. `updated_on_micros` is
    timeparse.to_micros of the status's time, None when it had none (an untimed status ranks
    before every timed one of its rank). Enrichment (runner.callbacks.enrichment) keeps millions of these in
    arrays; runner.callbacks.reference uses it too, so that both order statuses by one definition."""
    ranked = _RANKED.get(code, _FINAL)  # rank(code), looked up: enrichment calls this per status
    return ranked if updated_on_micros is None else ranked | _TIMED | updated_on_micros


def order_micros(head: int) -> int | None:
    """The updated_on (microseconds) an `order_head` was made with; None if it had none."""
    return head & _TIME_MASK if head & _TIMED else None
