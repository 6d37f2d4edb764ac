"""What `campaign check` already validated, remembered under `<outputs>/.cache/` (docs/commands.md,
"campaign check").

Every entry is named by a SHA-256 of *everything* its content depends on: the bytes it was made
from (a slice of the audience CSV, the campaign file, the templates, the suppression lists, the
policy), the settings that change its meaning (region, phone_check), and the runner's own source
code with the version of phonenumbers, so a changed input or a new runner or phone metadata
version looks up another name and never finds a stale entry. An entry is written whole or not at
all (runner.atomic: temporary file, rename), so two checks at once can both write the same entry
and a reader sees one of them; its payload carries its own checksum, so a damaged file is a miss,
never a wrong answer. Deleting the folder costs one slow check.

Entries are marshal payloads: plain tuples, lists, ints and strings, read back at C speed.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from runner.atomic import atomic_write

FORMAT = b"campaign-runner check cache 1\n"
_DIGEST = 32


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the runner's own source and of the phone metadata's version: a runner that
    validates differently, or a phonenumbers release that reads numbers differently (its metadata
    follows the numbering plans), is another cache."""
    import phonenumbers

    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(FORMAT)
    digest.update(f"phonenumbers {phonenumbers.__version__}\n".encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def key(*parts: bytes | str | int | None) -> str:
    """A cache key from its parts (each length-prefixed, so two different lists never collide)."""
    digest = hashlib.sha256(code_version().encode())
    for part in parts:
        data = part if isinstance(part, bytes) else repr(part).encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content, read in blocks (an audience of a million rows is 40 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class Cache:
    """Entries under one folder; `None` as the folder turns the cache off."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def _path(self, kind: str, name: str) -> Path:
        assert self.folder is not None
        return self.folder / kind / name[:2] / name

    def get(self, kind: str, name: str) -> Any:
        """The entry's value, or None when there is none (or it is damaged)."""
        if self.folder is None:
            return None
        try:
            raw = self._path(kind, name).read_bytes()
        except OSError:
            return None
        head, checksum, payload = (
            raw[: len(FORMAT)],
            raw[len(FORMAT) : len(FORMAT) + _DIGEST],
            raw[len(FORMAT) + _DIGEST :],
        )
        if head != FORMAT or hashlib.sha256(payload).digest() != checksum:
            return None
        try:
            return marshal.loads(payload)
        except (EOFError, ValueError, TypeError):
            return None

    def put(self, kind: str, name: str, value: Any) -> None:
        """Store an entry; a cache that cannot be written (read-only folder, full disk) is skipped:
        it only ever saves time."""
        if self.folder is None:
            return
        payload = marshal.dumps(value)
        try:
            # No fsync: an entry torn by a crash fails its checksum and is a miss, and a cache
            # written at the pace of the disk's flushes would cost more than it saves.
            with atomic_write(self._path(kind, name), durable=False) as handle:
                handle.write(FORMAT + hashlib.sha256(payload).digest() + payload)
        except OSError:
            pass


def folder_for(outputs: Path) -> Path | None:
    """The check cache under `outputs`; None (no cache) when CAMPAIGN_CHECK_CACHE=off."""
    if os.environ.get("CAMPAIGN_CHECK_CACHE", "").lower() in ("0", "off", "no", "false"):
        return None
    return outputs / ".cache" / "check"
