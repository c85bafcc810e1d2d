"""Migration assurance on SQLite and PostgreSQL: reconcile proves an import (counts, control
totals, documents that differ) and undo deletes what an import run created, refusing
(nothing changed) when other documents use it or it was changed after the import."""

from __future__ import annotations

import csv
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from migration_kit import api, db
from migration_kit.engine.lock import scenario_lock
from migration_kit.engine.reconcile import ReconcileError
from migration_kit.engine.undo import UndoRefusedError
from migration_kit.errors import BadInputError, LockedError, NotFoundError, PermissionDeniedError

from ..helpers import SAMPLES, install, load_master, run, simplified_invoices
from ..reliability.helpers import dump_tables

WINDOWS = ("GL202500", "AR303000", "IN202500", "AR301000")
QTY = Decimal("184.5")  # the sum of Qty in templates/samples/sales_invoices.csv
AMOUNT = Decimal("22575.55")  # the sum of the lines' computed Amount


def erp(ws) -> dict[str, list]:
    return {w: json.loads(json.dumps(list(api.list_documents(ws, w)), default=str))
            for w in WINDOWS}


def invoices(ws, **kw):
    simplified_invoices(ws, **kw)
    return run(ws, "sales_invoices")


def ledger(ws, scenario):
    L = db.import_ledger
    with ws.connect() as conn:
        return conn.execute(select(L).where(L.c.scenario == scenario)
                            .order_by(L.c.doc_key)).mappings().all()


