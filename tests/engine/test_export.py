"""Export scenarios: flattened header-detail rows, new file versions in the provider's
structure, round trips through CSV, Excel and XML into a fresh workspace."""

from __future__ import annotations

import csv
import shutil

import openpyxl
import pytest

from migration_kit import api
from migration_kit.scenarios.model import MappingLine, Scenario
from migration_kit.workspace import Workspace

from ..helpers import INVOICE_MAP, SAMPLES, SCENARIOS, documents, invoices_xlsx, load_master, run
from ..helpers import INVOICE_XML_MAP as XML_MAP


def xlsx_copy(tmp_path):
    return invoices_xlsx(tmp_path / "sales_invoices.xlsx")


FORMATS = {
    "csv": (lambda tmp: SAMPLES / "sales_invoices.csv", INVOICE_MAP),
    "excel": (xlsx_copy, INVOICE_MAP),
    "xml": (lambda tmp: SAMPLES / "sales_invoices.xml", XML_MAP),
}


def export_scenario(ws, name: str, provider: str, mapping: dict[str, str]) -> None:
    """An export scenario writing window fields back into the import file's columns."""
    api.save_scenario(ws, Scenario(
        name=name, kind="export", window="AR301000", provider=provider,
        mapping=[MappingLine(target=src, source=target) for src, target in mapping.items()]))


def imported(ws, fmt, tmp_path):
    make, mapping = FORMATS[fmt]
    file = make(tmp_path)
    api.create_simplified(ws, "inv_in", file, "AR301000", mapping, ["Document.ReferenceNbr"])
    run(ws, "inv_in")
    api.add_provider(ws, "inv_out", file)
    export_scenario(ws, "inv_out", "inv_out", mapping)
    return file


def comparable(docs):
    return [{"Document": {k: v for k, v in d["Document"].items()},
             "Line": d["Line"]} for d in docs]


@pytest.mark.parametrize("fmt", ["csv", "excel", "xml"])
def test_round_trip(fmt, workspace, tmp_path):
    load_master(workspace)
    imported(workspace, fmt, tmp_path)
    s = api.export(workspace, "inv_out", progress=False)
    assert (s.version, s.rows, s.failed) == (2, 10, 0)
    out = tmp_path / f"exported{s.path[-5:].split('.')[-1]}"
    fv = api.latest_version(workspace, "inv_out", tmp_path / f"latest.{fv_ext(fmt)}")
    assert fv.version == 2 and fv.origin == "export"
    del out
    fresh = Workspace.init(tmp_path / "fresh", db_url=_other_url(workspace, tmp_path))
    try:
        load_master(fresh)
        api.create_simplified(fresh, "again", tmp_path / f"latest.{fv_ext(fmt)}", "AR301000",
                              FORMATS[fmt][1], ["Document.ReferenceNbr"])
        run(fresh, "again")
        assert comparable(documents(fresh, "AR301000")) == comparable(
            documents(workspace, "AR301000"))
    finally:
        fresh.dispose()


def fv_ext(fmt):
    return {"csv": "csv", "excel": "xlsx", "xml": "xml"}[fmt]


def _other_url(ws, tmp_path):
    if ws.db_engine.dialect.name == "sqlite":
        return None
    import uuid

    from tests.conftest import PG_SERVERS
    return PG_SERVERS[0].create_database(f"f_{uuid.uuid4().hex[:10]}")


