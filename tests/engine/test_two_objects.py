"""Header and lines from two objects: orders.csv + order_details.csv, and the same as a
two-sheet workbook (issue 13). On SQLite and PostgreSQL, through the API and the CLI."""

from __future__ import annotations

import csv
import json
import random
from decimal import Decimal

import openpyxl
import pytest
import yaml

from migration_kit import api
from migration_kit.errors import SchemaMismatchError, SourceError

from ..helpers import documents
from .shapes import CUSTOMERS, ITEMS

ORDER_FIELDS = ["orderID", "customerID", "orderDate", "requiredDate", "shipName"]
DETAIL_FIELDS = ["orderID", "productID", "unitPrice", "quantity", "discount"]


def northwind(n_orders: int, seed: int = 1) -> tuple[list[list], list[list]]:
    """Orders and their details, the details sorted by product (not by order)."""
    rng = random.Random(seed)
    orders, details = [], []
    for i in range(n_orders):
        oid = 10248 + i
        day = rng.randint(1, 28)
        orders.append([oid, rng.choice(CUSTOMERS), f"2024-05-{day:02d}", f"2024-06-{day:02d}",
                       f"ship {oid}"])
        for item in rng.sample(ITEMS, rng.randint(1, 3)):
            details.append([oid, item, f"{rng.randint(5, 90)}.50", rng.randint(1, 30), 0])
    details.sort(key=lambda d: (d[1], d[0]))
    return orders, details


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


SCENARIO = {
    "name": "orders", "kind": "import", "window": "AR301000", "provider": "orders",
    "objects": {"summary": "orders", "detail": "order_details", "link": {"orderID": "orderID"}},
    "keys": ["Document.ReferenceNbr"],
    "mapping": [
        {"target": "Document.ReferenceNbr", "source": "=CStr([orders.orderID])"},
        {"target": "Document.CustomerID", "source": "orders.customerID"},
        {"target": "Document.Date", "source": "orders.orderDate"},
        {"target": "Document.DueDate", "source": "orders.requiredDate"},
        {"target": "Document.Description", "source": "orders.shipName"},
        {"target": "Line.InventoryID", "source": "order_details.productID"},
        {"target": "Line.Quantity", "source": "order_details.quantity"},
        {"target": "Line.UnitPrice", "source": "order_details.unitPrice"},
        {"target": "Line.AccountID", "constant": "3000"},
        {"action": "Save"},
    ],
}


def scenario(ws, summary="orders", detail="order_details"):
    d = json.loads(json.dumps(SCENARIO))
    d["objects"].update(summary=summary, detail=detail)
    for m in d["mapping"]:
        src = m.get("source")
        if src:
            m["source"] = src.replace("orders.", f"{summary}.").replace(
                "order_details.", f"{detail}.")
    ws.path("scenarios", "orders.yaml").write_text(yaml.safe_dump(d, sort_keys=False))


def expected(orders, details) -> dict[str, list[tuple]]:
    out = {str(o[0]): [] for o in orders}
    for d in details:
        out[str(d[0])].append((d[1], Decimal(str(d[3]))))
    return out


def in_erp(ws) -> dict[str, list[tuple]]:
    return {d["Document"]["ReferenceNbr"]: [(ln["InventoryID"], ln["Quantity"])
                                            for ln in d["Line"]]
            for d in documents(ws, "AR301000")}


def test_orders_and_order_details_csv_pair(master, tmp_path):
    orders, details = northwind(40)
    o = write(tmp_path / "orders.csv", ORDER_FIELDS, orders)
    d = write(tmp_path / "order_details.csv", DETAIL_FIELDS, details)
    prov = api.add_provider(master, "orders", [o, d])
    assert [ob.name for ob in prov.schema.objects] == ["orders", "order_details"]
    scenario(master)
    p = api.prepare(master, "orders", progress=False)
    assert (p.records, p.lines) == (40, len(details))
    s = api.import_(master, "orders", progress=False)
    s.raise_for_errors()
    assert s.imported == 40
    got = in_erp(master)
    assert got == expected(orders, details)
    # a new version of the details only: the orders are carried over, the new lines added
    more = orders + [[20000, "C001", "2024-07-01", "2024-07-31", "ship 20000"]]
    write(tmp_path / "orders.csv", ORDER_FIELDS, more)
    details2 = details + [[20000, "FISH-01", "10.50", 2, 0]]
    write(tmp_path / "order_details.csv", DETAIL_FIELDS, details2)
    fv = api.upload_version(master, "orders", [tmp_path / "orders.csv",
                                               tmp_path / "order_details.csv"])
    assert fv.version == 2
    p = api.prepare(master, "orders", progress=False)
    assert (p.records, p.already_processed) == (41, 40)
    assert api.import_(master, "orders", progress=False).imported == 1
    assert in_erp(master)["20000"] == [("FISH-01", Decimal("2"))]
    # a new file whose structure differs is refused, naming the object; nothing is added
    write(tmp_path / "order_details.csv", DETAIL_FIELDS[:-1] + ["rebate"], details2)
    with pytest.raises(SchemaMismatchError, match="object 'order_details'"):
        api.upload_version(master, "orders", tmp_path / "order_details.csv")
    assert [v.version for v in api.versions(master, "orders")] == [1, 2]


