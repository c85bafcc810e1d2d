"""The Airflow DAG (integrations/airflow/) run for real with `airflow dags test`, in Airflow's
own venv (`make airflow-venv`, built here when missing): two good data drops imported into
their own workspaces (one on SQLite, one on PostgreSQL) with the executed notebooks kept as
the run's record; then a drop with a bad invoice fails its import task at once, naming the
record, while a good drop of the same run goes on (a re-run of it, which changes nothing)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from migration_kit import api

from ..notebooks.helpers import NOTEBOOKS, ROOT, SAMPLES, jupyter_env

pytestmark = pytest.mark.timeout(900)

DAG_ID = "migration_kit_runbook"
VENV = Path(os.environ.get("MIGRATION_KIT_AIRFLOW_VENV", ROOT / ".venv-airflow"))
# task ids of one drop, in order, and the notebook each runs
STEPS = {"01_workspace": "01_workspace", "02_providers": "02_providers",
         "03_simplified_scenario": "03_simplified_scenario",
         "04_manual_scenarios": "04_manual_scenarios",
         "05_import_accounts": "05_prepare_and_import",
         "05_import_customers_items": "05_prepare_and_import",
         "05_import_invoices": "05_prepare_and_import",
         "06_export": "06_export", "07_history": "07_history", "08_reconcile": "08_reconcile"}
COUNTS = {"GL202500": 8, "AR303000": 6, "IN202500": 6, "AP303000": 3, "GL301000": 3,
          "AP301000": 3, "AR301000": 5}


def _airflow_venv() -> Path:
    """`make airflow-venv` (a no-op when its stamp is newer than the pins)."""
    if "MIGRATION_KIT_AIRFLOW_VENV" not in os.environ:
        t = time.monotonic()
        proc = subprocess.run(["make", "-s", "airflow-venv"], cwd=ROOT, capture_output=True,
                              text=True, timeout=900, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        print(f"make airflow-venv: {time.monotonic() - t:.0f} s")
    assert (VENV / "bin" / "airflow").exists(), f"no Airflow in {VENV}"
    return VENV


class Airflow:
    def __init__(self, venv: Path, tmp: Path):
        self.bin = venv / "bin" / "airflow"
        self.tmp = tmp
        self.env = {**os.environ, **jupyter_env(tmp / "jupyter"),
                    "AIRFLOW_HOME": str(tmp / "airflow"),
                    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "integrations" / "airflow"),
                    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        for var in ("VIRTUAL_ENV", "PYTHONPATH", "MIGRATION_KIT_WORKSPACE", "MIGRATION_KIT_DB"):
            self.env.pop(var, None)

    def __call__(self, *args: str, timeout: float = 400) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin), *args], cwd=self.tmp, env=self.env,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def dags_test(self, drops: list[Path]) -> dict:
        conf = {"drops": [str(d) for d in drops], "workspaces": str(self.tmp / "workspaces"),
                "records": str(self.tmp / "records")}
        t = time.monotonic()
        proc = self("dags", "test", DAG_ID, "-c", json.dumps(conf))
        seconds = time.monotonic() - t
        log = proc.stdout + proc.stderr
        found = re.search(rf"DagRun Finished: dag_id={DAG_ID}, .*?run_id=([^,]+), "
                          r".*?state=(\w+)", log)
        assert found, log[-5000:]
        print(f"airflow dags test ({len(drops)} drops): {seconds:.0f} s, {found[2]}")
        return {"rc": proc.returncode, "log": log, "run_id": found[1], "state": found[2],
                "records": self.tmp / "records" / found[1]}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    af = Airflow(_airflow_venv(), tmp_path_factory.mktemp("airflow"))
    proc = af("db", "migrate")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return af


def _drop(folder: Path, invoices: str = "sales_invoices.csv") -> Path:
    """A data drop: the sample files, with ``invoices`` as its sales_invoices.csv."""
    shutil.copytree(SAMPLES, folder, ignore=shutil.ignore_patterns("*.py", "*_bad.csv"))
    shutil.copyfile(SAMPLES / invoices, folder / "sales_invoices.csv")
    return folder


@pytest.fixture(scope="module")
def drop2_db(request):
    """drop2's workspace is made beforehand on PostgreSQL (when there is a server), as the
    README says for teams; the samples drop's is made by the DAG, on SQLite."""
    try:
        server = request.getfixturevalue("pg_server")
    except pytest.skip.Exception:
        return None
    return server.create_database("t_airflow_drop2")


@pytest.fixture(scope="module")
def good_run(airflow, drop2_db):
    """The sample folder itself and a copy of it: two drops, one DAG run."""
    if drop2_db:
        api.init_workspace(airflow.tmp / "workspaces" / "drop2", db_url=drop2_db).dispose()
    return airflow.dags_test([SAMPLES, _drop(airflow.tmp / "drops" / "drop2")])


@pytest.fixture(scope="module")
def bad_run(airflow, good_run):
    """A drop whose invoice file has an unknown customer, beside the samples drop again."""
    bad = _drop(airflow.tmp / "drops" / "bad", "sales_invoices_bad.csv")
    return airflow.dags_test([bad, SAMPLES])


