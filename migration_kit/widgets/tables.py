"""Read-only views as pandas DataFrames (notebooks render them as tables)."""

from __future__ import annotations

import pandas as pd

from .. import api
from ..workspace import Workspace


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
