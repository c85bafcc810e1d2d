"""The notebook's provider step shows what was settled reading a file (header, preamble,
names not read as is, skipped rows) as a table, before anything is mapped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from migration_kit import api, widgets

from .conftest import SAMPLES

MESSY = Path(__file__).resolve().parents[1] / "data" / "messy"


def _upload(w: widgets.UploadWidget, name: str, content: bytes) -> None:
    w.upload.value = ({"name": name, "type": "text/csv", "size": len(content),
                       "content": memoryview(content),
                       "last_modified": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)},)


def test_tables_of_what_was_settled(ws):
    api.add_provider(ws, "dup", MESSY / "blank_dup.csv")
    api.add_provider(ws, "accounts", SAMPLES / "accounts.csv")
    t = widgets.tables.layout(ws, "dup")
    assert list(t.columns) == ["what", "where", "settled", "rule"]
    assert t[t.what == "column name"][["where", "settled"]].values.tolist() == [
        ["column 2", "Column_2"], ["column 4", "id_2"], ["column 6", "(dropped)"],
        ["column 7", "(dropped)"], ["column 8", "(dropped)"]]
    assert t[t.what == "rows"][["where", "settled"]].values.tolist() == [
        ["lines 12, 25", "2 row(s)"], ["lines 23-24", "2 row(s)"]]
    assert widgets.tables.layout(ws, "accounts").empty  # nothing settled
    all_ = widgets.tables.settled(ws)
    assert set(all_.provider) == {"dup"} and len(all_) == len(t)


def test_file_layout_before_mapping():
    t = widgets.tables.file_layout(MESSY / "gla_spend_p7.csv")
    assert t.iloc[0].tolist()[:3] == ["header", "row 7", "found (header_row: auto)"]
    assert t[t.what == "preamble"].settled.tolist() == [
        "Greater London Authority", "Expenditure over £250", "Period 7 2023/24 (October 2023)",
        "Published by the Finance team"]
    two = widgets.tables.file_layout(MESSY / "merged_two_rows.xlsx")
    assert "Amount / Net" in two.settled.tolist()
    assert widgets.tables.file_layout(SAMPLES / "sales_invoices.csv").empty


def test_upload_shows_the_settled_table(ws):
    w = widgets.UploadWidget(ws)
    _upload(w, "spend.csv", (MESSY / "gla_spend_p7.csv").read_bytes())
    assert "provider spend: version 1 stored" in w.status.value
    assert "mk-settled" in w.settled._dom_classes
    html = w.settled.value
    assert "Settled reading spend.csv" in html and "Greater London Authority" in html
    assert "trailing junk" in html
    w.provider.value = "spend"
    _upload(w, "spend_p8.csv", (MESSY / "gla_spend_p8.csv").read_bytes())
    assert "version 2 stored" in w.status.value
    assert "row 8" in w.settled.value  # the new version's own header line
    _upload(w, "plain.csv", (SAMPLES / "accounts.csv").read_bytes())  # refused
    assert w.settled.value == "" and "upload refused" in w.status.value


def test_objects_of_several_files_keep_their_own_layout(ws):
    api.add_provider(ws, "two", [MESSY / "blank_dup.csv", MESSY / "gla_spend_p7.csv"])
    prov = api.load_provider(ws, "two")
    assert [o for o, _ in prov.schema.layouts()] == ["blank_dup", "gla_spend_p7"]
    t = widgets.tables.layout(ws, "two")
    assert "blank_dup: column 2" in t["where"].tolist()
    assert "gla_spend_p7: row 7" in t["where"].tolist()
