"""Export: window records -> prepared rows -> a new file version of the provider.

Prepare reads the window's documents (the user needs ``view``), flattens header-detail
documents (one row per detail line, the summary fields repeated on each; a document with
no lines gives one row), applies the restrictions and the mapping, and stores the rows.
Export writes the Active rows in the provider's structure to a temp file, renames it into
place as version N+1 and marks the rows Processed in the same transaction.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update

from .. import db
from ..catalog.versions import FileVersion, Provider, load_provider, store_written_version
from ..erp.store import bulk_insert
from ..errors import BadInputError, FormulaRuntimeError
from ..jsonio import dump_row
from ..scenarios.conditions import compile_restrictions
from ..scenarios.model import Scenario, load_scenario
from ..workspace import Workspace
from . import export_columns, history
from .collection import fewer_collections
from .export_checks import Failed, cell_limit, column_check, column_specs, neutralise, neutralises
from .lock import scenario_lock
from .mapping import export_getters, flatten, formula_context
from .prepare import (
    CHUNK,
    PrepareSummary,
    clear_prepared,
    prepared_state,
    save_prepared_state,
)
from .progress import progress_bar

PR = db.prepared_record
PL = db.prepared_line
__all__ = ["ExportSummary", "export", "neutralise", "prepare_export"]


@dataclass
class ExportSummary:
    scenario: str
    version: int | None = None
    path: str | None = None
    rows: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        text = (f"{self.scenario}: exported {self.rows} row(s) as version {self.version} "
                f"({self.path}); {self.failed} row(s) failed")
        for e in self.errors[:5]:
            text += f"\n  line {e['line']}: {e['field']}: {e['message']}"
        return text


def _export_scenario(ws: Workspace, name: str) -> Scenario:
    # the right first: a user who may not see the window learns nothing of the scenario
    ws.require(load_scenario(ws, name, check=False).window, "view")
    sc = load_scenario(ws, name)
    if sc.kind != "export":
        raise BadInputError(f"scenario {name!r} is an {sc.kind} scenario, not an export")
    return sc


@fewer_collections()
def prepare_export(ws: Workspace, name: str, *, progress: bool = True) -> PrepareSummary:
    sc = _export_scenario(ws, name)
    with scenario_lock(ws, sc.name, "prepare"):
        if _bulk(ws, sc) is None:
            return export_columns.prepare(ws, sc, progress)
        return _prepare(ws, sc, progress)


def _bulk(ws: Workspace, sc: Scenario) -> str | None:
    """None when the scenario runs the bulk path (engine ``columns``), else why not."""
    if sc.engine == "rows":
        return "engine: rows"
    return export_columns.unsupported(ws, sc)


def _prepare(ws: Workspace, sc: Scenario, progress: bool) -> PrepareSummary:
    window = ws.windows.get(sc.window)
    prov = load_provider(ws, sc.provider)
    columns = prov.schema.columns()
    getters = export_getters(ws, sc)
    positions = {c: i for i, c in enumerate(columns)}
    ctx = formula_context(ws, sc)
    keep = compile_restrictions(sc.restrictions, today=ctx.today, locale=sc.locale)
    # Every mapping line a plain source field of a column (no formula, no constant): a row's
    # values are read in one pass, ``sources[i]`` being column i's field (None: unmapped,
    # the last line wins as below). Else each getter is called.
    mapped = [m for m in sc.active_mapping() if m.target]
    sources: list[str | None] | None = None
    if all(not m.is_formula and m.source is not None and m.target in positions
           for m in mapped):
        sources = [None] * len(columns)
        for m in mapped:
            sources[positions[m.target]] = m.source
    lines = records = filtered = errors = 0
    bar = progress_bar(progress, desc=f"prepare {sc.name}", unit="rows")
    with ws.transaction() as conn:
        run = history.start(conn, sc.name, "prepare", ws.user)
        clear_prepared(conn, sc.name)
        rec_rows: list[dict[str, Any]] = []
        line_rows: list[dict[str, Any]] = []
        with ws.connect() as read:
            for doc in ws.store.iter_documents(read, sc.window):
                flat = [r for r in flatten(window, doc) if keep(r)]
                filtered += 0 if flat else 1
                if not flat:
                    continue
                records += 1
                rec = {"scenario": sc.name, "record_no": records, "first_line": lines + 1,
                       "last_line": lines + len(flat), "active": True, "processed": False,
                       "error": None, "error_field": None,
                       "key": {k: _text(doc[window.summary][k]) for k in window.key_fields}}
                for row in flat:
                    lines += 1
                    if sources is not None:
                        line_rows.append({"scenario": sc.name, "line_no": lines,
                                          "record_no": records, "source_line": None,
                                          "data": dump_row(list(map(row.get, sources)))})
                        continue
                    out: list[Any] = [None] * len(columns)
                    for target, get in getters:
                        try:
                            out[positions[target]] = get(row)
                        except FormulaRuntimeError as e:
                            if rec["error"] is None:
                                rec["error"], rec["error_field"] = e.message, target
                                errors += 1
                    line_rows.append({"scenario": sc.name, "line_no": lines,
                                      "record_no": records, "source_line": None,
                                      "data": dump_row(out)})
                rec_rows.append(rec)
                bar.update(len(flat))
                if len(line_rows) >= CHUNK:
                    conn.execute(insert(PR), rec_rows)
                    bulk_insert(conn, PL, line_rows)
                    rec_rows.clear()
                    line_rows.clear()
        if rec_rows:
            conn.execute(insert(PR), rec_rows)
        bulk_insert(conn, PL, line_rows)
        bar.close()
        save_prepared_state(conn, sc, columns, None)
        summary = PrepareSummary(sc.name, None, lines, records, filtered, 0, errors)
        history.finish(conn, run, status="done", counts=summary.to_dict())
    return summary


def _text(v: Any) -> Any:
    return v if v is None or isinstance(v, str | int) else str(v)


@fewer_collections()
def export(ws: Workspace, name: str, *, prepare_first: bool = True,
           progress: bool = True) -> ExportSummary:
    """Prepare (unless told not to) and write the Active rows as a new file version."""
    sc = _export_scenario(ws, name)
    with scenario_lock(ws, sc.name, "export"):
        bulk = _bulk(ws, sc) is None
        if prepare_first and bulk and load_provider(ws, sc.provider).ptype.writable:
            # one pass: the documents are prepared and written to the file as they are read
            prov = _writable(ws, sc)
            return _export(ws, sc, prov, prov.schema.columns(), lambda tmp, cols:
                           export_columns.prepare_and_write(ws, sc, prov, cols, tmp, progress))
        if prepare_first:
            if bulk:
                export_columns.prepare(ws, sc, progress)
            else:
                _prepare(ws, sc, progress)
        prov = _writable(ws, sc)
        with ws.connect() as conn:
            cols = prepared_state(conn, sc.name)["columns"]
        if bulk:
            return _export(ws, sc, prov, cols, lambda tmp, cols:
                           export_columns.write_prepared(ws, sc, prov, cols, tmp, progress))
        return _export(ws, sc, prov, cols, lambda tmp, cols:
                       _write_rows(ws, sc, prov, cols, tmp, progress))


def _writable(ws: Workspace, sc: Scenario) -> Provider:
    prov = load_provider(ws, sc.provider)
    if not prov.ptype.writable:
        raise BadInputError(f"provider {prov.name!r} ({prov.type}) cannot be written")
    return prov


# (rows written, the records of the rows written, the rows that failed)
Written = tuple[int, set[int], list[dict[str, Any]]]


def _write_rows(ws: Workspace, sc: Scenario, prov: Provider, cols: list[str], tmp: Path,
                progress: bool) -> Written:
    """The reference path: the prepared rows one by one, checked, to the provider's writer."""
    check = _checker(prov, cols, neutralises(prov, sc.options))
    written: set[int] = set()
    failed: list[dict[str, Any]] = []
    bar = progress_bar(progress, desc=f"export {sc.name}", unit="rows")

    def rows() -> Iterator[tuple]:
        with ws.connect() as read:
            q = (select(PL.c.line_no, PL.c.record_no, PL.c.data)
                 .join(PR, and_(PR.c.scenario == PL.c.scenario,
                                PR.c.record_no == PL.c.record_no))
                 .where(and_(PL.c.scenario == sc.name, PR.c.active.is_(True),
                             PR.c.error.is_(None)))
                 .order_by(PL.c.line_no))
            for line_no, rec_no, data in read.execution_options(yield_per=CHUNK).execute(q):
                values, err = check(json.loads(data))
                bar.update()
                if err:
                    failed.append({"line": line_no, "record": rec_no, **err})
                    continue
                written.add(rec_no)
                yield tuple(values)

    n = prov.ptype.write(tmp, prov.params, prov.schema, cols, rows())
    bar.close()
    return n, written, failed


