"""The mapping of a simplified scenario: one row per target field of the window.

Each row has a source dropdown (pre-filled by :func:`api.suggest_mapping`; one source
field may be picked on several rows, e.g. a ``Code`` column for both the ID and the name),
a box for a constant or a formula (``=...``) with a live preview on the first rows of the
file, and a Key checkbox on the fields of the summary object. Save creates the scenario and
its provider, or saves the new mapping of an existing one.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as W

from .. import api, runbook
from ..errors import MigrationError
from ..workspace import Workspace
from .errors import ErrorArea, guarded

NONE = "(not mapped)"


def constant_formula(text: str) -> str:
    """A constant as a formula: ``Invoice`` -> ``='Invoice'``."""
    return "='" + text.replace("'", "''") + "'"


class MappingRow(W.HBox):
    """One target field: source dropdown, constant/formula box, Key checkbox, preview."""

    def __init__(self, target: str, sources: list[str], suggested: str | None, *,
                 summary: bool, required: bool):
        self.target = target
        label = target + (" *" if required else "")
        self.label = W.Label(label, layout=W.Layout(width="210px"))
        self.source = W.Dropdown(options=[NONE] + sources, value=suggested or NONE,
                                 layout=W.Layout(width="170px")).add_class("mk-source")
        self.formula = W.Text(placeholder="constant or =formula",
                              layout=W.Layout(width="230px")).add_class("mk-formula")
        self.key = W.Checkbox(value=False, description="Key", indent=False,
                              layout=W.Layout(width="60px",
                                              visibility="visible" if summary else "hidden"),
                              disabled=not summary).add_class("mk-key")
        self.preview = W.HTML(layout=W.Layout(width="320px")).add_class("mk-preview")
        super().__init__([self.label, self.source, self.formula, self.key, self.preview])
        self.add_class("mk-map-row")

    @property
    def source_text(self) -> str | None:
        """What this row maps from: a source field, a formula, or None (not mapped)."""
        text = self.formula.value.strip()
        if text:
            return text if text.startswith("=") else constant_formula(text)
        return None if self.source.value == NONE else self.source.value


class MappingWidget(W.VBox):
    """Mapping of the simplified scenario ``name`` from ``file`` into ``window``."""

    def __init__(self, ws: Workspace, name: str, file: str | Path, window: str, *,
                 keys: list[str] | None = None, params: dict[str, Any] | None = None,
                 preview_rows: int = 3):
        self.ws, self.name, self.file, self.params = ws, name, Path(file), params
        self.window = ws.windows.get(window)
        self.columns, self.head = runbook.read_head(self.file, preview_rows, params)
        suggested = {t: s for s, t in api.suggest_mapping(ws, self.window, self.columns).items()
                     if t}
        self.rows: list[MappingRow] = []
        for obj, f in self.window.all_fields():
            if f.computed:
                continue
            target = f"{obj}.{f.name}"
            row = MappingRow(target, self.columns, suggested.get(target),
                             summary=obj == self.window.summary, required=bool(f.required))
            row.key.value = target in (keys or [])
            row.source.observe(lambda _c, r=row: self._preview(r), names="value")
            row.formula.observe(lambda _c, r=row: self._preview(r), names="value")
            self._preview(row)
            self.rows.append(row)
        self.save_button = W.Button(description="Save scenario", button_style="primary",
                                    icon="save").add_class("mk-save")
        self.save_button.on_click(self._on_save)
        self.status = W.Label("").add_class("mk-status")
        self.errors = ErrorArea()
        head = W.HTML(f"<b>{html.escape(name)}</b>: {html.escape(self.file.name)} &rarr; "
                      f"{self.window.id} {html.escape(self.window.name)} "
                      f"(preview on the first {len(self.head)} row(s); * required)")
        super().__init__([head, *self.rows, W.HBox([self.save_button, self.status]),
                          self.errors])
        self.add_class("mk-mapping")

    def row(self, target: str) -> MappingRow:
        return next(r for r in self.rows if r.target == target)

    def _preview(self, row: MappingRow) -> None:
        src = row.source_text
        if src is None:
            row.preview.value = ""
            return
        try:
            if src.startswith("="):
                values = api.preview_formula(self.ws, src, self.head)
            else:
                values = [r.get(src) for r in self.head]
        except MigrationError as e:
            row.preview.value = (f"<span style='color:#a00' class='mk-preview-error'>"
                                 f"{html.escape(e.message)}</span>")
            return
        row.preview.value = ("<code>" + " | ".join(html.escape("" if v is None else str(v))
                                                   for v in values) + "</code>")

    def mapping(self) -> list[tuple[str, str]]:
        """(source field or formula, target field) for each mapped row, in the window's
        order; the same source may be picked on several rows (one column, several fields)."""
        return [(r.source_text, r.target) for r in self.rows if r.source_text is not None]

    def key_fields(self) -> list[str]:
        return [r.target for r in self.rows if r.key.value]

    def save(self) -> api.Scenario:
        """Create (or update) the scenario and its provider; raises on any problem."""
        sc = runbook.ensure_simplified(self.ws, self.name, self.file, self.window.id,
                                       self.mapping(), self.key_fields())
        mapped = sum(1 for m in sc.mapping if m.target)
        self.status.value = (f"scenario {sc.name} saved: {mapped} field(s) mapped; keys: "
                             f"{', '.join(sc.keys) or 'none'}")
        return sc

    @guarded()
    def _on_save(self, _button: W.Button) -> None:
        try:
            self.save()
        except Exception:
            self.status.value = "not saved: see the error below"
            raise
