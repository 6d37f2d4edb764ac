"""What report.html shows, gathered in one streaming pass over report.csv's rows.

The page summarises the CSV that was just written, read back row by row: every number on the page
is a count of that file's rows (a test reads both and compares), memory stays flat however many
recipients there are (counters whose keys are few: states, status codes, countries, minutes), and
columns are found by their header name, so columns other features append at the end of the report
(docs/report.md: timezone, not_before, replied, opted_out, price, currency, campaign_commit) are
summarised when present and ignored when not."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from runner.callbacks.timeparse import format_utc, parse_updated_on
from runner.report.countries import region_of
from runner.telesign import codes

# Delivered: 3000, and 3005 (read, so delivered first). Intermediate codes (3001 in progress, 3056
# failed within fallback time so the next channel is tried...) come from the one table of Telesign's
# codes; any other code is final and not delivered (docs/callbacks.md, "Status codes").
DELIVERED = frozenset({str(codes.DELIVERED), str(codes.READ)})
READ = str(codes.READ)
INTERMEDIATE = frozenset(str(code) for code in codes.INTERMEDIATE)

# Groups of reasons are keyed by texts that can be per row (an invalid row's reason names its value):
# past this many distinct keys, new ones are counted together so that memory stays flat.
MAX_REASONS = 200
OTHER = "(other reasons)"
MAX_COMMITS = 50
MAX_TIMEZONES = 100

# replied / opted_out hold a flag or a time, as the features that add them choose: any value but an
# empty cell, 0, false or no counts as yes.
_NO = frozenset({"", "0", "false", "no", "n"})


@dataclass(frozen=True)
class Reason:
    state: str  # for messages not delivered: the last channel tried
    code: str


@dataclass
class ReasonGroup:
    """Rows with one state and status code. Descriptions can name the row (Telesign's "Invalid value
    for parameter phone_number: ..."; a duplicate's phone), so one is kept as the example and the
    group only notes that others differ: memory stays flat."""

    count: int = 0
    description: str = ""
    varies: bool = False


@dataclass
class Channels:
    """Accepted messages by where they ended up (from the delivery callbacks)."""

    viber: int = 0  # delivered on Viber
    sms: int = 0  # Viber did not deliver, the SMS fallback did
    failed: int = 0  # a final status that is not delivered: failed on every channel tried
    in_progress: int = 0  # no final status yet (no callback, or only intermediate ones)


@dataclass
class Country:
    recipients: int = 0
    accepted: int = 0
    delivered: int = 0


@dataclass
class Summary:
    columns: tuple[str, ...] = ()
    recipients: int = 0
    sent: int = 0  # a request was made at least once (attempts >= 1)
    accepted: int = 0
    delivered: int = 0
    read: int = 0
    states: Counter[str] = field(default_factory=Counter)
    channels: Channels = field(default_factory=Channels)
    countries: dict[str, Country] = field(default_factory=dict)
    not_sent: dict[Reason, ReasonGroup] = field(default_factory=dict)  # every state but accepted
    not_delivered: dict[Reason, ReasonGroup] = field(default_factory=dict)  # accepted, final, not delivered
    accepted_per_minute: Counter[str] = field(default_factory=Counter)  # "YYYY-MM-DDTHH:MM" (UTC)
    delivered_per_minute: Counter[str] = field(default_factory=Counter)
    replied: int | None = None  # None: the report has no such column
    opted_out: int | None = None
    deferred_until: Counter[str] = field(default_factory=Counter)  # not_before's date, deferred rows
    timezones: Counter[str] = field(default_factory=Counter)
    prices: dict[str, Decimal] = field(default_factory=dict)  # currency -> total
    priced: Counter[str] = field(default_factory=Counter)  # currency -> rows with a price
    commits: Counter[str] = field(default_factory=Counter)

    def has(self, column: str) -> bool:
        return column in self.columns


def _count_reason(groups: dict[Reason, ReasonGroup], key: Reason, description: str) -> None:
    group = groups.get(key)
    if group is None:
        if len(groups) >= MAX_REASONS:  # only a corrupt report has this many state/code pairs
            key, description = Reason(OTHER, ""), ""
            group = groups.get(key)
        if group is None:
            group = groups[key] = ReasonGroup(description=description)
    elif not group.varies and description != group.description:
        group.varies = True
    group.count += 1


def _minute(value: str) -> str | None:
    """The UTC minute of a report time: ISO 8601 as the report writes it, else whatever
    Telesign's updated_on format it kept (docs/callbacks.md lists them). Taken by its shape alone
    (a million rows): `_drop_impossible` then removes, once per distinct minute, what names none."""
    if len(value) >= 16 and value[4] == "-" and value[10] == "T" and value[13] == ":":
        return value[:16]
    moment = parse_updated_on(value) if value else None
    return None if moment is None else format_utc(moment)[:16]


def read_rows(path: Path) -> tuple[tuple[str, ...], Iterator[list[str]]]:
    handle = path.open(encoding="utf-8", newline="")
    reader = csv.reader(handle)
    header = tuple(next(reader, []))

    def rows() -> Iterator[list[str]]:
        with handle:
            yield from reader

    return header, rows()


def summarise(path: Path) -> Summary:
    header, rows = read_rows(path)
    return summarise_rows(header, rows)


def summarise_rows(header: tuple[str, ...], rows: Iterable[list[str]]) -> Summary:
    s = Summary(columns=header)
    at = {name: i for i, name in enumerate(header)}
    phone, state_at, attempts = at["phone_number"], at["state"], at["attempts"]
    code_at, description_at = at["status_code"], at["status_description"]
    submitted, delivery_code = at["submitted_at"], at["delivery_status_code"]
    delivery_description, channel_at = at["delivery_status_description"], at["last_channel"]
    updated = at["status_updated_on"]
    replied, opted_out, not_before = at.get("replied"), at.get("opted_out"), at.get("not_before")
    timezone, price, currency, commit = (
        at.get("timezone"),
        at.get("price"),
        at.get("currency"),
        at.get("campaign_commit"),
    )
    if replied is not None:
        s.replied = 0
    if opted_out is not None:
        s.opted_out = 0
    width = len(header)
    states, countries = s.states, s.countries
    for row in rows:
        if len(row) < width:
            row = row + [""] * (width - len(row))
        s.recipients += 1
        state = row[state_at]
        states[state] += 1
        region = region_of(row[phone])
        country = countries.get(region)
        if country is None:
            country = countries[region] = Country()
        country.recipients += 1
        if row[attempts] not in ("", "0"):
            s.sent += 1
        if state == "accepted":
            s.accepted += 1
            country.accepted += 1
            minute = _minute(row[submitted])
            if minute is not None:
                s.accepted_per_minute[minute] += 1
            code = row[delivery_code]
            if code in DELIVERED:
                s.delivered += 1
                country.delivered += 1
                if code == READ:
                    s.read += 1
                if row[channel_at] == "sms":
                    s.channels.sms += 1
                else:
                    s.channels.viber += 1
                minute = _minute(row[updated])
                if minute is not None:
                    s.delivered_per_minute[minute] += 1
            elif code == "" or code in INTERMEDIATE:
                s.channels.in_progress += 1
            else:
                s.channels.failed += 1
                _count_reason(s.not_delivered, Reason(row[channel_at] or "-", code), row[delivery_description])
        else:
            _count_reason(s.not_sent, Reason(state, row[code_at]), row[description_at])
        if replied is not None and row[replied].strip().lower() not in _NO:
            s.replied = (s.replied or 0) + 1
        if opted_out is not None and row[opted_out].strip().lower() not in _NO:
            s.opted_out = (s.opted_out or 0) + 1
        if not_before is not None and state == "deferred":
            s.deferred_until[row[not_before][:10] or "-"] += 1
        if timezone is not None and row[timezone]:
            _capped_text(s.timezones, row[timezone], MAX_TIMEZONES)
        if commit is not None and row[commit]:
            _capped_text(s.commits, row[commit], MAX_COMMITS)
        if price is not None and row[price]:
            money = row[currency] if currency is not None else ""
            try:
                amount = Decimal(row[price])
            except InvalidOperation:
                continue
            s.prices[money] = s.prices.get(money, Decimal(0)) + amount
            s.priced[money] += 1
    _drop_impossible(s.accepted_per_minute)
    _drop_impossible(s.delivered_per_minute)
    return s


def _drop_impossible(minutes: Counter[str]) -> None:
    """Remove the keys that name no minute the timeline can draw. status_updated_on keeps
    Telesign's updated_on as written when it could not be read, and "2026-13-45T99:99:99" has the
    shape `_minute` looks for; a readable time may be at the calendar's very end (9999-12-31),
    where the timeline's next bucket does not exist. The timeline's arithmetic on either raised, so
    report.html was never written, and every later send or enrich of the campaign, rewriting the
    report from the same ledger, stopped there too. Such a row still counts everywhere else.
    Checked once per distinct minute, not per row."""
    for key in [key for key in minutes if not _drawable(key)]:
        del minutes[key]


def _drawable(key: str) -> bool:
    try:
        return _moment(key).year < datetime.max.year
    except ValueError:
        return False


def _capped_text(counter: Counter[str], key: str, limit: int) -> None:
    if key in counter or len(counter) < limit:
        counter[key] += 1
    else:
        counter["(others)"] += 1


def per_bucket(minutes: Counter[str], bucket: str) -> Counter[str]:
    """Per-minute counts regrouped by hour ("YYYY-MM-DDTHH") or day ("YYYY-MM-DD")."""
    width = {"minute": 16, "hour": 13, "day": 10}[bucket]
    out: Counter[str] = Counter()
    for minute, n in minutes.items():
        out[minute[:width]] += n
    return out


def bucket_for(*timelines: Counter[str], most: int = 180) -> str:
    """The bucket that shows the campaign's whole span in at most about `most` bars: minutes for a
    campaign sent within three hours, hours up to a week or so, days beyond."""
    keys = set().union(*timelines)
    if not keys:
        return "minute"
    span = _minutes_between(min(keys), max(keys))
    if span < most:
        return "minute"
    return "hour" if span < most * 60 else "day"


def _moment(key: str) -> datetime:
    return datetime.fromisoformat(key + ("" if len(key) > 13 else ":00" if len(key) == 13 else "T00:00")).replace(
        tzinfo=UTC
    )


def _minutes_between(first: str, last: str) -> int:
    return int((_moment(last) - _moment(first)).total_seconds() // 60)


def buckets(counts: Counter[str], first: str, last: str, bucket: str) -> list[str]:
    """Every bucket from `first` to `last`, empty ones included (a gap in sending shows as a gap)."""
    step = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}[bucket]
    width = {"minute": 16, "hour": 13, "day": 10}[bucket]
    out, moment, end = [], _moment(first), _moment(last)
    while moment <= end:
        out.append(moment.strftime("%Y-%m-%dT%H:%M")[:width])
        moment += step
    return out
