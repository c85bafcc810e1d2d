"""Run options, prepared-data tools, target restrictions, conditions, locales and value
maps: parity with the ERP's own Import/Export by scenario screens."""

from __future__ import annotations

from decimal import Decimal

from migration_kit import api
from migration_kit.erp.store import table_name

from ..helpers import SAMPLES, documents, install, run, simplified_invoices


def erp_dump(ws):
    out = {}
    with ws.connect() as conn:
        for (window, obj), t in sorted(ws.store.tables.items()):
            out[table_name(window, obj)] = sorted(
                tuple(str(v) for v in r) for r in conn.execute(t.select()).all())
    return out


def test_validate_only_changes_nothing_and_lists_every_error(master, tmp_path):
    bad = tmp_path / "bad.csv"
    text = (SAMPLES / "sales_invoices.csv").read_text()
    text = text.replace("INV-1002,C002", "INV-1002,C998").replace("INV-1004,C003",
                                                                   "INV-1004,C997")
    text = text.replace("7.5,1250.00", "7.5,-1")
    bad.write_text(text)
    simplified_invoices(master, file=bad)
    api.prepare(master, "sales_invoices", progress=False)
    before = erp_dump(master)
    s = api.import_(master, "sales_invoices", validate_only=True, progress=False)
    assert erp_dump(master) == before
    assert (s.imported, s.failed) == (2, 3)
    msgs = {e["key"]["Document.ReferenceNbr"]: e["message"] for e in s.errors}
    assert "C998" in msgs["INV-1002"] and "C997" in msgs["INV-1004"]
    assert "UnitPrice" in msgs["INV-1003"]
    assert api.counts(master, "sales_invoices")["processed"] == 0
    assert api.counts(master, "sales_invoices")["errors"] == 3


def test_save_only_if_all_valid(master):
    simplified_invoices(master, file=SAMPLES / "sales_invoices_bad.csv")
    api.prepare(master, "sales_invoices", progress=False)
    s = api.import_(master, "sales_invoices", save_only_if_valid=True, progress=False)
    assert s.stopped is not None and "nothing was saved" in str(s.stopped)
    assert documents(master, "AR301000") == []
    api.set_value(master, "sales_invoices", 6, "Customer", "C001")
    s = api.import_(master, "sales_invoices", save_only_if_valid=True, progress=False)
    assert s.imported == 5 and s.ok


def test_prepare_and_import_incremental(master, tmp_path):
    simplified_invoices(master, sync="incremental")
    r = api.prepare_and_import(master, "sales_invoices", progress=False)
    assert r.imported.imported == 5
    r = api.prepare_and_import(master, "sales_invoices", progress=False)
    assert r.imported is None and "nothing to import" in r.message
    assert "is 1, which was imported already" in r.message
    v2 = tmp_path / "v2.csv"
    v2.write_text((SAMPLES / "sales_invoices.csv").read_text() +
                  "INV-1006,C001,2024-04-01,2024-04-30,April,FISH-01,Salmon,1,189.00,0,3000\n")
    api.upload_version(master, "sales_invoices", v2)
    r = api.prepare_and_import(master, "sales_invoices", progress=False)
    assert r.prepared.already_processed == 5
    assert (r.imported.imported, r.imported.skipped) == (1, 0)
    assert len(documents(master, "AR301000")) == 6


def test_reuse_unfinished_prepared_data(master):
    simplified_invoices(master, file=SAMPLES / "sales_invoices_bad.csv")
    r = api.prepare_and_import(master, "sales_invoices", progress=False)
    assert r.imported.stopped is not None
    api.set_value(master, "sales_invoices", 6, "Customer", "C004")
    r = api.prepare_and_import(master, "sales_invoices", discard_previous=False,
                               progress=False)
    assert r.prepared is None and "re-using" in r.message
    assert r.imported.imported == 3
    assert api.status(master, "sales_invoices") == "Processed"


def test_status_sequence(master):
    simplified_invoices(master, file=SAMPLES / "sales_invoices_bad.csv")
    assert api.status(master, "sales_invoices") == "New"
    api.prepare(master, "sales_invoices", progress=False)
    assert api.status(master, "sales_invoices") == "Prepared"
    api.import_(master, "sales_invoices", progress=False)
    assert api.status(master, "sales_invoices") == "Partially processed"


