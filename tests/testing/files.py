"""A marketer's copy of the shipped campaigns, and files the runner may not read."""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def shipped_campaigns(folder: Path) -> Path:
    """campaigns/ and templates/ of this repository copied into FOLDER (returned), as a marketer's
    repository holds them."""
    shutil.copytree(ROOT / "campaigns", folder / "campaigns")
    shutil.copytree(ROOT / "templates", folder / "templates")
    return folder


def make_unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod 000 PATH. Root reads it all the same (the tests and CI run as root), so opening it in
    this process is refused too, with the PermissionError a non-root user meets."""
    path.chmod(0)
    refused = os.path.realpath(path)
    real_open = io.open

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | os.PathLike) and os.path.realpath(file) == refused:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(builtins, "open", guarded_open)