def _cli_documents(workspace: Path, window: str) -> list[dict]:
    """`migration-kit -w WS --json erp list WINDOW`: one JSON document a line."""
    proc = subprocess.run([sys.executable, "-m", "migration_kit.cli", "-w", str(workspace),
                           "--json", "erp", "list", window],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _started(log: str, map_index: int) -> list[str]:
    return re.findall(rf"\[DAG TEST\] starting task_id=runbook_on_drop\.(\w+) "
                      rf"map_index={map_index}\b", log)


def _errors(nb) -> list:
    return [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]


def test_the_dag_runs_every_notebook_of_the_runbook():
    numbered = NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")
    assert sorted(set(STEPS.values())) == sorted(p.stem for p in numbered)


def test_good_drops_run_every_notebook_in_order(good_run):
    assert good_run["rc"] == 0 and good_run["state"] == "success", good_run["log"][-5000:]
    for index in (0, 1):
        assert _started(good_run["log"], index) == list(STEPS)
    assert "up_for_retry" not in good_run["log"]


def test_each_drop_is_imported_into_its_own_workspace(good_run, airflow, drop2_db):
    assert (airflow.tmp / "workspaces" / "samples" / "state.sqlite").exists()
    if drop2_db:
        assert not (airflow.tmp / "workspaces" / "drop2" / "state.sqlite").exists()
        with api.open_workspace(airflow.tmp / "workspaces" / "drop2") as w:
            assert w.db_url == drop2_db
    for drop in ("samples", "drop2"):
        ws = airflow.tmp / "workspaces" / drop
        invoices = _cli_documents(ws, "AR301000")
        assert sorted(d["Document"]["ReferenceNbr"] for d in invoices) == [
            "INV-1001", "INV-1002", "INV-1003", "INV-1004", "INV-1005"]
        with api.open_workspace(ws) as w:
            assert {win: len(list(api.list_documents(w, win))) for win in COUNTS} == COUNTS
            exported = api.latest_version(w, "sales_invoices_out")
            assert exported.origin == "export" and exported.version == 2
            assert api.versions(w, "customers")[0].path.read_bytes() == (
                SAMPLES / "customers.csv").read_bytes()
        report = json.loads((ws / "reports" / "sales_invoices-reconcile.json").read_text())
        assert report["ok"] is True and report["counts"]["documents_found"] == 5


def test_executed_notebooks_are_the_record_of_the_run(good_run, airflow):
    assert sorted(p.name for p in good_run["records"].iterdir()) == ["drop2", "samples"]
    imported = []
    for drop, folder in (("samples", SAMPLES), ("drop2", airflow.tmp / "drops" / "drop2")):
        record = good_run["records"] / drop
        assert sorted(p.stem for p in record.glob("*.ipynb")) == sorted(STEPS)
        for task_id, notebook in STEPS.items():
            nb = nbformat.read(record / f"{task_id}.ipynb", as_version=4)
            assert Path(nb.metadata.papermill.input_path).name == f"{notebook}.ipynb"
            assert not _errors(nb) and not nb.metadata.papermill.get("exception"), task_id
            assert any(c.get("outputs") for c in nb.cells), task_id  # executed, with outputs
            params = nb.metadata.papermill.parameters
            assert params["workspace"] == str(airflow.tmp / "workspaces" / drop)
            assert params["interactive"] is False
            declared = pm.inspect_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"))
            assert set(params) <= set(declared), task_id
            if "samples" in declared:
                assert params["samples"] == str(folder.resolve())
            if drop == "samples" and task_id.startswith("05_"):
                imported += params["import_scenarios"]
    # the import tasks together import what the notebook does on its own, in its order
    declared = pm.inspect_notebook(str(NOTEBOOKS / "05_prepare_and_import.ipynb"))
    assert imported == ast.literal_eval(declared["import_scenarios"]["default"])


def test_failed_import_fails_its_task_at_once_naming_the_record(bad_run, airflow):
    assert bad_run["rc"] != 0 and bad_run["state"] == "failed"
    log, record = bad_run["log"], bad_run["records"] / "bad"
    executed = record / "05_import_invoices.ipynb"
    assert ("05_import_invoices (05_prepare_and_import.ipynb) failed on drop 'bad': "
            "RecordError: scenario 'sales_invoices' stopped on line 6 (record 3; "
            "Document.ReferenceNbr=INV-1003), field Document.CustomerID: Customer 'C999' "
            f"does not exist (executed notebook: {executed})") in log
    assert "up_for_retry" not in log  # a record the ERP refuses is not retried
    assert _started(log, 0) == list(STEPS)[:7]  # export and history did not run
    assert sorted(p.stem for p in record.glob("*.ipynb")) == list(STEPS)[:7]
    errors = _errors(nbformat.read(executed, as_version=4))
    assert errors and errors[0].ename == "RecordError" and "C999" in errors[0].evalue
    refs = sorted(d["Document"]["ReferenceNbr"]
                  for d in _cli_documents(airflow.tmp / "workspaces" / "bad", "AR301000"))
    assert refs == ["INV-1001", "INV-1002"]  # the records before it, nothing of it


def test_a_failed_drop_does_not_stop_the_others(bad_run, airflow):
    """The samples drop of the failed run runs to the end on its workspace from the good
    run, and changes nothing there: the runbook is idempotent (so are retries)."""
    assert _started(bad_run["log"], 1) == list(STEPS)
    record = bad_run["records"] / "samples"
    assert sorted(p.stem for p in record.glob("*.ipynb")) == sorted(STEPS)
    ws = airflow.tmp / "workspaces" / "samples"
    with api.open_workspace(ws) as w:
        assert {win: len(list(api.list_documents(w, win))) for win in COUNTS} == COUNTS
        assert len(api.versions(w, "customers")) == 1  # the same file is not stored again
        counts = api.counts(w, "sales_invoices")
        assert counts["processed"] == 5 and counts["todo"] == 0
