"""Kill test: SIGKILL prepare, import, export and undo at seeded random moments and run them again
until done. Nothing is lost, nothing doubled, Processed always matches the ERP, prepared
data is the old or the new, never half, and no half-written file becomes a version.

The child processes run the real CLI (``tests/reliability/runner.py``), which can SIGKILL
itself at a chosen point (the Nth SQL statement, the Nth commit, with a delay that lands
during the commit, between batches, mid-file) or after a random time. Normal runs use
``MK_KILL_POINTS`` = 5 kill points per operation and database; set ``MK_KILL_POINTS=25``
(and ``MK_KILL_SEED``) for the full run.

PostgreSQL: the session ``pg_server`` runs with ``fsync=off``. That is fine here: these are
process kills, the server and the operating system stay up and keep every committed page;
only a machine crash (power loss) would need fsync, and that is not what this test checks.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

from migration_kit import api
from migration_kit.catalog.versions import file_digest

from .helpers import (
    TEMPLATES,
    check_processed_matches_erp,
    db_kind,
    digest,
    documents,
    dump_tables,
    install_master,
    invoice_scenario,
    make_invoices,
    master_workspace,
    new_db_url,
    run_cli,
)

KILL_POINTS = int(os.environ.get("MK_KILL_POINTS", "5"))
SEED = int(os.environ.get("MK_KILL_SEED", "20240301"))
LINES = 3000
BATCH = 50 if KILL_POINTS <= 8 else 20


def _hooks(rng: random.Random, kinds: dict[str, Callable[[random.Random], str]]) -> list[str]:
    """``KILL_POINTS`` hooks, every kind at least once (when there are enough points)."""
    names = list(kinds)
    order = (names * (KILL_POINTS // len(names) + 1))[:KILL_POINTS]
    rng.shuffle(order)
    return [kinds[k](rng) for k in order]


IMPORT_KILLS = {
    "stmt": lambda r: f"kill:stmt:{r.randint(3, 60)}",            # inside a batch
    "commit": lambda r: f"kill:commit:{r.randint(1, 4)}",          # just before a commit
    "during-commit": lambda r: f"kill:commit:{r.randint(2, 4)}:{r.uniform(0, 0.004):.4f}",
    "between": lambda r: f"kill:progress:{r.randint(1, 3)}",       # between batches
    "bulk": lambda r: f"kill:bulk:{r.randint(1, 400)}",            # inside executemany/COPY
    "time": lambda r: f"kill:time:{r.uniform(0.3, 1.2):.3f}",      # anywhere
}


def _run_until_done(ws_root, args, hooks, after_each):
    killed = []
    for hook in hooks:
        res = run_cli(ws_root, *args, hook=hook)
        assert res.returncode in (0, -9), (hook, res.returncode, res.stderr[-2000:])
        if res.returncode == -9:
            killed.append(hook)
        after_each(hook)
    final = run_cli(ws_root, *args)
    assert final.returncode == 0, final.stdout + final.stderr
    after_each("final")
    assert len(killed) >= min(3, len(hooks)), f"too few runs were killed: {killed}"
    return killed


def test_import_killed_at_random_moments(tmp_path, db_url, request):
    rng = random.Random(f"{SEED}-import-{db_kind(db_url)}")
    file = tmp_path / "invoices.csv"
    n_invoices = make_invoices(file, LINES)

    # The reference: the same import, run once without interruption.
    ref = master_workspace(tmp_path / "ref", new_db_url(db_kind(db_url), tmp_path, request))
    invoice_scenario(ref, "inv", file, batch_size=BATCH)
    api.prepare(ref, "inv", progress=False)
    assert api.import_(ref, "inv", progress=False).ok
    expected = documents(ref)
    ref.dispose()
    assert len(expected) == n_invoices

    ws = master_workspace(tmp_path / "ws", db_url)
    invoice_scenario(ws, "inv", file, batch_size=BATCH)
    api.prepare(ws, "inv", progress=False)
    ws.dispose()
    progress = []

    def check(_hook):
        counts = check_processed_matches_erp(ws, "inv")
        progress.append(counts["processed"])
        ws.dispose()  # no connection of ours stays open while the child runs

    killed = _run_until_done(ws.root, ["import", "inv"], _hooks(rng, IMPORT_KILLS), check)
    assert progress == sorted(progress), "a kill undid committed work"
    assert progress[-1] == n_invoices
    assert documents(ws) == expected  # none lost, none doubled, the same values
    with ws.connect() as conn:
        lines = ws.store.count(conn, "AR301000", "Line")
    assert lines == LINES
    assert any(h.startswith("kill:stmt") for h in killed) or KILL_POINTS < 5
    # the runs that were killed show as interrupted (marked by the next run), none running
    runs = [h["status"] for h in api.history_of(ws, "inv") if h["action"] == "import"]
    assert "running" not in runs and set(runs) <= {"done", "interrupted"}
    assert 1 <= runs.count("interrupted") <= len(killed)
    assert runs[-1] == "done"
    ws.dispose()


PREPARE_KILLS = {
    "stmt": lambda r: f"kill:stmt:{r.randint(2, 7)}",              # inside the transaction
    "commit": lambda r: "kill:commit:1",                            # just before its commit
    "during-commit": lambda r: f"kill:commit:1:{r.uniform(0, 0.004):.4f}",
    "reading": lambda r: "kill:progress:1",                         # while reading the file
    "bulk": lambda r: f"kill:bulk:{r.randint(1, 2000)}",           # inside executemany/COPY
    "time": lambda r: f"kill:time:{r.uniform(0.3, 1.0):.3f}",
}
PREPARED = ("mk_prepared_record", "mk_prepared_line", "mk_scenario_state")


def test_prepare_killed_leaves_old_or_new(tmp_path, db_url, request):
    rng = random.Random(f"{SEED}-prepare-{db_kind(db_url)}")
    v1, v2 = tmp_path / "v1.csv", tmp_path / "v2.csv"
    make_invoices(v1, LINES, seed=1)
    make_invoices(v2, LINES + 500, seed=2)
    ws = master_workspace(tmp_path / "ws", db_url)
    invoice_scenario(ws, "inv", v1, batch_size=BATCH)
    api.prepare(ws, "inv", progress=False)
    api.upload_version(ws, "inv", v2)

    def snapshot():
        snap = digest(dump_tables(ws, PREPARED,
                                  skip_columns={"mk_scenario_state": {"prepared_at"}}))
        ws.dispose()
        return snap

    old = snapshot()
    seen = []
    _run_until_done(ws.root, ["prepare", "inv"], _hooks(rng, PREPARE_KILLS),
                    lambda _h: seen.append(snapshot()))
    new = seen[-1]
    assert new != old
    assert set(seen) <= {old, new}, "a killed prepare left half-prepared data"
    # and the new is what a clean prepare of the same versions gives
    ref = master_workspace(tmp_path / "ref", new_db_url(db_kind(db_url), tmp_path, request))
    invoice_scenario(ref, "inv", v1, batch_size=BATCH)
    api.prepare(ref, "inv", progress=False)
    api.upload_version(ref, "inv", v2)
    api.prepare(ref, "inv", progress=False)
    clean = digest(dump_tables(ref, PREPARED,
                               skip_columns={"mk_scenario_state": {"prepared_at"}}))
    ref.dispose()
    assert new == clean, "a prepare run after kills differs from a clean prepare"
    c = api.counts(ws, "inv")
    assert c["lines"] == LINES + 500 and c["processed"] == 0
    ws.dispose()


EXPORT_KILLS = {
    "stmt": lambda r: f"kill:stmt:{r.randint(1, 30)}",
    "mid-file": lambda r: f"kill:rows:{r.randint(1, LINES - 1)}",
    "commit": lambda r: f"kill:commit:{r.randint(1, 2)}",
    "during-commit": lambda r: f"kill:commit:2:{r.uniform(0, 0.004):.4f}",
    "time": lambda r: f"kill:time:{r.uniform(0.3, 1.2):.3f}",
}


def _check_versions(ws, provider: str, rows_of_export: int) -> None:
    """Every registered version's file exists with its sha256; latest reads back whole."""
    vs = api.versions(ws, provider)
    for v in vs:
        assert v.path.is_file(), f"version {v.version} has no file"
        assert file_digest(v.path) == (v.sha256, v.size), f"version {v.version} changed"
    latest = api.latest_version(ws, provider)
    prov = api.load_provider(ws, provider)
    n = sum(len(b.rows) for b in prov.ptype.read_batches(latest.path, prov.params,
                                                          prov.schema))
    assert n == (rows_of_export if latest.origin == "export" else 10)
    ws.dispose()


