"""Helpers for tests: install the sample providers and scenarios from templates/."""

from __future__ import annotations

import shutil
from pathlib import Path

from migration_kit import api, runbook

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "templates" / "samples"
SCENARIOS = ROOT / "templates" / "scenarios"

SAMPLE_FILES = runbook.DEMO_SOURCES  # provider (= scenario) name -> sample file
VALUEMAPS = ROOT / "templates" / "valuemaps"
INVOICE_MAP = runbook.SALES_INVOICE_MAP
# The sample XML invoices' mapping: element path -> window field.
INVOICE_XML_MAP = {
    "Invoice.ID": "Document.ReferenceNbr", "Invoice.CustomerID": "Document.CustomerID",
    "Invoice.IssueDate": "Document.Date", "Invoice.DueDate": "Document.DueDate",
    "Invoice.Note": "Document.Description", "InvoiceLine.ItemCode": "Line.InventoryID",
    "InvoiceLine.Description": "Line.Description", "InvoiceLine.Quantity": "Line.Quantity",
    "InvoiceLine.UnitPrice": "Line.UnitPrice", "InvoiceLine.Discount": "Line.DiscountPercent",
    "InvoiceLine.Account": "Line.AccountID",
}


def invoices_xlsx(path: Path) -> Path:
    """The sample invoices as a workbook at ``path`` (sheet 'Invoices'), typed cells."""
    import csv
    from decimal import Decimal

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Invoices"
    with open(SAMPLES / "sales_invoices.csv", newline="") as f:
        for i, row in enumerate(csv.reader(f)):
            ws.append(row if i == 0 else row[:7] + [Decimal(v) for v in row[7:10]] + row[10:])
    wb.save(path)
    return path



def install(ws, name: str, file: str | Path | None = None, **params) -> None:
    """Provider NAME from a sample file, and the manual scenario NAME from templates."""
    api.add_provider(ws, name, file or SAMPLES / SAMPLE_FILES[name], params=params or None)
    for vm in VALUEMAPS.glob("*.yaml"):
        shutil.copy(vm, ws.path("valuemaps", vm.name))
    shutil.copy(SCENARIOS / f"{name}.yaml", ws.path("scenarios", f"{name}.yaml"))


def run(ws, name: str):
    api.prepare(ws, name, progress=False)
    s = api.import_(ws, name, progress=False)
    s.raise_for_errors()
    return s


def load_master(ws, names=("accounts", "customers", "stock_items")) -> None:
    for n in names:
        install(ws, n)
        run(ws, n)


def simplified_invoices(ws, name: str = "sales_invoices", file: Path | None = None, **options):
    return api.create_simplified(ws, name, file or SAMPLES / "sales_invoices.csv", "AR301000",
                                 INVOICE_MAP, ["Document.ReferenceNbr"], options=options or None)


def documents(ws, window: str) -> list[dict]:
    return list(api.list_documents(ws, window))
