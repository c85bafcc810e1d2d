"""Excel provider: calamine reading (true data range, 1904 dates, offsets), openpyxl writing."""

from __future__ import annotations

import datetime as dt
import tracemalloc

import pytest

from migration_kit.errors import SchemaMismatchError, SourceError
from migration_kit.providers import FieldSchema, ObjectSchema, Schema, get_provider_type

from .conftest import read_all


def test_detect_defaults(excel_type, sample):
    p = excel_type.detect(sample("basic.xlsx"), {})
    assert p == {"sheet": "Items", "header_row": "auto", "header_rows": "auto", "comment": None,
                 "keep_empty_columns": False, "rename": {}, "date1904": False,
                 "max_bytes": 2 * 1024**3}
    assert excel_type.detect(sample("basic.xlsx"), p) == p


def test_native_values_and_types(excel_type, sample):
    _, schema, rows, lines, batches = read_all(excel_type, sample("basic.xlsx"))
    assert schema.columns() == ["id", "name", "amount", "issued", "active", "code"]
    assert [f.type for f in schema.objects[0].fields] == [
        "integer", "string", "decimal", "date", "boolean", "string"]
    assert schema.objects[0].fields[3].samples == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert rows[0] == (1, "Item 1", 1.25, dt.date(2024, 1, 1), False, "00001")
    assert type(rows[0][0]) is int and type(rows[0][2]) is float
    assert rows[3][2] == 5.0  # a decimal column keeps floats
    assert len(rows) == 10 and lines == list(range(2, 12))
    assert batches[0].sheet == "Items"
    assert batches[0].location(0).sheet == "Items" and batches[0].location(0).line == 2


def test_sheet_param(excel_type, sample):
    p, schema, rows, _, batches = read_all(excel_type, sample("basic.xlsx"), {"sheet": "Other"})
    assert schema.columns() == ["x", "y"] and rows == []
    with pytest.raises(SourceError, match="no sheet 'Nope'") as e:
        excel_type.detect(sample("basic.xlsx"), {"sheet": "Nope"})
    assert "Items" in str(e.value)


