"""Parallel import workers, on a real PostgreSQL server and on a real SQLite file: 2 and 4
workers give the ERP, the automatic numbers, the prepared data, the ledger, the errors and
the summary of a serial run; break on error stops at the same record; a worker killed at
any moment (one of them, or all) loses and doubles nothing, and the run, run again, ends
equal to a clean run; a batch held by another process is waited for."""

from __future__ import annotations

import csv
import json
import os
import random
import select as io_select
import signal
import subprocess
import time

import pytest
from sqlalchemy import create_engine, select, text

from migration_kit import api

from .helpers import (
    ROOT,
    check_processed_matches_erp,
    child_env,
    cli_command,
    digest,
    documents,
    dump_tables,
    invoice_scenario,
    make_invoices,
    master_workspace,
    new_db_url,
    run_cli,
    start_cli,
)

LINES = 9000  # about 3,000 invoices
BATCH = 40
SEED = int(os.environ.get("MK_KILL_SEED", "20240301"))
KILL_POINTS = int(os.environ.get("MK_KILL_POINTS", "5"))
# what a run leaves behind, compared between a serial and a parallel run (the history's
# times and the ledger's run ids differ by nature)
COMPARED = ("mk_prepared_record", "mk_import_ledger", "mk_numbering", "erp_ar301000")
SKIP = {"mk_import_ledger": {"run_id"}}
# a killed transaction still uses up the ids PostgreSQL's sequences gave it
KILLED_SKIP = {**SKIP, "erp_ar301000_document": {"_id"}, "erp_ar301000_line": {"_id", "_doc_id"}}


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def kind(request) -> str:
    """The database the workers share: a PostgreSQL server, or the workspace's SQLite file
    (batches claimed with file locks, saved one writer at a time)."""
    return request.param


def _db(request, tmp_path) -> str:
    kind = request.getfixturevalue("kind") if "kind" in request.fixturenames else "postgres"
    return new_db_url(kind, tmp_path, request)


def _engine(ws):
    return create_engine(ws.db_url.replace("postgresql://", "postgresql+psycopg://", 1))


