"""One run per scenario at a time: a lock that is released when its holder dies.

PostgreSQL: a session advisory lock on a dedicated connection (the server drops it when
the connection or process goes).

SQLite: an exclusive ``flock`` on ``WORKSPACE/.locks/SCENARIO.lock`` (the kernel drops it
when the process dies, however it dies). It is not a row in the database on purpose: a
prepare holds SQLite's single write lock for its whole transaction, so a second run that
tried to write a lock row would wait (up to the busy timeout) and then fail with "database
is locked" instead of being refused at once. The file names the holder (user, action, pid,
host, since) for the refusal message and is removed when the run ends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ..errors import LockedError
from ..workspace import Workspace

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def _key(scenario: str) -> int:
    return int.from_bytes(hashlib.sha256(scenario.encode()).digest()[:8], "big", signed=True)


def _refused(scenario: str, holder: str = "") -> LockedError:
    who = f" ({holder})" if holder else " by another process"
    return LockedError(f"scenario {scenario!r} is being run{who}; try again when it has "
                       "finished", scenario=scenario)


def _holder_text(ws: Workspace, action: str) -> str:
    since = dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")
    return f"{ws.user}: {action}, pid {os.getpid()} on {socket.gethostname()} since {since}"


@contextmanager
def scenario_lock(ws: Workspace, scenario: str, action: str):
    """Hold the scenario's lock for the duration of a prepare, import, export, roll back or
    prepared-data edit: every write to its prepared data, ledger and history.

    Raises :class:`LockedError` at once (no waiting) when another run holds it, naming who
    holds it since when. A run left ``running`` in the history by a process that died is
    marked ``interrupted`` here: whoever gets the lock knows no such run is alive.
    """
    if ws.db_engine.dialect.name == "postgresql":
        cm = _advisory_lock(ws, scenario, action)
    else:
        cm = _file_lock(ws, scenario, action)
    with cm:
        mark_interrupted(ws, scenario)
        yield


def mark_interrupted(ws: Workspace, scenario: str) -> int:
    """Runs of ``scenario`` still ``running`` in the history: their process died (the caller
    holds the lock). Marked ``interrupted``; returns how many."""
    from . import history

    with ws.transaction() as conn:
        return history.interrupt_running(conn, scenario)


def settle_runs(ws: Workspace, scenario: str) -> None:
    """For commands that only read a scenario: mark the runs of dead processes interrupted,
    when no live run holds the lock."""
    try:
        with scenario_lock(ws, scenario, "status"):
            pass
    except LockedError:
        pass


@contextmanager
def _advisory_lock(ws: Workspace, scenario: str, action: str):
    conn = ws.db_engine.connect()
    got = False
    try:
        holder = None
        for _ in range(20):
            got = bool(conn.execute(text("select pg_try_advisory_lock(:k)"),
                                    {"k": _key(scenario)}).scalar())
            conn.commit()
            if got:
                break
            # The holder writes its name just after taking the lock, and removes it just
            # before letting go: look for a moment, trying the lock again meanwhile.
            holder = conn.execute(text("select holder from mk_lock_holder where "
                                       "scenario = :s"), {"s": scenario}).scalar()
            conn.rollback()
            if holder:
                break
            time.sleep(0.025)
        if not got:
            raise _refused(scenario, holder or "")
        conn.execute(text("delete from mk_lock_holder where scenario = :s"), {"s": scenario})
        conn.execute(text("insert into mk_lock_holder (scenario, holder) values (:s, :h)"),
                     {"s": scenario, "h": _holder_text(ws, action)})
        conn.commit()
        yield
    finally:
        try:
            if got:
                conn.rollback()  # a statement of ours may have failed with the run
                conn.execute(text("delete from mk_lock_holder where scenario = :s"),
                             {"s": scenario})
                conn.execute(text("select pg_advisory_unlock(:k)"), {"k": _key(scenario)})
                conn.commit()
        except DBAPIError:
            conn.invalidate()  # a broken connection: the server dropped the lock with it
        finally:
            conn.close()


def _lock_path(ws: Workspace, scenario: str) -> Path:
    # Scenario names are checked names (letters, digits, '_', '.', '-'), safe as file names.
    folder = ws.path(".locks")
    folder.mkdir(exist_ok=True)
    return folder / f"{scenario}.lock"


def _try_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    import msvcrt  # pragma: no cover - Windows

    try:  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:  # pragma: no cover
        return False
    return True  # pragma: no cover


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return str(json.loads(os.read(fd, 4096).decode("utf-8") or "{}")["holder"])
    except (OSError, ValueError, KeyError, AttributeError):
        return ""


@contextmanager
def _file_lock(ws: Workspace, scenario: str, action: str):
    path = _lock_path(ws, scenario)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            holder = _holder(fd)
            os.close(fd)
            raise _refused(scenario, holder)
        # The previous holder may have removed the file between our open and our lock: then
        # we hold a lock on a file nobody else can see; start again on the current file.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"holder": _holder_text(ws, action)}).encode("utf-8"))
        yield
    finally:
        try:
            os.unlink(path)  # while still locked, so no one else can be holding it
        except FileNotFoundError:
            pass
        os.close(fd)