def test_replace_tool(master):
    simplified_invoices(master, file=SAMPLES / "sales_invoices_bad.csv")
    api.prepare(master, "sales_invoices", progress=False)
    assert api.replace(master, "sales_invoices", "Customer", "c999", "C004") == 2
    assert api.replace(master, "sales_invoices", "Customer", "c004", "X",
                       match_case=True) == 0
    n = api.replace(master, "sales_invoices", "LineDescription", "Rye", "Dark rye",
                    lines=[4])
    assert n == 1
    values = {ln.line: ln.values for ln in api.lines(master, "sales_invoices")}
    assert values[4]["LineDescription"] == "Dark rye bread"
    assert values[8]["LineDescription"] == "Rye bread"
    assert api.import_(master, "sales_invoices", progress=False).imported == 5


def test_active_and_processed_tools(master):
    simplified_invoices(master, file=SAMPLES / "sales_invoices_bad.csv")
    api.prepare(master, "sales_invoices", progress=False)
    api.import_(master, "sales_invoices", continue_on_error=True, progress=False)
    assert api.clear_errors(master, "sales_invoices") == 5
    assert api.counts(master, "sales_invoices")["errors"] == 0
    assert api.toggle_active(master, "sales_invoices", [1, 2]) == 1
    lines = {ln.line: ln for ln in api.lines(master, "sales_invoices")}
    assert not lines[1].active and not lines[3].active and lines[4].active
    n, warning = api.toggle_processed(master, "sales_invoices", [4])
    assert n == 1 and "second document" in warning
    assert not {ln.line: ln for ln in api.lines(master, "sales_invoices")}[4].processed


def test_clear_active_until_first_error(master, tmp_path):
    simplified_invoices(master, file=SAMPLES / "sales_invoices_bad.csv")
    api.prepare(master, "sales_invoices", progress=False)
    api.import_(master, "sales_invoices", validate_only=True, progress=False)
    assert api.clear_active_until_error(master, "sales_invoices") == 2
    s = api.import_(master, "sales_invoices", progress=False)
    assert s.stopped.record == 3 and s.imported == 0


def test_target_restrictions(master):
    sc = simplified_invoices(master)
    api.convert_to_manual(master, "sales_invoices")
    sc = api.load_scenario(master, "sales_invoices")
    from migration_kit.scenarios.conditions import Restriction

    sc.target_restrictions = [Restriction(field="Document.CustomerID", condition="in",
                                          values=["C001", "C002"])]
    sc.options["break_on_incorrect_target"] = False
    api.save_scenario(master, sc)
    api.prepare(master, "sales_invoices", progress=False)
    s = api.import_(master, "sales_invoices", progress=False)
    assert (s.imported, s.failed, s.stopped) == (2, 3, None)
    assert "target restrictions" in s.errors[0]["message"]
    sc.options["break_on_incorrect_target"] = True
    api.save_scenario(master, sc)
    api.prepare(master, "sales_invoices", progress=False)
    s = api.import_(master, "sales_invoices", progress=False)
    assert s.stopped is not None and s.stopped.record == 3


def test_source_restrictions_relative_dates_and_brackets(master):
    simplified_invoices(master)
    api.convert_to_manual(master, "sales_invoices")
    sc = api.load_scenario(master, "sales_invoices")
    from migration_kit.scenarios.conditions import Restriction

    sc.restrictions = [
        Restriction(field="InvoiceDate", condition="less", values=["@Today"]),
        Restriction(field="Customer", condition="equals", values=["C001"], op="and",
                    open_brackets=1),
        Restriction(field="Customer", condition="ends_with", values=["6"], op="or",
                    close_brackets=1),
    ]
    api.save_scenario(master, sc)
    p = api.prepare(master, "sales_invoices", progress=False)
    assert (p.records, p.lines, p.filtered_out) == (2, 5, 5)


