"""One run per scenario at a time: a lock in the database, released when its holder dies.

PostgreSQL: a session advisory lock on a dedicated connection (the server drops it when
the connection or process goes). SQLite: a row in ``mk_lock`` naming host and pid; a row
whose process no longer exists is taken over.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
from contextlib import contextmanager

from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from .. import db
from ..errors import LockedError
from ..workspace import Workspace


def _alive(host: str, pid: int) -> bool:
    if host != socket.gethostname():
        return True  # cannot tell: assume it runs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _key(scenario: str) -> int:
    return int.from_bytes(hashlib.sha256(scenario.encode()).digest()[:8], "big", signed=True)


@contextmanager
def scenario_lock(ws: Workspace, scenario: str, action: str):
    """Hold the scenario's lock for the duration of a prepare, import or export."""
    if ws.engine.dialect.name == "postgresql":
        conn = ws.engine.connect()
        try:
            got = conn.execute(text("select pg_try_advisory_lock(:k)"),
                               {"k": _key(scenario)}).scalar()
            conn.commit()
            if not got:
                raise LockedError(f"scenario {scenario!r} is being run by another process; "
                                  "try again when it has finished", scenario=scenario)
            yield
        finally:
            try:
                conn.execute(text("select pg_advisory_unlock_all()"))
                conn.commit()
            finally:
                conn.close()
        return
    me = f"{ws.user}:{action}"
    host, pid = socket.gethostname(), os.getpid()
    for _ in range(2):
        try:
            with ws.transaction() as conn:
                conn.execute(insert(db.lock).values(
                    scenario=scenario, holder=me, pid=pid, host=host,
                    acquired=dt.datetime.now().replace(microsecond=0)))
            break
        except IntegrityError:
            with ws.transaction() as conn:
                row = conn.execute(select(db.lock).where(db.lock.c.scenario == scenario)
                                   ).mappings().first()
                if row and _alive(row["host"], row["pid"]):
                    raise LockedError(
                        f"scenario {scenario!r} is being run ({row['holder']}, pid "
                        f"{row['pid']} on {row['host']} since {row['acquired']}); try again "
                        "when it has finished", scenario=scenario) from None
                conn.execute(delete(db.lock).where(db.lock.c.scenario == scenario))
    try:
        yield
    finally:
        with ws.transaction() as conn:
            conn.execute(delete(db.lock).where((db.lock.c.scenario == scenario)
                                               & (db.lock.c.pid == pid)))
