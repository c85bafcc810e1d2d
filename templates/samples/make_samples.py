"""Writes the demo's sample source files (deterministic). Run: python make_samples.py"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent

CUSTOMERS = [
    ("C001", "Nordic Fish AS", "DOMESTIC", "Active", "NOK", "post@nordicfish.no", "Bryggen 1", "Bergen", "5003", "NO", "50000"),
    ("C002", "Berliner Backwaren GmbH", "EXPORT", "Active", "EUR", "info@backwaren.de", "Hauptstr. 5", "Berlin", "10115", "DE", "20000"),
    ("C003", "Svensk Trä AB", "EXPORT", "Active", "SEK", "order@svensktra.se", "Storgatan 9", "Uppsala", "75320", "SE", "15000"),
    ("C004", "Fjord Hotels AS", "DOMESTIC", "Active", "NOK", "booking@fjordhotels.no", "Strandkaien 2", "Stavanger", "4005", "NO", "80000"),
    ("C005", "Old Account Ltd", "EXPORT", "OnHold", "GBP", "", "1 High St", "Leeds", "LS1 1AA", "GB", "0"),
    ("C006", "Oslo Kaffebar AS", "DOMESTIC", "Active", "NOK", "hei@kaffebar.no", "Torggata 3", "Oslo", "0181", "NO", "10000"),
]
ACCOUNTS = [
    ("1500", "Customer receivables", "Asset", "true"),
    ("1920", "Bank", "Asset", "true"),
    ("2400", "Supplier payables", "Liability", "true"),
    ("3000", "Sales, domestic", "Income", "true"),
    ("3100", "Sales, export", "Income", "true"),
    ("3900", "Old sales account", "Income", "false"),
    ("4000", "Purchases of goods", "Expense", "true"),
    ("6800", "Office supplies", "Expense", "true"),
]
ITEMS = [
    ("FISH-01", "Salmon fillet 1 kg", "FOOD", "KG", 189.0, "Active"),
    ("FISH-02", "Cod loin 1 kg", "FOOD", "KG", 159.5, "Active"),
    ("BREAD-01", "Rye bread", "FOOD", "PCS", 45.0, "Active"),
    ("COFFEE-01", "Coffee beans 1 kg", "FOOD", "KG", 249.0, "Active"),
    ("SERV-01", "Consulting hour", "SERVICE", "HOUR", 1250.0, "Active"),
    ("PAPER-01", "Copy paper A4 box", "OFFICE", "BOX", 399.0, "Active"),
]
SUPPLIERS = [
    ("S001", "Ørsted Kraft AS", "Active", "NOK", "faktura@orsted-kraft.no", "Kraftveien 1", "Tromsø", "9008", "NO", "NET30"),
    ("S002", "Müller Papier GmbH", "Active", "EUR", "rechnung@mueller-papier.de", "Papierstraße 12", "München", "80331", "DE", "NET14"),
    ("S003", "Café Supply Sàrl", "Active", "CHF", "", "Rue du Café 4", "Genève", "1201", "CH", "NET30"),
]
# InvoiceNbr, Customer, InvoiceDate, DueDate, Description, ItemCode, LineDescription, Qty, UnitPrice, Discount, Account
INVOICE_LINES = [
    ("INV-1001", "C001", "2024-03-01", "2024-03-31", "March delivery", "FISH-01", "Salmon fillet", "10", "189.00", "0", "3000"),
    ("INV-1001", "C001", "2024-03-01", "2024-03-31", "March delivery", "FISH-02", "Cod loin", "5", "159.50", "10", "3000"),
    ("INV-1001", "C001", "2024-03-01", "2024-03-31", "March delivery", "", "Freight", "1", "250.00", "0", "3000"),
    ("INV-1002", "C002", "2024-03-03", "2024-04-02", "Bread order", "BREAD-01", "Rye bread", "40", "45.00", "5", "3100"),
    ("INV-1002", "C002", "2024-03-03", "2024-04-02", "Bread order", "COFFEE-01", "Coffee beans", "6", "249.00", "0", "3100"),
    ("INV-1003", "C004", "2024-03-05", "2024-04-04", "Consulting March", "SERV-01", "Menu planning workshop", "7.5", "1250.00", "0", "3000"),
    ("INV-1003", "C004", "2024-03-05", "2024-04-04", "Consulting March", "FISH-01", "Tasting samples", "2", "189.00", "100", "3000"),
    ("INV-1004", "C003", "2024-03-08", "2024-04-07", "Export, wood oven bread", "BREAD-01", "Rye bread", "100", "42.00", "0", "3100"),
    ("INV-1005", "C006", "2024-03-10", "2024-03-24", "Coffee", "COFFEE-01", "Coffee beans", "12", "249.00", "15", "3000"),
    ("INV-1005", "C006", "2024-03-10", "2024-03-24", "Coffee", "PAPER-01", "Paper for receipts", "1", "399.00", "0", "3000"),
]
INVOICE_HEADER = ["InvoiceNbr", "Customer", "InvoiceDate", "DueDate", "Description", "ItemCode",
                  "LineDescription", "Qty", "UnitPrice", "Discount", "Account"]
# BatchRef, Date (dd.mm.yyyy), BatchText, Account, LineText, Debit, Credit
JOURNAL = [
    ("OB-1", "01.01.2024", "Opening balance", "1920", "Bank", "150000,00", ""),
    ("OB-1", "01.01.2024", "Opening balance", "2400", "Payables", "", "150000,00"),
    ("ADJ-7", "31.01.2024", "Office supplies", "6800", "Paper", "1 250,50", ""),
    ("ADJ-7", "31.01.2024", "Office supplies", "1920", "Paid from bank", "", "1 250,50"),
    ("ADJ-8", "29.02.2024", "Reclass sales", "3000", "To export", "5000,00", ""),
    ("ADJ-8", "29.02.2024", "Reclass sales", "3100", "From domestic", "", "3000,00"),
    ("ADJ-8", "29.02.2024", "Reclass sales", "3100", "From domestic", "", "2000,00"),
]


def write_csv(path: Path, header: list[str], rows, **kw) -> None:
    enc = kw.pop("encoding", "utf-8")
    with open(path, "w", newline="", encoding=enc) as f:
        w = csv.writer(f, **kw)
        w.writerow(header)
        w.writerows(rows)


def write_invoice_xml(path: Path) -> None:
    """The sales invoices as an XML tree: Invoice elements with nested InvoiceLine."""
    from xml.sax.saxutils import escape

    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<Invoices xmlns="urn:migration-kit:sales-invoices" xmlns:cbc="urn:oasis:names:'
           'specification:ubl:schema:xsd:CommonBasicComponents-2">']
    cur = None
    for (nbr, cust, date, due, desc, item, ldesc, qty, price, disc, acct) in INVOICE_LINES:
        if nbr != cur:
            if cur:
                out.append("  </Invoice>")
            cur = nbr
            out += ["  <Invoice>", f"    <cbc:ID>{nbr}</cbc:ID>",
                    f"    <CustomerID>{cust}</CustomerID>",
                    f"    <cbc:IssueDate>{date}</cbc:IssueDate>",
                    f"    <cbc:DueDate>{due}</cbc:DueDate>", f"    <cbc:Note>{escape(desc)}</cbc:Note>"]
        out += ["    <InvoiceLine>", f"      <ItemCode>{item}</ItemCode>",
                f"      <Description>{escape(ldesc)}</Description>",
                f'      <Quantity unitCode="PCS">{qty}</Quantity>',
                f"      <UnitPrice>{price}</UnitPrice>", f"      <Discount>{disc}</Discount>",
                f"      <Account>{acct}</Account>", "    </InvoiceLine>"]
    out += ["  </Invoice>", "</Invoices>"]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


# SupplierRef, Supplier, IssueDate, DueDate, Note, [(item name, qty, UBL unit, price, account)]
SUPPLIER_INVOICES = [
    ("F-2024-0117", "S001", "2024-02-01", "2024-03-02", "Electricity January",
     [("Power, January", "1", "C62", "4200.00", "6800")]),
    ("RE-55871", "S002", "2024-02-05", "2024-02-19", "Paper delivery",
     [("Copy paper A4 box", "20", "C62", "31.50", "4000"),
      ("Printing paper, 90 g", "12.5", "KGM", "4.20", "6800")]),
    ("2024-778", "S003", "2024-02-10", "2024-03-11", "Coffee for the office",
     [("Espresso beans", "6", "KGM", "24.90", "4000"),
      ("Barista course", "3", "HUR", "95.00", "6800"),
      ("Cups & saucers", "24", "C62", "3.75", "6800")]),
]


def write_supplier_invoice_xml(path: Path) -> None:
    """UBL-style supplier invoices: namespaces, nested parties, attributes, lines."""
    from xml.sax.saxutils import escape

    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<Invoices xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"',
           '    xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:'
           'CommonAggregateComponents-2"',
           '    xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:'
           'CommonBasicComponents-2">']
    for ref, supplier, date, due, note, lines in SUPPLIER_INVOICES:
        out += ["  <Invoice>", f"    <cbc:ID>{ref}</cbc:ID>",
                f"    <cbc:IssueDate>{date}</cbc:IssueDate>", f"    <cbc:DueDate>{due}</cbc:DueDate>",
                f"    <cbc:Note>{escape(note)}</cbc:Note>",
                "    <cac:AccountingSupplierParty><cac:Party><cac:PartyIdentification>"
                f"<cbc:ID>{supplier}</cbc:ID></cac:PartyIdentification></cac:Party>"
                "</cac:AccountingSupplierParty>"]
        for n, (name, qty, unit, price, account) in enumerate(lines, start=1):
            out += ["    <cac:InvoiceLine>", f"      <cbc:ID>{n}</cbc:ID>",
                    f'      <cbc:InvoicedQuantity unitCode="{unit}">{qty}</cbc:InvoicedQuantity>',
                    f"      <cbc:AccountingCost>{account}</cbc:AccountingCost>",
                    f"      <cac:Item><cbc:Name>{escape(name)}</cbc:Name></cac:Item>",
                    f"      <cac:Price><cbc:PriceAmount>{price}</cbc:PriceAmount></cac:Price>",
                    "    </cac:InvoiceLine>"]
        out.append("  </Invoice>")
    out.append("</Invoices>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def main() -> None:
    write_csv(HERE / "customers.csv",
              ["CustomerID", "Name", "Class", "Status", "Currency", "Email", "Address", "City",
               "PostalCode", "Country", "CreditLimit"], CUSTOMERS)
    write_csv(HERE / "accounts.csv", ["Account", "Description", "Type", "Active"], ACCOUNTS)
    write_csv(HERE / "suppliers.csv",
              ["Supplier", "Name", "Status", "Currency", "Email", "Street", "Town", "Zip",
               "Country", "Terms"], SUPPLIERS, delimiter=";", encoding="cp1252")
    write_csv(HERE / "sales_invoices.csv", INVOICE_HEADER, INVOICE_LINES)
    bad = [list(r) for r in INVOICE_LINES]
    for r in bad:
        if r[0] == "INV-1003":
            r[1] = "C999"  # a customer that does not exist
    write_csv(HERE / "sales_invoices_bad.csv", INVOICE_HEADER, bad)
    write_invoice_xml(HERE / "sales_invoices.xml")
    write_supplier_invoice_xml(HERE / "supplier_invoices.xml")
    write_csv(HERE / "journal.csv", ["BatchRef", "Date", "BatchText", "Account", "LineText",
                                     "Debit", "Credit"], JOURNAL, delimiter=";")
    wb = Workbook()
    ws = wb.active
    ws.title = "Items"
    ws.append(["Item", "Description", "Class", "Unit", "Price", "Status"])
    for r in ITEMS:
        ws.append(list(r))
    wb.properties.created = dt.datetime(2024, 1, 1)
    wb.properties.modified = dt.datetime(2024, 1, 1)
    wb.save(HERE / "stock_items.xlsx")


if __name__ == "__main__":
    main()
