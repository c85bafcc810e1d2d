"""XML lists stay lists, end to end: UBL supplier bills of one line, then three, imported
through the supplier-invoice scenario into AP301000; and a list first seen once that is
read as a detail object after `update-schema`, with the scenario following (SQLite and PG)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from migration_kit import api
from migration_kit.errors import SchemaMismatchError

from ..helpers import SCENARIOS, VALUEMAPS, documents, install, run

DATA = SCENARIOS.parents[1] / "tests" / "data" / "providers"
ONE, THREE = DATA / "ubl_bill_one_line.xml", DATA / "ubl_bill_three_lines.xml"
ORDER1, ORDER3 = DATA / "order_one_line.xml", DATA / "order_three_lines.xml"

# (Description, Quantity, UOM, UnitCost, Amount, AccountID) per bill
BILL_LINES = {
    "B-7001": [("Power, March", Decimal("1"), "PCS", Decimal("3900"), Decimal("3900.00"),
                "6800")],
    "B-7002": [("Copy paper A4 box", Decimal("10"), "PCS", Decimal("31.5"), Decimal("315.00"),
                "4000"),
               ("Printing paper & card", Decimal("2.5"), "KG", Decimal("4.2"), Decimal("10.50"),
                "6800"),
               ("Binding service", Decimal("4"), "HOUR", Decimal("80"), Decimal("320.00"),
                "6800")]}


def ubl_bills_scenario(ws, name: str = "ubl_bills") -> None:
    """The sample supplier-invoice scenario (its mapping and unit value map) on provider NAME."""
    for vm in VALUEMAPS.glob("*.yaml"):
        ws.path("valuemaps", vm.name).write_text(vm.read_text())
    text = (SCENARIOS / "supplier_invoices.yaml").read_text()
    ws.path("scenarios", f"{name}.yaml").write_text(
        text.replace("name: supplier_invoices", f"name: {name}")
        .replace("provider: supplier_invoices", f"provider: {name}"))


def check_bills(bills: list[dict]) -> None:
    """Both bills, every field of their summaries and every line."""
    assert [(b["Document"]["ReferenceNbr"], b["Document"]["SupplierRef"],
             b["Document"]["SupplierID"], b["Document"]["CurrencyID"]) for b in bills] == [
        ("PI000001", "B-7001", "S001", "NOK"), ("PI000002", "B-7002", "S002", "EUR")]
    for b in bills:
        d = b["Document"]
        assert (d["DocType"], d["Date"], d["DueDate"], d["Description"]) == (
            "Bill", dt.date(2024, 4, 2), dt.date(2024, 5, 2), f"Bill {d['SupplierRef']}")
        assert [(ln["LineNbr"], ln["Description"], ln["Quantity"], ln["UOM"], ln["UnitCost"],
                 ln["Amount"], ln["AccountID"]) for ln in b["Line"]] == [
            (k, *line) for k, line in enumerate(BILL_LINES[d["SupplierRef"]], start=1)]


@pytest.mark.parametrize("params", [{"detail_paths": "cac:InvoiceLine"}, None],
                         ids=["declared", "ubl-line"])
def test_one_line_bill_then_three_line_version(master, params):
    install(master, "suppliers")
    run(master, "suppliers")
    prov = api.add_provider(master, "ubl_bills", ONE, params=params)
    assert prov.params["detail_paths"] == ["cac:InvoiceLine"]
    ubl_bills_scenario(master)
    assert api.check_scenario(master, api.show_scenario(master, "ubl_bills")) == []
    p = api.prepare(master, "ubl_bills", progress=False)
    assert (p.lines, p.records, p.errors) == (1, 1, 0)
    s = api.import_(master, "ubl_bills", progress=False)
    assert (s.imported, s.failed, s.remaining) == (1, 0, 0)
    assert [len(b["Line"]) for b in documents(master, "AP301000")] == [1]
    assert api.upload_version(master, "ubl_bills", THREE).version == 2
    p = api.prepare(master, "ubl_bills", progress=False)
    assert (p.lines, p.records, p.errors) == (3, 1, 0)
    s = api.import_(master, "ubl_bills", progress=False)
    assert (s.imported, s.failed, s.remaining) == (1, 0, 0)
    check_bills(documents(master, "AP301000"))


def test_list_seen_once_then_repeated_after_update_schema(master):
    api.add_provider(master, "orders", ORDER1)  # Line once, no declaration: plain fields
    master.path("scenarios", "orders.yaml").write_text(
        "name: orders\nkind: import\nwindow: AR301000\nprovider: orders\n"
        "keys: [Document.ReferenceNbr]\nmapping:\n"
        "  - {target: Document.ReferenceNbr, source: \"No\"}\n"
        "  - {target: Document.CustomerID, source: \"='C001'\"}\n"
        "  - {target: Document.Date, source: Date}\n"
        "  - {target: Line.InventoryID, source: Line/Item}\n"
        "  - {target: Line.Quantity, source: Line/Qty}\n"
        "  - {target: Line.UnitPrice, source: \"=IIf([Line/Item] = 'SERV-01', 100, 10)\"}\n"
        "  - {target: Line.AccountID, source: \"='3000'\"}\n"
        "  - {action: Save}\n")
    assert run(master, "orders").imported == 1
    with pytest.raises(SchemaMismatchError, match="element Line repeats"):
        api.upload_version(master, "orders", ORDER3)
    diff, broken = api.update_schema(master, "orders", ORDER3)
    assert broken == [] and "added object 'Line'" in diff
    s = run(master, "orders")
    assert s.imported == 1
    docs = {d["Document"]["ReferenceNbr"]: d for d in documents(master, "AR301000")}
    assert list(docs) == ["O-1", "O-2"]
    assert [(ln["InventoryID"], ln["Quantity"], ln["Amount"]) for ln in docs["O-1"]["Line"]] == [
        ("FISH-01", Decimal("2"), Decimal("20.00"))]
    assert [(ln["InventoryID"], ln["Quantity"], ln["Amount"]) for ln in docs["O-2"]["Line"]] == [
        ("FISH-01", Decimal("1"), Decimal("10.00")), ("FISH-02", Decimal("3"), Decimal("30.00")),
        ("SERV-01", Decimal("1.5"), Decimal("150.00"))]
