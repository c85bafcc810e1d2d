"""Widget logic without a browser: clicks, value changes, errors shown to the user."""

from __future__ import annotations

import datetime as dt

import ipywidgets as W
import pytest

from migration_kit import api, widgets
from migration_kit.errors import RecordError
from migration_kit.widgets.errors import describe

from .conftest import SAMPLES

# ipydatagrid's DataGrid.data still uses DataFrame.drop(inplace=True)
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")


def _upload(w: widgets.UploadWidget, name: str, content: bytes) -> None:
    w.upload.value = ({"name": name, "type": "text/csv", "size": len(content),
                       "content": memoryview(content),
                       "last_modified": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)},)


# -- upload ------------------------------------------------------------------------------
def test_upload_creates_provider_then_versions_and_forgets_the_bytes(ws):
    w = widgets.UploadWidget(ws)
    content = (SAMPLES / "accounts.csv").read_bytes()
    _upload(w, "accounts.csv", content)
    assert w.upload.value == ()
    assert "provider accounts: version 1 stored" in w.status.value
    assert api.load_provider(ws, "accounts").schema.columns()[0] == "Account"
    assert "Account" not in str(w.upload.get_state())  # no content in the widget state
    w.provider.value = "accounts"  # else a provider named after the file
    _upload(w, "accounts_march.csv", content + b"6900,Bank fees,Expense,true\n")
    assert w.upload.value == () and w.errors.value == ""
    assert [v.version for v in api.versions(ws, "accounts")] == [1, 2]
    assert not list((ws.root.parent).glob("mk-upload-*"))


def test_upload_with_another_structure_is_refused_and_shown(ws):
    w = widgets.UploadWidget(ws, provider="accounts")
    _upload(w, "accounts.csv", (SAMPLES / "accounts.csv").read_bytes())
    _upload(w, "other.csv", b"Konto,Tekst\n1500,Kunder\n")
    assert w.upload.value == ()
    assert "upload refused" in w.status.value
    assert "SchemaMismatchError" in w.errors.value and "accounts" in w.errors.value
    assert "mk-error" in w.errors._dom_classes
    assert [v.version for v in api.versions(ws, "accounts")] == [1]


# -- mapping -----------------------------------------------------------------------------
@pytest.fixture
def mapper(master_ws):
    return widgets.MappingWidget(master_ws, "sales_invoices", SAMPLES / "sales_invoices.csv",
                                 "AR301000", keys=["Document.ReferenceNbr"])


def test_mapping_rows_are_prefilled_from_the_suggestion(mapper):
    assert mapper.row("Document.ReferenceNbr").source.value == "InvoiceNbr"
    assert mapper.row("Line.Quantity").source.value == "Qty"
    assert mapper.row("Document.ReferenceNbr").key.value is True
    assert mapper.row("Document.CustomerID").key.disabled is False
    assert mapper.row("Line.Quantity").key.disabled is True  # Key only on summary fields
    assert "Line.Amount" not in [r.target for r in mapper.rows]  # computed
    assert "INV-1001 | INV-1001 | INV-1001" in mapper.row("Document.ReferenceNbr").preview.value
    assert ("InvoiceNbr", "Document.ReferenceNbr") in mapper.mapping()
    assert mapper.key_fields() == ["Document.ReferenceNbr"]


def test_formula_and_constant_preview_live(mapper):
    row = mapper.row("Document.ExternalRef")
    row.formula.value = "=[InvoiceNbr] & '/' & Lower([Customer])"
    assert "INV-1001/c001" in row.preview.value
    row.formula.value = "=Upper("
    assert "mk-preview-error" in row.preview.value
    row.formula.value = "Legacy's"
    assert row.source_text == "='Legacy''s'"
    assert "Legacy&#x27;s" in row.preview.value
    row.formula.value = ""
    row.source.value = "Description"
    assert "March delivery" in row.preview.value


def test_save_button_creates_then_updates_the_scenario(mapper):
    mapper.row("Document.ExternalRef").formula.value = "=[InvoiceNbr]"
    mapper.save_button.click()
    assert mapper.errors.value == ""
    assert "scenario sales_invoices saved" in mapper.status.value
    sc = api.show_scenario(mapper.ws, "sales_invoices")
    assert sc.simplified and sc.keys == ["Document.ReferenceNbr"]
    assert {m.target: m.source for m in sc.mapping if m.target}["Document.ExternalRef"] == \
        "=[InvoiceNbr]"
    mapper.row("Document.Description").source.value = "(not mapped)"
    mapper.save_button.click()
    sc = api.show_scenario(mapper.ws, "sales_invoices")
    assert "Document.Description" not in [m.target for m in sc.mapping]


