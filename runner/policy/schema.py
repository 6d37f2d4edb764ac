"""The repository policy file, `policy.toml` at the root of the campaigns folder: its schema and
the one loader every part of the runner reads it through (docs/policy.md).

Found the way `templates/` is: walking up from the campaign file's folder, the nearest folder that
holds a `policy.toml`. Errors are `path:line: message`, with "did you mean" for unknown keys, as
for campaign files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, StrictBool, ValidationError, field_validator

from runner.campaign.schema import POLICY_FILE, Strict, WindowKeys, read_toml, validation_problems
from runner.campaign.tomlpos import KeyLines
from runner.errors import InvalidInput, Problem
from runner.policy.checks import check_cap
from runner.policy.keywords import DEFAULT_OPT_IN, DEFAULT_OPT_OUT, normalise


class PolicySchedule(WindowKeys):
    # window None: the built-in default (08:00-21:00 for MKT); timezone: for recipients whose zone
    # is not known otherwise.
    campaigns_may_widen: StrictBool = False


class PolicyOptOut(Strict):
    keywords: list[str] = list(DEFAULT_OPT_OUT)
    opt_in: list[str] = list(DEFAULT_OPT_IN)

    @field_validator("keywords", "opt_in")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        for word in value:
            if not normalise(word):
                raise ValueError(f"{word!r} has no letters or digits: a reply could never match it")
        return value


class PolicySending(Strict):
    max_per_phone: str | None = None  # "2/7d", marketing messages, across the repository
    # Read by other parts of the runner (docs/policy.md says which):
    account_rate: float | None = Field(default=None, gt=0, le=10_000, description="messages per second, all senders")
    require_plan: StrictBool = False  # `campaign send` only with a reviewed plan (--plan)
    poll: StrictBool = False  # poll GET /v1/omnichannel/{reference_id} where callbacks cannot reach us

    @field_validator("max_per_phone")
    @classmethod
    def _cap(cls, value: str | None) -> str | None:
        return None if value is None else check_cap(value)


class PolicyPricing(Strict):
    file: str | None = None  # a CSV of prices per country code and channel, relative to policy.toml


class PolicyFile(Strict):
    schedule: PolicySchedule = PolicySchedule()
    opt_out: PolicyOptOut = PolicyOptOut()
    sending: PolicySending = PolicySending()
    pricing: PolicyPricing = PolicyPricing()


@dataclass(frozen=True)
class Policy:
    """A loaded policy file (or the defaults, `path` None, when the repository has none)."""

    path: Path | None
    spec: PolicyFile
    key_lines: KeyLines | None

    def problem(self, key: tuple[str | int, ...], message: str) -> Problem:
        line = self.key_lines.line_of(key) if self.key_lines else None
        return Problem(str(self.path), line, message)

    def resolve(self, relative: str) -> Path:
        """A path named in the policy, relative to the policy file's folder."""
        base = self.path.parent if self.path is not None else Path(".")
        return (base / relative).resolve()


NO_POLICY = Policy(None, PolicyFile(), None)


def find_policy(start: Path) -> Path | None:
    """The nearest `policy.toml` walking up from a campaign file's folder."""
    for folder in [start, *start.parents]:
        candidate = folder / POLICY_FILE
        if candidate.is_file():
            return candidate
    return None


_cache: dict[Path, tuple[int, int, Policy]] = {}


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; InvalidInput with every problem found."""
    key = path.resolve()
    try:
        info = key.stat()
    except OSError:
        raise InvalidInput.at(path, None, "no such file") from None
    cached = _cache.get(key)
    if cached is not None and cached[:2] == (info.st_mtime_ns, info.st_size):
        return cached[2]
    data, lines = read_toml(path)
    try:
        spec = PolicyFile.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(validation_problems(path, lines, error, PolicyFile)) from None
    policy = Policy(path, spec, lines)
    _cache[key] = (info.st_mtime_ns, info.st_size, policy)
    return policy


def policy_for(campaign_folder: Path) -> Policy:
    """The policy governing campaigns in this folder: the one loader others call (the ledger's
    `account_rate`, review's `require_plan`, telesign's `poll` read `policy_for(...).spec.sending`)."""
    path = find_policy(campaign_folder)
    return NO_POLICY if path is None else load_policy(path)