def test_value_map_and_locale(master, tmp_path):
    api.valuemaps.set_value(master, "status_codes", "A", "Active")
    api.valuemaps.set_value(master, "status_codes", "H", "OnHold")
    legacy = tmp_path / "legacy_customers.csv"
    legacy.write_text("Nr;Navn;Kode;Kreditt\nK1;Alfa AS;A;1 234,50\nK2;Beta AS;H;0,5\n"
                      "K3;Gamma AS;X;10\n", encoding="utf-8")
    api.add_provider(master, "legacy", legacy)
    from migration_kit.scenarios.model import MappingLine, Scenario

    api.save_scenario(master, Scenario(
        name="legacy", kind="import", window="AR303000", provider="legacy",
        options={"locale": "nb-NO", "break_on_error": False},
        mapping=[MappingLine(target="Customer.CustomerID", source="Nr"),
                 MappingLine(target="Customer.CustomerName", source="Navn"),
                 MappingLine(target="Customer.Status", source="=Map('status_codes', [Kode])"),
                 MappingLine(target="Customer.CreditLimit", source="Kreditt"),
                 MappingLine(action="Save")]))
    api.prepare(master, "legacy", progress=False)
    s = api.import_(master, "legacy", progress=False)
    assert (s.imported, s.failed) == (2, 1)
    assert "status_codes" in s.errors[0]["message"] and "'X'" in s.errors[0]["message"]
    got = {d["Customer"]["CustomerID"]: d["Customer"] for d in documents(master, "AR303000")}
    assert got["K1"]["CreditLimit"] == Decimal("1234.50") and got["K2"]["Status"] == "OnHold"
    api.valuemaps.set_default(master, "status_codes", "Inactive")
    api.prepare(master, "legacy", progress=False)
    s = api.import_(master, "legacy", progress=False)
    assert s.imported == 1
    got = {d["Customer"]["CustomerID"]: d["Customer"] for d in documents(master, "AR303000")}
    assert got["K3"]["Status"] == "Inactive"


def test_journal_locale_de(master, tmp_path):
    install(master, "journal")
    sc = api.load_scenario(master, "journal")
    sc.options["locale"] = "de-DE"
    api.save_scenario(master, sc)
    api.prepare(master, "journal", progress=False)
    s = api.import_(master, "journal", progress=False)
    # "1 250,50" is not a de-DE number (its thousands separator is '.')
    assert s.stopped is not None and s.stopped.record == 2
    assert "1 250,50" in str(s.stopped)
    assert run is not None


def test_header_correction_applies_to_the_whole_record(master):
    simplified_invoices(master, file=SAMPLES / "sales_invoices_bad.csv")
    api.prepare(master, "sales_invoices", progress=False)
    api.set_value(master, "sales_invoices", 6, "Customer", "C004")
    api.set_value(master, "sales_invoices", 7, "LineDescription", "Samples")
    values = {ln.line: ln.values for ln in api.lines(master, "sales_invoices")}
    assert values[6]["Customer"] == values[7]["Customer"] == "C004"  # header: both lines
    assert values[6]["LineDescription"] == "Menu planning workshop"  # detail: that line only
    assert values[7]["LineDescription"] == "Samples"


def test_inactive_and_ignore_error_mapping_lines(master, tmp_path):
    from migration_kit.scenarios.model import MappingLine, Scenario

    src = tmp_path / "limits.csv"
    src.write_text("Id,Name,Limit,City\nK1,Alfa,lots,Oslo\nK2,Beta,100,Bergen\n")
    api.add_provider(master, "limits", src)
    sc = Scenario(name="limits", kind="import", window="AR303000", provider="limits",
                  mapping=[MappingLine(target="Customer.CustomerID", source="Id"),
                           MappingLine(target="Customer.CustomerName", source="Name"),
                           MappingLine(target="Customer.CreditLimit", source="Limit"),
                           MappingLine(target="Customer.City", source="City", active=False),
                           MappingLine(action="Save")])
    api.save_scenario(master, sc)
    run_ = api.prepare_and_import(master, "limits", progress=False).imported
    assert run_.stopped is not None and run_.stopped.field_name == "Customer.CreditLimit"
    sc.mapping[2].ignore_error = True
    api.save_scenario(master, sc)
    assert api.prepare_and_import(master, "limits", progress=False).imported.imported == 2
    got = {d["Customer"]["CustomerID"]: d["Customer"] for d in documents(master, "AR303000")}
    assert got["K1"]["CreditLimit"] is None and got["K2"]["CreditLimit"] == Decimal("100.00")
    assert got["K1"]["City"] is None  # the inactive line was not applied