def test_save_error_is_shown_with_the_problem(mapper):
    mapper.row("Document.ReferenceNbr").source.value = "(not mapped)"  # key left unmapped
    mapper.save_button.click()
    assert "not saved" in mapper.status.value
    assert "ScenarioError" in mapper.errors.value
    assert "Document.ReferenceNbr" in mapper.errors.value and "not mapped" in mapper.errors.value
    with pytest.raises(Exception, match="not mapped"):
        mapper.save()  # called from code, the error is raised (a headless run fails)


def test_one_source_picked_for_two_targets(ws, tmp_path):
    f = tmp_path / "codes.csv"
    f.write_text("Code,Town\nK-100,Oslo\nK-200,Bergen\n", encoding="utf-8")
    mapper = widgets.MappingWidget(ws, "codes", f, "AR303000", keys=["Customer.CustomerID"])
    for r in mapper.rows:
        r.source.value = "(not mapped)"
    mapper.row("Customer.CustomerID").source.value = "Code"
    mapper.row("Customer.CustomerName").source.value = "Code"
    assert "K-100 | K-200" in mapper.row("Customer.CustomerName").preview.value
    assert mapper.mapping() == [("Code", "Customer.CustomerID"),
                                ("Code", "Customer.CustomerName")]
    mapper.save_button.click()
    assert mapper.errors.value == "" and "2 field(s) mapped" in mapper.status.value
    sc = api.show_scenario(ws, "codes")
    assert [(m.source, m.target) for m in sc.mapping if m.target] == mapper.mapping()
    api.prepare(ws, "codes", progress=False)
    api.import_(ws, "codes", progress=False).raise_for_errors()
    assert [(d["Customer"]["CustomerID"], d["Customer"]["CustomerName"])
            for d in api.list_documents(ws, "AR303000")] == [("K-100", "K-100"),
                                                              ("K-200", "K-200")]


# -- prepared grid and import panel ------------------------------------------------------
def test_grid_shows_error_rows_and_their_messages(stopped_ws):
    panel = widgets.ImportPanel(stopped_ws, ["sales_invoices"])
    grid = panel.grid
    df = grid.grid.data
    # the error next to Line, where the user looks first; the record's line count beside it
    assert list(df.columns[:7]) == ["Error", "Field", "Record", "Lines", "Active",
                                    "Processed", "Note"]
    assert df.loc[6, "Lines"] == 2
    assert df.index.name == "Line" and list(df.index) == list(range(1, 11))
    bad = df[df["Error"] != ""]
    assert list(bad.index) == [6, 7] and set(bad["Customer"]) == {"C999"}
    assert "C999" in bad.loc[6, "Error"] and bad.loc[6, "Field"] == "Document.CustomerID"
    assert df.loc[1, "Processed"] and not df.loc[8, "Processed"]
    assert "line 6 (record 3)" in grid.error_list.value and "C999" in grid.error_list.value
    assert "cell.metadata.data['Error']" in grid.grid.default_renderer.background_color.value
    assert "mk-grid" in grid.grid._dom_classes and "mk-import" in panel.import_button._dom_classes


def test_edit_save_and_import_again(stopped_ws):
    panel = widgets.ImportPanel(stopped_ws, ["sales_invoices"])
    panel.grid.edit(6, "Customer", "C003")
    assert panel.grid.pending == {(6, "Customer"): "C003"}
    assert "1 unsaved change" in panel.grid.grid_status.value
    panel.grid.save_button.click()
    assert panel.grid.pending == {} and "saved 1 change" in panel.grid.grid_status.value
    assert api.lines(stopped_ws, "sales_invoices", offset=5, limit=1)[0].values["Customer"] == \
        "C003"
    panel.import_button.click()
    assert panel.errors.value == ""
    assert panel.status.value.startswith("Imported 3 record(s)")
    docs = {d["Document"]["ReferenceNbr"]: d for d in api.list_documents(stopped_ws, "AR301000")}
    assert docs["INV-1003"]["Document"]["CustomerID"] == "C003"
    assert panel.grid.grid.data["Processed"].all()


def test_import_clicks_save_pending_edits_first(stopped_ws):
    panel = widgets.ImportPanel(stopped_ws, ["sales_invoices"])
    panel.grid.edit(6, "Customer", "C003")
    panel.import_button.click()
    assert panel.status.value.startswith("Imported 3 record(s)")


