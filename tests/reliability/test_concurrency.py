"""Concurrency: one run per scenario at a time, refused at once with a clear LockedError
(CLI exit code 2); the lock goes with its holder when the holder is killed; different
scenarios run at the same time."""

from __future__ import annotations

import signal
import time

import pytest

from migration_kit import api
from migration_kit.errors import LockedError

from .helpers import (
    check_processed_matches_erp,
    dump_tables,
    invoice_scenario,
    json_error,
    make_invoices,
    master_workspace,
    run_cli,
    start_cli,
    wait_for_line,
)


def _workspace(tmp_path, db_url, lines=600):
    file = tmp_path / "invoices.csv"
    n = make_invoices(file, lines)
    ws = master_workspace(tmp_path / "ws", db_url)
    invoice_scenario(ws, "inv", file, batch_size=20)
    api.prepare(ws, "inv", progress=False)
    ws.dispose()
    return ws, n


def _assert_refused(ws, args, *, as_json=False):
    t = time.monotonic()
    res = run_cli(ws.root, *(["--json"] if as_json else []), *args)
    assert res.returncode == 2, res.stdout + res.stderr
    if as_json:
        err = json_error(res.stderr)
        assert err["error"] == "LockedError" and err["scenario"] == "inv"
    else:
        assert "scenario 'inv' is being run" in res.stderr
        assert "try again when it has finished" in res.stderr
    assert time.monotonic() - t < 20, "the second run waited instead of being refused"


@pytest.mark.parametrize("holder", ["import", "prepare"])
def test_second_run_refused_then_lock_released_when_holder_killed(tmp_path, db_url, holder):
    ws, n = _workspace(tmp_path, db_url)
    # import: paused between batches (after its first commit); prepare: paused inside its
    # one transaction, while it reads the file.
    proc = start_cli(ws.root, holder, "inv", hook="pause:progress:1")
    try:
        wait_for_line(proc, "MK-PAUSED")
        before = dump_tables(ws, ("erp_", "mk_prepared", "mk_import_ledger"))
        ws.dispose()
        _assert_refused(ws, ["import", "inv"])
        _assert_refused(ws, ["prepare", "inv"], as_json=True)
        for call in (api.import_, api.prepare, api.rollback):
            with pytest.raises(LockedError, match="scenario 'inv' is being run"):
                call(ws, "inv", **({} if call is api.rollback else {"progress": False}))
        assert dump_tables(ws, ("erp_", "mk_prepared", "mk_import_ledger")) == before
        ws.dispose()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    # The holder is gone, and so is its lock: a new run goes ahead and finishes the work.
    res = run_cli(ws.root, "import", "inv")
    assert res.returncode == 0, res.stdout + res.stderr
    c = check_processed_matches_erp(ws, "inv")
    assert c["processed"] == c["records"] == c["documents"] == n
    ws.dispose()


def test_two_scenarios_run_at_the_same_time(tmp_path, db_url):
    """Scenario A holds its lock (paused between two batches) while scenario B runs from
    start to end; then A finishes. Both complete and correct. (The brief asks this of
    PostgreSQL; with A paused between transactions it holds on SQLite as well.)"""
    a_file, b_file = tmp_path / "a.csv", tmp_path / "b.csv"
    n_a = make_invoices(a_file, 600, seed=1, prefix="INA-")
    n_b = make_invoices(b_file, 600, seed=2, prefix="INB-")
    ws = master_workspace(tmp_path / "ws", db_url)
    invoice_scenario(ws, "a", a_file, batch_size=20)
    invoice_scenario(ws, "b", b_file, batch_size=20)
    api.prepare(ws, "a", progress=False)
    api.prepare(ws, "b", progress=False)
    ws.dispose()
    resume = tmp_path / "resume-a"
    proc = start_cli(ws.root, "import", "a", hook="pause:progress:2", resume=resume)
    try:
        wait_for_line(proc, "MK-PAUSED")
        res = run_cli(ws.root, "import", "b")  # while A holds its lock
        assert res.returncode == 0, res.stdout + res.stderr
        resume.touch()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out + err
    docs = {d["Document"]["ReferenceNbr"] for d in api.list_documents(ws, "AR301000")}
    assert len([d for d in docs if d.startswith("INA-")]) == n_a
    assert len([d for d in docs if d.startswith("INB-")]) == n_b
    for name in ("a", "b"):
        c = api.counts(ws, name)
        assert c["processed"] == c["records"] and c["todo"] == 0
    ws.dispose()


