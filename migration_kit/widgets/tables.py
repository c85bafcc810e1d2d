"""Read-only views as pandas DataFrames (notebooks render them as tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .. import api
from ..workspace import Workspace

SETTLED_COLUMNS = ["what", "where", "settled", "rule"]


def providers(ws: Workspace) -> pd.DataFrame:
    """One row per provider: type, fields, versions, latest version."""
    rows = []
    for p in api.list_providers(ws):
        vs = api.versions(ws, p.name)
        rows.append({"provider": p.name, "type": p.type, "simplified": p.simplified,
                     "fields": len(p.schema.columns()), "versions": len(vs),
                     "latest": vs[-1].version if vs else None,
                     "file": p.original_name})
    return pd.DataFrame(rows, columns=["provider", "type", "simplified", "fields", "versions",
                                       "latest", "file"])


def schema(ws: Workspace, name: str) -> pd.DataFrame:
    """A provider's fields: object, name, type, max length, sample values."""
    p = api.load_provider(ws, name)
    return pd.DataFrame([{"object": o.name, "field": f.name, "type": f.type,
                          "max_length": f.max_length, "samples": ", ".join(f.samples[:3])}
                         for o in p.schema.objects for f in o.fields])


def layout_rows(layout: api.Layout | None) -> list[dict[str, Any]]:
    """What was settled reading a file: the header, the preamble above it, each column name
    that was not read as is (or was dropped), the rows skipped by kind."""
    if layout is None:
        return []
    rows: list[dict[str, Any]] = []
    lines = f"rows {layout.header_row - 1}-{layout.header_row}" if layout.header_rows > 1 \
        else f"row {layout.header_row}"
    if layout.header_line != layout.header_row:
        lines += f" (line {layout.header_line})"
    if layout.preamble or layout.header_rows > 1 or layout.detected and layout.header_row > 1:
        rows.append({"what": "header", "where": lines,
                     "settled": "found (header_row: auto)" if layout.detected else "header_row",
                     "rule": "the first row that names most columns and is as wide as the rows "
                             "below it" if layout.detected else "set in the parameters"})
    for pre in layout.preamble:
        rows.append({"what": "preamble", "where": f"line {pre['line']}",
                     "settled": " | ".join(pre["cells"]), "rule": "kept above the header"})
    for s in layout.settled:
        rows.append({"what": "column name", "where": f"column {s['column']}",
                     "settled": "(dropped)" if s.get("name") is None else s["name"],
                     "rule": s["rule"]})
    for kind, info in layout.skipped.items():
        shown = info.get("lines") or []
        more = ", ..." if info["count"] > len(shown) else ""
        rows.append({"what": "rows", "where": api.lines_text(shown) + more if shown else "",
                     "settled": f"{info['count']} row(s)",
                     "rule": api.Layout.SKIP_TEXT.get(kind, kind)})
    for note in layout.notes:
        rows.append({"what": "note", "where": "", "settled": "", "rule": note})
    return rows


def _schema_rows(schema) -> list[dict[str, Any]]:
    """:func:`layout_rows` of a schema: its layout, or each object's (``object: where``)."""
    return [{**r, "where": f"{obj}: {r['where']}" if obj else r["where"]}
            for obj, lay in schema.layouts() for r in layout_rows(lay)]


def layout(ws: Workspace, name: str) -> pd.DataFrame:
    """What was settled when the provider's schema was read (see :func:`layout_rows`); empty
    when every name was read as is and no row was skipped."""
    return pd.DataFrame(_schema_rows(api.load_provider(ws, name).schema),
                        columns=SETTLED_COLUMNS)


def settled(ws: Workspace) -> pd.DataFrame:
    """:func:`layout` of every provider, one table with a provider column."""
    rows = [{"provider": p.name, **r} for p in api.list_providers(ws)
            for r in _schema_rows(p.schema)]
    return pd.DataFrame(rows, columns=["provider", *SETTLED_COLUMNS])


def file_layout(file: str | Path, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """What would be settled reading ``file`` as a simplified scenario's provider, before
    anything is mapped."""
    from ..runbook import read_layout

    return pd.DataFrame(layout_rows(read_layout(file, params)), columns=SETTLED_COLUMNS)


def versions(ws: Workspace, name: str) -> pd.DataFrame:
    """A provider's file versions (without the stored path)."""
    return pd.DataFrame([{"version": v.version, "origin": v.origin, "file": v.original_name,
                          "bytes": v.size, "sha256": v.sha256[:12], "user": v.user}
                         for v in api.versions(ws, name)])


def scenarios(ws: Workspace, kind: str | None = None) -> pd.DataFrame:
    """The scenarios the user may run, with their status."""
    return pd.DataFrame([{"scenario": s.name, "kind": s.kind, "window": s.window,
                          "provider": s.provider, "simplified": s.simplified,
                          "status": api.status(ws, s.name)}
                         for s in api.list_scenarios(ws, kind)])


def history(ws: Workspace, name: str) -> pd.DataFrame:
    """A scenario's runs: action, status, user, file version, counts, first error."""
    return pd.DataFrame([{"started": h["started"], "action": h["action"],
                          "status": h["status"], "user": h["user"],
                          "version": h["file_version"], "counts": h["counts"],
                          "first_error": h["first_error"]}
                         for h in api.history_of(ws, name)])


def prepared(ws: Workspace, name: str, *, offset: int = 0, limit: int | None = 100
             ) -> pd.DataFrame:
    """Prepared lines: Line, then the record's Error and Field (seen first, not off screen),
    Record, Lines (the record's line count), Active, Processed, Note, the values."""
    return pd.DataFrame([{"Line": ln.line, "Error": ln.error or "",
                          "Field": ln.error_field or "", "Record": ln.record,
                          "Lines": ln.record_lines or 1, "Active": ln.active,
                          "Processed": ln.processed, "Note": ln.note or "", **ln.values}
                         for ln in api.lines(ws, name, offset=offset, limit=limit)])


def documents(ws: Workspace, window: str) -> pd.DataFrame:
    """A window's records, one row per document (summary fields, number of lines)."""
    w = ws.windows.get(window)
    rows = []
    for doc in api.list_documents(ws, window):
        row = dict(doc[w.summary])
        for o in w.detail_objects:
            row[f"{o.name} lines"] = len(doc.get(o.name) or [])
        rows.append(row)
    return pd.DataFrame(rows)


def windows(ws: Workspace) -> pd.DataFrame:
    """The ERP's windows and the acting user's access to each."""
    return pd.DataFrame([{"window": w.id, "name": w.name, "access": ws.rights.level(w.id)}
                         for w in ws.windows])