def test_phantom_dimension_ignored(excel_type, sample):
    tracemalloc.start()
    try:
        _, schema, rows, lines, _ = read_all(excel_type, sample("phantom_dimension.xlsx"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(rows) == 10 and lines[-1] == 11
    assert len(schema.columns()) == 6
    assert peak < 20 * 1024 * 1024


def test_1904_dates(excel_type, sample, tmp_path):
    p, schema, rows, _, _ = read_all(excel_type, sample("date1904.xlsx"))
    assert p["date1904"] is True
    assert rows == [(1, dt.date(2020, 5, 17), dt.datetime(2021, 1, 2, 3, 4, 5)),
                    (2, dt.date(1999, 12, 31), dt.datetime(2000, 2, 29, 23, 59))]
    out = tmp_path / "mac.xlsx"
    excel_type.write(out, p, schema, schema.columns(), rows)
    p2, _, back, _, _ = read_all(excel_type, out, schema=schema)
    assert p2["date1904"] is True and back == rows


def test_data_not_at_a1(excel_type, sample):
    p, schema, rows, lines, _ = read_all(excel_type, sample("offset.xlsx"), {"header_row": 3})
    assert schema.columns() == ["sku", "qty", "price"]
    assert rows == [("A1", 5, 9.5), ("A2", 7, 12)]
    assert lines == [4, 6]  # row 5 is empty and skipped


def test_header_row_auto_finds_the_header_below_the_title(excel_type, sample):
    p, schema, rows, lines, _ = read_all(excel_type, sample("offset.xlsx"))
    assert p["header_row"] == "auto"
    assert schema.columns() == ["sku", "qty", "price"] and lines == [4, 6]
    lay = schema.layout
    assert (lay.header_row, lay.detected, lay.rows) == (3, True, 2)
    assert lay.preamble == [{"line": 1, "cells": ["Quarterly report"]}]
    assert lay.skipped == {"blank": {"count": 1, "lines": [5]}}
    # header_row: N overrides: the title as the header, the real names read as data
    over = excel_type.read_schema(sample("offset.xlsx"), {**p, "header_row": 1})
    assert over.columns() == ["Quarterly report", "Column_C", "Column_D"]
    assert over.layout.rows == 3 and not over.layout.detected


@pytest.mark.parametrize("name, columns, settled", [
    ("blank_header.xlsx", ["id", "Column_B", "name"],
     [{"column": "B", "name": "Column_B", "rule": "blank header over data"}]),
    ("duplicate_header.xlsx", ["id", "name", "id_2"],
     [{"column": "C", "name": "id_2", "rule": "duplicate of 'id' (column A)"}]),
])
def test_blank_and_duplicate_names_are_settled(excel_type, sample, name, columns, settled):
    p, schema, rows, lines, _ = read_all(excel_type, sample(name))
    assert schema.columns() == columns and lines == [2]
    assert schema.layout.settled == settled


@pytest.mark.parametrize("name, message", [
    ("encrypted.xlsx", "encrypted"),
    ("not_a_workbook.xlsx", "not an Excel workbook"),
    ("zip_not_workbook.xlsx", "no xl/workbook.xml"),
])
def test_not_a_readable_workbook(excel_type, sample, name, message):
    with pytest.raises(SourceError, match=message) as e:
        excel_type.detect(sample(name), {})
    assert e.value.location.file == name
    with pytest.raises(SourceError, match=message):
        next(excel_type.read_batches(sample(name), {"sheet": "S", "header_row": 1,
                                                    "date1904": False},
                                     Schema([ObjectSchema("Row", [])])))


def test_xls_is_read_only(excel_type, sample, tmp_path):
    schema = Schema([ObjectSchema("Row", [FieldSchema("a")])])
    with pytest.raises(SourceError, match="xls is read-only"):
        excel_type.write(tmp_path / "out.xls", {}, schema, ["a"], [("1",)])
    assert not excel_type.is_writable("x.xls") and excel_type.is_writable("x.xlsx")
    bogus = tmp_path / "renamed.xls"
    bogus.write_bytes(sample("basic.xlsx").read_bytes())
    with pytest.raises(SourceError, match="rename it to .xlsx"):
        excel_type.detect(bogus, {})


def test_max_bytes(excel_type, sample):
    with pytest.raises(SourceError, match="over the limit"):
        excel_type.detect(sample("basic.xlsx"), {"max_bytes": 100})


def test_write_typed_cells(excel_type, tmp_path):
    schema = Schema([ObjectSchema("Row", [
        FieldSchema("code", "string"), FieldSchema("qty", "integer"),
        FieldSchema("price", "decimal"), FieldSchema("day", "date"),
        FieldSchema("ok", "boolean")])])
    rows = [("00123", 5, 9.5, dt.date(2024, 2, 29), True),
            ("=1+1", "7", "1.25", "2024-03-01", "false"),
            ("#N/A", None, None, None, None),
            ("1e5", -3, 0.1, dt.datetime(2024, 1, 1, 8, 30), False)]
    out = tmp_path / "typed.xlsx"
    params = {"sheet": "Export", "header_row": 2, "date1904": False}
    assert excel_type.write(out, params, schema, schema.columns(), rows) == 4
    p, read_schema, back, lines, _ = read_all(excel_type, out)
    assert p["sheet"] == "Export" and p["header_row"] == "auto" and lines == [3, 4, 5, 6]
    assert read_schema.layout.header_row == 2 and read_schema.layout.preamble == []
    assert [f.type for f in read_schema.objects[0].fields] == [
        "string", "integer", "decimal", "date", "boolean"]
    assert back == [("00123", 5, 9.5, dt.date(2024, 2, 29), True),
                    ("=1+1", 7, 1.25, dt.date(2024, 3, 1), False),
                    ("#N/A", None, None, None, None),
                    ("1e5", -3, 0.1, dt.datetime(2024, 1, 1, 8, 30), False)]


def test_write_illegal_characters(excel_type, tmp_path):
    schema = Schema([ObjectSchema("Row", [FieldSchema("a")])])
    with pytest.raises(SourceError, match="characters Excel cannot store") as e:
        excel_type.write(tmp_path / "x.xlsx", {"sheet": "S"}, schema, ["a"], [("ok",), ("\x01",)])
    assert e.value.location.line == 3
    assert list(tmp_path.iterdir()) == []  # no half-written workbook


def test_schema_mismatch_and_reordered_columns(excel_type, sample):
    p = excel_type.detect(sample("basic.xlsx"), {})
    names = ["code", "id", "name", "amount", "issued", "active"]
    reordered = Schema([ObjectSchema("Row", [FieldSchema(n) for n in names])])
    rows = [r for b in excel_type.read_batches(sample("basic.xlsx"), p, reordered)
            for r in b.rows]
    assert rows[0][:3] == ("00001", 1, "Item 1")
    other = Schema([ObjectSchema("Row", [FieldSchema(n) for n in names[1:]])])
    with pytest.raises(SchemaMismatchError) as e:
        next(excel_type.read_batches(sample("basic.xlsx"), p, other))
    assert e.value.diff == ["added column 'code' in Row"]


def test_registry_gives_the_same_type():
    assert get_provider_type("excel").extensions == (".xlsx", ".xlsm", ".xls")
