"""Run panels: prepare and import a scenario with the correction grid (Import by
scenario), and prepare, export and download (Export by scenario)."""

from __future__ import annotations

import html
import os
from pathlib import Path

import ipywidgets as W
from IPython.display import FileLink

from .. import api
from ..workspace import Workspace
from . import tables
from .errors import ErrorArea, guarded
from .prepared_grid import PreparedGrid
from .prepared_tools import PreparedTools


def _table(df) -> str:
    """A DataFrame as HTML for an HTML widget. (Output widgets capturing display() are
    avoided: under papermill their messages sometimes leave the cell waiting forever.)"""
    return df.to_html(index=False, na_rep="", classes="mk-table")


class ImportPanel(W.VBox):
    """Pick an import scenario; Prepare, correct in the grid, Save, Import (again)."""

    def __init__(self, ws: Workspace, scenarios: list[str] | None = None,
                 selected: str | None = None, *, progress: bool = False):
        self.ws, self.progress = ws, progress
        names = scenarios or [s.name for s in api.list_scenarios(ws, "import")]
        self.scenario = W.Dropdown(options=names, value=selected or (names[0] if names else None),
                                   description="Scenario").add_class("mk-scenario")
        self.prepare_button = W.Button(description="Prepare", icon="cogs").add_class(
            "mk-prepare")
        self.import_button = W.Button(description="Import", icon="upload",
                                      button_style="primary").add_class("mk-import")
        self.status = W.Label("").add_class("mk-status")
        self.errors = ErrorArea()
        self.prepare_button.on_click(self._on_prepare)
        self.import_button.on_click(self._on_import)
        self.grid_box = W.VBox()
        self.grid: PreparedGrid | None = None
        self.tools: PreparedTools | None = None
        self.scenario.observe(self._on_select, names="value")
        super().__init__([W.HBox([self.scenario, self.prepare_button, self.import_button]),
                          self.status, self.errors, self.grid_box])
        self.add_class("mk-import-panel")
        self._on_select(None)

    @guarded()
    def _on_select(self, _change) -> None:
        self._show_grid()

    def _show_grid(self) -> None:
        name = self.scenario.value
        self.status.value = f"{name}: {api.status(self.ws, name)}" if name else ""
        if name and api.status(self.ws, name) != "New":
            self.grid = PreparedGrid(self.ws, name)
            self.tools = PreparedTools(self.ws, name, on_change=self._after_tool)
            self.grid_box.children = [self.grid, self.tools]
        else:
            self.grid = self.tools = None
            self.grid_box.children = []

    def _after_tool(self) -> None:
        if self.grid is not None:
            self.grid.refresh()
        name = self.scenario.value
        self.status.value = f"{name}: {api.status(self.ws, name)}"

    def prepare(self) -> api.PrepareSummary:
        s = api.prepare(self.ws, self.scenario.value, progress=self.progress)
        self._show_grid()
        self.status.value = f"Prepared {s.records} record(s) from {s.lines} line(s)"
        return s

    def run_import(self) -> api.ImportSummary:
        """Save the grid's pending edits, import, show the outcome (the stopping record's
        error in the error area), reload the grid."""
        if self.grid is not None and self.grid.pending:
            self.grid.save()
        s = api.import_(self.ws, self.scenario.value, progress=self.progress)
        text = (f"Imported {s.imported} record(s), updated {s.updated}, skipped {s.skipped}; "
                f"{s.remaining} remaining")
        if self.grid is not None:
            self.grid.refresh()
        if s.ok:
            self.status.value = text
        else:
            self.status.value = f"Import stopped: {text}"
        return s

    @guarded()
    def _on_prepare(self, _button) -> None:
        self.prepare()

    @guarded()
    def _on_import(self, _button) -> None:
        s = self.run_import()
        if s.stopped is not None:
            self.errors.show(s.stopped)


