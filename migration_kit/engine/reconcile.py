"""Reconcile: prove that what is in the ERP is what the customer handed over.

For the scenario's prepared file version: how many source lines, lines left out by the
restrictions, prepared records and what became of them (imported, imported before,
inactive, failed, not yet processed); control totals of every numeric field the mapping
fills (the mapped value as the import computes it, against the value stored in the ERP in
the documents this scenario saved, found through the ledger's ERP key), overall and per
document; and every document that differs from its source rows: missing from the ERP,
changed in the ERP after the import (its checksum differs from the one stored at import),
holding other values than the file, or in the ERP from an earlier file version only.

Everything is read in pages (records with their lines, then the ERP documents of the page),
so memory stays bounded whatever the size of the file; the per-document rows are streamed
to the CSV file as they are computed. Reconcile reads only; it holds the scenario's lock so
that no prepare, import or undo moves the data under it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, func, select

from .. import db
from ..catalog.versions import latest_version
from ..erp.digest import DEFAULT_SCALE, DocumentDigest
from ..erp.store import norm_key
from ..errors import BadInputError, MappingError, MigrationError
from ..jsonio import dumps
from ..report import COUNT_LABELS, reconcile_fragment, reconcile_html
from ..scenarios.model import Scenario, load_scenario
from ..values import convert
from ..workspace import Workspace
from .grouping import key_text
from .lock import scenario_lock
from .mapping import ImportMapping
from .prepare import prepared_state

PR = db.prepared_record
PL = db.prepared_line
LEDGER = db.import_ledger

PAGE = 1000  # prepared records (with their lines and ERP documents) per read
LISTED = 1000  # differences kept one by one for the report; the rest are counted
ZERO = Decimal(0)
_SKIP = object()  # a mapped field whose stored value the ERP chooses (numbering, defaults)

class ReconcileError(MigrationError):
    """The ERP does not reconcile with the file: ``documents`` names the first documents
    that differ (and why); ``report`` is the HTML report."""

    exit_code = 1

    def __init__(self, message: str, *, scenario: str, documents: list[str],
                 report: str | None = None, **kw: Any):
        self.scenario = scenario
        self.documents = documents
        self.report = report
        super().__init__(message, scenario=scenario, documents=documents, report=report, **kw)


@dataclass
class FieldTotal:
    """Control total of one numeric target field."""

    target: str
    file: Decimal = ZERO  # every prepared record
    file_in_erp: Decimal = ZERO  # the records that have a document in the ERP
    erp: Decimal = ZERO  # those documents in the ERP
    erp_extra: Decimal = ZERO  # documents of this scenario not in this file version
    not_in_erp: dict[str, Decimal] = field(default_factory=dict)  # by reason
    tolerance: Decimal = ZERO  # computed fields: the ERP recomputes the mapped value

    @property
    def difference(self) -> Decimal:
        return self.erp - self.file_in_erp

    @property
    def ok(self) -> bool:
        return abs(self.difference) <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "file": self.file, "file_in_erp": self.file_in_erp,
                "erp": self.erp, "difference": self.difference, "ok": self.ok,
                "erp_extra": self.erp_extra, "not_in_erp": dict(self.not_in_erp)}


@dataclass
class Difference:
    """A document that differs from its source rows, and why."""

    document: str  # the ERP key as text (or the record's key when it has none)
    reason: str  # missing | changed | differs | extra | unmappable
    details: list[str] = field(default_factory=list)
    record: int | None = None
    line: int | None = None  # the file line of the record's first line
    key: dict[str, Any] | None = None  # the record's key
    erp_key: dict[str, Any] | None = None

    REASONS = {"missing": "missing from the ERP",
               "changed": "changed in the ERP after import",
               "differs": "other values in the ERP than in the file",
               "unmappable": "its rows cannot be mapped now",
               "extra": "in the ERP, not in this file version"}

    def __str__(self) -> str:
        where = f" (record {self.record}, line {self.line})" if self.record else ""
        text = f"{self.document}{where}: {self.REASONS.get(self.reason, self.reason)}"
        if self.details:
            text += ": " + "; ".join(self.details[:5])
            if len(self.details) > 5:
                text += f"; ... {len(self.details) - 5} more"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"document": self.document, "reason": self.reason,
                "explanation": self.REASONS.get(self.reason, self.reason),
                "details": self.details, "record": self.record, "line": self.line,
                "key": self.key, "erp_key": self.erp_key}


@dataclass
class ReconcileReport:
    scenario: str
    window: str
    window_name: str
    provider: str
    file_version: int | None
    latest_version: int | None
    created: str
    counts: dict[str, int | None]
    totals: list[FieldTotal]
    differences: list[Difference]  # the first LISTED
    n_differences: int
    notes: list[str] = field(default_factory=list)
    html_path: Path | None = None
    csv_path: Path | None = None
    json_path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.n_differences == 0 and all(t.ok for t in self.totals)

    def first_documents(self, n: int = 10) -> list[str]:
        return [str(d) for d in self.differences[:n]]

    def message(self) -> str:
        bad = [t.target for t in self.totals if not t.ok]
        parts = []
        if self.n_differences:
            parts.append(f"{self.n_differences} document(s) differ: "
                         + "; ".join(self.first_documents(5)))
        if bad:
            parts.append("control totals differ: " + ", ".join(
                f"{t.target} file {_num(t.file_in_erp)}, ERP {_num(t.erp)}"
                for t in self.totals if not t.ok))
        text = f"scenario {self.scenario!r} does not reconcile: " + "; ".join(parts)
        if self.html_path:
            text += f" (report: {self.html_path})"
        return text

    def raise_for_differences(self) -> None:
        """Raise :class:`ReconcileError` naming the first documents that differ (fails a
        papermill run); nothing when everything reconciles."""
        if not self.ok:
            raise ReconcileError(self.message(), scenario=self.scenario,
                                 documents=self.first_documents(),
                                 report=str(self.html_path) if self.html_path else None)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "window": self.window,
                "window_name": self.window_name, "provider": self.provider,
                "file_version": self.file_version, "latest_version": self.latest_version,
                "created": self.created, "ok": self.ok, "counts": self.counts,
                "totals": [t.to_dict() for t in self.totals],
                "n_differences": self.n_differences,
                "differences": [d.to_dict() for d in self.differences],
                "notes": self.notes,
                "reports": {"html": _str(self.html_path), "csv": _str(self.csv_path),
                            "json": _str(self.json_path)}}

    def __str__(self) -> str:
        lines = [f"{self.scenario} -> {self.window} {self.window_name}, file version "
                 f"{self.file_version} of provider {self.provider!r}: "
                 + ("RECONCILED" if self.ok else "DIFFERS")]
        for k, label in COUNT_LABELS.items():
            v = self.counts.get(k)
            if v is None or (v == 0 and k in ("processed_without_document", "documents_extra",
                                              "documents_missing", "documents_changed",
                                              "documents_differ")):
                continue
            lines.append(f"  {label:<52} {v:>10,}")
        for t in self.totals:
            mark = "ok" if t.ok else f"DIFFERS by {_num(t.difference)}"
            lines.append(f"  total {t.target:<30} file {_num(t.file_in_erp):>18}  ERP "
                         f"{_num(t.erp):>18}  {mark}")
            for reason, v in t.not_in_erp.items():
                lines.append(f"        not in the ERP ({COUNT_LABELS[reason]}): {_num(v)}")
        for d in self.differences[:20]:
            lines.append(f"  {d}")
        if self.n_differences > 20:
            lines.append(f"  ... and {self.n_differences - 20} more (see the CSV report)")
        lines += [f"  note: {n}" for n in self.notes]
        for label, p in (("html", self.html_path), ("csv", self.csv_path),
                         ("json", self.json_path)):
            if p:
                lines.append(f"  report {label}: {p}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return reconcile_fragment(self)


def _str(p: Path | None) -> str | None:
    return str(p) if p else None


def _num(d: Decimal) -> str:
    return f"{d:,f}"


# -- comparing one document --------------------------------------------------------------
@dataclass
class _Target:
    obj: str
    name: str
    target: str
    detail: bool
    numeric: bool
    fdef: Any
    formula: Any = None  # a computed field the mapping does not fill: the ERP's formula

    def __post_init__(self) -> None:
        f = self.fdef
        # what the ERP stores for a blank mapped value (_SKIP: its own choice, not known)
        self.blank = _SKIP if (f.numbering or f.default_from or f.computed) else _default(f)
        # the mapping converts decimals to the field's scale; the column of a field without
        # scale keeps DEFAULT_SCALE decimals
        self.quant = (Decimal(1).scaleb(-DEFAULT_SCALE)
                      if f.value_type == "decimal" and f.scale is None else None)
        self.tol = Decimal(str(f.tolerance)) if f.computed else None

    def stored(self, v: Any) -> Any:
        """A mapped (or computed) value as the ERP stores it."""
        if v is not None and self.quant is not None:
            try:
                v = (v if isinstance(v, Decimal) else Decimal(str(v))).quantize(
                    self.quant, rounding=ROUND_HALF_UP)
            except (InvalidOperation, ValueError):
                pass
        return v

    def same(self, want: Any, got: Any) -> bool:
        if want == got:
            return True
        if self.tol is not None and want is not None and got is not None:
            try:  # a computed field: the ERP recomputes it within its tolerance
                return abs(Decimal(want) - Decimal(got)) <= self.tol
            except (InvalidOperation, TypeError, ValueError):
                return False
        return False


def _default(f) -> Any:
    """The value the ERP gives a blank field (None, or _SKIP when it is chosen later)."""
    if f.numbering or f.default_from:
        return _SKIP
    if f.default is None or f.computed:
        return None
    try:
        return convert(f.default, f.value_type, scale=f.scale)
    except ValueError:
        return _SKIP


def _show(v: Any) -> str:
    if v is None:
        return "(blank)"
    if isinstance(v, Decimal):
        return format(v.normalize() if v == v.to_integral_value() else v, "f")
    return str(v)


class _Comparer:
    """The document a record's rows become (the mapped fields with the ERP's defaults, and
    the computed fields the ERP derives from them), compared with the stored one."""

    def __init__(self, ws: Workspace, sc: Scenario):
        from ..formula import FormulaContext, compile_formula

        self.window = w = ws.windows.get(sc.window)
        self.mapping = ImportMapping(ws, sc, w)
        self.ctx = FormulaContext()
        self.by_object: dict[str, list[_Target]] = {}
        for obj in w.objects.values():
            mapped = {t.field: t for t in self.mapping.by_object[obj.name]}
            ts = []
            for f in obj.fields.values():
                numeric = f.value_type in ("decimal", "integer")
                target = f"{obj.name}.{f.name}"
                if f.name in mapped:
                    ts.append(_Target(obj.name, f.name, target, obj.detail, numeric, f))
                elif f.computed and numeric and (obj.detail is False or mapped):
                    ts.append(_Target(obj.name, f.name, target, obj.detail, numeric, f,
                                      compile_formula(f.computed)))
            self.by_object[obj.name] = ts
        self.targets = [t for ts in self.by_object.values() for t in ts]
        self.plans = {o: ([t for t in ts if t.formula is None], [t for t in ts if t.formula])
                      for o, ts in self.by_object.items()}
        self.numeric = [t for t in self.targets if t.numeric]
        self.defaults = {(o.name, f.name): _default(f)
                         for o in w.objects.values() for f in o.fields.values()}

    def file_doc(self, rows) -> tuple[dict[str, Any], list[str]]:
        """The expected document of a record's rows, and the values it cannot map."""
        try:
            doc, errors = self.mapping.document(rows), []
        except MappingError:
            doc, errors = self.mapping.document_lenient(rows)
        out: dict[str, Any] = {}
        for obj in self.window.objects.values():
            if obj.detail:
                out[obj.name] = [self._row(obj.name, ln) for ln in doc.get(obj.name) or []]
            else:
                out[obj.name] = self._row(obj.name, doc.get(obj.name) or {})
        return out, [f"{e.target}: {e.message}" for e in errors]

    def _row(self, obj: str, mapped: dict[str, Any]) -> dict[str, Any]:
        """The values the ERP stores for one object's mapped values (``_SKIP``: not known
        here), its computed fields worked out as the ERP does."""
        plain, computed = self.plans[obj]
        row = {}
        for t in plain:
            v = mapped.get(t.name)
            if type(v) is str:
                v = v.strip() or None
            row[t.name] = t.blank if v is None else (t.stored(v) if t.quant else v)
        for t in computed:
            inputs = {}
            for name in t.formula.fields:
                v = row[name] if name in row else self.defaults.get((obj, name))
                inputs[name] = v
            if any(v is _SKIP for v in inputs.values()):
                row[t.name] = _SKIP
            elif any(v is None for v in inputs.values()):
                row[t.name] = None
            else:
                try:
                    row[t.name] = t.stored(convert(t.formula.evaluate(inputs, self.ctx),
                                                   t.fdef.value_type, scale=t.fdef.scale))
                except (MigrationError, ValueError, ArithmeticError):
                    row[t.name] = _SKIP
        return row

    def sums(self, doc: dict[str, Any] | None, *, expected: bool) -> dict[str, Decimal]:
        out = {}
        for t in self.numeric:
            total = ZERO
            rows = (doc.get(t.obj) or []) if t.detail else [doc.get(t.obj) or {}]
            for row in rows if doc is not None else []:
                v = row.get(t.name, _SKIP) if expected else row.get(t.name)
                if v is not _SKIP and v is not None:
                    total += Decimal(v)
            out[t.target] = total
        return out

    def compare(self, file: dict[str, Any], erp: dict[str, Any]) -> list[str]:
        """What differs between the expected document and the stored one."""
        out = []
        for obj in self.window.objects.values():
            mine = self.by_object[obj.name]
            if not mine:
                continue
            if obj.detail:
                a, b = file.get(obj.name) or [], erp.get(obj.name) or []
                if len(a) != len(b):
                    out.append(f"{obj.name}: {len(a)} line(s) in the file, {len(b)} in the "
                               "ERP")
                pairs = [(f"{obj.name} {i}.", la, lb)
                         for i, (la, lb) in enumerate(zip(a, b), start=1)]
            else:
                pairs = [(f"{obj.name}.", file.get(obj.name) or {}, erp.get(obj.name) or {})]
            for where, la, lb in pairs:
                for t in mine:
                    want = la.get(t.name, _SKIP)
                    got = lb.get(t.name)
                    if want is not _SKIP and not t.same(want, got):
                        out.append(f"{where}{t.name}: file {_show(want)}, ERP {_show(got)}")
        return out

    def lines(self, doc: dict[str, Any] | None) -> int:
        if doc is None:
            return 0
        return sum(len(doc.get(o.name) or []) for o in self.window.detail_objects)


