"""Parallel import: N worker processes share one import run (PostgreSQL; SQLite below).

The run is planned first: its records (Active, not processed) cut into batches of
``batch_size`` in record order, one row each in ``mk_import_batch``. A worker claims the
lowest open batch with ``SELECT ... FOR UPDATE SKIP LOCKED`` and keeps that row lock for
its whole transaction, which is the batch's transaction: if the worker dies, the server
rolls it back and drops the lock, and the batch is open for the next worker to claim.

In the transaction, a worker first reads the batch's lines, maps its documents and checks
the target restrictions and (where they do not read the window's own stored documents, see
``ERPStore.prechecks``) the window's rules, and binds the checked documents' lines for the
database (``ERPStore.bind_lines``): that is most of the work, and it runs while the batches
before are being saved. Then it waits for its turn: ``FOR SHARE`` on the batch
before it returns when that batch's transaction has ended. If that batch is done, this one
saves (ledger, window rules, automatic numbers, documents, Processed flags and ledger
entries) and commits; so batches commit in record order, and a run with workers gives the
ERP, numbers, errors and summary of a serial run. If the batch before is still open (its
worker died, or let it go), this worker lets its own go and claims again, which gives it
the lowest open batch. If the batch before stopped on a record error (break on error),
the worker leaves without saving: no record after the failing one is imported.

The ERP's own "parallel processing" option ignores break on error; this one keeps it.

``workers: auto``, the scenario's default, takes :data:`AUTO_WORKERS` processes for a run
with :data:`AUTO_MIN_LINES` prepared lines or more to import (:func:`auto_workers`), one
otherwise.

Every worker checks, in its batch transaction, that the run is still ``running`` (``FOR
SHARE`` on its history row): a run marked interrupted (its starter died and another command
took the scenario's lock) takes no more batches.

SQLite has no row locks and one writer at a time, so there the claim is an exclusive
``flock`` on the batch's file in :func:`claims_dir` (dropped by the kernel when the worker
dies), the waiting for the batch before is a shared ``flock`` on that batch's file, and
the reading, mapping and checking run outside the save's ``BEGIN IMMEDIATE`` transaction
(see ``Worker._one_batch_sqlite``). Its workers are processes of one machine.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, select, update

from .. import db
from ..errors import BadInputError, RecordError
from ..scenarios.model import Scenario
from ..workspace import Workspace
from .collection import fewer_collections
from .import_ import PR, Importer, ImportSummary, pending, pending_records
from .progress import progress_bar

try:
    import fcntl
except ImportError:  # Windows: no flock, so no parallel workers on SQLite
    fcntl = None  # type: ignore[assignment]

B = db.import_batch
P = db.parallel_run
POLL = 0.2  # seconds between looks while other workers hold the batches


class _Again(Exception):
    """The batch before this one is open and nobody holds it: claim again."""


def parallel_allowed(ws: Workspace) -> bool:
    """Whether the workspace's database takes parallel workers: PostgreSQL, or SQLite
    where the system has file locks to claim batches with."""
    name = ws.db_engine.dialect.name
    return name == "postgresql" or (name == "sqlite" and fcntl is not None)


def refuse_unless_parallel(ws: Workspace, workers: int, what: str | None = None) -> None:
    name = ws.db_engine.dialect.name
    if workers > 1 and not parallel_allowed(ws):
        why = ("SQLite here: this system has no file locks (flock) to claim batches with"
               if name == "sqlite" else f"{name} ({ws.db_url.split('://')[0]})")
        raise BadInputError(
            f"{what or f'workers: {workers}'} needs PostgreSQL, or SQLite on a system with "
            f"file locks; this workspace's database is {why}. Import with workers 1, or set "
            "the workspace's database to a PostgreSQL URL (migration.yaml: database)")


# ``workers: auto`` takes a second process from this many prepared lines to import: below
# it, starting one (the interpreter, the libraries, the workspace: about 0.4 s) costs more
# than it saves; paired runs broke even between 50,000 and 100,000 lines on both databases
# (bench/README.md, "workers: auto").
AUTO_MIN_LINES = 100_000
AUTO_WORKERS = 2  # one saves while the other reads, maps and checks (SQLite: one writer)


def auto_workers(ws: Workspace, scenario: str, validate_only: bool = False
                 ) -> tuple[int, str | None]:
    """``workers: auto``: how many processes this run takes, and the note that says why
    (None when it takes one for want of work, the plain case)."""
    if validate_only or not parallel_allowed(ws):
        return 1, None
    with ws.connect() as conn:
        lines = conn.execute(select(func.coalesce(func.sum(func.coalesce(
            PR.c.line_count, PR.c.last_line - PR.c.first_line + 1)), 0))
            .where(pending(scenario))).scalar_one()
    if lines < AUTO_MIN_LINES:
        return 1, None
    cores = os.cpu_count() or 1
    if cores < 2:
        return 1, (f"workers auto: 1 ({lines:,} lines to import, but this machine has "
                   "1 core)")
    return AUTO_WORKERS, (f"workers auto: {AUTO_WORKERS} ({lines:,} lines to import, "
                          f"{AUTO_MIN_LINES:,} or more; {cores} cores)")


def worker_name() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


class Worker:
    """One worker of a parallel run: claims batches until none is left to claim."""

    def __init__(self, ws: Workspace, sc: Scenario, run_id: int, options: dict[str, Any],
                 importer: Importer | None = None):
        self.ws, self.sc, self.run_id = ws, sc, run_id
        imp = importer
        if imp is None:  # a worker that joins: the run's options, what prepare wrote down
            imp = Importer(ws, sc, options.get("continue_on_error"), False,
                           options.get("batch_size"), False)
            with ws.connect() as conn:
                imp.read_state(conn)
            imp.run_id = run_id
        imp.precheck = ws.store.prechecks(sc.window, sc.mode)
        self.importer = imp
        # selectors into the window itself read what other workers saved: fresh each batch
        self.self_selectors = ws.store.selects_itself(sc.window)
        self.name = f"{ws.user}: {worker_name()}"
        self.batches = 0
        self._lookup = None
        self.sqlite = ws.db_engine.dialect.name == "sqlite"
        self.claims = claims_dir(ws, run_id) if self.sqlite else None

    @fewer_collections()
    def work(self, *, on_batch: Callable[[], None] | None = None,
             keep_going: Callable[[], bool] = lambda: True) -> None:
        while keep_going():
            try:
                done = self._one_batch()
            except _Again:  # rolled back: nothing of this batch was written
                time.sleep(POLL / 4)
                continue
            if done is None:
                return
            self.batches += 1
            if on_batch is not None:
                on_batch()
            if done == "stopped":
                return

    def _one_batch(self) -> str | None:
        """Claim, map, wait for the turn, save, mark: None when there is nothing to do."""
        if self.sqlite:
            return self._one_batch_sqlite()
        with self.ws.transaction() as conn:
            return self._one_batch_pg(conn)

    def _one_batch_pg(self, conn) -> str | None:
        """:meth:`_one_batch` on PostgreSQL, in one transaction that holds the batch's row
        lock from the claim to the commit."""
        run = self.run_id
        b = conn.execute(select(B).where(and_(B.c.run_id == run, B.c.state == "open"))
                         .order_by(B.c.batch_no).limit(1)
                         .with_for_update(skip_locked=True)).mappings().first()
        if b is None or not self._alive(conn):
            return None
        if conn.execute(select(func.count()).select_from(B).where(and_(
                B.c.run_id == run, B.c.state == "stopped"))).scalar_one():
            return None  # break on error: a batch before stopped the run
        imp = self.importer
        recs = pending_records(conn, self.sc.name, b["first_record"], b["last_record"])
        if self._lookup is None:
            self._lookup = imp.new_lookup(conn)
        lookup = self._lookup
        lookup.conn = conn
        items = imp.map_batch(conn, recs, eager=True) if recs else []
        if b["batch_no"] > 0:
            before = conn.execute(select(B.c.state).where(and_(
                B.c.run_id == run, B.c.batch_no == b["batch_no"] - 1))
                .with_for_update(read=True)).scalar_one()
            if before == "stopped":
                return None
            if before != "done":
                raise _Again()
        return self._save(conn, b["batch_no"], items, lookup)

    def _one_batch_sqlite(self) -> str | None:
        """:meth:`_one_batch` on SQLite, where one connection writes at a time and a
        transaction holds no row locks. A batch is claimed with an exclusive ``flock`` on
        its file in :func:`claims_dir` (the kernel drops it when the worker dies, as
        PostgreSQL drops a dead worker's row lock); its records are read, mapped and
        checked outside any write transaction (WAL: readers never wait for the writer),
        then the worker waits for the batch before it (a shared ``flock`` on its file
        returns when its holder has committed or died) and saves in a ``BEGIN IMMEDIATE``
        transaction, which holds the write lock from its first statement."""
        run = self.run_id
        imp = self.importer
        with self.ws.connect() as conn:
            if not self._alive(conn):
                return None
            states = conn.execute(select(B.c.batch_no, B.c.state)
                                  .where(B.c.run_id == run).order_by(B.c.batch_no)).all()
            if any(st == "stopped" for _, st in states):
                return None  # break on error: a batch before stopped the run
            claim = None
            for batch_no, st in states:
                if st == "open":
                    claim = _try_claim(self.claims, batch_no)
                    if claim is not None:
                        break
            if claim is None:
                conn.rollback()
                return None
            try:
                # taken between the look and the claim: its holder committed it meanwhile
                b = conn.execute(select(B).where(and_(B.c.run_id == run,
                                                      B.c.batch_no == batch_no))
                                 ).mappings().one()
                if b["state"] != "open":
                    raise _Again()
                recs = pending_records(conn, self.sc.name, b["first_record"],
                                       b["last_record"])
                if self._lookup is None:
                    self._lookup = imp.new_lookup(conn)
                lookup = self._lookup
                lookup.conn = conn
                items = imp.map_batch(conn, recs, eager=True) if recs else []
                conn.rollback()  # the reads end here: the save sees what was committed since
                if batch_no > 0:
                    _wait_for(self.claims, batch_no - 1)
                    before = conn.execute(select(B.c.state).where(and_(
                        B.c.run_id == run, B.c.batch_no == batch_no - 1))).scalar_one()
                    conn.rollback()
                    if before == "stopped":
                        return None
                    if before != "done":  # its worker died or let it go
                        raise _Again()
                with self.ws.transaction() as wconn:
                    wconn.exec_driver_sql("BEGIN IMMEDIATE")
                    if not self._alive(wconn):
                        return None
                    lookup.conn = wconn
                    return self._save(wconn, b["batch_no"], items, lookup)
            finally:
                claim.close()  # after the commit: the next batch's worker may save

    def _save(self, conn, batch_no: int, items, lookup) -> str:
        """Save and mark a mapped batch, and mark the batch done or stopped (the caller's
        transaction, the batch before it committed)."""
        imp, run = self.importer, self.run_id
        if self.self_selectors:
            lookup.rows.pop(self.sc.window, None)
        s = imp.summary
        counts0 = (s.imported, s.updated, s.failed, s.skipped)
        stop = False
        while items and not stop:  # a document twice (upsert): the rest after the first
            stop, items = imp.commit_batch(conn, items, lookup)
        imported, updated, failed, skipped = (
            a - b0 for a, b0 in zip((s.imported, s.updated, s.failed, s.skipped), counts0))
        state = "stopped" if stop else "done"
        conn.execute(update(B).where(and_(B.c.run_id == run, B.c.batch_no == batch_no))
                     .values(state=state, worker=self.name, imported=imported,
                             updated=updated, failed=failed, skipped=skipped,
                             stop_record=s.stopped.record if stop and s.stopped else None))
        return state

    def _alive(self, conn) -> bool:
        status = conn.execute(select(db.history.c.status).where(db.history.c.id == self.run_id)
                              .with_for_update(read=True)).scalar()
        return status == "running"


def claims_dir(ws: Workspace, run_id: int) -> Path:
    """SQLite: the folder of a parallel run's batch claims, one file per batch."""
    return ws.path(".locks", f"run-{run_id}")


def _try_claim(folder: Path, batch_no: int) -> Any:
    """The batch's claim file, locked exclusively; None when another worker holds it."""
    f = open(folder / f"{batch_no}.lock", "a+b")  # noqa: SIM115 - held until the commit
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def _wait_for(folder: Path, batch_no: int) -> None:
    """Until no worker holds the batch's claim (it committed, let it go, or died)."""
    with open(folder / f"{batch_no}.lock", "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_SH)


def plan(conn, scenario: str, run_id: int, batch_size: int) -> tuple[int, int]:
    """Cut the run's records into batches in record order; (records, batches)."""
    conn.execute(delete(B).where(B.c.scenario == scenario))  # rows of dead runs
    conn.execute(delete(P).where(P.c.scenario == scenario))
    numbered = select(PR.c.record_no, func.row_number().over(
        order_by=PR.c.record_no).label("rn")).where(pending(scenario)).subquery()
    group = ((numbered.c.rn - 1) // batch_size).label("batch_no")
    conn.execute(insert(B).from_select(
        ["run_id", "batch_no", "scenario", "first_record", "last_record", "records", "state"],
        select(literal(run_id), group, literal(scenario), func.min(numbered.c.record_no),
               func.max(numbered.c.record_no), func.count(), literal("open"))
        .group_by(group)))
    return conn.execute(select(func.coalesce(func.sum(B.c.records), 0), func.count())
                        .where(B.c.run_id == run_id)).one()


def run_parallel(ws: Workspace, sc: Scenario, *, workers: int,
                 continue_on_error: bool | None, batch_size: int | None,
                 progress: bool, note: str | None = None) -> ImportSummary:
    """An import run with ``workers`` processes: this one and ``workers - 1`` started here
    (``migration-kit worker``); others may join from other machines. The caller holds the
    scenario's lock."""
    imp = Importer(ws, sc, continue_on_error, False, batch_size, False)
    options = {"continue_on_error": continue_on_error, "batch_size": imp.batch_size}
    with ws.transaction() as conn:
        run = imp.start(conn)
        total, _batches = plan(conn, sc.name, run, imp.batch_size)
        conn.execute(insert(P).values(run_id=run, scenario=sc.name,
                                      options=json.dumps(options), workers=workers))
        sqlite = ws.db_engine.dialect.name == "sqlite"
        if sqlite:  # there before the plan is seen
            claims_dir(ws, run).mkdir(parents=True, exist_ok=True)
    me = Worker(ws, sc, run, options, imp)
    children: list[tuple[subprocess.Popen, Any]] = []
    bar = progress_bar(progress, total=total, desc=f"import {sc.name} ({workers} workers)",
                       unit="records")

    shown = [0]

    def show() -> None:
        with ws.connect() as conn:
            n = conn.execute(select(func.coalesce(func.sum(B.c.records), 0)).where(and_(
                B.c.run_id == run, B.c.state != "open"))).scalar_one()
        bar.update(n - shown[0])
        shown[0] = n

    try:
        children = [_spawn(ws, sc.name, run) for _ in range(workers - 1)]
        while True:
            me.work(on_batch=show)  # and again for batches a worker that died left open
            # done when every batch is committed (or one stopped the run): a worker that
            # joined from elsewhere may still hold one when this process has none to claim
            if all(p.poll() is not None for p, _ in children) and not _unfinished(ws, run):
                break
            time.sleep(POLL)
            show()
    except BaseException as e:
        for p, _ in children:
            if p.poll() is None:
                p.terminate()
        for p, _ in children:
            p.wait()
        imp.failed(e)
        raise
    finally:
        bar.close()
        if sqlite:
            shutil.rmtree(claims_dir(ws, run), ignore_errors=True)
    notes = [_exit_note(p, err) for p, err in children if p.returncode != 0]
    for _, err in children:
        err.close()
    with ws.transaction() as conn:
        summary = _summarise(conn, imp, run)
        by_worker = conn.execute(select(B.c.worker, func.count()).where(and_(
            B.c.run_id == run, B.c.state != "open")).group_by(B.c.worker)
            .order_by(B.c.worker)).all()
        summary.worker_notes = ([note] if note else []) + [
            f"{workers} workers; batches committed: " + ", ".join(
                f"{w} {n}" for w, n in by_worker)] + notes
        # the plan stays as the run's record until the scenario's next parallel run
        return imp.finish(conn)


def _unfinished(ws: Workspace, run: int) -> bool:
    """Batches of the run still open, and none stopped it."""
    with ws.connect() as conn:
        states = {r[0] for r in conn.execute(select(B.c.state).where(B.c.run_id == run)
                                             .distinct())}
    return "open" in states and "stopped" not in states


def _summarise(conn, imp: Importer, run: int) -> ImportSummary:
    """The run's counts from its batches; its errors and stop from the prepared records
    (committed batches are a prefix of the run: everything up to the last is attempted)."""
    s = imp.summary
    rows = conn.execute(select(B).where(and_(B.c.run_id == run, B.c.state != "open"))
                        .order_by(B.c.batch_no)).mappings().all()
    s.imported = sum(r["imported"] or 0 for r in rows)
    s.updated = sum(r["updated"] or 0 for r in rows)
    s.failed = sum(r["failed"] or 0 for r in rows)
    s.skipped = sum(r["skipped"] or 0 for r in rows)
    s.stopped = None
    s.errors = []
    if not rows:
        return s
    last = rows[-1]
    upto = last["stop_record"] if last["state"] == "stopped" else last["last_record"]
    errs = conn.execute(select(PR.c.first_line, PR.c.record_no, PR.c.key, PR.c.error_field,
                               PR.c.error).where(and_(
                                   pending(imp.sc.name), PR.c.error.is_not(None),
                                   PR.c.record_no <= upto)).order_by(PR.c.record_no)
                        .limit(1000)).all()
    s.errors = [{"line": e.first_line, "record": e.record_no, "key": e.key,
                 "field": e.error_field, "message": e.error} for e in errs]
    if last["state"] == "stopped":
        e = next(x for x in s.errors if x["record"] == upto)
        s.stopped = RecordError(e["message"], scenario=imp.sc.name, line=e["line"],
                                record=e["record"], key=e["key"], field_name=e["field"])
    return s


def _spawn(ws: Workspace, scenario: str, run: int):
    err = tempfile.TemporaryFile()
    env = {**os.environ, "MIGRATION_KIT_DB": ws.db_url, "MIGRATION_KIT_USER": ws.user}
    p = subprocess.Popen(
        [sys.executable, "-m", "migration_kit.cli", "--workspace", str(ws.root), "--json",
         "worker", scenario, "--run", str(run), "--parent", str(os.getpid())],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    return p, err


def _exit_note(p: subprocess.Popen, err) -> str:
    err.seek(0)
    tail = err.read()[-500:].decode("utf-8", "replace").strip()
    how = (f"was killed (signal {-p.returncode})" if p.returncode < 0
           else f"ended with exit code {p.returncode}")
    return (f"worker pid {p.pid} {how}; its batch was taken over by another worker"
            + (f": {tail}" if tail else ""))


@dataclass
class JoinResult:
    run_id: int
    batches: int  # the batches this worker committed


def join(ws: Workspace, sc: Scenario, run: int | None = None, parent: int | None = None,
         wait: float = 0, on_wait: Callable[[], None] | None = None) -> JoinResult | None:
    """``migration-kit worker``: work on the scenario's running parallel import (or on run
    ``run``) until no batch is left to claim; None when none is running (after waiting up
    to ``wait`` seconds for one to start; ``on_wait`` is called once when the waiting
    starts, the database reached). ``parent``: a worker started by an import stops when
    that process is gone."""
    refuse_unless_parallel(ws, 2, "a parallel import worker")
    q = (select(P.c.run_id, P.c.options).join(db.history, db.history.c.id == P.c.run_id)
         .where(and_(P.c.scenario == sc.name, db.history.c.status == "running")))
    if run is not None:
        q = q.where(P.c.run_id == run)
    end = time.monotonic() + wait
    while True:
        with ws.connect() as conn:
            found = conn.execute(q.order_by(P.c.run_id.desc()).limit(1)).first()
        if found is not None or time.monotonic() >= end:
            break
        if on_wait is not None:
            on_wait()
            on_wait = None
        time.sleep(POLL)
    if found is None:
        return None
    w = Worker(ws, sc, found.run_id, json.loads(found.options))
    w.work(keep_going=(lambda: os.getppid() == parent) if parent else (lambda: True))
    return JoinResult(found.run_id, w.batches)