# -- reconcile ---------------------------------------------------------------------------
def test_a_clean_import_reconciles(master, tmp_path):
    invoices(master)
    r = api.reconcile(master, "sales_invoices", output=tmp_path / "out" / "inv.html")
    assert r.ok, str(r)
    c = r.counts
    assert (c["source_lines"], c["left_out"], c["prepared_lines"], c["prepared_records"]) == (
        10, 0, 10, 5)
    assert (c["imported"], c["inactive"], c["failed"], c["not_processed"]) == (5, 0, 0, 0)
    assert (c["documents_expected"], c["documents_found"], c["lines_file"], c["lines_erp"]) == (
        5, 5, 10, 10)
    totals = {t.target: t for t in r.totals}
    assert set(totals) == {"Line.Quantity", "Line.UnitPrice", "Line.DiscountPercent",
                           "Line.Amount"}  # the numeric fields mapped, and the computed one
    assert totals["Line.Quantity"].file == totals["Line.Quantity"].erp == QTY
    assert totals["Line.Amount"].file_in_erp == totals["Line.Amount"].erp == AMOUNT
    assert r.n_differences == 0 and r.differences == []
    r.raise_for_differences()  # nothing to raise
    # the three files, side by side
    html = (tmp_path / "out" / "inv.html").read_text(encoding="utf-8")
    assert "RECONCILED" in html and "<svg" in html and "Line.Quantity" in html
    data = json.loads((tmp_path / "out" / "inv.json").read_text(encoding="utf-8"))
    assert data["ok"] is True and data["counts"]["imported"] == 5
    with open(tmp_path / "out" / "inv.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [x["erp_key"] for x in rows] == [f"Invoice INV-100{i}" for i in range(1, 6)]
    assert {x["status"] for x in rows} == {"ok"}
    assert sum(Decimal(x["Line.Quantity ERP"]) for x in rows) == QTY


def test_master_data_journal_and_xml_bills_reconcile(master):
    for name in ("suppliers", "journal", "supplier_invoices"):
        install(master, name)
        run(master, name)
    for name in ("accounts", "customers", "stock_items", "suppliers", "journal",
                 "supplier_invoices"):
        r = api.reconcile(master, name)
        assert r.ok, str(r)
        assert r.counts["documents_found"] == r.counts["prepared_records"] > 0
        assert r.html_path == master.path("reports", f"{name}-reconcile.html")
        assert r.html_path.is_file() and r.csv_path.is_file() and r.json_path.is_file()
    journal = {t.target: t for t in api.reconcile(master, "journal").totals}
    assert journal["Line.DebitAmount"].erp == journal["Line.CreditAmount"].erp > 0


def test_a_document_changed_after_the_import_does_not_reconcile(master):
    invoices(master)
    doc = next(d for d in api.list_documents(master, "AR301000")
               if d["Document"]["ReferenceNbr"] == "INV-1002")
    doc["Line"][0]["Quantity"] += 1  # what `migration-kit erp save --upsert` would do
    doc["Line"][0]["Amount"] = None
    api.save_document(master, "AR301000", doc, mode="upsert")
    r = api.reconcile(master, "sales_invoices")
    assert not r.ok and r.n_differences == 1
    (d,) = r.differences
    assert d.document == "Invoice INV-1002" and d.reason == "changed" and d.record == 2
    assert d.details == ["Line 1.Quantity: file 40, ERP 41",
                         "Line 1.Amount: file 1710, ERP 1752.75"]
    qty = next(t for t in r.totals if t.target == "Line.Quantity")
    assert (qty.file_in_erp, qty.erp, qty.ok) == (QTY, QTY + 1, False)
    with pytest.raises(ReconcileError) as e:
        r.raise_for_differences()
    assert "INV-1002" in str(e.value) and "Line 1.Quantity: file 40, ERP 41" in str(e.value)
    assert e.value.exit_code == 1 and e.value.documents[0].startswith("Invoice INV-1002")


def test_a_field_the_mapping_does_not_fill_changed_counts_too(master):
    invoices(master)
    doc = next(d for d in api.list_documents(master, "AR301000")
               if d["Document"]["ReferenceNbr"] == "INV-1004")
    doc["Document"]["ExternalRef"] = "typed in later"
    api.save_document(master, "AR301000", doc, mode="upsert")
    r = api.reconcile(master, "sales_invoices")
    assert [(d.document, d.reason) for d in r.differences] == [("Invoice INV-1004", "changed")]
    assert r.differences[0].details == ["a field the mapping does not fill was changed"]
    assert all(t.ok for t in r.totals)  # the totals agree; the document still differs


def test_a_document_deleted_from_the_erp_is_missing(master):
    invoices(master)
    st = master.store.summary_table("AR301000")
    with master.transaction() as conn:
        (doc_id,) = conn.execute(select(st.c._id).where(st.c.ReferenceNbr == "INV-1003")
                                 ).one()
        master.store.delete_documents(conn, "AR301000", [doc_id])
    r = api.reconcile(master, "sales_invoices")
    assert [(d.document, d.reason) for d in r.differences] == [("Invoice INV-1003", "missing")]
    assert r.counts["documents_missing"] == 1 and r.counts["documents_found"] == 4
    assert "Invoice INV-1003" in r.message()


def test_records_not_imported_are_counted_by_reason_with_their_totals(master):
    simplified_invoices(master, file=SAMPLES / "sales_invoices_bad.csv")
    api.prepare(master, "sales_invoices", progress=False)
    api.set_active(master, "sales_invoices", 8, False)  # INV-1004 left out by hand
    s = api.import_(master, "sales_invoices", progress=False)
    assert s.stopped is not None  # on INV-1003: unknown customer
    r = api.reconcile(master, "sales_invoices")
    c = r.counts
    assert (c["imported"], c["failed"], c["inactive"], c["not_processed"]) == (2, 1, 1, 1)
    assert r.ok, str(r)  # what is in the ERP agrees; the rest is explained by reason
    qty = next(t for t in r.totals if t.target == "Line.Quantity")
    assert qty.file == qty.file_in_erp + sum(qty.not_in_erp.values())
    assert set(qty.not_in_erp) == {"failed", "inactive", "not_processed"}
    assert qty.not_in_erp["inactive"] == Decimal("100.0000")  # INV-1004: one line of 100


def test_a_document_of_an_earlier_version_not_in_this_one(master, tmp_path):
    invoices(master)
    lines = (SAMPLES / "sales_invoices.csv").read_text(encoding="utf-8").splitlines()
    v2 = tmp_path / "v2.csv"
    v2.write_text("\n".join(x for x in lines if "INV-1005" not in x) + "\n", encoding="utf-8")
    api.upload_version(master, "sales_invoices", v2)
    r = api.reconcile(master, "sales_invoices")
    assert r.ok and r.notes and "version 2" in r.notes[0]  # not prepared yet: said so
    api.prepare(master, "sales_invoices", progress=False)
    r = api.reconcile(master, "sales_invoices")
    assert r.counts["imported_before"] == 4 and r.counts["documents_extra"] == 1
    assert [(d.document, d.reason) for d in r.differences] == [("Invoice INV-1005", "extra")]
    assert "imported from version 1" in r.differences[0].details[0]
    assert not r.ok


def test_reconcile_needs_edit_rights_and_an_import_scenario(master):
    invoices(master)
    master.path("users.yaml").write_text(
        "roles:\n  viewer: {default: view}\nusers:\n  vera: {roles: [viewer]}\n",
        encoding="utf-8")
    with pytest.raises(PermissionDeniedError):
        api.reconcile(api.open_workspace(master.root, user="vera", db_url=master.db_url),
                      "sales_invoices")
    install(master, "suppliers")
    with pytest.raises(BadInputError, match="no prepared data"):
        api.reconcile(master, "suppliers")


# -- undo --------------------------------------------------------------------------------
def test_undo_of_customers_that_invoices_use_is_refused_and_changes_nothing(master):
    invoices(master)
    before = dump_tables(master)
    with pytest.raises(UndoRefusedError) as e:
        api.undo(master, "customers")
    refs = e.value.references
    assert {r["refers_to"] for r in refs} == {"C001", "C002", "C003", "C004", "C006"}
    assert {r["field"] for r in refs} == {"Document.CustomerID"}
    assert "AR301000 Invoice INV-1001" in {r["document"] for r in refs}
    assert "refused, nothing changed" in str(e.value) and e.value.exit_code == 2
    assert dump_tables(master) == before
    plan = api.undo(master, "customers", dry_run=True)  # the dry run says the same
    assert plan.refused and plan.n_references == 5 and plan.deleted == 6
    assert dump_tables(master) == before


def test_undo_invoices_then_customers_leaves_the_erp_as_before(workspace):
    ws = workspace
    load_master(ws, ("accounts", "stock_items"))
    before = erp(ws)
    install(ws, "customers")
    run(ws, "customers")
    invoices(ws)
    assert erp(ws) != before
    r = api.undo(ws, "sales_invoices")
    assert (r.deleted, r.records_unmarked, r.ledger_removed, r.refused) == (5, 5, 5, False)
    r = api.undo(ws, "customers")
    assert (r.deleted, r.records_unmarked) == (6, 6)
    assert erp(ws) == before
    assert ledger(ws, "sales_invoices") == [] and ledger(ws, "customers") == []
    for name in ("sales_invoices", "customers"):
        c = api.counts(ws, name)
        assert c["processed"] == 0 and c["todo"] == c["records"]
        assert [h["action"] for h in api.history_of(ws, name)][-1] == "undo"
    undo_entry = api.history_of(ws, "customers")[-1]
    assert undo_entry["status"] == "done" and undo_entry["counts"]["deleted"] == 6


def test_a_second_import_after_undo_imports_the_records_again_exactly_once(master):
    invoices(master)
    first = erp(master)["AR301000"]
    api.undo(master, "sales_invoices")
    assert erp(master)["AR301000"] == []
    s = api.import_(master, "sales_invoices", progress=False)
    assert (s.imported, s.skipped, s.failed) == (5, 0, 0)
    assert erp(master)["AR301000"] == first
    assert api.reconcile(master, "sales_invoices").ok
    again = api.import_(master, "sales_invoices", progress=False)
    assert again.imported == 0
    # prepare after undo: nothing in the ledger keeps the records from the next import
    api.undo(master, "sales_invoices")
    p = api.prepare(master, "sales_invoices", progress=False)
    assert p.already_processed == 0
    s = api.import_(master, "sales_invoices", progress=False)
    assert s.imported == 5 and erp(master)["AR301000"] == first
    p = api.prepare(master, "sales_invoices", progress=False)
    assert p.already_processed == 5


def test_undo_refuses_a_document_changed_after_the_import_unless_forced(master):
    invoices(master)
    doc = next(d for d in api.list_documents(master, "AR301000")
               if d["Document"]["ReferenceNbr"] == "INV-1003")
    doc["Document"]["Description"] = "corrected by the customer"
    api.save_document(master, "AR301000", doc, mode="upsert")
    before = dump_tables(master)
    with pytest.raises(UndoRefusedError) as e:
        api.undo(master, "sales_invoices")
    assert [c["document"] for c in e.value.changed] == ["AR301000 Invoice INV-1003"]
    assert "--force" in str(e.value)
    assert dump_tables(master) == before
    r = api.undo(master, "sales_invoices", force=True)
    assert r.deleted == 5 and r.n_changed == 1 and erp(master)["AR301000"] == []


def test_undo_takes_the_last_run_or_the_one_named(master):
    simplified_invoices(master, file=SAMPLES / "sales_invoices_bad.csv")
    api.prepare(master, "sales_invoices", progress=False)
    first = api.import_(master, "sales_invoices", progress=False)  # stops on INV-1003
    api.set_value(master, "sales_invoices", 6, "Customer", "C004")
    second = api.import_(master, "sales_invoices", progress=False)
    assert (first.imported, second.imported) == (2, 3)
    runs = [h["id"] for h in api.history_of(master, "sales_invoices")
            if h["action"] == "import"]
    with pytest.raises(NotFoundError, match="runs that can be undone"):
        api.undo(master, "sales_invoices", 9999)
    plan = api.undo(master, "sales_invoices", runs[0], dry_run=True)
    assert plan.run == runs[0] and plan.deleted == 2
    r = api.undo(master, "sales_invoices")  # the last run
    assert r.run == runs[1] and r.deleted == 3
    refs = sorted(d["Document"]["ReferenceNbr"] for d in api.list_documents(master,
                                                                          "AR301000"))
    assert refs == ["INV-1001", "INV-1002"]
    assert api.undo(master, "sales_invoices").run == runs[0]
    with pytest.raises(BadInputError, match="nothing to undo"):
        api.undo(master, "sales_invoices")


def test_undo_leaves_documents_the_run_updated_but_did_not_create(workspace):
    ws = workspace
    load_master(ws, ("accounts",))
    api.save_document(ws, "AR303000", {"Customer": {"CustomerID": "C001",
                                                    "CustomerName": "entered by hand"}})
    install(ws, "customers")
    s = run(ws, "customers")  # mode upsert: C001 updated, the rest inserted
    assert (s.imported, s.updated) == (5, 1)
    r = api.undo(ws, "customers")
    assert r.deleted == 5 and r.updated_kept == 1
    assert "did not create" in str(r)
    left = [d["Customer"]["CustomerID"] for d in api.list_documents(ws, "AR303000")]
    assert left == ["C001"]


def test_undo_dry_run_changes_nothing(master):
    invoices(master)
    before = dump_tables(master)
    plan = api.undo(master, "sales_invoices", dry_run=True)
    assert plan.dry_run and plan.deleted == 5 and plan.records_unmarked == 5
    assert "would delete 5" in str(plan)
    assert dump_tables(master) == before


def test_undo_needs_edit_rights_and_the_scenario_lock(master):
    invoices(master)
    before = dump_tables(master)
    master.path("users.yaml").write_text(
        "roles:\n  viewer: {default: view}\nusers:\n  vera: {roles: [viewer]}\n",
        encoding="utf-8")
    vera = api.open_workspace(master.root, user="vera", db_url=master.db_url)
    with pytest.raises(PermissionDeniedError):
        api.undo(vera, "sales_invoices")
    vera.dispose()
    with scenario_lock(master, "sales_invoices", "import"):
        with pytest.raises(LockedError):
            api.undo(master, "sales_invoices")
    assert dump_tables(master) == before


def test_rollback_keeps_its_meaning_and_undo_works_after_it(master):
    invoices(master)
    note = api.rollback(master, "sales_invoices")["note"]
    assert "stay in the ERP" in note and len(erp(master)["AR301000"]) == 5
    r = api.undo(master, "sales_invoices")  # the ledger still knows the run
    assert r.deleted == 5 and r.records_unmarked == 0  # no prepared data any more
    assert erp(master)["AR301000"] == [] and ledger(master, "sales_invoices") == []


def test_upsert_of_a_changed_re_drop_reconciles_after_the_import(master, tmp_path):
    simplified_invoices(master, mode="upsert")
    run(master, "sales_invoices")
    text = (SAMPLES / "sales_invoices.csv").read_text(encoding="utf-8")
    v2 = tmp_path / "v2.csv"
    v2.write_text(text.replace("Salmon fillet,10,", "Salmon fillet,12,"), encoding="utf-8")
    api.upload_version(master, "sales_invoices", v2)
    api.prepare(master, "sales_invoices", progress=False)
    r = api.reconcile(master, "sales_invoices")  # INV-1001 waits to be updated
    assert (r.counts["not_processed"], r.counts["imported_before"]) == (1, 4)
    assert r.counts["documents_extra"] == 0 and r.ok
    s = api.import_(master, "sales_invoices", progress=False)
    assert s.updated == 1
    r = api.reconcile(master, "sales_invoices")
    assert r.ok and r.counts["imported"] == 1 and r.counts["imported_before"] == 4
    qty = next(t for t in r.totals if t.target == "Line.Quantity")
    assert qty.erp == QTY + 2
    # the documents were created by the first run; the update did not create any
    runs = [h["id"] for h in api.history_of(master, "sales_invoices")
            if h["action"] == "import"]
    with pytest.raises(BadInputError, match="created no documents"):
        api.undo(master, "sales_invoices", runs[1])
    u = api.undo(master, "sales_invoices")
    assert u.run == runs[0] and u.deleted == 5 and erp(master)["AR301000"] == []
