"""A plan as it is saved (`campaign plan -o PLAN.json`) and read back (`campaign send --plan`):
one pydantic model, so that a hand-edited or truncated plan file is a clear error, not a
traceback (docs/plan.md, "The plan file")."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from runner.errors import InvalidInput

PLAN_FORMAT = 2  # 2: messages_digest
VALID_FOR = timedelta(hours=24)  # docs/plan.md, "How long a plan is valid"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputFile(_Model):
    """One file the send reads, as it was when the plan was made."""

    role: str  # campaign, audience, suppression, template, policy
    path: str  # relative to the repository's root where there is one
    sha256: str | None  # None: the file does not exist
    rows: int | None = None  # data rows, for CSV files
    commit: str | None = None  # the last commit that touched it
    dirty: bool | None = None  # the work tree differs from `commit`; None outside git


class Counts(_Model):
    audience_rows: int  # every row of the audience, inline recipients included
    messages: int  # rows that render into a message (whatever the ledger says)
    to_send: int  # what this send sends (within --limit / max_per_run)
    over_cap: int  # sendable, but past --limit / [sending] max_per_run: for a later run
    deferred: int  # outside their send window (or over a frequency cap) now: sent when it opens
    deferred_until: dict[str, int]  # when each batch may go (UTC) -> messages
    already: dict[str, int]  # messages the ledger has past `pending`, by state: accepted, rejected, unknown...
    suppressed: dict[str, int]  # by suppression list, and "opted out" (replies STOP) by the policy
    duplicates: int
    invalid: int
    invalid_examples: list[str]  # the first few `path:line: reason`


class Sample(_Model):
    why: str  # "first recipient", "longest Viber text", "random (seed 12)"
    recipient: str  # id, or the phone with its middle digits hidden
    line: str  # path:line of the audience row
    viber_text: str
    url: str
    url_text: str
    sms_text: str | None
    sms: str | None  # "GSM-7, 1 segment"


class Template(_Model):
    field: str  # viber.text, viber.url, viber.url_text, viber.url_id, sms.text
    source: str  # the template text
    where: str  # the campaign file's key or the template file
    variables: list[str]


class Character(_Model):
    character: str
    name: str
    messages: int  # how many SMS texts it made UCS-2


class Messages(_Model):
    counted: int  # the messages these figures are over: to send now, and deferred to their window
    samples: list[Sample]
    templates: list[Template]
    viber_text_longest: int
    viber_text_limit: int
    viber_text_over: int
    button_longest: int
    button_limit: int
    button_over: int
    sms_encodings: dict[str, int]
    sms_segments: dict[int, int]  # segments per message -> messages
    ucs2_characters: list[Character]


class CountryCost(_Model):
    country: str
    messages: int
    sms_segments: int
    best: float | None  # every Viber delivered; None: no price for this country
    worst: float | None  # every message also falls back to SMS


class Cost(_Model):
    table: str | None  # the price table, None without one
    currency: str | None
    countries: list[CountryCost]
    best: float | None
    worst: float | None
    unpriced: list[str]  # countries without a price in the table


class Timing(_Model):
    rate: float  # messages per second ([sending] rate)
    seconds: float  # for the messages to send now
    finishes_at: datetime | None  # with deferred messages: when the last would go, each batch as its window opens


class Plan(_Model):
    plan_format: int = PLAN_FORMAT
    campaign_id: str
    campaign_file: str
    # With their UTC offset: a time without one (a hand edit) cannot be compared with the send's
    # clock, and is refused as not a plan rather than read as some zone's time.
    created_at: AwareDatetime
    valid_until: AwareDatetime
    runner_version: str
    limit: int | None  # `campaign plan --limit N`: the send applies the same cap
    fingerprint: str  # sha256 over everything the send depends on (docs/plan.md, "Fingerprint")
    ledger_digest: str  # every message's state in the ledger ("" without a ledger)
    ledger_states: dict[str, int]  # the ledger's messages by state
    opt_outs: int  # phones opted out now in the repository's recipient store
    opt_outs_digest: str
    to_send_digest: str  # the messages to send: external ids and exact bodies
    # Every message the inputs make (external ids, exact bodies), whatever the ledger or the clock
    # says of it: what a plan applied by several runs is held to once its own runs moved the ledger.
    messages_digest: str
    schedule: str | None  # "not due until ..." / "past its end ..."; None: due
    counts: Counts
    messages: Messages
    cost: Cost
    timing: Timing
    inputs: list[InputFile]
    git: str | None  # why there are no commits ("not in a git repository"); None: in one
    at_send_time: list[str]  # what the send decides when it runs, not when the plan is made

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def plan_beside(campaign_file: Path) -> Path:
    """Where cron looks for a campaign's reviewed plan: `<campaign>.plan.json` beside its file."""
    return campaign_file.with_name(campaign_file.stem + ".plan.json")


def read_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput.at(
            path, None, "no such plan file; make one with `campaign plan FILE -o PLAN.json`"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput.at(path, None, f"cannot read the plan: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput.at(path, error.lineno, f"not a plan (JSON: {error.msg}); make it again") from None
    if isinstance(data, dict) and data.get("plan_format") != PLAN_FORMAT:
        raise InvalidInput.at(
            path, None, f"plan format {data.get('plan_format')!r}, this runner reads {PLAN_FORMAT}; make the plan again"
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput.at(path, None, f"not a plan ({where}: {first['msg']}); make it again") from None
