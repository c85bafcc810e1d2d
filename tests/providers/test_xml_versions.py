"""XML lists stay lists across file versions: a detail object declared (or seen repeated)
stays one on a file with one line or none, and an element read as plain fields that repeats
in a new version refuses the upload, naming the fix, instead of reading its first
occurrence only."""

from __future__ import annotations

import pytest

from migration_kit import api
from migration_kit.errors import SchemaMismatchError

from .conftest import SAMPLES

ONE, THREE = SAMPLES / "ubl_bill_one_line.xml", SAMPLES / "ubl_bill_three_lines.xml"
ORDER1, ORDER3 = SAMPLES / "order_one_line.xml", SAMPLES / "order_three_lines.xml"


def rows_of(ws, name: str, version: int) -> list[dict]:
    """The rows the provider reads from one of its file versions, as {column: value}."""
    prov = api.load_provider(ws, name)
    fv = api.versions(ws, name)[version - 1]
    cols = prov.schema.columns()
    return [dict(zip(cols, r)) for b in prov.ptype.read_batches(fv.path, prov.params,
                                                                prov.schema) for r in b.rows]


def test_declared_detail_one_line_then_three_line_version(sqlite_workspace):
    ws = sqlite_workspace
    prov = api.add_provider(ws, "bills", ONE, params={"detail_paths": "cac:InvoiceLine"})
    assert prov.params["detail_paths"] == ["cac:InvoiceLine"]
    assert [(o.name, o.parent) for o in prov.schema.objects] == [("Invoice", None),
                                                                 ("InvoiceLine", "Invoice")]
    assert api.upload_version(ws, "bills", THREE).version == 2
    v1, v2 = rows_of(ws, "bills", 1), rows_of(ws, "bills", 2)
    assert [(r["Invoice.ID"], r["InvoiceLine.ID"], r["InvoiceLine.Item/Name"]) for r in v1] == [
        ("B-7001", "1", "Power, March")]
    assert [(r["Invoice.ID"], r["InvoiceLine.ID"], r["InvoiceLine.InvoicedQuantity"],
             r["InvoiceLine.InvoicedQuantity@unitCode"]) for r in v2] == [
        ("B-7002", "1", "10", "C62"), ("B-7002", "2", "2.5", "KGM"),
        ("B-7002", "3", "4", "HUR")]
    assert v2[1]["InvoiceLine.Item/Name"] == "Printing paper & card"
    # and back to one line: still the same structure
    assert api.upload_version(ws, "bills", ONE).version == 3


def test_a_detail_object_absent_from_a_file_is_compatible(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    api.add_provider(ws, "orders", ORDER3)  # Line repeats: a detail object
    assert api.load_provider(ws, "orders").params["detail_paths"] == ["Line"]
    assert api.upload_version(ws, "orders", ORDER1).version == 2
    none = tmp_path / "no_lines.xml"
    none.write_text("<Order><No>O-9</No><Date>2024-04-03</Date><Total>0</Total></Order>\n")
    assert api.upload_version(ws, "orders", none).version == 3
    assert [(r["Order.No"], r["Line.Item"]) for r in rows_of(ws, "orders", 2)] == [
        ("O-1", "FISH-01")]
    assert [(r["Order.No"], r["Line.Item"]) for r in rows_of(ws, "orders", 3)] == [
        ("O-9", None)]
    assert [f.name for f in api.load_provider(ws, "orders").schema.objects[1].fields] == [
        "Item", "Qty"]


def test_flattened_element_that_repeats_is_refused_then_update_schema(sqlite_workspace):
    ws = sqlite_workspace
    api.add_provider(ws, "orders", ORDER1)  # Line seen once: read as fields of Order
    assert api.load_provider(ws, "orders").schema.columns() == [
        "No", "Date", "Line/Item", "Line/Qty", "Total"]
    ws.path("scenarios", "orders.yaml").write_text(
        "name: orders\nkind: import\nwindow: AR301000\nprovider: orders\n"
        "keys: [Document.ReferenceNbr]\nmapping:\n"
        "  - {target: Document.ReferenceNbr, source: \"No\"}\n"
        "  - {target: Document.CustomerID, source: \"='C001'\"}\n"
        "  - {target: Document.Date, source: Date}\n"
        "  - {target: Line.InventoryID, source: Line/Item}\n"
        "  - {target: Line.Description, source: \"=[Line/Item] & ' [No]'\"}\n"
        "  - {target: Line.Quantity, source: Line/Qty}\n"
        "  - {action: Save}\n"
        "restrictions:\n  - {field: Line/Qty, condition: not_equals, value: '0'}\n")
    assert api.check_scenario(ws, api.show_scenario(ws, "orders")) == []
    with pytest.raises(SchemaMismatchError) as e:
        api.upload_version(ws, "orders", ORDER3)
    msg = str(e.value)
    assert "element Line repeats in this file" in msg and "only the first" in msg
    assert "provider update-schema orders" in msg and "-p detail_paths=Line" in msg
    assert e.value.diff[0] == "element 'Line' repeats (3 in one Order) but the schema reads " \
                              "it as fields of Order"
    assert [v.version for v in api.versions(ws, "orders")] == [1]  # nothing added

    diff, broken = api.update_schema(ws, "orders", ORDER3)
    assert "added object 'Line'" in diff and broken == []
    assert "scenario orders: 6 field reference(s) moved to the new columns" in diff
    prov = api.load_provider(ws, "orders")
    assert prov.params["detail_paths"] == ["Line"]
    assert prov.schema.columns() == ["Order.No", "Order.Date", "Order.Total", "Line.Item",
                                     "Line.Qty"]
    sc = api.show_scenario(ws, "orders")  # the scenario follows the new columns
    assert [m.source for m in sc.mapping if m.target] == [
        "Order.No", "='C001'", "Order.Date", "Line.Item", "=[Line.Item] & ' [No]'", "Line.Qty"]
    assert sc.restrictions[0].field == "Line.Qty"
    assert [(r["Order.No"], r["Line.Item"], r["Line.Qty"]) for r in rows_of(ws, "orders", 2)
            ] == [("O-2", "FISH-01", "1"), ("O-2", "FISH-02", "3"), ("O-2", "SERV-01", "1.5")]
    # version 1 now reads as a detail object with one line; one line again is compatible
    assert [(r["Order.No"], r["Line.Item"]) for r in rows_of(ws, "orders", 1)] == [
        ("O-1", "FISH-01")]
    assert api.upload_version(ws, "orders", ORDER1).version == 3


def test_simplified_provider_refusal_names_its_fix(sqlite_workspace):
    ws = sqlite_workspace
    api.create_simplified(ws, "orders", ORDER1, "AR301000",
                          [("No", "Document.ReferenceNbr"), ("Date", "Document.Date"),
                           ("Line/Qty", "Line.Quantity")], ["Document.ReferenceNbr"])
    with pytest.raises(SchemaMismatchError, match="scenario convert") as e:
        api.upload_version(ws, "orders", ORDER3)
    assert "-p detail_paths=Line" in str(e.value)
