"""Every window's rules on real databases (SQLite and PostgreSQL): all errors at once,
nothing stored when a document is refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text

from migration_kit import api, db
from migration_kit.errors import DocumentError, PermissionDeniedError
from migration_kit.workspace import Workspace

from .conftest import seed


def errors_of(ws, window, doc):
    before = snapshot(ws)
    with pytest.raises(DocumentError) as ei:
        api.save_document(ws, window, doc)
    assert snapshot(ws) == before, "a refused document changed the database"
    return {(e.object, e.line, e.field): e.message for e in ei.value.errors}


def snapshot(ws):
    out = {}
    with ws.connect() as conn:
        for (window, obj), t in sorted(ws.store.tables.items()):
            out[(window, obj)] = sorted(
                tuple(str(v) for v in r) for r in conn.execute(t.select()).all())
        out["numbering"] = conn.execute(db.numbering.select()).all()
    return out


def test_schema_version_recorded(workspace):
    assert db.schema_version(workspace.db_engine) == db.SCHEMA_VERSION
    with workspace.connect() as conn:
        assert conn.execute(text("select value from mk_meta where key='schema_version'")
                            ).scalar() == str(db.SCHEMA_VERSION)


def test_customer_saved_with_defaults(workspace):
    key = api.save_document(workspace, "AR303000", {"Customer": {
        "CustomerID": "C9", "CustomerName": "Acme", "CreditLimit": "1500.5"}})
    assert key == {"CustomerID": "C9"}
    (doc,) = api.list_documents(workspace, "AR303000")
    c = doc["Customer"]
    assert c["Status"] == "Active" and c["CurrencyID"] == "NOK"
    assert c["CreditLimit"] == Decimal("1500.50")


def test_customer_all_errors_at_once(workspace):
    errs = errors_of(workspace, "AR303000", {"Customer": {
        "CustomerID": "C9", "CustomerName": "", "Status": "Sleeping", "Country": "XX",
        "Email": "not-an-address", "CreditLimit": "-5", "City": "x" * 51, "Colour": "red"}})
    assert set(errs) == {
        ("Customer", None, "CustomerName"), ("Customer", None, "Status"),
        ("Customer", None, "Country"), ("Customer", None, "Email"),
        ("Customer", None, "CreditLimit"), ("Customer", None, "City"),
        ("Customer", None, "Colour")}
    assert "required" in errs[("Customer", None, "CustomerName")]
    assert "Active, OnHold, Inactive" in errs[("Customer", None, "Status")]
    assert "at most 50" in errs[("Customer", None, "City")]


def test_duplicate_customer_refused(seeded):
    errs = errors_of(seeded, "AR303000",
                     {"Customer": {"CustomerID": "C001", "CustomerName": "Again"}})
    assert "already exists" in errs[("Customer", None, "CustomerID")]


def test_upsert_updates(seeded):
    api.save_document(seeded, "AR303000", {"Customer": {
        "CustomerID": "C001", "CustomerName": "Renamed AS"}}, mode="upsert")
    docs = list(api.list_documents(seeded, "AR303000", {"CustomerID": "C001"}))
    assert len(docs) == 1 and docs[0]["Customer"]["CustomerName"] == "Renamed AS"


def invoice(**head):
    doc = {"Document": {"CustomerID": "C001", "Date": "2024-03-01", "DueDate": "2024-03-31",
                        **head},
           "Line": [{"InventoryID": "ITEM1", "Quantity": "2", "UnitPrice": "10.50",
                     "DiscountPercent": "10", "AccountID": "3000"},
                    {"Description": "Freight", "Quantity": "1", "UnitPrice": "99",
                     "Amount": "99.00", "AccountID": "3000"}]}
    return doc


def test_sales_invoice_numbered_computed_defaulted(seeded):
    k1 = api.save_document(seeded, "AR301000", invoice())
    k2 = api.save_document(seeded, "AR301000", invoice(CustomerID="C002"))
    assert k1 == {"DocType": "Invoice", "ReferenceNbr": "SI000001"}
    assert k2["ReferenceNbr"] == "SI000002"
    docs = list(api.list_documents(seeded, "AR301000"))
    assert [d["Document"]["CurrencyID"] for d in docs] == ["NOK", "EUR"]
    lines = docs[0]["Line"]
    assert [ln["LineNbr"] for ln in lines] == [1, 2]
    assert lines[0]["Amount"] == Decimal("18.90")
    assert docs[0]["Document"]["Date"] == dt.date(2024, 3, 1)


def test_sales_invoice_every_error(seeded):
    doc = {"Document": {"CustomerID": "C003", "Date": "2024-03-01", "DueDate": "2024-02-01"},
           "Line": [{"Quantity": "0", "UnitPrice": "-1", "AccountID": "1920"},
                    {"Quantity": "1", "UnitPrice": "10", "DiscountPercent": "150",
                     "AccountID": "3100"},
                    {"Quantity": "2", "UnitPrice": "10", "Amount": "25", "AccountID": "3000",
                     "InventoryID": "NOPE"}]}
    errs = errors_of(seeded, "AR301000", doc)
    assert set(errs) == {
        ("Document", None, "CustomerID"), ("Document", None, "DueDate"),
        ("Line", 1, "Quantity"), ("Line", 1, "UnitPrice"), ("Line", 1, "AccountID"),
        ("Line", 2, "DiscountPercent"), ("Line", 2, "AccountID"),
        ("Line", 3, "Amount"), ("Line", 3, "InventoryID")}
    assert "'OnHold'" in errs[("Document", None, "CustomerID")]
    assert "before Date" in errs[("Document", None, "DueDate")]
    assert "Type 'Asset'" in errs[("Line", 1, "AccountID")]
    assert "Active False" in errs[("Line", 2, "AccountID")]
    assert "computed 20.00" in errs[("Line", 3, "Amount")]


def test_unknown_customer_and_no_lines(seeded):
    errs = errors_of(seeded, "AR301000",
                     {"Document": {"CustomerID": "C999", "Date": "2024-13-01"}, "Line": []})
    assert "does not exist" in errs[("Document", None, "CustomerID")]
    assert ("Document", None, "Date") in errs
    assert ("Line", None, None) in errs


def test_supplier_ref_unique_per_supplier(seeded):
    bill = {"Document": {"SupplierID": "S001", "SupplierRef": "F-100", "Date": "2024-01-10"},
            "Line": [{"Quantity": "3", "UnitCost": "5", "AccountID": "4000"}]}
    assert api.save_document(seeded, "AP301000", bill)["ReferenceNbr"] == "PI000001"
    errs = errors_of(seeded, "AP301000", bill)
    assert "SupplierRef" in errs[("Document", None, "SupplierRef")]


def test_journal_must_balance(seeded):
    ok = {"Batch": {"TransactionDate": "2024-01-31"},
          "Line": [{"AccountID": "1920", "DebitAmount": "100"},
                   {"AccountID": "3000", "CreditAmount": "100"}]}
    assert api.save_document(seeded, "GL301000", ok) == {"BatchNbr": "GL000001"}
    bad = {"Batch": {"TransactionDate": "2024-01-31"},
           "Line": [{"AccountID": "1920", "DebitAmount": "100", "CreditAmount": "5"},
                    {"AccountID": "3000", "CreditAmount": "90"},
                    {"AccountID": "3100", "DebitAmount": "0", "CreditAmount": "0"}]}
    errs = errors_of(seeded, "GL301000", bad)
    assert "does not balance" in errs[("Batch", None, None)]
    assert "exactly one" in errs[("Line", 1, "DebitAmount")]
    assert "exactly one" in errs[("Line", 3, "DebitAmount")]
    assert "Active False" in errs[("Line", 3, "AccountID")]


def test_view_right_lists_but_cannot_save(seeded, tmp_path):
    (seeded.root / "users.yaml").write_text(
        "roles:\n  administrator: {default: edit}\n"
        "  clerk: {default: none, windows: {AR301000: view}}\n"
        "users:\n  admin: {roles: [administrator]}\n  viewer: {roles: [clerk]}\n")
    api.save_document(seeded, "AR301000", invoice())
    ws = Workspace(seeded.root, user="viewer", db_url=seeded.db_url)
    assert len(list(api.list_documents(ws, "AR301000"))) == 1
    with pytest.raises(PermissionDeniedError):
        api.save_document(ws, "AR301000", invoice())
    with pytest.raises(PermissionDeniedError):
        list(api.list_documents(ws, "AR303000"))
    ws.dispose()


def test_same_results_on_each_database(tmp_path, db_url):
    """The same documents give the same stored values (compared as text) everywhere."""
    ws = Workspace.init(tmp_path / "same", db_url=db_url)
    seed(ws)
    api.save_document(ws, "AR301000", invoice())
    got = [d for d in api.list_documents(ws, "AR301000")]
    ws.dispose()
    assert got[0]["Line"][1]["Amount"] == Decimal("99.00")
    assert str(got[0]["Line"][0]["Quantity"]) in ("2.0000", "2")


def test_lines_live_and_go_with_their_document(seeded):
    """The store keeps each detail line with its document (no database foreign key does):
    an upsert replaces the lines, a deleted document takes its lines with it, and no line
    is left without its document."""
    ws = seeded
    k1 = api.save_document(ws, "AR301000", invoice())
    k2 = api.save_document(ws, "AR301000", invoice(CustomerID="C002"))
    one_line = invoice(**k1)
    one_line["Line"] = one_line["Line"][1:]
    api.save_document(ws, "AR301000", one_line, mode="upsert")
    docs = {d["Document"]["ReferenceNbr"]: d for d in api.list_documents(ws, "AR301000")}
    assert [len(docs[k["ReferenceNbr"]]["Line"]) for k in (k1, k2)] == [1, 2]
    st = ws.store.summary_table("AR301000")
    lines = ws.store.tables[("AR301000", "Line")]
    with ws.transaction() as conn:
        (doc_id,) = conn.execute(
            text(f"SELECT _id FROM {st.name} WHERE \"ReferenceNbr\" = :r"),
            {"r": k2["ReferenceNbr"]}).one()
        assert ws.store.delete_documents(conn, "AR301000", [doc_id]) == 1
    with ws.connect() as conn:
        orphans = conn.execute(text(
            f"SELECT count(*) FROM {lines.name} l LEFT JOIN {st.name} d ON d._id = l._doc_id "
            "WHERE d._id IS NULL")).scalar_one()
        left = conn.execute(text(f"SELECT count(*) FROM {lines.name}")).scalar_one()
    assert (orphans, left) == (0, 1)
    assert [d["Document"]["ReferenceNbr"] for d in api.list_documents(ws, "AR301000")] == [
        k1["ReferenceNbr"]]
