"""History of scenario runs: every prepare, import, export and roll back is written down."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from .. import db
from ..workspace import Workspace


def now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def start(conn: Connection, scenario: str, action: str, user: str,
          file_version: int | None = None) -> int:
    res = conn.execute(insert(db.history).values(
        scenario=scenario, action=action, started=now(), user=user,
        file_version=file_version, status="running"))
    return res.inserted_primary_key[0]


def finish(conn: Connection, run_id: int, *, status: str, counts: dict[str, Any],
           first_error: str | None = None) -> None:
    conn.execute(update(db.history).where(db.history.c.id == run_id).values(
        ended=now(), status=status, counts=counts, first_error=first_error))


def interrupt_running(conn: Connection, scenario: str) -> int:
    """Mark the scenario's ``running`` runs ``interrupted`` (their process is gone)."""
    return conn.execute(update(db.history).where(
        (db.history.c.scenario == scenario) & (db.history.c.status == "running"))
        .values(status="interrupted", ended=now(),
                first_error="the process running it stopped (killed or crashed) before it "
                            "finished")).rowcount


def entries(ws: Workspace, scenario: str) -> list[dict[str, Any]]:
    with ws.connect() as conn:
        rows = conn.execute(select(db.history).where(db.history.c.scenario == scenario)
                            .order_by(db.history.c.id)).mappings().all()
    return [dict(r) for r in rows]


def clear(conn: Connection, scenario: str) -> int:
    return conn.execute(delete(db.history).where(db.history.c.scenario == scenario)).rowcount
