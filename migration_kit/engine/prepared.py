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
from ..scenarios.model import Scenario, load_scenario
from ..workspace import Workspace
from . import history
from .lock import scenario_lock

PR = db.prepared_record
PL = db.prepared_line


def _scenario(ws: Workspace, name: str, right: str = "edit") -> Scenario:
    sc = load_scenario(ws, name, check=False)
    ws.require(sc.window, right)
    return sc


def _columns(conn, name: str) -> list[str]:
    cols = conn.execute(select(db.scenario_state.c.columns).where(
        db.scenario_state.c.scenario == name)).scalar()
    if cols is None:
        raise BadInputError(f"scenario {name!r} has no prepared data: run prepare first")
    return cols


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

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def lines(ws: Workspace, name: str, *, errors_only: bool = False, offset: int = 0,
          limit: int | None = 100) -> list[PreparedLine]:
    """A page of prepared lines with their record's flags (paged from the database)."""
    _scenario(ws, name)
    with ws.connect() as conn:
        cols = _columns(conn, name)
        q = (select(PL.c.line_no, PL.c.record_no, PL.c.source_line, PL.c.data, PR.c.active,
                    PR.c.processed, PR.c.error, PR.c.error_field)
             .join(PR, and_(PR.c.scenario == PL.c.scenario, PR.c.record_no == PL.c.record_no))
             .where(PL.c.scenario == name).order_by(PL.c.line_no).offset(offset))
        if errors_only:
            q = q.where(PR.c.error.is_not(None))
        if limit is not None:
            q = q.limit(limit)
        return [PreparedLine(r.line_no, r.record_no, r.source_line, r.active, r.processed,
                             r.error, r.error_field, dict(zip(cols, json.loads(r.data))))
                for r in conn.execute(q)]


def counts(ws: Workspace, name: str) -> dict[str, int]:
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
    return {"records": total or 0, "lines": n_lines, "active": int(active or 0),
            "processed": int(processed or 0), "errors": int(errors or 0), "todo": todo}


def _int(expr):
    from sqlalchemy import Integer, case

    return case((expr, 1), else_=0).cast(Integer)


def status(ws: Workspace, name: str) -> str:
    """New, Prepared, Partially processed or Processed (export: ... exported)."""
    sc = _scenario(ws, name, "view")
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
    """Correct one prepared value; the record's error is cleared for the next import."""
    _scenario(ws, name)
    with ws.transaction() as conn:
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
        data = json.loads(conn.execute(select(PL.c.data).where(and_(
            PL.c.scenario == name, PL.c.line_no == line))).scalar())
        data[cols.index(field_name)] = value
        conn.execute(update(PL).where(and_(PL.c.scenario == name, PL.c.line_no == line))
                     .values(data=json.dumps(data, ensure_ascii=False)))
        conn.execute(update(PR).where(and_(PR.c.scenario == name, PR.c.record_no == rec))
                     .values(error=None, error_field=None))


def set_active(ws: Workspace, name: str, line: int, active: bool) -> int:
    """Set or clear Active on the record of a prepared line; returns the record number."""
    _scenario(ws, name)
    with ws.transaction() as conn:
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