def _erp_text(erp_key: dict[str, Any] | None) -> str:
    return " ".join(str(v) for v in (erp_key or {}).values())


# -- the run -----------------------------------------------------------------------------
def reconcile(ws: Workspace, name: str, *, output: str | Path | None = None
              ) -> ReconcileReport:
    """Reconcile scenario ``name`` and write the HTML report (``output``; default
    ``reports/NAME-reconcile.html`` in the workspace) with its CSV and JSON beside it."""
    sc = load_scenario(ws, name)
    ws.require(sc.window, "edit")
    if sc.kind != "import":
        raise BadInputError(f"scenario {name!r} is an export scenario; reconcile compares "
                            "an import scenario's file with the ERP", scenario=name)
    html_path = Path(output) if output else ws.path("reports", f"{sc.name}-reconcile.html")
    if html_path.suffix.lower() not in (".html", ".htm"):
        html_path = html_path.with_name(html_path.name + ".html")
    html_path = html_path.resolve()
    csv_path, json_path = html_path.with_suffix(".csv"), html_path.with_suffix(".json")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    with scenario_lock(ws, sc.name, "reconcile"):
        tmp_csv = csv_path.with_name(f".{csv_path.name}.tmp")
        try:
            with open(tmp_csv, "w", newline="", encoding="utf-8") as f:
                report = _Reconciler(ws, sc).run(csv.writer(f))
        except BaseException:
            tmp_csv.unlink(missing_ok=True)
            raise
        os.replace(tmp_csv, csv_path)
    report.html_path, report.csv_path, report.json_path = html_path, csv_path, json_path
    _write_text(json_path, dumps(report.to_dict(), indent=1))
    _write_text(html_path, reconcile_html(report))
    return report


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class _Reconciler:
    def __init__(self, ws: Workspace, sc: Scenario):
        self.ws, self.sc = ws, sc
        self.cmp = _Comparer(ws, sc)
        self.window = self.cmp.window
        self.digest = DocumentDigest(self.window)
        self.totals = {t.target: FieldTotal(t.target) for t in self.cmp.numeric}
        # a computed field the mapping fills is recomputed by the ERP, within its tolerance
        self.recomputed = [t for t in self.cmp.numeric if t.fdef.computed and t.formula is None]
        self.counts: dict[str, int | None] = dict.fromkeys(COUNT_LABELS, 0)
        self.differences: list[Difference] = []
        self.n_differences = 0
        self.notes: list[str] = []
        self.unmapped = 0

    def run(self, out) -> ReconcileReport:
        ws, sc = self.ws, self.sc
        conn = ws.db_engine.connect()
        if conn.dialect.name == "postgresql":  # one snapshot for every page
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            with conn.begin():
                state = prepared_state(conn, sc.name, then="prepare (and import)")
                self.columns = state["columns"]
                self.version = state["file_version"]
                self._source_counts(conn)
                out.writerow(self._csv_header())
                self._records(conn, out)
                self._extra(conn, out)
        finally:
            conn.close()
        try:
            latest = latest_version(ws, sc.provider).version
        except MigrationError:
            latest = None
        if latest is not None and self.version is not None and latest > self.version:
            self.notes.append(f"provider {sc.provider!r} has version {latest}, newer than the "
                              f"prepared version {self.version}: prepare and import it, then "
                              "reconcile again")
        if self.unmapped:
            self.notes.append(f"{self.unmapped} record(s) not in the ERP have values that "
                              "cannot be mapped; those values are not in the file totals")
        w = self.window
        return ReconcileReport(
            sc.name, w.id, w.name, sc.provider, self.version, latest,
            dt.datetime.now().replace(microsecond=0).isoformat(sep=" "), self.counts,
            list(self.totals.values()), self.differences, self.n_differences, self.notes)

    def _source_counts(self, conn) -> None:
        c = self.counts
        c["prepared_lines"] = conn.execute(select(func.count()).select_from(PL).where(
            PL.c.scenario == self.sc.name)).scalar_one()
        h = db.history
        counts = conn.execute(
            select(h.c.counts).where(and_(h.c.scenario == self.sc.name,
                                          h.c.action == "prepare", h.c.status == "done",
                                          h.c.file_version == self.version))
            .order_by(h.c.id.desc()).limit(1)).scalar()
        if counts and counts.get("lines") == c["prepared_lines"]:
            c["left_out"] = int(counts.get("filtered_out") or 0)
            c["source_lines"] = c["prepared_lines"] + c["left_out"]
        else:
            c["left_out"] = c["source_lines"] = None
            self.notes.append("the prepare of this file version is not in the history: "
                              "source lines and lines left out are not known")

    def _csv_header(self) -> list[str]:
        head = ["record", "source_line", "key", "erp_key", "status", "reason", "lines_file",
                "lines_erp"]
        for t in self.cmp.numeric:
            head += [f"{t.target} file", f"{t.target} ERP"]
        return head + ["details"]

    def _records(self, conn, out) -> None:
        s = self.sc.name
        after = 0
        while True:
            recs = conn.execute(
                select(PR.c.record_no, PR.c.source_line, PR.c.first_line, PR.c.key,
                       PR.c.active, PR.c.processed, PR.c.error, PR.c.note, PR.c.result,
                       LEDGER.c.result.label("ledger_result"), LEDGER.c.doc_digest)
                .outerjoin(LEDGER, and_(LEDGER.c.scenario == PR.c.scenario,
                                        LEDGER.c.doc_key == PR.c.group_key,
                                        PR.c.processed.is_(True)))
                .where(and_(PR.c.scenario == s, PR.c.record_no > after))
                .order_by(PR.c.record_no).limit(PAGE)).mappings().all()
            if not recs:
                return
            after = recs[-1]["record_no"]
            rows_of: dict[int, list[dict[str, Any]]] = {}
            cols = self.columns
            for rec_no, data in conn.execute(
                    select(PL.c.record_no, PL.c.data).where(and_(
                        PL.c.scenario == s, PL.c.record_no >= recs[0]["record_no"],
                        PL.c.record_no <= after)).order_by(PL.c.record_no, PL.c.line_no)):
                rows_of.setdefault(rec_no, []).append(dict(zip(cols, json.loads(data))))
            erp_keys = {}
            for r in recs:
                k = r["ledger_result"] or (r["result"] if r["processed"] else None)
                if k:
                    erp_keys[r["record_no"]] = k
            found = self.ws.store.documents_by_keys(conn, self.window.id,
                                                    list(erp_keys.values()))
            for r in recs:
                self._record(r, rows_of.get(r["record_no"], []), erp_keys.get(r["record_no"]),
                             found, out)

    def _record(self, r, rows, erp_key, found, out) -> None:
        c, cmp = self.counts, self.cmp
        c["prepared_records"] += 1
        file_doc, errors = cmp.file_doc(rows) if rows else ({}, ["the record has no lines"])
        file_sums = cmp.sums(file_doc, expected=True)
        for k, v in file_sums.items():
            self.totals[k].file += v
        status = "ok"
        if erp_key is None:
            reason = ("inactive" if not r["active"] else
                      "processed_without_document" if r["processed"] else
                      "failed" if r["error"] else "not_processed")
            c[reason] += 1
            self.unmapped += bool(errors)
            for k, v in file_sums.items():
                t = self.totals[k]
                t.not_in_erp[reason] = t.not_in_erp.get(reason, ZERO) + v
            self._row(out, r, None, "not in the ERP", COUNT_LABELS[reason],
                      cmp.lines(file_doc), None, file_sums, None, r["error"] or "")
            return
        c["imported" if r["note"] is None else "imported_before"] += 1
        c["documents_expected"] += 1
        c["lines_file"] += cmp.lines(file_doc)
        for k, v in file_sums.items():
            self.totals[k].file_in_erp += v
        for t in self.recomputed:
            n = len(file_doc.get(t.obj) or []) if t.detail else 1
            self.totals[t.target].tolerance += n * Decimal(str(t.fdef.tolerance))
        hit = found.get(norm_key(self.window, erp_key))
        label = _erp_text(erp_key) or key_text(r["key"])
        if hit is None:
            c["documents_missing"] += 1
            self._differ(Difference(label, "missing", [], r["record_no"], r["source_line"],
                                    r["key"], erp_key))
            self._row(out, r, erp_key, "differs", "missing", cmp.lines(file_doc), 0,
                      file_sums, None, "")
            return
        _, doc = hit
        c["documents_found"] += 1
        c["lines_erp"] += cmp.lines(doc)
        erp_sums = cmp.sums(doc, expected=False)
        for k, v in erp_sums.items():
            self.totals[k].erp += v
        details = cmp.compare(file_doc, doc) if not errors else errors
        changed = r["doc_digest"] is not None and self.digest(doc) != r["doc_digest"]
        reason = ("changed" if changed else "unmappable" if errors else
                  "differs" if details else None)
        if reason is not None:
            status = "differs"
            c["documents_changed" if changed else "documents_differ"] += 1
            if changed and not details:
                details = ["a field the mapping does not fill was changed"]
            self._differ(Difference(label, reason, details, r["record_no"], r["source_line"],
                                    r["key"], erp_key))
        self._row(out, r, erp_key, status, Difference.REASONS.get(reason, "") if reason else "",
                  cmp.lines(file_doc), cmp.lines(doc), file_sums, erp_sums,
                  "; ".join(details))

    def _extra(self, conn, out) -> None:
        """Documents in the ledger of this scenario whose key no record of this file version
        has (imported from an earlier version, not in this one). A record of the key that
        is not processed (to update) is counted by its reason instead."""
        s = self.sc.name
        after = ""
        taken = exists().where(and_(PR.c.scenario == LEDGER.c.scenario,
                                    PR.c.group_key == LEDGER.c.doc_key))
        while True:
            page = conn.execute(
                select(LEDGER.c.doc_key, LEDGER.c.result, LEDGER.c.file_version)
                .where(and_(LEDGER.c.scenario == s, LEDGER.c.doc_key > after, ~taken))
                .order_by(LEDGER.c.doc_key).limit(PAGE)).all()
            if not page:
                return
            after = page[-1].doc_key
            found = self.ws.store.documents_by_keys(
                conn, self.window.id, [p.result for p in page if p.result])
            for p in page:
                key = json.loads(p.doc_key)
                hit = found.get(norm_key(self.window, p.result)) if p.result else None
                self.counts["documents_extra"] += 1
                where = (f"imported from version {p.file_version}" if p.file_version
                         else "imported by an earlier run")
                erp_sums = None
                if hit is not None:
                    erp_sums = self.cmp.sums(hit[1], expected=False)
                    for k, v in erp_sums.items():
                        self.totals[k].erp_extra += v
                    detail = f"{where}; its key is not in file version {self.version}"
                else:
                    detail = (f"{where}; its key is not in file version {self.version} and "
                              "the document is not in the ERP either")
                label = _erp_text(p.result) or key_text(key)
                self._differ(Difference(label, "extra", [detail], None, None, key, p.result))
                row = {"record_no": None, "source_line": None, "key": key}
                self._row(out, row, p.result, "differs", "extra", None,
                          self.cmp.lines(hit[1]) if hit else 0, None, erp_sums, detail)

    def _differ(self, d: Difference) -> None:
        self.n_differences += 1
        if len(self.differences) < LISTED:
            self.differences.append(d)

    def _row(self, out, r, erp_key, status, reason, lines_file, lines_erp, file_sums,
             erp_sums, details) -> None:
        row = [r["record_no"], r["source_line"], key_text(r["key"]), _erp_text(erp_key),
               status, reason, lines_file, lines_erp]
        for t in self.cmp.numeric:
            row += [format(file_sums[t.target], "f") if file_sums else "",
                    format(erp_sums[t.target], "f") if erp_sums else ""]
        out.writerow(row + [details])
