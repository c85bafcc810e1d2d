"""Bad and hostile input: every file of ``tests/data/bad`` gives the error that
``tests/data/bad/expected.yaml`` names (type, location, message) and changes nothing: every
database table and every file under the workspace folder is byte-for-byte what it was.
Import errors are record errors: the ERP tables stay as they were and the prepared record
carries the message. Files that must be read fine (BOM variants, UTF-16, a workbook with a
huge stored dimension) are read, and fast."""

from __future__ import annotations

import shutil
import time

import pytest
import yaml

from migration_kit import api, errors
from migration_kit.errors import FormulaSyntaxError
from migration_kit.formula import compile_formula

from .helpers import (
    BAD,
    INVOICE_COLUMNS,
    TEMPLATES,
    dump_files,
    dump_tables,
    invoice_scenario,
    master_workspace,
)

CASES = yaml.safe_load((BAD / "expected.yaml").read_text(encoding="utf-8"))["cases"]
ERP_STATE = ("erp_", "mk_import_ledger", "mk_numbering")
SIMPLE_MAP = dict(zip(INVOICE_COLUMNS, [
    "Document.ReferenceNbr", "Document.CustomerID", "Document.Date", "Document.DueDate",
    "Document.Description", "Line.InventoryID", "Line.Description", "Line.Quantity",
    "Line.UnitPrice", "Line.DiscountPercent", "Line.AccountID"]))


def test_corpus_is_complete():
    """Every file of the corpus has a case, and every case's file exists."""
    files = {p.name for p in BAD.iterdir()} - {"expected.yaml", "make_bad.py"}
    used = {c["file"] for c in CASES.values() if "file" in c}
    used |= {(BAD / c["path"]).resolve().name for c in CASES.values() if "path" in c}
    assert files - used == set(), "files without an expected outcome"
    assert used - files == set(), "cases without their file"


@pytest.fixture
def base(tmp_path, db_url):
    ws = master_workspace(tmp_path / "ws", db_url)
    invoice_scenario(ws, "inv", BAD / "good.csv")
    api.prepare(ws, "inv", progress=False)
    yield ws
    ws.dispose()


def _setup(ws, case, file):
    """What must succeed before the operation under test; returns the scenario name."""
    op = case["operation"]
    if op == "prepare":
        api.upload_version(ws, "inv", file)
    if op == "import":
        spec = case["scenario"]
        if "template" in spec:
            name = spec["template"]
            api.add_provider(ws, name, file)
            shutil.copy(TEMPLATES / "scenarios" / f"{name}.yaml", ws.path("scenarios"))
        else:
            name = "bad"
            invoice_scenario(ws, name, file, options=spec["simplified"])
        api.prepare(ws, name, progress=False)
        return name
    return "inv"


def _operate(ws, case, file, name):
    op = case["operation"]
    if op == "add provider":
        return api.add_provider(ws, case.get("name", "new"), file, params=case.get("params"),
                                type_name=case.get("type"))
    if op == "upload version":
        return api.upload_version(ws, "inv", file)
    if op == "prepare":
        return api.prepare(ws, "inv", progress=False)
    if op == "import":
        summary = api.import_(ws, name, progress=False)
        summary.raise_for_errors()
        return summary
    if op == "scenario save":
        sc = api.Scenario.from_dict(yaml.safe_load(file.read_text(encoding="utf-8")))
        return api.save_scenario(ws, sc)
    if op == "formula":
        formula = file.read_text(encoding="utf-8").strip()
        with pytest.raises(FormulaSyntaxError):
            compile_formula(formula)
        sc = api.load_scenario(ws, "customers")
        assert sc.mapping[1].target == "Customer.CustomerName"
        sc.mapping[1].source = formula
        return api.save_scenario(ws, sc)
    if op == "simplified":
        return api.create_simplified(ws, case["name"], file, "AR301000", SIMPLE_MAP,
                                     keys=["Document.ReferenceNbr"])
    raise AssertionError(f"unknown operation {op!r}")


def _state(ws, case):
    if case["operation"] == "import":
        state = dump_tables(ws, ERP_STATE)
    else:
        state = (dump_tables(ws), dump_files(ws.root))
    ws.dispose()
    return state


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_bad_input(base, case_id):
    ws, case = base, CASES[case_id]
    file = BAD / case["path"] if "path" in case else BAD / case["file"]
    name = _setup(ws, case, file)
    before = _state(ws, case)
    files_before = dump_files(ws.root)

    if case["error"] == "none":
        t = time.monotonic()
        _operate(ws, case, file, name)
        assert time.monotonic() - t < case.get("seconds", 10)
        _check_read_fine(ws, case, files_before)
        return

    error_type = getattr(errors, case["error"])
    with pytest.raises(error_type) as ei:
        _operate(ws, case, file, name)
    err = ei.value
    assert type(err).__name__ == case["error"], f"{type(err).__name__}: {err}"
    where = str(err.location) if err.location else str(err)
    assert case["location"] in where, f"location {case['location']!r} not in {where!r}"
    assert case["message"] in err.message, f"{case['message']!r} not in {err.message!r}"
    assert _state(ws, case) == before, "a failed operation changed the workspace"
    if case["operation"] == "import":
        (first, *_) = api.lines(ws, name, errors_only=True)
        assert not first.processed and case["message"] in first.error
        assert api.counts(ws, name)["processed"] == 0


def _check_read_fine(ws, case, files_before):
    files = dump_files(ws.root)
    added = sorted(set(files) - set(files_before))
    changed = sorted(k for k in files_before if files.get(k) != files_before[k])
    prov_name = "inv" if case["operation"] == "upload version" else case.get("name", "new")
    fv = api.latest_version(ws, prov_name)
    prov = api.load_provider(ws, prov_name)
    rows = [r for b in prov.ptype.read_batches(fv.path, prov.params, prov.schema)
            for r in b.rows]
    assert len(rows) == case["rows"]
    # stored under a name the workspace chose, inside the workspace
    assert fv.path.name == f"v{fv.version:04d}{fv.path.suffix}"
    assert fv.path.parent == ws.path("files", prov_name)
    stored = f"files/{prov_name}/{fv.path.name}"
    if case["operation"] == "upload version":
        assert added == [stored] and changed == []
        assert fv.original_name == (BAD / case.get("path", case.get("file"))).resolve().name
    else:
        assert set(added) <= {"providers", f"providers/{prov_name}.yaml", f"files/{prov_name}",
                              stored}
        assert stored in added and changed == []
        if "settled" in case:
            warnings = prov.schema.layout.warnings()
            assert any(case["settled"] in w for w in warnings), warnings
        if "columns" in case:
            assert prov.schema.columns() == case["columns"]
        elif "InvoiceNbr" in prov.schema.columns():
            assert prov.schema.columns() == INVOICE_COLUMNS
            assert {r[0] for r in rows} == {"INV-2001", "INV-2002", "INV-2003"}
