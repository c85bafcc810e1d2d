"""The one API that the CLI, the notebooks and the widgets call.

Every function takes an open :class:`Workspace` (which knows the acting user) and checks
access rights before it reads or writes a window.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .engine import history
from .engine.export import ExportSummary, export, latest, prepare_export
from .engine.import_ import ImportSummary, import_
from .engine.prepare import PrepareSummary, prepare
from .engine.prepared import (
    clear_active_until_error,
    clear_errors,
    columns,
    counts,
    error_records,
    lines,
    replace,
    rollback,
    set_active,
    set_active_lines,
    set_value,
    status,
    toggle_active,
    toggle_processed,
)
from .engine.run import RunResult, prepare_and_import
from .erp.validation import Doc
from .providers.versions import (
    Provider,
    add_provider,
    get_version,
    latest_version,
    list_providers,
    load_provider,
    set_field_type,
    update_schema,
    upload_version,
    versions,
)
from .scenarios import valuemaps
from .scenarios.model import (
    Scenario,
    check_scenario,
    load_scenario,
    runnable_scenario,
    save_scenario,
)
from .scenarios.simplified import (
    convert_to_manual,
    create_simplified,
    suggest_mapping,
    update_simplified,
)
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


def list_scenarios(ws: Workspace, kind: str | None = None) -> list[Scenario]:
    """The scenarios the user may run: import needs ``edit`` on the window, export ``view``."""
    from .scenarios.model import list_scenarios as _all

    out = []
    for sc in _all(ws, kind):
        need = "edit" if sc.kind == "import" else "view"
        if sc.window in ws.windows.windows and ws.rights.can(sc.window, need):
            out.append(sc)
    return out


show_scenario = runnable_scenario


def not_imported(ws: Workspace, name: str) -> dict[str, int]:
    """The prepared records of a scenario that are not imported, counted by reason."""
    from .engine.import_ import not_imported as _count

    show_scenario(ws, name)
    with ws.connect() as conn:
        return _count(conn, name)


def history_of(ws: Workspace, name: str) -> list[dict[str, Any]]:
    show_scenario(ws, name)
    return history.entries(ws, name)


__all__ = [
    "columns", "error_records", "not_imported",
    "RunResult", "clear_active_until_error", "clear_errors", "prepare_and_import", "replace",
    "set_active_lines", "toggle_active", "toggle_processed", "valuemaps",
    "ExportSummary", "ImportSummary", "PrepareSummary", "Provider", "Scenario",
    "add_provider", "check_scenario", "convert_to_manual", "counts", "create_simplified",
    "export", "get_version", "history_of", "import_", "init_workspace", "latest",
    "latest_version", "lines", "list_documents", "list_providers", "list_scenarios",
    "load_provider", "load_scenario", "open_workspace", "prepare", "prepare_export",
    "rollback", "save_document", "save_scenario", "set_active", "set_field_type",
    "set_value", "show_scenario", "status", "suggest_mapping", "update_schema",
    "update_simplified", "upload_version", "versions",
]
