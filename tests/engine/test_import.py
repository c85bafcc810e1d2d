"""Import scenarios end to end on real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from migration_kit import api
from migration_kit.errors import BadInputError, ScenarioError, SchemaMismatchError
from migration_kit.workspace import Workspace

from ..helpers import SAMPLES, documents, install, load_master, run, simplified_invoices


def test_master_data_from_csv_and_excel(master):
    accounts = {d["Account"]["AccountID"]: d["Account"] for d in documents(master, "GL202500")}
    assert len(accounts) == 8
    assert accounts["3900"]["Active"] is False and accounts["3000"]["Type"] == "Income"
    customers = {d["Customer"]["CustomerID"]: d["Customer"]
                 for d in documents(master, "AR303000")}
    assert customers["C002"] == {
        "CustomerID": "C002", "CustomerName": "Berliner Backwaren GmbH",
        "CustomerClass": "EXPORT", "Status": "Active", "CurrencyID": "EUR",
        "Email": "info@backwaren.de", "Phone": None, "AddressLine1": "Hauptstr. 5",
        "City": "Berlin", "PostalCode": "10115", "Country": "DE",
        "CreditLimit": Decimal("20000.00")}
    assert customers["C006"]["PostalCode"] == "0181"  # leading zero kept: text, not a number
    assert customers["C005"]["Email"] is None and customers["C005"]["Status"] == "OnHold"
    items = {d["StockItem"]["InventoryID"]: d["StockItem"] for d in documents(master, "IN202500")}
    assert items["FISH-02"]["DefaultPrice"] == Decimal("159.5")
    assert items["SERV-01"]["BaseUnit"] == "HOUR" and len(items) == 6


def test_suppliers_cp1252_semicolon(master):
    install(master, "suppliers")
    prov = api.load_provider(master, "suppliers")
    assert prov.params["delimiter"] == ";"
    assert prov.params["encoding"].lower().replace("-", "").replace("_", "") in (
        "cp1252", "windows1252")
    run(master, "suppliers")
    names = {d["Supplier"]["SupplierID"]: d["Supplier"]["SupplierName"]
             for d in documents(master, "AP303000")}
    assert names == {"S001": "Ørsted Kraft AS", "S002": "Müller Papier GmbH",
                     "S003": "Café Supply Sàrl"}


def test_journal_with_norwegian_locale(master):
    install(master, "journal")
    run(master, "journal")
    batches = documents(master, "GL301000")
    assert [b["Batch"]["BatchNbr"] for b in batches] == ["GL000001", "GL000002", "GL000003"]
    assert batches[1]["Batch"]["TransactionDate"] == dt.date(2024, 1, 31)
    assert [ln["DebitAmount"] for ln in batches[1]["Line"]] == [Decimal("1250.50"), 0]
    assert len(batches[2]["Line"]) == 3


def test_supplier_invoices_from_ubl_xml(master):
    for name in ("suppliers", "supplier_invoices"):
        install(master, name)
        run(master, name)
    bills = {d["Document"]["SupplierRef"]: d for d in documents(master, "AP301000")}
    assert [b["Document"]["ReferenceNbr"] for b in bills.values()] == [
        "PI000001", "PI000002", "PI000003"]
    paper = bills["RE-55871"]
    assert paper["Document"]["SupplierID"] == "S002"
    assert paper["Document"]["CurrencyID"] == "EUR"  # the supplier's currency
    assert paper["Document"]["DueDate"] == dt.date(2024, 2, 19)
    assert [(ln["Description"], ln["Quantity"], ln["UOM"], ln["Amount"])
            for ln in paper["Line"]] == [
        ("Copy paper A4 box", Decimal("20"), "PCS", Decimal("630.00")),
        ("Printing paper, 90 g", Decimal("12.5"), "KG", Decimal("52.50"))]
    coffee = bills["2024-778"]["Line"]
    assert [ln["UOM"] for ln in coffee] == ["KG", "HOUR", "PCS"]
    assert [ln["LineNbr"] for ln in coffee] == [1, 2, 3]
    assert coffee[2]["Description"] == "Cups & saucers"
    # the same bill again is refused by the ERP (SupplierRef unique per supplier), and a
    # second run of the scenario skips what it imported
    p = api.prepare(master, "supplier_invoices", progress=False)
    assert p.already_processed == 3


def test_simplified_sales_invoices(master):
    sc = simplified_invoices(master)
    assert sc.simplified and sc.mapping[-1].action == "Save"
    assert [m.target for m in sc.mapping[:3]] == ["Document.ReferenceNbr",
                                                  "Document.CustomerID", "Document.Date"]
    p = api.prepare(master, "sales_invoices", progress=False)
    assert (p.lines, p.records, p.errors) == (10, 5, 0)
    s = api.import_(master, "sales_invoices", progress=False)
    assert (s.imported, s.failed, s.skipped, s.remaining) == (5, 0, 0, 0)
    docs = {d["Document"]["ReferenceNbr"]: d for d in documents(master, "AR301000")}
    assert list(docs) == ["INV-1001", "INV-1002", "INV-1003", "INV-1004", "INV-1005"]
    inv = docs["INV-1001"]
    assert inv["Document"]["CurrencyID"] == "NOK"
    assert [ln["Amount"] for ln in inv["Line"]] == [Decimal("1890.00"), Decimal("717.75"),
                                                    Decimal("250.00")]
    assert docs["INV-1002"]["Document"]["CurrencyID"] == "EUR"
    assert api.status(master, "sales_invoices") == "Processed"


def test_bad_row_stops_on_that_record_and_correction_completes(master, tmp_path):
    simplified_invoices(master, file=SAMPLES / "sales_invoices_bad.csv")
    api.prepare(master, "sales_invoices", progress=False)
    s = api.import_(master, "sales_invoices", progress=False)
    assert (s.imported, s.failed, s.remaining) == (2, 1, 3)
    err = s.stopped
    assert err.line == 6 and err.record == 3 and err.field_name == "Document.CustomerID"
    assert err.key == {"Document.ReferenceNbr": "INV-1003"}
    assert "C999" in str(err) and "does not exist" in str(err)
    assert api.status(master, "sales_invoices") == "Partially processed"
    bad = api.lines(master, "sales_invoices", errors_only=True)
    assert [ln.line for ln in bad] == [6, 7]  # both lines of the record show its error
    api.set_value(master, "sales_invoices", 6, "Customer", "C004")
    assert api.lines(master, "sales_invoices", errors_only=True) == []
    s2 = api.import_(master, "sales_invoices", progress=False)
    assert (s2.imported, s2.failed, s2.remaining) == (3, 0, 0)
    got = documents(master, "AR301000")
    # the ERP ends equal to a clean run of the good file
    assert [d["Document"]["ReferenceNbr"] for d in got] == [
        "INV-1001", "INV-1002", "INV-1003", "INV-1004", "INV-1005"]
    assert sum(len(d["Line"]) for d in got) == 10


def test_continue_on_error_and_deactivate(master):
    simplified_invoices(master, file=SAMPLES / "sales_invoices_bad.csv")
    api.prepare(master, "sales_invoices", progress=False)
    s = api.import_(master, "sales_invoices", continue_on_error=True, progress=False)
    assert (s.imported, s.failed, s.remaining, s.stopped) == (4, 1, 1, None)
    assert s.errors[0]["line"] == 6
    api.set_active(master, "sales_invoices", 7, False)
    s2 = api.import_(master, "sales_invoices", progress=False)
    assert (s2.imported, s2.failed, s2.remaining) == (0, 0, 0)
    assert len(documents(master, "AR301000")) == 4


def test_never_twice_after_rollback(master):
    simplified_invoices(master)
    run(master, "sales_invoices")
    r = api.rollback(master, "sales_invoices")
    assert "does not reverse" in r["note"] and r["records_cleared"] == 5
    assert [h["action"] for h in api.history_of(master, "sales_invoices")] == ["rollback"]
    p = api.prepare(master, "sales_invoices", progress=False)
    assert p.already_processed == 5
    s = api.import_(master, "sales_invoices", progress=False)
    assert (s.imported, s.skipped) == (0, 0)
    assert len(documents(master, "AR301000")) == 5


def test_history_written(master):
    simplified_invoices(master)
    run(master, "sales_invoices")
    h = api.history_of(master, "sales_invoices")
    assert [e["action"] for e in h] == ["prepare", "import"]
    assert h[1]["counts"]["imported"] == 5 and h[1]["user"] == "admin"
    assert h[0]["file_version"] == 1 and h[1]["ended"] is not None


def test_upsert_updates_existing(master):
    api.add_provider(master, "cust2", SAMPLES / "customers.csv")
    sc = api.load_scenario(master, "customers")
    sc.name, sc.provider = "cust2", "cust2"
    sc.mapping[1].source = "=Upper([Name])"
    api.save_scenario(master, sc)
    run(master, "cust2")
    names = {d["Customer"]["CustomerID"]: d["Customer"]["CustomerName"]
             for d in documents(master, "AR303000")}
    assert names["C001"] == "NORDIC FISH AS" and len(names) == 6


def test_schema_change_refused_with_diff(master, tmp_path):
    renamed = tmp_path / "customers_v2.csv"
    text = (SAMPLES / "customers.csv").read_text()
    renamed.write_text(text.replace("PostalCode", "Zip", 1))
    with pytest.raises(SchemaMismatchError) as ei:
        api.upload_version(master, "customers", renamed)
    assert any("PostalCode" in d and "Zip" in d for d in ei.value.diff)
    assert [v.version for v in api.versions(master, "customers")] == [1]
    same = tmp_path / "customers_v2b.csv"
    same.write_text(text)
    assert api.upload_version(master, "customers", same).version == 2


def test_simplified_rules(master):
    with pytest.raises(ScenarioError) as ei:
        api.create_simplified(master, "inv", SAMPLES / "sales_invoices.csv", "AR301000",
                              {"InvoiceNbr": "Document.ReferenceNbr", "Qty": "Line.Quantity"},
                              ["Line.Quantity"])
    assert "summary object" in str(ei.value)
    assert not master.path("providers", "inv.yaml").exists()
    simplified_invoices(master)
    with pytest.raises(BadInputError, match="simplified"):
        api.set_field_type(master, "sales_invoices", "Qty", "string")
    api.convert_to_manual(master, "sales_invoices")
    assert not api.load_scenario(master, "sales_invoices").simplified
    api.set_field_type(master, "sales_invoices", "Qty", "string")
    with pytest.raises(BadInputError, match="already a manual"):
        api.convert_to_manual(master, "sales_invoices")


def test_suggestions(master):
    sug = api.suggest_mapping(master, master.windows.get("AR301000"),
                              ["InvoiceNbr", "Customer", "Qty", "ItemCode", "Nonsense"])
    assert sug == {"InvoiceNbr": "Document.ReferenceNbr", "Customer": "Document.CustomerID",
                   "Qty": "Line.Quantity", "ItemCode": "Line.InventoryID", "Nonsense": None}


def test_scenario_check_reports_every_problem(master):
    sc = api.load_scenario(master, "customers")
    sc.mapping[0].source = "NoSuchColumn"
    sc.mapping[1].source = "=Left([Name], "
    sc.mapping[2].target = "Customer.Colour"
    sc.keys = ["Customer.Nope"]
    problems = api.check_scenario(master, sc)
    assert any(p.startswith("mapping line 1") and "NoSuchColumn" in p for p in problems)
    assert any(p.startswith("mapping line 2") for p in problems)
    assert any(p.startswith("mapping line 3") and "Colour" in p for p in problems)
    assert any("Customer.Nope" in p for p in problems)


@pytest.mark.postgres
def test_sqlite_and_postgres_give_identical_results(tmp_path, pg_server):
    """Every sample imported on both databases: the ERPs hold exactly the same records."""
    got = []
    for label, url in (("lite", None), ("pg", pg_server.create_database("same_results"))):
        ws = Workspace.init(tmp_path / label, db_url=url)
        try:
            load_master(ws)
            for name in ("suppliers", "journal", "supplier_invoices"):
                install(ws, name)
                run(ws, name)
            simplified_invoices(ws)
            run(ws, "sales_invoices")
            got.append({w: documents(ws, w) for w in sorted(ws.windows.windows)})
        finally:
            ws.dispose()
    assert got[0] == got[1]
    assert sum(len(v) for v in got[0].values()) == 8 + 6 + 6 + 3 + 3 + 3 + 5


def test_update_schema_reports_broken_scenarios(master, tmp_path):
    renamed = tmp_path / "customers_v2.csv"
    renamed.write_text((SAMPLES / "customers.csv").read_text().replace("PostalCode", "Zip", 1))
    diff, broken = api.update_schema(master, "customers", renamed)
    assert any("PostalCode" in d for d in diff) and broken == ["customers"]
    assert "Zip" in api.load_provider(master, "customers").schema.columns()
    assert [v.version for v in api.versions(master, "customers")] == [1, 2]
    problems = api.check_scenario(master, api.load_scenario(master, "customers", check=False))
    assert any("PostalCode" in p for p in problems)


def test_field_type_override(master):
    prov = api.set_field_type(master, "customers", "PostalCode", "string")
    f = next(f for f in prov.schema.fields() if f.name == "PostalCode")
    assert f.type == "string" and f.type_overridden
    with pytest.raises(BadInputError, match="not one of"):
        api.set_field_type(master, "customers", "PostalCode", "money")


def test_new_manual_scenario_scaffold(master):
    from migration_kit.scenarios.scaffold import new_scenario

    api.add_provider(master, "inv_src", SAMPLES / "sales_invoices.csv")
    sc = new_scenario(master, "inv_manual", "inv_src", "AR301000")
    assert not sc.simplified and sc.mapping[-1].action == "Save"
    assert api.check_scenario(master, sc) == []
    sc.keys = ["Document.ReferenceNbr"]
    api.save_scenario(master, sc)
    assert run(master, "inv_manual").imported == 5
    out = new_scenario(master, "inv_back", "inv_src", "AR301000", kind="export")
    assert {m.target for m in out.mapping} >= {"InvoiceNbr", "Customer", "Qty"}
    assert api.check_scenario(master, out) == []