class ExportPanel(W.VBox):
    """Prepare (preview of the flattened rows), Export (new file version), download link.

    The latest version is copied into ``download_dir`` (default: the workspace's
    ``downloads/``) and linked relative to the kernel's folder, so the link works in
    JupyterLab when that folder is under the server's root."""

    def __init__(self, ws: Workspace, scenario: str, *, download_dir: str | Path | None = None,
                 progress: bool = False):
        self.ws, self.name, self.progress = ws, scenario, progress
        self.download_dir = Path(download_dir) if download_dir else ws.path("downloads")
        self.prepare_button = W.Button(description="Prepare", icon="cogs").add_class(
            "mk-prepare")
        self.export_button = W.Button(description="Export", icon="download",
                                      button_style="primary").add_class("mk-export")
        self.status = W.Label("").add_class("mk-status")
        self.preview = W.HTML().add_class("mk-preview")
        self.link = W.HTML().add_class("mk-download")
        self.errors = ErrorArea()
        self.prepare_button.on_click(self._on_prepare)
        self.export_button.on_click(self._on_export)
        super().__init__([W.HBox([self.prepare_button, self.export_button, self.status]),
                          self.errors, self.preview, self.link])
        self.add_class("mk-export-panel")

    def prepare(self) -> api.PrepareSummary:
        s = api.prepare_export(self.ws, self.name, progress=self.progress)
        self.status.value = f"Prepared {s.lines} row(s) from {s.records} record(s)"
        self._show_preview()
        return s

    def _show_preview(self) -> None:
        self.preview.value = _table(tables.prepared(self.ws, self.name, limit=20))

    def export(self) -> api.ExportSummary:
        s = api.export(self.ws, self.name, progress=self.progress)
        self.status.value = f"Exported {s.rows} row(s) as version {s.version}"
        self._show_preview()
        self.download()
        return s

    def download(self) -> Path:
        """Copy the latest file version into ``download_dir`` and show a link to it."""
        sc = api.show_scenario(self.ws, self.name)
        target = self.download_dir / (sc.provider + api.load_provider(self.ws,
                                                                      sc.provider).extension)
        target.parent.mkdir(parents=True, exist_ok=True)
        fv = api.latest_version(self.ws, sc.provider, target)
        link = FileLink(os.path.relpath(target), result_html_prefix="Download: ")
        self.link.value = (f"latest version {fv.version} of {html.escape(sc.provider)}: "
                           + link._repr_html_())
        return target

    @guarded()
    def _on_prepare(self, _button) -> None:
        self.prepare()

    @guarded()
    def _on_export(self, _button) -> None:
        s = self.export()
        if s.failed:
            self.status.value += f"; {s.failed} row(s) failed"


class HistoryPanel(W.VBox):
    """A scenario's history, and Roll back (clears history and prepared data; records
    already imported stay in the ERP)."""

    def __init__(self, ws: Workspace, scenarios: list[str] | None = None,
                 selected: str | None = None):
        self.ws = ws
        names = scenarios or [s.name for s in api.list_scenarios(ws)]
        self.scenario = W.Dropdown(options=names, value=selected or (names[0] if names else None),
                                   description="Scenario").add_class("mk-scenario")
        self.rollback_button = W.Button(description="Roll back", icon="undo",
                                        button_style="warning").add_class("mk-rollback")
        self.status = W.Label("").add_class("mk-status")
        self.table = W.HTML().add_class("mk-history")
        self.errors = ErrorArea()
        self.rollback_button.on_click(self._on_rollback)
        self.scenario.observe(lambda _c: self._show_guarded(), names="value")
        super().__init__([W.HBox([self.scenario, self.rollback_button]), self.status,
                          self.errors, self.table])
        self.add_class("mk-history-panel")
        self._show_guarded()

    def show(self) -> None:
        self.table.value = _table(tables.history(self.ws, self.scenario.value))

    @guarded()
    def _show_guarded(self) -> None:
        if self.scenario.value:
            self.show()

    def rollback(self) -> dict:
        r = api.rollback(self.ws, self.scenario.value)
        self.status.value = (f"cleared {r['records_cleared']} prepared record(s) and "
                             f"{r['history_cleared']} history entries. {r['note']}")
        self.show()
        return r

    @guarded()
    def _on_rollback(self, _button) -> None:
        self.rollback()
