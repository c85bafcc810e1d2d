"""The one API that the CLI, the notebooks and the widgets call.

Every function takes an open :class:`Workspace` (which knows the acting user) and checks
access rights before it reads or writes a window.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .erp.validation import Doc
from .workspace import Workspace


def init_workspace(root: str | Path, *, db_url: str | None = None,
                   user: str | None = None) -> Workspace:
    return Workspace.init(root, db_url=db_url, user=user)


def open_workspace(root: str | Path, *, user: str | None = None,
                   db_url: str | None = None) -> Workspace:
    return Workspace(root, user=user, db_url=db_url)


def list_documents(ws: Workspace, window_id: str, where: dict[str, Any] | None = None,
                   ) -> Iterator[Doc]:
    """The window's records, summary with details; the user needs ``view``."""
    ws.require(window_id, "view")
    with ws.connect() as conn:
        yield from ws.store.iter_documents(conn, window_id, where=where)


def save_document(ws: Workspace, window_id: str, doc: Doc, mode: str = "insert") -> dict:
    """Validate and store one document (all errors at once); the user needs ``edit``."""
    ws.require(window_id, "edit")
    with ws.transaction() as conn:
        return ws.store.save(conn, window_id, doc, mode=mode)