def test_export_killed_never_publishes_half_a_file(tmp_path, db_url):
    rng = random.Random(f"{SEED}-export-{db_kind(db_url)}")
    file = tmp_path / "invoices.csv"
    make_invoices(file, LINES)
    ws = master_workspace(tmp_path / "ws", db_url)
    invoice_scenario(ws, "inv", file, batch_size=500)
    api.prepare(ws, "inv", progress=False)
    assert api.import_(ws, "inv", progress=False).ok
    api.add_provider(ws, "sales_invoices_out", TEMPLATES / "samples" / "sales_invoices.csv")
    (ws.path("scenarios") / "sales_invoices_export.yaml").write_bytes(
        (TEMPLATES / "scenarios" / "sales_invoices_export.yaml").read_bytes())
    clean = api.export(ws, "sales_invoices_export", progress=False)
    assert clean.rows == LINES and clean.failed == 0
    clean_bytes = api.latest_version(ws, "sales_invoices_out").path.read_bytes()
    ws.dispose()

    _run_until_done(ws.root, ["export", "sales_invoices_export"], _hooks(rng, EXPORT_KILLS),
                    lambda _h: _check_versions(ws, "sales_invoices_out", LINES))
    latest = api.latest_version(ws, "sales_invoices_out")
    assert latest.version > clean.version
    assert latest.path.read_bytes() == clean_bytes
    folder = ws.path("files", "sales_invoices_out")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"v{v.version:04d}.csv" for v in api.versions(ws, "sales_invoices_out")], (
        "half-written files were left behind")
    ws.dispose()