def _bad_customers(path, every: int) -> None:
    """Every ``every``-th invoice gets a customer the ERP does not know."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    seen: dict[str, int] = {}
    for r in rows[1:]:
        n = seen.setdefault(r[0], len(seen) + 1)
        if n % every == 0:
            r[1] = "C999"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def _numbered_scenario(ws, name, file, **options):
    """The invoice number goes to ExternalRef (the key of the records); ReferenceNbr is
    left blank, so the ERP numbers the documents SI000001, ...: the same numbers in a
    parallel run only if its batches commit in record order."""
    columns = next(iter(csv.reader(open(file, encoding="utf-8"))))
    window = ws.windows.get("AR301000")
    mapping = {s: ("Document.ExternalRef" if t == "Document.ReferenceNbr" else t)
               for s, t in api.suggest_mapping(ws, window, columns).items() if t}
    return api.create_simplified(ws, name, file, "AR301000", mapping,
                                 keys=["Document.ExternalRef"],
                                 options={"batch_size": BATCH, **options})


def _workspace(tmp_path, request, label, file, numbered=True, **options):
    ws = master_workspace(tmp_path / label, _db(request, tmp_path))
    if numbered:
        _numbered_scenario(ws, "inv", file, **options)
    else:  # the invoice number is the document's number (check_processed_matches_erp)
        invoice_scenario(ws, "inv", file, batch_size=BATCH, options=options)
    api.prepare(ws, "inv", progress=False)
    return ws


def _outcome(ws, summary=None, skip=SKIP) -> dict:
    tables = dump_tables(ws, COMPARED, skip)
    out = {"tables": {k: digest(v) for k, v in tables.items()}, "documents": documents(ws)}
    if summary is not None:
        d = summary.to_dict()
        d.pop("worker_notes")
        d.pop("row_checked")  # counted per process: each worker's own (see ImportSummary)
        out["summary"] = d
    ws.dispose()
    return out


@pytest.mark.parametrize("workers", [2, 4])
def test_workers_give_the_serial_result(tmp_path, request, kind, workers):
    file = tmp_path / "invoices.csv"
    n = make_invoices(file, LINES)
    _bad_customers(file, 97)
    opts = {"break_on_error": False}
    ref = _workspace(tmp_path, request, "serial", file, **opts)
    serial = api.import_(ref, "inv", progress=False)
    assert serial.failed == n // 97 and serial.imported == n - n // 97
    expected = _outcome(ref, serial)
    ws = _workspace(tmp_path, request, "parallel", file, **opts)
    # a busy machine imports these 3,000 invoices before a worker the run starts is up
    # (under a second): one started before the run joins it at once (`worker --wait`)
    joiner = _ready_worker(ws)
    par = api.import_(ws, "inv", progress=False, workers=workers)
    out, err = joiner.communicate(timeout=300)
    assert joiner.returncode == 0, out + err[-2000:]
    assert len(par.worker_notes) == 1, par.worker_notes  # no worker died
    assert par.worker_notes[0].startswith(f"{workers} workers; batches committed: ")
    got = _outcome(ws, par)
    assert got["summary"] == expected["summary"]
    assert got["documents"] == expected["documents"]  # the same numbers SI000001...
    assert got["tables"] == expected["tables"]
    # the run's plan: every batch committed, by more than one worker
    with ws.connect() as conn:
        states = dict(conn.exec_driver_sql(
            "select state, count(*) from mk_import_batch group by state").all())
        by = conn.exec_driver_sql("select count(distinct worker) from mk_import_batch").scalar()
    assert states == {"done": -(-n // BATCH)}  # every record's batch
    assert by >= 2, f"one worker did all the batches: {par.worker_notes}"
    runs = api.history_of(ws, "inv")
    assert runs[-1]["status"] == "done" and runs[-1]["counts"]["imported"] == par.imported
    ws.dispose()


def test_workers_auto_takes_two_from_its_threshold(tmp_path, request, kind, monkeypatch):
    """``workers: auto``, the default: a second process from ``AUTO_MIN_LINES`` prepared
    lines to import (lowered here to this file's size), named in the summary; one line
    fewer, one process and no note. Both give the serial result."""
    import migration_kit.engine.workers as workers_mod

    file = tmp_path / "invoices.csv"
    make_invoices(file, 3000)
    lines = sum(1 for _ in open(file, encoding="utf-8")) - 1
    ref = _workspace(tmp_path, request, "serial", file, workers=1)
    expected = _outcome(ref, api.import_(ref, "inv", progress=False))
    two = 2 if (os.cpu_count() or 1) >= 2 else 1
    for label, threshold, notes in [
            ("below", lines + 1, []),
            ("at", lines, [f"workers auto: {two} ({lines:,} lines to import"])]:
        monkeypatch.setattr(workers_mod, "AUTO_MIN_LINES", threshold)
        ws = _workspace(tmp_path, request, label, file)  # no option workers: auto
        assert api.load_scenario(ws, "inv").workers == "auto"
        got = api.import_(ws, "inv", progress=False)
        assert [n[:len(e)] for n, e in zip(got.worker_notes, notes)] == notes, \
            got.worker_notes
        assert len(got.worker_notes) == len(notes) + (two > 1 and bool(notes)), \
            got.worker_notes
        if two > 1 and notes:
            assert got.worker_notes[1].startswith("2 workers; batches committed: ")
        assert str(got).count("workers auto") == len(notes)  # shown where a summary is
        outcome = _outcome(ws, got)
        assert outcome == expected, label


def test_break_on_error_stops_at_the_serial_record(tmp_path, request, kind):
    file = tmp_path / "invoices.csv"
    make_invoices(file, 3000)
    _bad_customers(file, 211)  # the first bad invoice is number 211, in batch 6
    ref = _workspace(tmp_path, request, "serial", file)
    serial = api.import_(ref, "inv", progress=False)
    assert serial.stopped is not None
    expected = _outcome(ref, serial)
    ws = _workspace(tmp_path, request, "parallel", file)
    par = api.import_(ws, "inv", progress=False, workers=3)
    assert par.stopped is not None
    assert (par.stopped.record, par.stopped.line, str(par.stopped)) == (
        serial.stopped.record, serial.stopped.line, str(serial.stopped))
    got = _outcome(ws, par)
    assert got == expected  # everything before the record imported, nothing after
    ws.dispose()


def _ready_worker(ws) -> subprocess.Popen:
    """`migration-kit worker inv --wait` started and waiting for a run: it has reached the
    workspace's database and says so on stderr."""
    proc = start_cli(ws.root, "worker", "inv", "--wait", "120")
    end = time.monotonic() + 60
    seen = b""  # read from the descriptor itself: a text buffer could hold the line back
    while time.monotonic() < end and proc.poll() is None:
        if io_select.select([proc.stderr], [], [], 0.5)[0]:
            seen += os.read(proc.stderr.fileno(), 65536)
            if b"waiting up to 120 s for a parallel import to start" in seen:
                return proc
    raise AssertionError("the worker did not start: " + seen.decode(errors="replace")
                         + "".join(proc.communicate()))


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def _processed(ws, prefix: str | None = None) -> int:
    """Processed records; a record is Processed iff its document is in the ERP (of the
    documents whose number starts with ``prefix``: this file version's)."""
    if prefix is None:
        n = check_processed_matches_erp(ws, "inv")["processed"]
    else:
        from migration_kit import db

        pr = db.prepared_record
        st = ws.store.summary_table("AR301000")
        with ws.connect() as conn:
            done = {r.key["Document.ReferenceNbr"] for r in conn.execute(
                select(pr.c.key).where(pr.c.scenario == "inv", pr.c.processed.is_(True)))}
            in_erp = {r[0] for r in conn.execute(select(st.c.ReferenceNbr).where(
                st.c.ReferenceNbr.startswith(prefix)))}
        assert done == in_erp, (sorted(done - in_erp)[:5], sorted(in_erp - done)[:5])
        n = len(done)
    ws.dispose()
    return n


def _wait_for_batches(engine, at_least: int, proc, timeout: float = 120) -> bool:
    """Wait until the running parallel import has committed ``at_least`` batches; False
    when the import ended first."""
    end = time.monotonic() + timeout
    q = text("select count(*) from mk_import_batch b join mk_history h on h.id = b.run_id "
             "where h.status = 'running' and b.state <> 'open'")
    while time.monotonic() < end and proc.poll() is None:
        with engine.connect() as conn:
            try:
                if conn.execute(q).scalar() >= at_least:
                    return True
            except Exception:  # noqa: BLE001 - the tables are not there yet
                pass
        time.sleep(0.05)
    return False


def _start_import(ws, workers: int) -> subprocess.Popen:
    # a process group of its own: "kill all" is the import and every worker it started
    return subprocess.Popen(cli_command(ws.root, "import", "inv", "--workers", str(workers)),
                            cwd=ROOT, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_killed_workers_lose_and_double_nothing(tmp_path, request, kind):
    """Per file version: kill all the processes of a running parallel import, then one
    worker of the next run (at seeded random moments, inside the run); the others take its
    batch over; the ERP ends equal to serial imports of the same versions, and Processed
    always matches the ERP."""
    rng = random.Random(f"{SEED}-workers")
    ref = master_workspace(tmp_path / "ref", _db(request, tmp_path))
    ws = master_workspace(tmp_path / "ws", _db(request, tmp_path))
    engine = _engine(ws)
    killed = {"all": 0, "one": 0}
    for r in range(max(2, KILL_POINTS // 2)):
        file = tmp_path / f"v{r}.csv"
        prefix = f"V{r}-"
        n = make_invoices(file, LINES, seed=r, prefix=prefix)
        for w in (ref, ws):
            if r == 0:
                invoice_scenario(w, "inv", file, batch_size=BATCH)
            else:
                api.upload_version(w, "inv", file)
            api.prepare(w, "inv", progress=False)
        assert api.import_(ref, "inv", progress=False).ok
        expected = _outcome(ref, skip=KILLED_SKIP)
        ws.dispose()
        done = [_processed(ws, prefix)]
        p = _start_import(ws, 3)
        if _wait_for_batches(engine, rng.randint(1, 12), p):
            os.killpg(p.pid, signal.SIGKILL)
            killed["all"] += 1
        p.communicate(timeout=300)
        done.append(_processed(ws, prefix))
        p = _start_import(ws, 3)
        if _wait_for_batches(engine, rng.randint(1, 12), p) and _children(p.pid):
            os.kill(rng.choice(_children(p.pid)), signal.SIGKILL)
            killed["one"] += 1
            out, err = p.communicate(timeout=300)
            # the others took the killed worker's batch over and finished the run
            assert p.returncode == 0, out + err[-2000:]
            assert "was killed (signal 9)" in out, out
        else:
            p.communicate(timeout=300)
        done.append(_processed(ws, prefix))
        final = run_cli(ws.root, "import", "inv", "--workers", "2", timeout=300)
        assert final.returncode == 0, final.stdout + final.stderr
        done.append(_processed(ws, prefix))
        assert done == sorted(done), f"a kill undid committed work: {done}"
        assert done[-1] == n
        assert _outcome(ws, skip=KILLED_SKIP) == expected, (
            f"version {r + 1}: not what serial imports give")
    engine.dispose()
    assert killed["all"] >= 1 and killed["one"] >= 1, killed
    runs = [h["status"] for h in api.history_of(ws, "inv") if h["action"] == "import"]
    assert "running" not in runs and runs[-1] == "done"
    assert runs.count("interrupted") >= killed["all"]
    ws.dispose()
    ref.dispose()


def test_a_worker_joins_from_the_command_line(tmp_path, request, kind):
    """`migration-kit worker` joins a running import (here killed inside a batch by the
    test hook, which another worker takes over), and says so when none is running."""
    file = tmp_path / "invoices.csv"
    n = make_invoices(file, LINES)
    ws = _workspace(tmp_path, request, "ws", file, numbered=False)
    ws.dispose()
    idle = run_cli(ws.root, "worker", "inv")
    assert idle.returncode == 0 and "no parallel import is running" in idle.stdout
    # started first, it waits for the import and joins it; killed inside a batch
    joined = start_cli(ws.root, "worker", "inv", "--wait", "60", hook="kill:stmt:40")
    main = subprocess.Popen(cli_command(ws.root, "import", "inv", "--workers", "2"),
                            cwd=ROOT, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    j_out, j_err = joined.communicate(timeout=300)
    assert joined.returncode == -9, j_out + j_err[-2000:]
    helper = run_cli(ws.root, "--json", "worker", "inv", timeout=300)
    assert helper.returncode == 0, helper.stderr[-2000:]
    out, err = main.communicate(timeout=300)
    assert main.returncode == 0, err[-2000:]
    assert _processed(ws) == n
    assert check_processed_matches_erp(ws, "inv")["processed"] == n
    ws.dispose()


def _hold(kind: str, engine, ws, running: str, run: int, batch_no: int):
    """Another process's hold on a batch of the run, as a worker of its own has it; returns
    how to let go. PostgreSQL: the batch's row lock; SQLite: the exclusive lock on its
    claim file."""
    if kind == "postgres":
        holder = engine.connect()
        held = holder.execute(text(f"select b.batch_no {running} and b.batch_no = :n "
                                   "for update of b skip locked"), {"n": batch_no}).scalar()
        assert held == batch_no  # the workers are still at the first batches
        return lambda: (holder.rollback(), holder.close())
    import fcntl

    claim = open(ws.root / ".locks" / f"run-{run}" / f"{batch_no}.lock", "a+b")  # noqa: SIM115
    fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the workers are at the first ones
    return claim.close


def test_the_import_waits_for_a_batch_held_elsewhere(tmp_path, request, kind):
    """A worker from elsewhere holds the last batch when this import has none left to
    claim: the import ends only when that batch is committed (here: taken over after the
    holder lets go, as when it dies), and its summary counts every record. On SQLite the
    run's claims folder is gone afterwards."""
    file = tmp_path / "invoices.csv"
    n = make_invoices(file, 3000)
    ws = _workspace(tmp_path, request, "ws", file, numbered=False)
    ws.dispose()
    main = subprocess.Popen(cli_command(ws.root, "--json", "import", "inv", "--workers", "2"),
                            cwd=ROOT, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    engine = _engine(ws)
    running = ("from mk_import_batch b join mk_history h on h.id = b.run_id "
               "where h.status = 'running'")
    end = time.monotonic() + 60
    found = None
    with engine.connect() as conn:
        while found is None and time.monotonic() < end:  # the plan is written
            found = conn.execute(text(f"select max(b.run_id), max(b.batch_no) {running}")
                                 ).first()
            found = found if found is not None and found[0] is not None else None
            conn.rollback()
    assert found is not None, "no parallel run started"
    run, last = found
    release = _hold(kind, engine, ws, running, run, last)
    with engine.connect() as conn:
        while time.monotonic() < end + 60:  # every other batch committed
            if conn.execute(text(f"select count(*) {running} and b.state = 'done'")
                            ).scalar() == last:
                break
            conn.rollback()
            time.sleep(0.1)
    time.sleep(1.5)
    assert main.poll() is None, "the import ended while a batch was still held"
    release()  # the holder lets go (or dies): the import takes the batch over
    out, err = main.communicate(timeout=120)
    assert main.returncode == 0, err[-2000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["imported"] == n and summary["remaining"] == 0, summary
    engine.dispose()
    assert _processed(ws) == n
    runs = api.history_of(ws, "inv")
    assert runs[-1]["status"] == "done" and runs[-1]["counts"]["imported"] == n
    assert not (ws.root / ".locks" / f"run-{run}").exists()
    ws.dispose()
