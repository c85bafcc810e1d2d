"""Prepared data: paging, inline correction (edit values, clear Active), scenario status,
and roll back (clears history and prepared data; imported records stay in the ERP).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, select, update

from .. import db
from ..errors import BadInputError, NotFoundError
from ..jsonio import dump_row
from ..scenarios.model import runnable_scenario
from ..workspace import Workspace
from . import history
from .lock import scenario_lock, settle_runs
from .prepare import doc_key, prepared_state

PR = db.prepared_record
PL = db.prepared_line


_scenario = runnable_scenario


def _for_edit(ws: Workspace, name: str):
    """A scenario whose prepared data the user may change: ``edit`` on its window."""
    sc = runnable_scenario(ws, name)
    ws.require(sc.window, "edit")
    return sc


def _edit_lock(ws: Workspace, name: str):
    # Prepared data, the ledger and the history of a scenario have one writer at a time:
    # an edit while an import runs is refused (LockedError) instead of racing it.
    return scenario_lock(ws, name, "edit prepared data")


def _columns(conn, name: str) -> list[str]:
    return prepared_state(conn, name)["columns"]


def columns(ws: Workspace, name: str) -> list[str]:
    """The prepared columns of a scenario (the provider's fields at prepare time)."""
    _scenario(ws, name)
    with ws.connect() as conn:
        return _columns(conn, name)


@dataclass
class PreparedLine:
    line: int
    record: int
    source_line: int | None
    active: bool
    processed: bool
    error: str | None
    error_field: str | None
    values: dict[str, Any]
    record_lines: int | None = None  # how many lines the record has
    note: str | None = None  # why the record was marked Processed without an import

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def lines(ws: Workspace, name: str, *, errors_only: bool = False, skipped_only: bool = False,
          offset: int = 0, limit: int | None = 100,
          by_record: bool = False) -> list[PreparedLine]:
    """A page of prepared lines with their record's flags (paged from the database).

    ``by_record``: in record order (a record's lines together) instead of line order.
    ``skipped_only``: the records marked Processed without an import (with their note).
    """
    _scenario(ws, name)
    with ws.connect() as conn:
        cols = _columns(conn, name)
        order = (PL.c.record_no, PL.c.line_no) if by_record else (PL.c.line_no,)
        q = (select(PL.c.line_no, PL.c.record_no, PL.c.source_line, PL.c.data, PR.c.active,
                    PR.c.processed, PR.c.error, PR.c.error_field, PR.c.line_count,
                    PR.c.note)
             .join(PR, and_(PR.c.scenario == PL.c.scenario, PR.c.record_no == PL.c.record_no))
             .where(PL.c.scenario == name).order_by(*order).offset(offset))
        if errors_only:
            q = q.where(PR.c.error.is_not(None))
        if skipped_only:
            q = q.where(PR.c.note.is_not(None))
        if limit is not None:
            q = q.limit(limit)
        return [PreparedLine(r.line_no, r.record_no, r.source_line, r.active, r.processed,
                             r.error, r.error_field, dict(zip(cols, json.loads(r.data))),
                             r.line_count, r.note)
                for r in conn.execute(q)]


def error_records(ws: Workspace, name: str, limit: int = 10) -> list[dict[str, Any]]:
    """The first records in error: record, first line, line count, field and message."""
    _scenario(ws, name)
    with ws.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(PR.c.record_no.label("record"), PR.c.first_line.label("line"),
                   PR.c.source_line, PR.c.line_count.label("lines"),
                   PR.c.error_field.label("field"), PR.c.error.label("message"), PR.c.key)
            .where(and_(PR.c.scenario == name, PR.c.error.is_not(None)))
            .order_by(PR.c.record_no).limit(limit)).mappings()]


def counts(ws: Workspace, name: str) -> dict[str, int]:
    _scenario(ws, name)
    with ws.connect() as conn:
        return _counts(conn, name)


def _counts(conn, name: str) -> dict[str, int]:
    q = select(func.count(), func.sum(_int(PR.c.active)), func.sum(_int(PR.c.processed)),
               func.sum(_int(PR.c.error.is_not(None)))).where(PR.c.scenario == name)
    total, active, processed, errors = conn.execute(q).one()
    todo = conn.execute(select(func.count()).select_from(PR).where(and_(
        PR.c.scenario == name, PR.c.active.is_(True), PR.c.processed.is_(False)))).scalar_one()
    n_lines = conn.execute(select(func.count()).select_from(PL)
                           .where(PL.c.scenario == name)).scalar_one()
    skipped = conn.execute(select(func.count()).select_from(PR).where(and_(
        PR.c.scenario == name, PR.c.processed.is_(True),
        PR.c.note.is_not(None)))).scalar_one()
    return {"records": total or 0, "lines": n_lines, "active": int(active or 0),
            "processed": int(processed or 0), "skipped": skipped, "errors": int(errors or 0),
            "todo": todo}


def _int(expr):
    from sqlalchemy import Integer, case

    return case((expr, 1), else_=0).cast(Integer)


