"""The project's own error types and the exit codes they map to (docs/sending.md, "Exit codes").

Every failure a user can cause or meet is one of these; `runner.main` turns them into
messages and exit codes in one place, so no traceback ever reaches a user for bad input.
"""

from __future__ import annotations

import enum
import errno
from dataclasses import dataclass
from pathlib import Path


class ExitCode(enum.IntEnum):
    OK = 0  # all done
    INVALID = 1  # a campaign file or input is invalid; nothing sent
    USAGE = 2  # bad command line
    INCOMPLETE = 3  # the run finished but some messages are not accepted
    CANNOT_PROCEED = 4  # credentials refused, endpoint unreachable, campaign locked
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input, located as `path:line: message`."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


class RunnerError(Exception):
    """Base of every error the program reports to a user instead of a traceback."""

    exit_code: ExitCode = ExitCode.INVALID

    def lines(self) -> list[str]:
        return [str(self)]


class InvalidInput(RunnerError):
    """One or more problems in a campaign file, an audience CSV or a template: nothing is sent."""

    exit_code = ExitCode.INVALID

    def __init__(self, problems: list[Problem], conclusion: str | None = None):
        self.problems = problems
        self.conclusion = conclusion  # a last line saying what follows, e.g. that nothing was sent
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems] + ([self.conclusion] if self.conclusion else [])

    @classmethod
    def at(cls, path: Path | str, line: int | None, message: str) -> InvalidInput:
        return cls([Problem(str(path), line, message)])


class UsageProblem(RunnerError):
    exit_code = ExitCode.USAGE


class CannotProceed(RunnerError):
    """The run cannot go on: missing or refused credentials, unreachable endpoint, lock held."""

    exit_code = ExitCode.CANNOT_PROCEED


class MissingCredentials(CannotProceed):
    pass


class CredentialsRefused(CannotProceed):
    pass


class InvalidCredentials(CannotProceed):
    """TELESIGN_CUSTOMER_ID or TELESIGN_API_KEY could not make a valid request (checked before sending)."""


class EndpointUnreachable(CannotProceed):
    pass


class WrongEndpoint(CannotProceed):
    """TELESIGN_BASE_URL answers, but not as Telesign's omnichannel endpoint does."""


class CampaignLocked(CannotProceed):
    """Another process holds the campaign's lock; `holder` names it ("campaign run, pid N ...")."""

    def __init__(self, message: str, holder: str = "holder unknown"):
        super().__init__(message)
        self.holder = holder


# What a file or folder that cannot be made says (permission, a file in the way, a read-only or
# full disk); any other OSError that reaches the handler is said as the system said it.
_WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EEXIST, errno.ENOTDIR}


class CannotWrite(CannotProceed):
    """A file or folder the command must write cannot be made (the outputs folder, a -o file): no
    permission, a file where a folder belongs, a read-only or full disk."""

    @classmethod
    def of_any(cls, error: OSError) -> CannotProceed:
        """What an OSError no command handled says: a write that failed, as `of`; anything else
        (a socket, a device) in the system's words, with what it was about when it is known."""
        if error.errno in _WRITE_ERRNOS and error.filename is not None:
            return cls.of(error)
        about = f"{error.filename}: " if error.filename is not None else ""
        return CannotProceed(f"{about}{error.strerror or error}")

    @classmethod
    def of(cls, error: OSError, option: str = "--outputs DIR, -o FILE") -> CannotWrite:
        where = error.filename if error.filename is not None else "the outputs folder"
        # mkdir says "File exists" or "Not a directory" when a file stands where a folder must go
        in_the_way = error.errno in (errno.EEXIST, errno.ENOTDIR)
        reason = "a file is in the way of a folder" if in_the_way else (error.strerror or str(error))
        return cls(
            f"{where}: cannot write there ({reason}); "
            f"choose a folder you may write to ({option}) or fix its permissions"
        )


class LedgerUnusable(CannotProceed):
    """The campaign's ledger cannot be read (damaged, a folder in its place, another campaign's,
    written by a newer version of the runner):
    nothing is sent, since without it the runner cannot know what was sent already."""


class TerminationRequested(BaseException):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt (runner.sending.signals): exit 143."""


class LedgerUnavailable(CannotProceed):
    """The ledger database cannot be reached (docs/scaling-out.md): nothing more is sent."""