def test_orphan_details_and_orders_without_lines_are_refused_by_file_and_line(master,
                                                                            tmp_path):
    orders, details = northwind(5)
    details.append([99999, "FISH-01", "1.00", 1, 0])
    orders.append([30000, "C001", "2024-05-01", "2024-05-31", "no lines"])
    o = write(tmp_path / "orders.csv", ORDER_FIELDS, orders)
    d = write(tmp_path / "order_details.csv", DETAIL_FIELDS, details)
    api.add_provider(master, "orders", [o, d])
    scenario(master)
    with pytest.raises(SourceError) as e:
        api.prepare(master, "orders", progress=False)
    msg = str(e.value)
    assert f"order_details.csv of provider 'orders', line {len(details) + 1}: no orders row " \
           "with orderID=99999" in msg
    assert f"orders.csv of provider 'orders', line {len(orders) + 1}: orderID=30000 has no " \
           "order_details lines" in msg
    assert api.status(master, "orders") == "New"  # nothing was prepared


def test_two_sheets_of_a_workbook(master, tmp_path):
    orders, details = northwind(25, seed=3)
    wb = openpyxl.Workbook()
    sh = wb.active
    sh.title = "Orders"
    sh.append(ORDER_FIELDS)
    for r in orders:
        sh.append(r)
    sh2 = wb.create_sheet("Details")
    sh2.append(DETAIL_FIELDS)
    for r in details:
        sh2.append([r[0], r[1], float(r[2]), r[3], r[4]])
    path = tmp_path / "northwind.xlsx"
    wb.save(path)
    prov = api.add_provider(master, "orders", path, params={"sheets": "all"})
    assert [ob.name for ob in prov.schema.objects] == ["Orders", "Details"]
    scenario(master, "Orders", "Details")
    api.prepare(master, "orders", progress=False)
    s = api.import_(master, "orders", progress=False)
    s.raise_for_errors()
    assert in_erp(master) == expected(orders, details)
    # a new workbook is checked sheet by sheet
    assert api.upload_version(master, "orders", path).version == 2


def test_csv_pair_from_the_command_line(tmp_path, db_url):
    from ..test_cli import cli_master, mk

    ws = tmp_path / "ws"
    mk(ws, "init", "--db", db_url, check=0)
    cli_master(ws)
    orders, details = northwind(12, seed=5)
    o = write(tmp_path / "orders.csv", ORDER_FIELDS, orders)
    d = write(tmp_path / "order_details.csv", DETAIL_FIELDS, details)
    r = mk(ws, "provider", "add", "orders", o, d, check=0)
    assert "2 objects: orders, order_details" in r.stdout
    (ws / "scenarios" / "orders.yaml").write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    r = mk(ws, "import", "orders", "--prepare", check=0)
    assert "imported 12" in r.stdout
    out = mk(ws, "--json", "erp", "list", "AR301000", check=0).stdout
    got = {json.loads(x)["Document"]["ReferenceNbr"]: [
        (ln["InventoryID"], Decimal(str(ln["Quantity"]))) for ln in json.loads(x)["Line"]]
        for x in out.splitlines() if x.strip()}
    assert got == expected(orders, details)
    r = mk(ws, "provider", "upload", "orders", d, "--object", "order_details", check=0)
    assert "version 2" in r.stdout
    # every sheet of a workbook, from the command line
    wb = openpyxl.Workbook()
    wb.active.title = "Orders"
    wb.active.append(ORDER_FIELDS)
    wb.create_sheet("Details").append(DETAIL_FIELDS)
    for r_ in orders:
        wb["Orders"].append(r_)
    for r_ in details:
        wb["Details"].append([r_[0], r_[1], float(r_[2]), r_[3], r_[4]])
    wb.save(tmp_path / "book.xlsx")
    r = mk(ws, "provider", "add", "book", tmp_path / "book.xlsx", "-p", "sheets=all", check=0)
    assert "2 objects: Orders, Details" in r.stdout