def status(ws: Workspace, name: str) -> str:
    """New, Prepared, Partially processed or Processed (export: ... exported)."""
    sc = _scenario(ws, name)
    settle_runs(ws, name)
    with ws.connect() as conn:
        has_state = conn.execute(select(db.scenario_state.c.scenario).where(
            db.scenario_state.c.scenario == name)).first() is not None
        c = _counts(conn, name)
    if not has_state:
        return "New"
    word = "exported" if sc.kind == "export" else "processed"
    if c["processed"] == 0:
        return "Prepared"
    if c["todo"] > 0:
        return f"Partially {word}"
    return word.capitalize()


def _record_of(conn, name: str, line: int) -> int:
    rec = conn.execute(select(PL.c.record_no).where(and_(PL.c.scenario == name,
                                                         PL.c.line_no == line))).scalar()
    if rec is None:
        raise NotFoundError(f"scenario {name!r} has no prepared line {line}")
    return rec


def set_value(ws: Workspace, name: str, line: int, field_name: str, value: Any) -> None:
    """Correct one prepared value; the record's error is cleared for the next import.

    A column that only feeds the summary (the document header, taken from the record's
    lines) is corrected on every line of the record that held the same value, so the
    record reads the same everywhere.
    """
    sc = _for_edit(ws, name)
    header_only = _feeds_only_summary(ws, sc, field_name)
    with _edit_lock(ws, name), ws.transaction() as conn:
        cols = _columns(conn, name)
        if field_name not in cols:
            raise BadInputError(f"{field_name!r} is not a prepared column of {name!r}; "
                                f"columns: {', '.join(cols)}")
        rec = _record_of(conn, name, line)
        processed = conn.execute(select(PR.c.processed).where(and_(
            PR.c.scenario == name, PR.c.record_no == rec))).scalar()
        if processed:
            raise BadInputError(f"line {line} belongs to record {rec}, which is already "
                                "processed; it cannot be changed")
        i = cols.index(field_name)
        rows = {n: json.loads(d) for n, d in conn.execute(select(PL.c.line_no, PL.c.data).where(
            and_(PL.c.scenario == name, PL.c.record_no == rec)))}
        old = rows[line][i]
        for n, data in rows.items():
            if n == line or (header_only and data[i] == old):
                data[i] = value
                conn.execute(update(PL).where(and_(PL.c.scenario == name, PL.c.line_no == n))
                             .values(data=dump_row(data)))
        conn.execute(update(PR).where(and_(PR.c.scenario == name, PR.c.record_no == rec))
                     .values(error=None, error_field=None, error_stage=None))


def _feeds_only_summary(ws: Workspace, sc, column: str) -> bool:
    """True when the import mapping reads ``column`` for summary fields only."""
    if sc.kind != "import":
        return False
    from ..formula import compile_formula

    summary = ws.windows.get(sc.window).summary
    targets = [m.target for m in sc.active_mapping() if m.target and (
        m.source == column or (m.is_formula and column in compile_formula(m.source).fields))]
    return bool(targets) and all(t.split(".", 1)[0] == summary for t in targets)


def set_active(ws: Workspace, name: str, line: int, active: bool) -> int:
    """Set or clear Active on the record of a prepared line; returns the record number."""
    _for_edit(ws, name)
    with _edit_lock(ws, name), ws.transaction() as conn:
        rec = _record_of(conn, name, line)
        conn.execute(update(PR).where(and_(PR.c.scenario == name, PR.c.record_no == rec))
                     .values(active=active))
    return rec


def rollback(ws: Workspace, name: str) -> dict[str, Any]:
    """Clear the history and prepared data of a scenario. Imported records stay."""
    sc = _scenario(ws, name)
    with scenario_lock(ws, sc.name, "rollback"), ws.transaction() as conn:
        c = _counts(conn, name)
        conn.execute(delete(PL).where(PL.c.scenario == name))
        conn.execute(delete(PR).where(PR.c.scenario == name))
        conn.execute(delete(db.scenario_state).where(db.scenario_state.c.scenario == name))
        n_hist = history.clear(conn, name)
        run = history.start(conn, name, "rollback", ws.user)
        history.finish(conn, run, status="done",
                       counts={"records_cleared": c["records"], "history_cleared": n_hist})
    return {"scenario": name, "records_cleared": c["records"], "history_cleared": n_hist,
            "note": (f"{c['processed']} record(s) already imported stay in the ERP: roll back "
                     "does not reverse imported records"
                     if sc.kind == "import" else
                     "exported file versions stay: roll back does not remove them")}


# -- prepared-data tools (the ERP screens' toolbar) ------------------------------------------
def _lines_filter(name: str, lines: list[int] | None):
    cond = PL.c.scenario == name
    return cond if lines is None else and_(cond, PL.c.line_no.in_(lines))


