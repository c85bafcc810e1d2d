"""Prepared data in an editable grid: error rows highlighted with their messages, the
Active flag as a column, edits kept until Save (the spec's "correct the records on the
Prepared data tab, click Save, and click Import again")."""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets as W
import pandas as pd
from ipydatagrid import DataGrid, TextRenderer, VegaExpr

from .. import api
from ..workspace import Workspace
from . import tables
from .errors import ErrorArea, guarded

HEAD = ["Error", "Field", "Record", "Lines", "Active", "Processed", "Note"]
READ_ONLY = {"Error", "Field", "Record", "Lines", "Processed", "Note"}
ERROR_ROW = "#ffd6d6"
COLUMN_WIDTH = 100
# The record's columns are narrow, so the error next to Line and the first values stay on
# screen together.
HEAD_WIDTHS = {"Error": 200, "Field": 110, "Record": 50, "Lines": 40, "Active": 50,
               "Processed": 65, "Note": 80}


def _plain(v: Any) -> Any:
    """A grid value as stored in prepared data (NaN from pandas is no value)."""
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


class PreparedGrid(W.VBox):
    """The prepared lines of one scenario, a page at a time."""

    def __init__(self, ws: Workspace, scenario: str, *, page_size: int = 200,
                 height: str = "320px"):
        self.ws, self.scenario, self.page_size = ws, scenario, page_size
        self.offset = 0
        self.pending: dict[tuple[int, str], Any] = {}
        self._reverting = False
        self.grid = DataGrid(pd.DataFrame({"Line": []}).set_index("Line"), editable=True,
                             base_column_size=COLUMN_WIDTH, layout={"height": height},
                             selection_mode="cell")
        self.grid.add_class("mk-grid")
        self.grid.default_renderer = TextRenderer(background_color=VegaExpr(
            f"cell.metadata.data['Error'] ? '{ERROR_ROW}' : default_value"))
        self.grid.on_cell_change(self._on_cell_change)
        self.save_button = W.Button(description="Save", icon="save",
                                    tooltip="Store the edited values and Active flags"
                                    ).add_class("mk-save")
        self.save_button.on_click(self._on_save)
        self.prev_button = W.Button(description="", icon="arrow-left",
                                    layout=W.Layout(width="40px")).add_class("mk-prev")
        self.next_button = W.Button(description="", icon="arrow-right",
                                    layout=W.Layout(width="40px")).add_class("mk-next")
        self.prev_button.on_click(lambda _b: self._page(-1))
        self.next_button.on_click(lambda _b: self._page(+1))
        self.page_label = W.Label("").add_class("mk-page")
        self.grid_status = W.Label("").add_class("mk-grid-status")
        self.error_list = W.HTML("").add_class("mk-errors")
        self.errors = ErrorArea()
        super().__init__([W.HBox([self.save_button, self.prev_button, self.next_button,
                                  self.page_label, self.grid_status]),
                          self.grid, self.error_list, self.errors])
        self.add_class("mk-prepared")
        self.refresh()

    # -- reading -----------------------------------------------------------------------
    def frame(self) -> pd.DataFrame:
        """The current page: index Line; Error, Field, Record, Lines, Active, Processed, Note,
        then the values (no value shown as empty text)."""
        df = tables.prepared(self.ws, self.scenario, offset=self.offset, limit=self.page_size)
        if df.empty:
            return pd.DataFrame({"Line": [], **{c: [] for c in HEAD}}).set_index("Line")
        return df.set_index("Line").fillna("")

    def refresh(self) -> None:
        """Reload the page from the workspace (pending edits are dropped)."""
        self.pending.clear()
        df = self.frame()
        self.grid.data = df
        self.grid.column_widths = dict(HEAD_WIDTHS)
        n = api.counts(self.ws, self.scenario)
        last = min(self.offset + self.page_size, n["lines"])
        self.page_label.value = (f"lines {self.offset + 1 if n['lines'] else 0}-{last} of "
                                 f"{n['lines']}; records {n['records']}: {n['processed']} "
                                 f"processed, {n['errors']} with errors")
        self.grid_status.value = ""
        self.prev_button.disabled = self.offset == 0
        self.next_button.disabled = last >= n["lines"]
        self.error_list.value = self._error_list()

    def _error_list(self) -> str:
        bad = api.lines(self.ws, self.scenario, errors_only=True, limit=50)
        seen: set[int] = set()
        items = []
        for ln in bad:
            if ln.record in seen:
                continue
            seen.add(ln.record)
            items.append(f"<li>line {ln.line} (record {ln.record}): "
                         f"<b>{html.escape(ln.error_field or '')}</b> "
                         f"{html.escape(ln.error or '')}</li>")
        return f"<ul style='color:#a00'>{''.join(items)}</ul>" if items else ""

    def _page(self, step: int) -> None:
        self.offset = max(0, self.offset + step * self.page_size)
        self.refresh()

    # -- editing -----------------------------------------------------------------------
    def _on_cell_change(self, cell: dict) -> None:
        if self._reverting:
            return
        row, column, value = cell["row"], cell["column"], _plain(cell["value"])
        if value == "":
            value = None  # an emptied cell has no value, as in the source file
        line = int(self.grid.data.index[row])
        if column in READ_ONLY:
            self._reverting = True
            try:
                old = self._original(line, column)
                self.grid.set_cell_value_by_index(column, row, old)
            finally:
                self._reverting = False
            self.grid_status.value = f"{column} cannot be edited"
            return
        self.pending[(line, column)] = value
        self.grid_status.value = f"{len(self.pending)} unsaved change(s): click Save"

    def _original(self, line: int, column: str) -> Any:
        return _plain(self.frame().loc[line, column])

    def edit(self, line: int, column: str, value: Any) -> None:
        """Change a cell as a user would (kept until :meth:`save`)."""
        row = list(self.grid.data.index).index(line)
        self.grid.set_cell_value_by_index(column, row, value)

    def save(self) -> int:
        """Store the pending edits through the API; returns how many were stored."""
        n = 0
        for (line, column), value in list(self.pending.items()):
            if column == "Active":
                api.set_active(self.ws, self.scenario, line, bool(value))
            else:
                api.set_value(self.ws, self.scenario, line, column, value)
            del self.pending[(line, column)]
            n += 1
        self.refresh()
        return n

    @guarded()
    def _on_save(self, _button: W.Button) -> None:
        n = self.save()
        self.grid_status.value = f"saved {n} change(s)"