def test_import_that_stops_names_record_and_field(stopped_ws):
    panel = widgets.ImportPanel(stopped_ws, ["sales_invoices"])
    panel.grid.edit(6, "Customer", "C998")
    panel.import_button.click()
    assert panel.status.value.startswith("Import stopped")
    assert isinstance(panel.errors.error, RecordError)
    shown = panel.errors.value
    for text in ("RecordError", "sales_invoices", "<th", "line", ">6<", "record", ">3<",
                 "Document.ReferenceNbr=INV-1003", "Document.CustomerID", "C998"):
        assert text in shown, text
    assert panel.grid.grid.data.loc[6, "Error"]  # the grid shows the new message


def test_clear_active_leaves_the_record_out(stopped_ws):
    panel = widgets.ImportPanel(stopped_ws, ["sales_invoices"])
    panel.grid.edit(6, "Active", False)
    panel.grid.save()
    df = panel.grid.grid.data
    assert not df.loc[6, "Active"] and not df.loc[7, "Active"]  # the whole record
    s = panel.run_import()
    assert s.ok and s.imported == 2
    refs = sorted(d["Document"]["ReferenceNbr"] for d in api.list_documents(stopped_ws,
                                                                             "AR301000"))
    assert refs == ["INV-1001", "INV-1002", "INV-1004", "INV-1005"]


def test_read_only_columns_are_reverted(stopped_ws):
    grid = widgets.PreparedGrid(stopped_ws, "sales_invoices")
    grid.edit(6, "Processed", True)
    assert grid.pending == {}
    assert grid.grid.data.loc[6, "Processed"] == False  # noqa: E712
    assert "Processed cannot be edited" in grid.grid_status.value


def test_prepare_button_and_unexpected_errors_are_shown(stopped_ws, monkeypatch):
    panel = widgets.ImportPanel(stopped_ws, ["sales_invoices"])
    panel.prepare_button.click()
    assert panel.status.value == "Prepared 5 record(s) from 10 line(s)"

    def broken(*a, **kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(api, "prepare", broken)
    panel.prepare_button.click()
    assert "RuntimeError: disk on fire" in panel.errors.value


def test_panel_for_a_new_scenario_has_no_grid(master_ws):
    panel = widgets.ImportPanel(master_ws, ["accounts"])
    assert panel.grid is not None  # accounts was prepared by the fixture
    api.rollback(master_ws, "accounts")
    panel.scenario.options = ["accounts", "customers"]
    panel.scenario.value = "customers"
    panel.scenario.value = "accounts"
    assert panel.grid is None and panel.status.value == "accounts: New"


# -- export and history ------------------------------------------------------------------
def test_export_panel_writes_a_version_and_a_download(stopped_ws, tmp_path):
    ws = stopped_ws
    from migration_kit import runbook

    runbook.load_sources(ws, {"sales_invoices_out": "sales_invoices.csv"})
    runbook.install_scenarios(ws, ["sales_invoices_export"])
    panel = widgets.ExportPanel(ws, "sales_invoices_export", download_dir=tmp_path / "dl")
    panel.prepare_button.click()
    assert panel.status.value == "Prepared 5 row(s) from 2 record(s)"
    panel.export_button.click()
    assert panel.errors.value == "" and panel.status.value == "Exported 5 row(s) as version 2"
    copy = tmp_path / "dl" / "sales_invoices_out.csv"
    assert copy.read_bytes() == api.latest_version(ws, "sales_invoices_out").path.read_bytes()
    assert copy.read_text().count("INV-1001") == 3


def test_history_panel_rolls_back(stopped_ws):
    panel = widgets.HistoryPanel(stopped_ws, selected="sales_invoices")
    assert panel.errors.value == ""
    panel.rollback_button.click()
    assert "cleared 5 prepared record(s)" in panel.status.value
    assert "do" in panel.status.value and api.status(stopped_ws, "sales_invoices") == "New"
    assert len(list(api.list_documents(stopped_ws, "AR301000"))) == 2  # imported stay


def test_describe_reads_the_facts():
    e = RecordError("Customer 'C999' does not exist", scenario="s", line=6, record=3,
                    key={"Document.ReferenceNbr": "INV-1003"},
                    field_name="Document.CustomerID")
    facts = dict(describe(e))
    assert facts == {"scenario": "s", "line": "6", "record": "3",
                     "key": "Document.ReferenceNbr=INV-1003", "field": "Document.CustomerID",
                     "message": str(e)}
    assert describe(ValueError("x")) == [("error", "ValueError: x")]


def test_widgets_have_css_classes(master_ws):
    w = widgets.UploadWidget(master_ws)
    assert isinstance(w.upload, W.FileUpload) and "mk-upload" in w.upload._dom_classes