def replace(ws: Workspace, name: str, column: str, find: str, replacement: str, *,
            match_case: bool = False, whole_value: bool = False,
            lines: list[int] | None = None) -> int:
    """In one column, replace ``find`` with ``replacement`` in all rows or the given lines
    of unprocessed records; returns how many values changed (their errors are cleared)."""
    import re

    _for_edit(ws, name)
    if not find:
        raise BadInputError("replace: give the text to find")
    flags = 0 if match_case else re.IGNORECASE
    pattern = re.compile(("^" + re.escape(find) + "$") if whole_value else re.escape(find),
                         flags)
    changed = 0
    with _edit_lock(ws, name), ws.transaction() as conn:
        cols = _columns(conn, name)
        if column not in cols:
            raise BadInputError(f"{column!r} is not a prepared column of {name!r}; "
                                f"columns: {', '.join(cols)}")
        i = cols.index(column)
        q = (select(PL.c.line_no, PL.c.record_no, PL.c.data)
             .join(PR, and_(PR.c.scenario == PL.c.scenario, PR.c.record_no == PL.c.record_no))
             .where(and_(_lines_filter(name, lines), PR.c.processed.is_(False))))
        updates, records = [], set()
        for line_no, rec, data in conn.execute(q).all():
            values = json.loads(data)
            old = values[i]
            if old is None:
                continue
            new = pattern.sub(lambda _m: replacement, str(old))
            if new != str(old):
                values[i] = new
                updates.append({"s": name, "l": line_no,
                                "d": dump_row(values)})
                records.add(rec)
        if updates:
            from sqlalchemy import bindparam

            conn.execute(update(PL).where(and_(PL.c.scenario == bindparam("s"),
                                               PL.c.line_no == bindparam("l")))
                         .values(data=bindparam("d")), updates)
            conn.execute(update(PR).where(and_(PR.c.scenario == name,
                                               PR.c.record_no.in_(sorted(records))))
                         .values(error=None, error_field=None, error_stage=None))
        changed = len(updates)
    return changed


def _records_of(conn, name: str, lines: list[int] | None) -> list[int] | None:
    if lines is None:
        return None
    return sorted({r for (r,) in conn.execute(select(PL.c.record_no).where(
        _lines_filter(name, lines)))})


def _set_flag(ws: Workspace, name: str, lines: list[int] | None, **values: Any) -> int:
    _for_edit(ws, name)
    with _edit_lock(ws, name), ws.transaction() as conn:
        _columns(conn, name)
        recs = _records_of(conn, name, lines)
        cond = PR.c.scenario == name
        if recs is not None:
            cond = and_(cond, PR.c.record_no.in_(recs))
        return conn.execute(update(PR).where(cond).values(**values)).rowcount


def toggle_active(ws: Workspace, name: str, lines: list[int] | None = None) -> int:
    """Flip Active on the records of the given lines (all when None); returns how many."""
    return _set_flag(ws, name, lines, active=~PR.c.active)


def set_active_lines(ws: Workspace, name: str, lines: list[int] | None, active: bool) -> int:
    return _set_flag(ws, name, lines, active=active)


def clear_active_until_error(ws: Workspace, name: str) -> int:
    """Clear Active on the unprocessed records before the first record with an error,
    so the next import starts at that record."""
    _for_edit(ws, name)
    with _edit_lock(ws, name), ws.transaction() as conn:
        _columns(conn, name)
        first = conn.execute(select(func.min(PR.c.record_no)).where(and_(
            PR.c.scenario == name, PR.c.error.is_not(None)))).scalar()
        if first is None:
            return 0
        return conn.execute(update(PR).where(and_(
            PR.c.scenario == name, PR.c.record_no < first, PR.c.processed.is_(False)))
            .values(active=False)).rowcount


def toggle_processed(ws: Workspace, name: str, lines: list[int]) -> tuple[int, str]:
    """Flip Processed on the records of the given lines. Returns (count, warning)."""
    _for_edit(ws, name)
    with _edit_lock(ws, name), ws.transaction() as conn:
        _columns(conn, name)
        recs = _records_of(conn, name, lines) or []
        n = conn.execute(update(PR).where(and_(PR.c.scenario == name,
                                               PR.c.record_no.in_(recs)))
                         .values(processed=~PR.c.processed)).rowcount
        unmarked = conn.execute(select(PR.c.key).where(and_(
            PR.c.scenario == name, PR.c.record_no.in_(recs), PR.c.processed.is_(False)))).all()
        # A record marked not processed must also leave the exactly-once ledger, or the
        # next import would skip it as already imported.
        for (key,) in unmarked:
            if key:
                conn.execute(delete(db.import_ledger).where(and_(
                    db.import_ledger.c.scenario == name,
                    db.import_ledger.c.doc_key == doc_key(key))))
    warning = ("warning: a record marked not processed is imported again by the next import; "
               "if it is in the ERP already, that can create a second document")
    return n, warning


def clear_errors(ws: Workspace, name: str, lines: list[int] | None = None) -> int:
    return _set_flag(ws, name, lines, error=None, error_field=None, error_stage=None)