def _export(ws: Workspace, sc: Scenario, prov: Provider, cols: list[str],
            write: Callable[[Path, list[str]], Written]) -> ExportSummary:
    """``write`` the rows to a temp file, then store it as the next version and mark the
    records Processed (those with a row that failed get its error) in one transaction."""
    summary = ExportSummary(sc.name)
    folder = ws.path("files", prov.name)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(folder)
    fd, name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=prov.extension,
                                dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        n, written, failed = write(tmp, cols)
        with ws.transaction() as conn:
            run = history.start(conn, sc.name, "export", ws.user)
            fv: FileVersion = store_written_version(ws, prov, tmp, conn)
            bad = {f["record"] for f in failed}
            ok = sorted(written - bad)
            if ok:  # one statement per run of consecutive record numbers
                conn.execute(update(PR).where(and_(
                    PR.c.scenario == bindparam("s"),
                    PR.c.record_no.between(bindparam("lo"), bindparam("hi"))))
                    .values(processed=True),
                    [{"s": sc.name, "lo": lo, "hi": hi} for lo, hi in _runs(ok)])
            if failed:
                firsts: dict[int, dict] = {}
                for f in failed:
                    firsts.setdefault(f["record"], f)
                conn.execute(update(PR).where(and_(PR.c.scenario == bindparam("s"),
                                                   PR.c.record_no == bindparam("r")))
                             .values(error=bindparam("e"), error_field=bindparam("f")),
                             [{"s": sc.name, "r": r, "e": f["message"], "f": f["field"]}
                              for r, f in firsts.items()])
            conn.execute(db.scenario_state.update()
                         .where(db.scenario_state.c.scenario == sc.name)
                         .values(exported_version=fv.version))
            summary.version, summary.path, summary.rows = fv.version, str(fv.path), n
            summary.failed, summary.errors = len(failed), failed[:1000]
            history.finish(conn, run, status="done" if not failed else "errors",
                           counts={"rows": n, "failed": len(failed), "version": fv.version},
                           first_error=(f"line {failed[0]['line']}: {failed[0]['message']}"
                                        if failed else None))
    finally:
        if tmp.exists():
            tmp.unlink()
    return summary


