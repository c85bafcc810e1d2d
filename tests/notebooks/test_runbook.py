"""The notebooks run headless with papermill on the sample data: ERP records, exported
file, a failed import failing the run, same parameters giving the same result."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest

from migration_kit import api, runbook
from migration_kit.errors import BadInputError

from .helpers import NOTEBOOKS, ROOT, SAMPLES, jupyter_env

pytestmark = pytest.mark.timeout(300)


def _docs(ws_dir: Path, window: str) -> list[dict]:
    with api.open_workspace(ws_dir) as ws:
        return list(api.list_documents(ws, window))


def test_demo_returns_where_things_are(demo_run):
    ws = demo_run["workspace"]
    assert ws.name == "workspace" and (ws / "migration.yaml").exists()
    assert demo_run["exported"] == str(ws / "files" / "sales_invoices_out" / "v0002.csv")
    assert demo_run["exported_version"] == 2
    assert demo_run["downloads"] == [str(ws / "downloads" / "sales_invoices_out.csv")]
    assert all(Path(p).parent == ws.parent / "notebooks" for p in demo_run["notebooks"])


def test_cli_demo_and_runbook_commands(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from migration_kit import cli, demo

    seen = {}
    monkeypatch.setattr(demo, "run_demo", lambda out, progress: seen.setdefault("demo", out))
    monkeypatch.setattr(runbook, "run_runbook", lambda nbs, out, params, **kw: seen.update(
        runbook=(nbs, out, params, kw)) or [out / "01_workspace.ipynb"])
    r = CliRunner().invoke(cli.cli, ["demo"])
    assert r.exit_code == 0 and seen["demo"] == Path("runs/demo")
    r = CliRunner().invoke(cli.cli, ["runbook", "-o", str(tmp_path), "-p", "workspace=w",
                                     "-p", "keys=[A.B]", "--timeout", "60"])
    assert r.exit_code == 0, r.output
    assert seen["runbook"] == (runbook.NOTEBOOKS, tmp_path,
                               {"interactive": False, "workspace": "w", "keys": ["A.B"]},
                               {"kernel_name": None, "progress": True, "timeout": 60.0})
    assert f"executed: {tmp_path / '01_workspace.ipynb'}" in r.output


def test_every_notebook_runs_and_is_kept(demo_run):
    names = [p.name for p in demo_run["notebooks"]]
    assert names == sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert len(names) == 8
    for p in demo_run["notebooks"]:
        nb = nbformat.read(p, as_version=4)
        assert nb.metadata.papermill.exception is None or not nb.metadata.papermill.exception
        assert not [o for c in nb.cells for o in c.get("outputs", [])
                    if o.output_type == "error"], p.name


def test_erp_records_after_the_runbook(demo_run):
    ws = demo_run["workspace"]
    counts = {w: len(_docs(ws, w)) for w in
              ("GL202500", "AR303000", "IN202500", "AP303000", "GL301000", "AP301000",
               "AR301000")}
    assert counts == {"GL202500": 8, "AR303000": 6, "IN202500": 6, "AP303000": 3,
                      "GL301000": 3, "AP301000": 3, "AR301000": 5}
    bills = {d["Document"]["SupplierRef"]: d for d in _docs(ws, "AP301000")}
    assert [ln["UOM"] for ln in bills["2024-778"]["Line"]] == ["KG", "HOUR", "PCS"]
    suppliers = {d["Supplier"]["SupplierID"]: d["Supplier"] for d in _docs(ws, "AP303000")}
    assert suppliers["S001"]["SupplierName"] == "Ørsted Kraft AS"  # cp1252 read right
    assert suppliers["S002"]["City"] == "München"
    journal = {d["Batch"]["Description"]: d for d in _docs(ws, "GL301000")}
    adj7 = journal["ADJ-7 Office supplies"]
    assert adj7["Batch"]["TransactionDate"].isoformat() == "2024-01-31"  # nb-NO dates
    assert [ln["DebitAmount"] for ln in adj7["Line"]] == [Decimal("1250.50"), Decimal("0")]
    invoices = {d["Document"]["ReferenceNbr"]: d for d in _docs(ws, "AR301000")}
    assert sorted(invoices) == ["INV-1001", "INV-1002", "INV-1003", "INV-1004", "INV-1005"]
    inv1 = invoices["INV-1001"]
    assert inv1["Document"]["CustomerID"] == "C001"
    assert [ln["Quantity"] for ln in inv1["Line"]] == [Decimal(10), Decimal(5), Decimal(1)]
    assert inv1["Line"][1]["Amount"] == Decimal("717.75")
    assert len(invoices["INV-1003"]["Line"]) == 2


def test_every_import_reconciles_after_the_runbook(demo_run):
    """Notebook 08: a report per import scenario, in the workspace's reports/ folder, every
    one reconciled; the executed notebook shows them inline."""
    reports = demo_run["workspace"] / "reports"
    assert demo_run["reports"] == sorted(str(reports / f"{n}-reconcile.html")
                                         for n in runbook.DEMO_IMPORTS)
    for name in runbook.DEMO_IMPORTS:
        data = json.loads((reports / f"{name}-reconcile.json").read_text(encoding="utf-8"))
        assert data["ok"] is True, (name, data["differences"])
        assert data["counts"]["documents_found"] == data["counts"]["prepared_records"] > 0
        assert (reports / f"{name}-reconcile.csv").is_file()
    nb = nbformat.read(demo_run["workspace"].parent / "notebooks" / "08_reconcile.ipynb",
                       as_version=4)
    html = [o["data"]["text/html"] for c in nb.cells for o in c.get("outputs", [])
            if "text/html" in o.get("data", {})]
    assert len(html) == len(runbook.DEMO_IMPORTS)
    assert all("RECONCILED" in h and "<svg" in h for h in html)


def test_a_difference_fails_the_reconcile_notebook_naming_the_document(tmp_path,
                                                                      isolated_jupyter):
    """Under papermill notebook 08 fails when a document was changed after the import."""
    from tests.helpers import load_master, run, simplified_invoices

    ws = api.init_workspace(tmp_path / "ws")
    load_master(ws)
    simplified_invoices(ws)
    run(ws, "sales_invoices")
    doc = next(d for d in api.list_documents(ws, "AR301000")
               if d["Document"]["ReferenceNbr"] == "INV-1004")
    doc["Line"][0]["Quantity"] = Decimal(99)
    doc["Line"][0]["Amount"] = None
    api.save_document(ws, "AR301000", doc, mode="upsert")
    ws.dispose()
    from .helpers import run as run_notebooks

    with pytest.raises(runbook.RunbookError) as e:
        run_notebooks(tmp_path, ["08_reconcile.ipynb"],
                      reconcile_scenarios=["customers", "sales_invoices"])
    assert e.value.notebook == "08_reconcile.ipynb" and e.value.ename == "ReconcileError"
    assert "scenario 'sales_invoices' does not reconcile" in e.value.evalue
    assert "Invoice INV-1004" in e.value.evalue
    assert "Line 1.Quantity: file 100, ERP 99" in e.value.evalue


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_exported_file_has_the_structure_of_the_sample(demo_run):
    with api.open_workspace(demo_run["workspace"]) as ws:
        fv = api.latest_version(ws, "sales_invoices_out")
        assert fv.version == 2 and fv.origin == "export"
    exported, sample = _rows(fv.path), _rows(SAMPLES / "sales_invoices.csv")
    assert list(exported[0]) == list(sample[0])  # same columns, same order
    assert len(exported) == len(sample) == 10
    for got, want in zip(exported, sample):
        for col in ("InvoiceNbr", "Customer", "InvoiceDate", "DueDate", "Description",
                    "ItemCode", "LineDescription", "Account"):
            assert got[col] == want[col], col
        for col in ("Qty", "UnitPrice", "Discount"):
            assert Decimal(got[col]) == Decimal(want[col]), col
    download = demo_run["workspace"] / "downloads" / "sales_invoices_out.csv"
    assert download.read_bytes() == fv.path.read_bytes()


@pytest.mark.slow
def test_same_parameters_same_result(demo_run, tmp_path):
    """Running the runbook again on the workspace changes no record and exports the same."""
    ws = demo_run["workspace"]
    before = {w: _docs(ws, w) for w in ("AR301000", "GL301000", "AR303000")}
    first = api.latest_version(api.open_workspace(ws), "sales_invoices_out").path.read_bytes()
    runbook.run_runbook(NOTEBOOKS, tmp_path / "again",
                        {"workspace": str(ws), "interactive": False}, progress=False,
                        timeout=120)
    assert {w: _docs(ws, w) for w in before} == before
    with api.open_workspace(ws) as w:
        fv = api.latest_version(w, "sales_invoices_out")
        summary = api.counts(w, "sales_invoices")
    assert fv.version == 3 and fv.path.read_bytes() == first
    assert summary["processed"] == 5 and summary["todo"] == 0


def test_failed_import_fails_the_run_and_names_the_record(tmp_path, isolated_jupyter):
    """The CLI runs the notebooks up to the failing import and exits 1 with the record."""
    proc = subprocess.run(
        [sys.executable, "-m", "migration_kit.cli", "runbook", "--output",
         str(tmp_path / "out"), "-p", f"workspace={tmp_path / 'ws'}",
         "-p", "invoices_file=sales_invoices_bad.csv"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
        env={**os.environ, **jupyter_env(tmp_path / "jupyter")})
    assert proc.returncode == 1, proc.stderr[-2000:]
    err = proc.stderr
    assert "notebook 05_prepare_and_import.ipynb failed: RecordError" in err
    assert "scenario 'sales_invoices' stopped on line 6" in err
    assert "INV-1003" in err and "C999" in err and "Document.CustomerID" in err
    executed = nbformat.read(tmp_path / "out" / "05_prepare_and_import.ipynb", as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].ename == "RecordError" and "INV-1003" in errors[0].evalue
    assert not (tmp_path / "out" / "06_export.ipynb").exists()  # stopped at the failure
    # nothing of the failed record reached the ERP; the records before it did
    refs = sorted(d["Document"]["ReferenceNbr"] for d in _docs(tmp_path / "ws", "AR301000"))
    assert refs == ["INV-1001", "INV-1002"]


def test_runbook_error_carries_the_papermill_error(tmp_path, isolated_jupyter):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from migration_kit.errors import RecordError\n"
        "raise RecordError('boom', scenario='s', line=x, record=1, key={'K': 'v'}, "
        "field_name='F')")]
    (tmp_path / "nb").mkdir()
    nbformat.write(nb, tmp_path / "nb" / "01_fail.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "nb" / "not_numbered.ipynb")
    with pytest.raises(runbook.RunbookError) as e:
        runbook.run_runbook(tmp_path / "nb", tmp_path / "out", {"x": 7}, progress=False)
    assert e.value.notebook == "01_fail.ipynb" and e.value.ename == "RecordError"
    assert "stopped on line 7" in e.value.evalue and "K=v" in e.value.evalue
    assert e.value.exit_code == 1
    assert (tmp_path / "out" / "01_fail.ipynb").exists()


def test_unknown_parameter_is_refused(tmp_path):
    with pytest.raises(BadInputError, match="nope"):
        runbook.run_runbook(NOTEBOOKS, tmp_path, {"nope": 1}, progress=False)
    assert not list(tmp_path.iterdir())


# -- no uploaded content in notebooks ----------------------------------------------------
def _sample_fingerprints() -> list[tuple[str, str]]:
    """Text that would be in a notebook holding a sample file: its base64, its whole text."""
    import base64

    out = []
    for p in sorted(SAMPLES.glob("*.*")):
        if p.suffix not in (".csv", ".xlsx", ".xml"):
            continue
        raw = p.read_bytes()
        out.append((p.name, base64.b64encode(raw).decode()[:200]))
        if p.suffix == ".csv":
            text = raw.decode("utf-8", errors="replace")
            out += [(p.name, text), (p.name, json.dumps(text)[1:-1])]
    return out


def _upload_values(nb) -> list:
    state = nb.metadata.get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [m["state"].get("value") for m in state.values()
            if m.get("model_name") == "FileUploadModel"]


def _check_no_upload(paths: list[Path]) -> None:
    prints = _sample_fingerprints()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for name, fp in prints:
            assert fp not in text, f"{path.name} holds the content of {name}"
        nb = nbformat.reads(text, as_version=4)
        assert all(not v for v in _upload_values(nb)), path.name


def test_committed_notebooks_are_clean():
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert [p.name for p in paths] == [
        "01_workspace.ipynb", "02_providers.ipynb", "03_simplified_scenario.ipynb",
        "04_manual_scenarios.ipynb", "05_prepare_and_import.ipynb", "06_export.ipynb",
        "07_history.ipynb", "08_reconcile.ipynb"]
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        assert nb.metadata.kernelspec.name == "python3", p.name
        assert "widgets" not in nb.metadata, p.name
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, p.name
        for name in ("workspace", "user", "interactive"):
            assert f"\n{name} = " in "\n" + tagged[0].source, (p.name, name)
        for c in nb.cells:
            if c.cell_type == "code" and c not in tagged:
                assert c.outputs == [] and c.execution_count is None, p.name
                assert len(c.source.splitlines()) <= 6, (p.name, c.source)  # thin cells
    _check_no_upload(paths)


def test_no_uploaded_content_in_executed_notebooks(demo_run):
    _check_no_upload(list(demo_run["notebooks"]))
