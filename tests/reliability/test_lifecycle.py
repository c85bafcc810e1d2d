"""The exit-code contract and the run lifecycle: an internal error exits 4 with a crash
report and no traceback; prepared-data edits take the scenario's lock; a run whose process
died shows as interrupted."""

from __future__ import annotations

import pytest

from migration_kit import api
from migration_kit.engine.lock import scenario_lock
from migration_kit.errors import LockedError

from .helpers import invoice_scenario, make_invoices, master_workspace, run_cli


def test_an_internal_error_exits_4_with_a_crash_report(tmp_path):
    ws = master_workspace(tmp_path / "ws", f"sqlite:///{tmp_path / 'ws' / 'state.sqlite'}")
    ws.dispose()
    (tmp_path / "ws" / "state.sqlite").write_bytes(b"this is not a database" * 100)
    for wal in ("state.sqlite-wal", "state.sqlite-shm"):
        (tmp_path / "ws" / wal).unlink(missing_ok=True)
    res = run_cli(tmp_path / "ws", "status", "customers")
    assert res.returncode == 4, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("internal error: DatabaseError")
    report = lines[0].rsplit("crash report: ", 1)[1].rstrip(")")
    text = open(report, encoding="utf-8").read()
    assert "crash-reports" in report and "Traceback" in text
    assert "command: migration-kit" in text and "status customers" in text
    assert "migration_kit " in text.splitlines()[0]


@pytest.fixture
def prepared_ws(tmp_path, db_url):
    file = tmp_path / "inv.csv"
    make_invoices(file, 30)
    ws = master_workspace(tmp_path / "ws", db_url)
    invoice_scenario(ws, "inv", file)
    api.prepare(ws, "inv", progress=False)
    yield ws
    ws.dispose()


def test_prepared_data_edits_wait_for_no_one_and_name_the_holder(prepared_ws):
    ws = prepared_ws
    edits = [lambda: api.set_value(ws, "inv", 1, "Customer", "C002"),
             lambda: api.set_active(ws, "inv", 1, False),
             lambda: api.replace(ws, "inv", "Customer", "C001", "C002"),
             lambda: api.toggle_active(ws, "inv", [1]),
             lambda: api.toggle_processed(ws, "inv", [1]),
             lambda: api.clear_errors(ws, "inv"),
             lambda: api.clear_active_until_error(ws, "inv")]
    before = api.lines(ws, "inv", limit=None)
    with scenario_lock(ws, "inv", "import"):
        for edit in edits:
            with pytest.raises(LockedError) as e:
                edit()
            assert "admin: import, pid" in str(e.value) and "since" in str(e.value)
    assert api.lines(ws, "inv", limit=None) == before
    api.set_value(ws, "inv", 1, "Customer", "C002")  # free again


def test_a_run_left_running_by_a_dead_process_shows_interrupted(prepared_ws):
    ws = prepared_ws
    # an import killed after its history row was written: the next command settles it
    res = run_cli(ws.root, "import", "inv", hook="kill:progress:1")
    assert res.returncode == -9
    ws.dispose()
    runs = api.history_of(ws, "inv")
    assert runs[-1]["action"] == "import" and runs[-1]["status"] == "interrupted"
    assert "stopped (killed or crashed)" in runs[-1]["first_error"]
    res = run_cli(ws.root, "history", "inv")
    assert "interrupted" in res.stdout
