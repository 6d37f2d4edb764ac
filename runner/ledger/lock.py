"""One sender per campaign: an exclusive flock on the campaign's outputs folder.

flock is released by the kernel when the process dies, kill -9 included, so a crashed run never
leaves a stale lock behind. The holder writes who it is into the lock file so a second process can
say who holds it."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from runner.errors import CampaignLocked


class CampaignLock:
    def __init__(self, folder: Path, campaign_id: str, command: str = "send"):
        self.path = folder / "lock"
        self.campaign_id = campaign_id
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> CampaignLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder, command = self._holder(fd)
            os.close(fd)
            doing = "being sent" if command in ("send", "run") else "in use"
            raise CampaignLocked(
                f"campaign {self.campaign_id} is {doing} by another process ({holder}); try again when it has finished",
                holder=holder,
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": self.command,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    @staticmethod
    def _holder(fd: int) -> tuple[str, str | None]:
        """Who holds the lock, in the user's words ("campaign run, pid 4242 on host, since ..."),
        and the verb it runs: the command the holder was started as, not the module that locked."""
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"{}")
            command = str(info["command"])
            return f"campaign {command}, pid {info['pid']} on {info['host']}, since {info['since']}", command
        except (ValueError, KeyError, OSError):
            return "holder unknown", None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> CampaignLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