def test_kill_then_rerun_with_master_only(tmp_path, db_url):
    """A kill before anything was imported: the re-run imports everything once."""
    file = tmp_path / "invoices.csv"
    make_invoices(file, 200)
    ws = api.init_workspace(tmp_path / "ws", db_url=db_url)
    install_master(ws)
    invoice_scenario(ws, "inv", file, batch_size=10)
    api.prepare(ws, "inv", progress=False)
    ws.dispose()
    res = run_cli(ws.root, "import", "inv", hook="kill:commit:3")
    assert res.returncode == -9
    check_processed_matches_erp(ws, "inv")
    ws.dispose()
    assert run_cli(ws.root, "import", "inv").returncode == 0
    c = check_processed_matches_erp(ws, "inv")
    assert c["processed"] == c["records"] == c["documents"]
    ws.dispose()


UNDO_KILLS = {
    "stmt": lambda r: f"kill:stmt:{r.randint(1, 11)}",             # inside the transaction
    "commit": lambda r: "kill:commit:1",                            # just before its commit
    "during-commit": lambda r: f"kill:commit:1:{r.uniform(0, 0.004):.4f}",
    "time": lambda r: f"kill:time:{r.uniform(0.3, 1.5):.3f}",       # anywhere
}
# Columns that differ between two equal workspaces built one after the other.
VOLATILE = {"mk_history": {"id", "started", "ended"}, "mk_scenario_state": {"prepared_at"},
            "mk_file_version": {"created"}}
UNDO_LINES = 600


def _imported(root, url, file):
    """A fresh workspace with master data and the invoices of ``file`` imported."""
    ws = master_workspace(root, url)
    invoice_scenario(ws, "inv", file, batch_size=BATCH)
    api.prepare(ws, "inv", progress=False)
    assert api.import_(ws, "inv", progress=False).ok
    return ws


def _snapshot(ws):
    tables = dump_tables(ws, skip_columns=VOLATILE)
    tables.pop("mk_lock_holder", None)  # who held a lock: left by a killed holder on purpose
    snap = digest(tables)
    ws.dispose()
    return snap


def test_undo_killed_leaves_before_or_after(tmp_path, db_url, request):
    """A killed undo leaves the workspace as before it or as after it, never half; run
    again it ends as an uninterrupted undo (ERP without the invoices, records not
    processed, ledger without them)."""
    kind = db_kind(db_url)
    rng = random.Random(f"{SEED}-undo-{kind}")
    file = tmp_path / "invoices.csv"
    n_invoices = make_invoices(file, UNDO_LINES)
    ref = _imported(tmp_path / "ref", new_db_url(kind, tmp_path, request), file)
    ref_before = _snapshot(ref)
    res = run_cli(ref.root, "undo", "inv")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"deleted {n_invoices} document(s)" in res.stdout
    after = _snapshot(ref)
    assert documents(ref) == [] and api.counts(ref, "inv")["processed"] == 0
    ref.dispose()

    killed = []
    for i, hook in enumerate(_hooks(rng, UNDO_KILLS)):
        url = db_url if i == 0 else new_db_url(kind, tmp_path, request)
        ws = _imported(tmp_path / f"ws{i}", url, file)
        before = _snapshot(ws)
        assert before == ref_before
        res = run_cli(ws.root, "undo", "inv", hook=hook)
        assert res.returncode in (0, -9), (hook, res.returncode, res.stderr[-2000:])
        if res.returncode == -9:
            killed.append(hook)
        state = _snapshot(ws)
        assert state in (before, after), f"{hook}: a killed undo left half an undo"
        if state == before:
            res = run_cli(ws.root, "undo", "inv")
            assert res.returncode == 0, res.stdout + res.stderr
            assert _snapshot(ws) == after
        ws.dispose()
    assert len(killed) >= min(2, KILL_POINTS), f"too few runs were killed: {killed}"