def _runs(numbers: list[int]) -> Iterator[tuple[int, int]]:
    """The sorted ``numbers`` as (first, last) of each run of consecutive ones."""
    lo = prev = numbers[0]
    for n in numbers[1:]:
        if n != prev + 1:
            yield lo, prev
            lo = n
        prev = n
    yield lo, prev


TMP_PREFIX = ".export-"
_TMP_NAME = re.compile(r"^\.?\.export-(\d+)[-.]")


def _remove_stale_temps(folder: Path) -> None:
    """Remove half-written export files left by runs that were killed (their pid is gone).

    They were never registered as versions, so nothing refers to them.
    """
    for p in folder.iterdir():
        # ours: .export-PID-XXXX.ext; the writer's own temp next to it: ..export-PID-....part
        m = _TMP_NAME.match(p.name)
        if m and not _pid_alive(int(m.group(1))):
            p.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _checker(prov: Provider, cols: list[str], neutral: bool):
    """Checks each value against its column (type, length) and neutralises formulas."""
    specs = column_specs(prov, cols)
    limit = cell_limit(prov)
    # Prepared values are JSON text: each distinct text of a typed column is converted
    # once (convert and plain_decimal are pure functions of it); errors are not remembered.
    # One closure per column, compiled here; a failing value raises Failed with its error.
    fns = [column_check(c, f, limit, neutral) for c, f in zip(cols, specs)]

    def check(values: list[Any]) -> tuple[list[Any], dict[str, str] | None]:
        try:
            return [fn(v) for fn, v in zip(fns, values)], None
        except Failed as e:
            return values, e.error

    return check