def test_flattened_csv_cell_by_cell(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    load_master(ws)
    # 3 documents, 7 lines: the first three invoices of the sample
    three = tmp_path / "three.csv"
    rows = (SAMPLES / "sales_invoices.csv").read_text().splitlines()[:8]
    three.write_text("\n".join(rows) + "\n")
    api.create_simplified(ws, "inv_in", three, "AR301000", INVOICE_MAP,
                          ["Document.ReferenceNbr"])
    run(ws, "inv_in")
    api.add_provider(ws, "sales_invoices_out", SAMPLES / "sales_invoices.csv")
    shutil.copy(SCENARIOS / "sales_invoices_export.yaml", ws.path("scenarios"))
    p = api.prepare_export(ws, "sales_invoices_export", progress=False)
    assert (p.records, p.lines) == (3, 7)
    s = api.export(ws, "sales_invoices_export", prepare_first=False, progress=False)
    with open(s.path, newline="", encoding="utf-8") as f:
        got = list(csv.reader(f))
    assert got == [
        ["InvoiceNbr", "Customer", "InvoiceDate", "DueDate", "Description", "ItemCode",
         "LineDescription", "Qty", "UnitPrice", "Discount", "Account"],
        ["INV-1001", "C001", "2024-03-01", "2024-03-31", "March delivery", "FISH-01",
         "Salmon fillet", "10", "189", "0", "3000"],
        ["INV-1001", "C001", "2024-03-01", "2024-03-31", "March delivery", "FISH-02",
         "Cod loin", "5", "159.5", "10", "3000"],
        ["INV-1001", "C001", "2024-03-01", "2024-03-31", "March delivery", "", "Freight", "1",
         "250", "0", "3000"],
        ["INV-1002", "C002", "2024-03-03", "2024-04-02", "Bread order", "BREAD-01",
         "Rye bread", "40", "45", "5", "3100"],
        ["INV-1002", "C002", "2024-03-03", "2024-04-02", "Bread order", "COFFEE-01",
         "Coffee beans", "6", "249", "0", "3100"],
        ["INV-1003", "C004", "2024-03-05", "2024-04-04", "Consulting March", "SERV-01",
         "Menu planning workshop", "7.5", "1250", "0", "3000"],
        ["INV-1003", "C004", "2024-03-05", "2024-04-04", "Consulting March", "FISH-01",
         "Tasting samples", "2", "189", "100", "3000"],
    ]
    lines = api.lines(ws, "sales_invoices_export", limit=None)
    assert len(lines) == 7 and all(ln.processed for ln in lines)
    assert api.status(ws, "sales_invoices_export") == "Exported"


def test_inactive_rows_not_exported(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    load_master(ws)
    imported(ws, "csv", tmp_path)
    api.prepare_export(ws, "inv_out", progress=False)
    api.set_active(ws, "inv_out", 1, False)  # the whole first invoice (3 lines)
    s = api.export(ws, "inv_out", prepare_first=False, progress=False)
    assert s.rows == 7
    assert api.status(ws, "inv_out") == "Exported"


def test_formula_cells_neutralised(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    api.save_document(ws, "AR303000", {"Customer": {
        "CustomerID": "EVIL", "CustomerName": '=HYPERLINK("http://x","y")'}})
    api.save_document(ws, "AR303000", {"Customer": {"CustomerID": "OK1",
                                                    "CustomerName": "-5"}})
    for fmt, sample in (("csv", SAMPLES / "customers.csv"), ("excel", None)):
        name = f"cust_{fmt}"
        if sample is None:
            sample = tmp_path / "customers.xlsx"
            wb = openpyxl.Workbook()
            wb.active.append(["CustomerID", "Name"])
            wb.active.append(["C1", "Someone"])
            wb.save(sample)
        api.add_provider(ws, name, sample)
        api.save_scenario(ws, Scenario(
            name=name, kind="export", window="AR303000", provider=name,
            mapping=[MappingLine(target="CustomerID", source="Customer.CustomerID"),
                     MappingLine(target="Name", source="Customer.CustomerName")]))
        s = api.export(ws, name, progress=False)
        if fmt == "csv":
            with open(s.path, newline="", encoding="utf-8") as f:
                names = [r["Name"] for r in csv.DictReader(f)]
        else:
            sheet = openpyxl.load_workbook(s.path).active
            names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert names == ['\'=HYPERLINK("http://x","y")', "-5"]


def test_latest_and_history(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    load_master(ws)
    imported(ws, "csv", tmp_path)
    api.export(ws, "inv_out", progress=False)
    api.export(ws, "inv_out", progress=False)
    assert [v.version for v in api.versions(ws, "inv_out")] == [1, 2, 3]
    out = tmp_path / "got.csv"
    fv = api.latest_version(ws, "inv_out", out)
    assert fv.version == 3 and out.read_bytes() == fv.path.read_bytes()
    acts = [h["action"] for h in api.history_of(ws, "inv_out")]
    assert acts == ["prepare", "export", "prepare", "export"]
    r = api.rollback(ws, "inv_out")
    assert "stay" in r["note"]
    assert api.status(ws, "inv_out") == "New"


def test_row_that_cannot_be_written_gets_its_error(master, tmp_path):
    api.add_provider(master, "cust_out", SAMPLES / "customers.csv")
    assert next(f for f in api.load_provider(master, "cust_out").schema.fields()
                if f.name == "CreditLimit").type in ("integer", "decimal")
    api.save_scenario(master, Scenario(
        name="cust_out", kind="export", window="AR303000", provider="cust_out",
        mapping=[MappingLine(target="CustomerID", source="Customer.CustomerID"),
                 MappingLine(target="CreditLimit",
                             source="=IIf([Customer.CustomerID] = 'C003', 'plenty', "
                                    "[Customer.CreditLimit])")]))
    s = api.export(master, "cust_out", progress=False)
    assert (s.rows, s.failed) == (5, 1)
    assert s.errors[0]["field"] == "CreditLimit" and "plenty" in s.errors[0]["message"]
    bad = api.lines(master, "cust_out", errors_only=True)
    assert len(bad) == 1 and not bad[0].processed and bad[0].values["CustomerID"] == "C003"
    with open(s.path, newline="", encoding="utf-8") as f:
        ids = [r["CustomerID"] for r in csv.DictReader(f)]
    assert "C003" not in ids and len(ids) == 5
