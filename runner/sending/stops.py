"""Why a send stopped before its end, as types: each knows its exit code and, for those a user
must act on, the error `campaign send` reports once the report is written (docs/sending.md,
"Exit codes"). The sender records the first stop; runner.sending.run turns it into the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from runner.errors import (
    CredentialsRefused,
    EndpointUnreachable,
    ExitCode,
    LedgerUnavailable,
    RunnerError,
    WrongEndpoint,
)


@dataclass(frozen=True)
class Stop:
    label: ClassVar[str]  # as the progress line says it: "stopping (interrupted): ..."
    exit_code: ClassVar[ExitCode]

    def error(self, campaign_id: str, base_url: str, report: Path) -> RunnerError | None:
        """The error to report after the run, or None when the exit code says it all."""
        return None


@dataclass(frozen=True)
class Interrupted(Stop):
    label = "interrupted"
    exit_code = ExitCode.INTERRUPTED


@dataclass(frozen=True)
class Terminated(Stop):
    label = "terminated"
    exit_code = ExitCode.TERMINATED


@dataclass(frozen=True)
class ScheduleEnded(Stop):
    """The campaign's [schedule] end came while it was sending: nothing is sent after it
    (docs/campaign-file.md), so no more is claimed; runner.sending.run then marks what is left
    `expired`, and the exit code follows the counts (3: expired messages are not accepted)."""

    label = "its schedule's end has passed"
    exit_code = ExitCode.INCOMPLETE


@dataclass(frozen=True)
class Unauthorized(Stop):
    """A 401: the credentials (3400) or the account (3401 suspended, ...) are refused. The code
    reported is the one Telesign gave."""

    label = "unauthorized"
    exit_code = ExitCode.CANNOT_PROCEED
    http_status: int | None = 401
    status_code: int | None = None
    description: str = ""

    def error(self, campaign_id: str, base_url: str, report: Path) -> RunnerError:
        code = f"{self.http_status}/{self.status_code}" if self.status_code is not None else f"{self.http_status}"
        said = f" {self.description}" if self.description else ""
        return CredentialsRefused(
            f"Telesign refused the credentials ({code}{said}) while sending {campaign_id}: check TELESIGN_CUSTOMER_ID "
            f"and TELESIGN_API_KEY, and the account's standing; unsent messages stay pending. Report: {report}"
        )


@dataclass(frozen=True)
class Unreachable(Stop):
    label = "unreachable"
    exit_code = ExitCode.CANNOT_PROCEED
    description: str = ""

    def error(self, campaign_id: str, base_url: str, report: Path) -> RunnerError:
        return EndpointUnreachable(
            f"could not reach {base_url} while sending {campaign_id}: no connection could be made"
            + (f" ({self.description})" if self.description else "")
            + "; check TELESIGN_BASE_URL and the network. Nothing was sent in this run; the next run sends what is "
            f"left. Report: {report}"
        )


def wrong_endpoint_line(base_url: str, answer: str, doing: str) -> str:
    """What to say when TELESIGN_BASE_URL answers, but not as Telesign's omnichannel endpoint does."""
    return (
        f"{base_url} is not Telesign's omnichannel endpoint: it answered POST /v1/omnichannel with {answer} {doing}; "
        "check TELESIGN_BASE_URL (the scheme and host only, e.g. https://rest-ww.telesign.com)"
    )


@dataclass(frozen=True)
class NotTelesign(Stop):
    """An answer that shows the URL is not Telesign's (runner.telesign.client._not_telesign): the
    message goes back as it was and the run stops at this first one."""

    label = "not Telesign's endpoint"
    exit_code = ExitCode.CANNOT_PROCEED
    answer: str = ""

    def error(self, campaign_id: str, base_url: str, report: Path) -> RunnerError:
        return WrongEndpoint(
            wrong_endpoint_line(base_url, self.answer, f"while sending {campaign_id}")
            + f"; the messages stay as they were and the next run sends them. Report: {report}"
        )


@dataclass(frozen=True)
class Throttled(Stop):
    """Telesign asked to wait longer than a run waits (runner.sending.retries.MAX_RETRY_AFTER): the
    message is `failed`, nothing more is claimed, and the run ends as incomplete (exit 3)."""

    label = "Telesign asked to wait too long"
    exit_code = ExitCode.INCOMPLETE


@dataclass(frozen=True)
class LedgerLost(Stop):
    """The ledger's database went away mid-send (docs/scaling-out.md): no claim can be made or
    outcome recorded, so the report cannot be written either; the error says what to do."""

    label = "ledger database unreachable"
    exit_code = ExitCode.CANNOT_PROCEED
    cause: LedgerUnavailable | None = None

    def error(self, campaign_id: str, base_url: str, report: Path) -> RunnerError:
        return self.cause or LedgerUnavailable(f"the ledger database was lost while sending {campaign_id}")