def test_two_scenarios_started_together_on_postgres(tmp_path, request):
    """Two imports started at the same instant on PostgreSQL: both finish, both correct."""
    server = request.getfixturevalue("pg_server")
    url = server.create_database("t_together")
    a_file, b_file = tmp_path / "a.csv", tmp_path / "b.csv"
    n_a = make_invoices(a_file, 1500, seed=3, prefix="INA-")
    n_b = make_invoices(b_file, 1500, seed=4, prefix="INB-")
    ws = master_workspace(tmp_path / "ws", url)
    invoice_scenario(ws, "a", a_file, batch_size=20)
    invoice_scenario(ws, "b", b_file, batch_size=20)
    api.prepare(ws, "a", progress=False)
    api.prepare(ws, "b", progress=False)
    ws.dispose()
    procs = [start_cli(ws.root, "import", name) for name in ("a", "b")]
    results = [p.communicate(timeout=180) + (p.returncode,) for p in procs]
    for out, err, rc in results:
        assert rc == 0, out + err
    with ws.connect() as conn:
        assert ws.store.count(conn, "AR301000") == n_a + n_b
        assert ws.store.count(conn, "AR301000", "Line") == 3000
    for name in ("a", "b"):
        c = api.counts(ws, name)
        assert c["processed"] == c["records"] and c["todo"] == 0
    ws.dispose()


def test_four_imports_and_an_editor_at_once_on_postgres(tmp_path, request):
    """Four scenarios import at the same instant on PostgreSQL while a user edits the
    prepared data of a fifth, and tries to edit one of the four: no deadlock, no lost
    update, and every refusal is a clear LockedError naming the holder."""
    server = request.getfixturevalue("pg_server")
    url = server.create_database("t_four")
    ws = master_workspace(tmp_path / "ws", url)
    counts = {}
    for i, name in enumerate(("a", "b", "c", "d", "e")):
        f = tmp_path / f"{name}.csv"
        counts[name] = make_invoices(f, 800, seed=10 + i, prefix=f"IN{name.upper()}-")
        invoice_scenario(ws, name, f, batch_size=20)
        api.prepare(ws, name, progress=False)
    ws.dispose()
    procs = [start_cli(ws.root, "import", name) for name in ("a", "b", "c", "d")]
    refused = edits = 0
    try:
        # touch "a" only once every import holds its lock (its history row is written), so
        # the editor never takes the lock an import is about to take
        from sqlalchemy import select

        from migration_kit import db as mkdb

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            with ws.connect() as conn:
                started = {r[0] for r in conn.execute(select(mkdb.history.c.scenario).where(
                    mkdb.history.c.action == "import"))}
            if started >= {"a", "b", "c", "d"}:
                break
            time.sleep(0.05)
        while any(p.poll() is None for p in procs):
            # the fifth scenario's prepared data: every edit lands
            api.set_value(ws, "e", 1 + edits % 50, "Customer", "C002")
            edits += 1
            # one of the running four: refused at once, naming who holds it
            if procs[0].poll() is not None:
                continue
            try:
                api.set_active(ws, "a", 1, True)
            except LockedError as e:
                assert "scenario 'a' is being run (admin: import, pid" in str(e)
                refused += 1
    finally:
        results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    for out, err, rc in results:
        assert rc == 0, out + err
    assert edits >= 1  # refusals (when the edit met a running import) were checked above
    docs = [d["Document"]["ReferenceNbr"] for d in api.list_documents(ws, "AR301000")]
    assert len(docs) == len(set(docs)) == sum(counts[n] for n in "abcd")  # none doubled
    for name in ("a", "b", "c", "d"):
        c = api.counts(ws, name)
        assert c["processed"] == c["records"] == counts[name] and c["todo"] == 0
        assert len([d for d in docs if d.startswith(f"IN{name.upper()}-")]) == counts[name]
    # no lost update: the fifth scenario holds every edit
    lines = {ln.line: ln.values["Customer"] for ln in api.lines(ws, "e", limit=50)}
    assert all(lines[n] == "C002" for n in range(1, min(edits, 50) + 1))
    ws.dispose()
