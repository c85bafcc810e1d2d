"""The one API that the CLI, the notebooks and the widgets call.

Every function takes an open :class:`Workspace` (which knows the acting user) and checks
access rights before it reads or writes a window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import guard
from .catalog import uploads as _uploads
from .catalog import versions as _versions
from .catalog.versions import FileVersion, Provider
from .engine import history
from .engine.export import ExportSummary, export, prepare_export
from .engine.import_ import ImportSummary
from .engine.mapping import formula_context
from .engine.prepare import PrepareSummary, prepare
from .engine.prepared_tools import (
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
from .engine.run import RunResult, import_, prepare_and_import
from .erp.validation import Doc
from .errors import PermissionDeniedError
from .formula import compile_formula
from .providers import base as _base
from .providers import registry as _registry
from .providers.registry import read_file_schema
from .scenarios import model as _model
from .scenarios import scaffold as _scaffold
from .scenarios import schema_change as _schema_change
from .scenarios import simplified as _simplified
from .scenarios import valuemaps as _valuemaps
from .scenarios.model import (
    Scenario,
    runnable_scenario,
)
from .scenarios.simplified import (
    convert_to_manual,
    create_simplified,
    update_simplified,
)
from .values import TYPES
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


# -- the checked doors: each function below checks the right, then does the work ----------
def add_provider(ws: Workspace, name: str, file, **kw) -> Provider:
    """Create a provider (needs ``edit`` on some window); see catalog.uploads."""
    guard.any_window(ws, "edit", "adding a provider")
    return _uploads.add_provider(ws, name, file, **kw)


def load_provider(ws: Workspace, name: str) -> Provider:
    guard.provider(ws, name, "view")
    return _versions.load_provider(ws, name)


def list_providers(ws: Workspace) -> list[Provider]:
    """The providers the user may see."""
    out = []
    for p in _versions.list_providers(ws):
        try:
            guard.provider(ws, p.name, "view")
        except PermissionDeniedError:
            continue
        out.append(p)
    return out


def versions(ws: Workspace, name: str) -> list[FileVersion]:
    guard.provider(ws, name, "view")
    return _versions.versions(ws, name)


def latest_version(ws: Workspace, name: str, output: str | Path | None = None) -> FileVersion:
    """The newest file version of a provider; copied to ``output`` when given."""
    guard.provider(ws, name, "view")
    fv = _versions.latest_version(ws, name)
    if output is not None:
        _versions.copy_version(fv, output)
    return fv


def get_version(ws: Workspace, name: str, version: int | None = None) -> FileVersion:
    guard.provider(ws, name, "view")
    return _versions.get_version(ws, name, version)


def upload_version(ws: Workspace, name: str, file, **kw) -> FileVersion:
    guard.provider(ws, name, "edit")
    return _uploads.upload_version(ws, name, file, **kw)


def update_schema(ws: Workspace, name: str, file) -> tuple[list[str], list[str]]:
    guard.provider(ws, name, "edit")
    return _schema_change.update_schema(ws, name, file)


def set_field_type(ws: Workspace, name: str, field_name: str, type_name: str) -> Provider:
    guard.provider(ws, name, "edit")
    return _versions.set_field_type(ws, name, field_name, type_name)


def load_scenario(ws: Workspace, name: str, *, check: bool = True) -> Scenario:
    """A scenario the user may run (import: ``edit``, export: ``view`` on its window)."""
    sc = runnable_scenario(ws, name)
    return _model.load_scenario(ws, name) if check else sc


def save_scenario(ws: Workspace, sc: Scenario, *, check: bool = True) -> None:
    """Write a scenario (needs ``edit`` on its window)."""
    guard.scenario(ws, sc, "edit")
    _model.save_scenario(ws, sc, check=check)


def check_scenario(ws: Workspace, sc: Scenario) -> list[str]:
    guard.scenario(ws, sc)
    return _model.check_scenario(ws, sc)


def suggest_mapping(ws: Workspace, window, source_fields: list[str], **kw):
    ws.require(window.id, "edit")
    return _simplified.suggest_mapping(ws, window, source_fields, **kw)


def suggest_mapping_for_file(ws: Workspace, file: str | Path, window_id: str,
                             params: dict[str, Any] | None = None) -> dict[str, str | None]:
    """:func:`suggest_mapping` for the columns of ``file`` read as a provider of it would
    read them (``params``: the provider's parameters); needs ``edit`` on the window."""
    _, _, schema = read_file_schema(file, params)
    return suggest_mapping(ws, ws.windows.get(window_id), schema.columns())


def new_scenario(ws: Workspace, name: str, provider: str, window_id: str,
                 kind: str = "import") -> Scenario:
    """Write a manual scenario with suggested mapping lines, to edit as YAML; needs ``edit``
    (import) or ``view`` (export) on the window."""
    return _scaffold.new_scenario(ws, name, provider, window_id, kind)


def preview_formula(ws: Workspace, formula: str, rows: list[dict[str, Any]]) -> list[Any]:
    """A formula's values on ``rows`` (a file's first rows), with the workspace's value maps
    and "today": the mapping widget's live preview. Reading the value maps needs ``view`` on
    some window. A formula that does not parse raises :class:`FormulaSyntaxError`."""
    guard.any_window(ws, "view", "reading value maps")
    ctx = formula_context(ws)
    f = compile_formula(formula)
    return [f.evaluate(r, ctx) for r in rows]


class _ValueMaps:
    """Value maps behind the same checks: read with ``view`` on some window, change with
    ``edit`` (they serve every scenario)."""

    def list_valuemaps(self, ws: Workspace) -> list[str]:
        guard.any_window(ws, "view", "reading value maps")
        return _valuemaps.list_valuemaps(ws)

    def load_valuemap(self, ws: Workspace, name: str) -> dict[str, Any]:
        guard.any_window(ws, "view", "reading value maps")
        return _valuemaps.load_valuemap(ws, name)

    def set_value(self, ws: Workspace, name: str, legacy: str, value: Any) -> None:
        guard.any_window(ws, "edit", "changing a value map")
        _valuemaps.set_value(ws, name, legacy, value)

    def remove_value(self, ws: Workspace, name: str, legacy: str) -> None:
        guard.any_window(ws, "edit", "changing a value map")
        _valuemaps.remove_value(ws, name, legacy)

    def set_default(self, ws: Workspace, name: str, default: Any) -> None:
        guard.any_window(ws, "edit", "changing a value map")
        _valuemaps.set_default(ws, name, default)

    def save_valuemap(self, ws: Workspace, name: str, values: dict[str, Any],
                      default: Any = None) -> None:
        guard.any_window(ws, "edit", "changing a value map")
        _valuemaps.save_valuemap(ws, name, values, default)


valuemaps = _ValueMaps()


def not_imported(ws: Workspace, name: str) -> dict[str, int]:
    """The prepared records of a scenario that are not imported, counted by reason."""
    from .engine.import_ import not_imported as _count

    show_scenario(ws, name)
    with ws.connect() as conn:
        return _count(conn, name)


def history_of(ws: Workspace, name: str) -> list[dict[str, Any]]:
    """A scenario's runs; a run whose process died shows as ``interrupted``."""
    from .engine.lock import settle_runs

    show_scenario(ws, name)
    settle_runs(ws, name)
    return history.entries(ws, name)


__all__ = [
    "columns", "error_records", "not_imported",
    "RunResult", "clear_active_until_error", "clear_errors", "prepare_and_import", "replace",
    "set_active_lines", "toggle_active", "toggle_processed", "valuemaps",
    "ExportSummary", "ImportSummary", "PrepareSummary", "Provider", "Scenario",
    "add_provider", "check_scenario", "convert_to_manual", "counts", "create_simplified",
    "export", "get_version", "history_of", "import_", "init_workspace",
    "new_scenario", "preview_formula", "suggest_mapping_for_file",
    "latest_version", "lines", "list_documents", "list_providers", "list_scenarios",
    "load_provider", "load_scenario", "open_workspace", "prepare", "prepare_export",
    "rollback", "save_document", "save_scenario", "set_active", "set_field_type",
    "set_value", "show_scenario", "status", "suggest_mapping", "update_schema",
    "update_simplified", "upload_version", "versions",
]


# -- assurance: reconcile an import with the ERP, undo an import run -----------------------
def reconcile(ws: Workspace, name: str, *, output: str | Path | None = None):
    """Reconcile an import scenario's prepared file version with the ERP: counts, control
    totals, documents that differ; writes the HTML report (``output``, default
    ``reports/NAME-reconcile.html`` in the workspace) with CSV and JSON beside it. Returns a
    :class:`~migration_kit.engine.reconcile.ReconcileReport`; its ``raise_for_differences()``
    fails a headless run naming the documents. The user needs ``edit`` on the window."""
    from .engine.reconcile import reconcile as _reconcile

    return _reconcile(ws, name, output=output)


def undo(ws: Workspace, name: str, run: int | None = None, *, force: bool = False,
         dry_run: bool = False):
    """Delete the documents an import run created (default: the scenario's last run that
    created documents) and mark their records not processed, in one transaction; refused,
    changing nothing, when other documents refer to them or one was changed after the
    import (unless ``force``). Returns an :class:`~migration_kit.engine.undo.UndoResult`."""
    from .engine.undo import undo as _undo

    return _undo(ws, name, run, force=force, dry_run=dry_run)


def join_import(ws: Workspace, name: str, *, run: int | None = None,
                parent: int | None = None, wait: float = 0,
                on_wait: Callable[[], None] | None = None):
    """Work as one more worker on the running parallel import of scenario ``name``
    (``migration-kit worker``) until no batch is left; None when no parallel
    import of it is running (after ``wait`` seconds of looking for one; ``on_wait`` is
    called when that looking starts). The user needs ``edit`` on the scenario's window.
    Returns a :class:`~migration_kit.engine.workers.JoinResult`."""
    from .engine.workers import join

    sc = _model.load_scenario(ws, name)
    guard.scenario(ws, sc, "edit")
    return join(ws, sc, run, parent, wait, on_wait)


__all__ += ["reconcile", "undo", "join_import"]


# -- facts and helpers the front ends show: they read no workspace, so there is nothing to
#    check, and they stay out of __all__ (every name there is a checked door; the test of
#    rights builds its list from it) ------------------------------------------------------
FIELD_TYPES = TYPES  # the field types a provider's schema may name
provider_types = _registry.provider_types  # the provider type names (csv, excel, xml, ...)
Layout = _base.Layout  # how a flat file was read: header, preamble, settled names
lines_text = _base.lines_text  # [1, 2, 3, 5] -> "lines 1-3, 5"
clean_file_name = _versions.clean_original_name  # an uploaded file's base name, made safe
is_workers = _model.is_workers  # a value of the option workers: 1-64 or "auto"
NOT_WORKERS = _model.NOT_WORKERS  # what is said of any other value
