"""Crash reports: an internal error (a bug, or a broken environment) is written down in the
workspace with its traceback, the version and the command, and the terminal gets one line
naming the report (exit code 4), never a traceback."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import tempfile
import traceback
from importlib import metadata
from pathlib import Path

FOLDER = "crash-reports"


def version() -> str:
    try:
        return metadata.version("migration_kit")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def write_report(exc: BaseException, argv: list[str], workspace: str | None) -> Path:
    """Write the report for ``exc``; returns its path (the workspace's ``crash-reports/``,
    or the temporary folder when there is no workspace folder to write in)."""
    root = Path(workspace) if workspace and Path(workspace).is_dir() else None
    folder = (root / FOLDER) if root is not None else Path(tempfile.gettempdir()) / \
        "migration_kit-crash-reports"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{stamp}-{os.getpid()}.txt"
    except OSError:
        folder = Path(tempfile.gettempdir())
        path = folder / f"migration_kit-crash-{stamp}-{os.getpid()}.txt"
    text = "".join([
        f"migration_kit {version()} crash report, {dt.datetime.now().isoformat(sep=' ')}\n",
        f"command: migration-kit {' '.join(argv)}\n",
        f"python: {sys.version.split()[0]} on {platform.platform()}\n",
        f"workspace: {workspace}\n\n",
        *traceback.format_exception(type(exc), exc, exc.__traceback__),
    ])
    path.write_text(text, encoding="utf-8")
    return path
