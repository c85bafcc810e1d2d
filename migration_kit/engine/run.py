"""Run options of the Import/Export by scenario screens: an import run (save only if all
data is valid, validate only, workers), Prepare & Import (or Export) as one step, sync type
full or incremental, discard the previous result or re-use unfinished prepared data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from .. import db
from ..catalog.versions import latest_version
from ..errors import RecordError
from ..scenarios.model import load_scenario
from ..workspace import Workspace
from .collection import fewer_collections
from .import_ import Importer, ImportSummary
from .lock import scenario_lock
from .prepare import PrepareSummary, prepare
from .prepared_tools import counts
from .workers import auto_workers, refuse_unless_parallel, run_parallel


@fewer_collections()
def import_(ws: Workspace, name: str, *, continue_on_error: bool | None = None,
            validate_only: bool = False, save_only_if_valid: bool | None = None,
            batch_size: int | None = None, workers: int | str | None = None,
            progress: bool = True) -> ImportSummary:
    """Import the prepared records of scenario ``name``; see the module doc.

    ``validate_only``: every record goes through the mapping and the window's rules and
    gets its errors; nothing is saved. ``save_only_if_valid``: validate everything first
    and save nothing unless every record is valid. ``workers`` (option ``workers``,
    default ``auto``): import with that many processes (see
    :mod:`migration_kit.engine.workers`); ``auto`` takes 2 for a run of 100,000 prepared
    lines or more where the database allows (``workers.auto_workers``, the summary says
    so), else 1; a validate-only run takes one.
    """
    sc = load_scenario(ws, name)
    ws.require(sc.window, "edit")
    if save_only_if_valid is None:
        save_only_if_valid = bool(sc.options.get("save_only_if_valid", False))
    workers = workers or sc.workers
    if workers != "auto":
        refuse_unless_parallel(ws, workers)
    with scenario_lock(ws, sc.name, "import"):
        note = None
        if workers == "auto":  # settled under the lock: the records it counts stay put
            workers, note = auto_workers(ws, sc.name, validate_only)
        if save_only_if_valid and not validate_only:
            check = Importer(ws, sc, True, True, batch_size, progress).run()
            if check.failed:
                check.validate_only = False
                check.imported = check.updated = 0
                check.stopped = RecordError(
                    f"{check.failed} record(s) are not valid; nothing was saved (save only "
                    f"if all data is valid). First: {check.errors[0]['message']}",
                    scenario=sc.name, line=check.errors[0]["line"],
                    record=check.errors[0]["record"], key=check.errors[0]["key"],
                    field_name=check.errors[0]["field"])
                return check
        if workers > 1 and not validate_only:
            return run_parallel(ws, sc, workers=workers, continue_on_error=continue_on_error,
                                batch_size=batch_size, progress=progress, note=note)
        summary = Importer(ws, sc, continue_on_error, validate_only, batch_size,
                           progress).run()
        if note:
            summary.worker_notes.insert(0, note)
        return summary


@dataclass
class RunResult:
    scenario: str
    prepared: PrepareSummary | None
    imported: ImportSummary | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "message": self.message,
                "prepared": self.prepared.to_dict() if self.prepared else None,
                "imported": self.imported.to_dict() if self.imported else None}

    def __str__(self) -> str:
        parts = [self.message] if self.message else []
        if self.prepared:
            parts.append(str(self.prepared))
        if self.imported:
            parts.append(str(self.imported))
        return "\n".join(parts)


def prepare_and_import(ws: Workspace, name: str, *, sync: str | None = None,
                       discard_previous: bool | None = None, progress: bool = True,
                       **import_options: Any) -> RunResult:
    """Prepare and import in one step.

    ``sync`` (option ``sync``): ``full`` imports the latest file version; ``incremental``
    imports only when the provider has a version newer than the last one imported, and
    says so when there is none (documents imported before are skipped by their keys).
    ``discard_previous`` (option ``discard_previous``, default true): always prepare
    afresh; false re-uses unfinished prepared data of the same file version.
    """
    sc = load_scenario(ws, name)
    ws.require(sc.window, "edit")
    sync = sync or sc.options.get("sync", "full")
    if discard_previous is None:
        discard_previous = bool(sc.options.get("discard_previous", True))
    latest = latest_version(ws, sc.provider).version
    with ws.connect() as conn:
        state = conn.execute(select(db.scenario_state).where(
            db.scenario_state.c.scenario == name)).mappings().first()
    last_imported = state["last_imported_version"] if state else None
    if sync == "incremental" and last_imported is not None and latest <= last_imported:
        return RunResult(name, None, None,
                         f"{name}: nothing to import: the latest file version of provider "
                         f"{sc.provider!r} is {latest}, which was imported already "
                         "(sync type incremental)")
    reuse = (not discard_previous and state is not None and state["file_version"] == latest
             and counts(ws, name)["todo"] > 0)
    prepared = None if reuse else prepare(ws, name, progress=progress)
    message = (f"{name}: re-using the unfinished prepared data of version {latest}"
               if reuse else "")
    imported = import_(ws, name, progress=progress, **import_options)
    return RunResult(name, prepared, imported, message)
