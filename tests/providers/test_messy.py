"""Messy files a consultant receives weekly, read the way they expect (issue 17): the header
found below a preamble, blank and duplicate names settled, merged header cells, rows that are
not data skipped and counted, dialects detected; each rule overridable in the parameters.

The files are in ``tests/data/messy`` (made by its ``make_messy.py``); others are written
here. Every test checks the settled names, the row count and the first and last rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migration_kit import api
from migration_kit.errors import SchemaMismatchError, SourceError
from migration_kit.providers import Schema, get_provider_type, schema_diff, type_for_file
from migration_kit.providers.base import Layout
from migration_kit.providers.csv import sniff_dialect
from migration_kit.providers.layout import Names, find_header

from .conftest import read_all

MESSY = Path(__file__).resolve().parent.parent / "data" / "messy"
GLA = ["Vendor ID", "Vendor Name", "Cost Element", "Expenditure Account Code Description",
       "SAP Document Number", "Clearing Date", "Amount", "Directorate"]


def read(name: str | Path, params: dict | None = None):
    path = MESSY / name if isinstance(name, str) else name
    ptype = get_provider_type(type_for_file(path))
    return read_all(ptype, path, params)


def warnings(schema: Schema) -> str:
    return "\n".join(schema.layout.warnings())


# -- each shape -------------------------------------------------------------------------------
def test_gla_spend_report_with_a_preamble_and_cp1252_pounds():
    p, schema, rows, lines, batches = read("gla_spend_p7.csv")
    assert p["encoding"] == "cp1252" and p["delimiter"] == "," and p["header_row"] == "auto"
    assert schema.columns() == GLA
    assert len(rows) == 40 and lines[0] == 8 and lines[-1] == 47
    assert rows[0] == ("100000", "ACME Catering Ltd", "540050", "Catering & Refreshments",
                       "5100000000", "01/10/2023", "£434,890.97", "Resources")
    assert rows[-1][0] == "100039" and rows[-1][6] == "£386,034.60"
    lay = schema.layout
    assert (lay.header_row, lay.header_line, lay.detected, lay.rows) == (7, 7, True, 40)
    assert [pre["line"] for pre in lay.preamble] == [1, 2, 3, 5]
    assert lay.preamble[1]["cells"] == ["Expenditure over £250"]
    assert lay.skipped == {"trailing": {"count": 1, "lines": [48]},
                           "blank": {"count": 1, "lines": [49]}}
    assert "header on row 7, found by header_row: auto; 4 row(s) above it" in warnings(schema)
    # the read says what it skipped too
    assert sorted(w for b in batches for w in b.warnings) == [
        "gla_spend_p7.csv: 1 blank row(s) skipped (line 49)",
        "gla_spend_p7.csv: 1 short blank row(s) at the end of the file skipped as trailing junk "
        "(line 48)"]


def test_next_period_with_a_longer_preamble_matches_the_schema(tmp_path):
    _, v1, _, _, _ = read("gla_spend_p7.csv")
    p, v2, rows, lines, _ = read("gla_spend_p8.csv")
    assert schema_diff(v1, v2) == [] and v2.layout.header_row == 8
    assert len(rows) == 33 and lines[0] == 9 and rows[-1][0] == "100032"
    with api.init_workspace(tmp_path / "ws") as ws:
        prov = api.add_provider(ws, "spend", MESSY / "gla_spend_p7.csv")
        fv = api.upload_version(ws, "spend", MESSY / "gla_spend_p8.csv")
        assert fv.version == 2
        back = [r for b in prov.ptype.read_batches(fv.path, prov.params, prov.schema)
                for r in b.rows]
        assert len(back) == 33
        assert api.load_provider(ws, "spend").schema.layout == prov.schema.layout


def test_header_row_overrides_the_detection():
    _, schema, rows, _, _ = read("gla_spend_p7.csv", {"header_row": 7})
    assert schema.columns() == GLA and len(rows) == 40 and not schema.layout.detected
    assert "set by header_row" in warnings(schema)
    # the title as the header: what the user asked for, the other columns settled
    _, schema, rows, _, _ = read("gla_spend_p7.csv", {"header_row": 1})
    assert schema.columns()[:2] == ["Greater London Authority", "Column_2"]
    assert len(rows) == 46 and rows[0][0] == "Expenditure over £250"


def test_workbook_with_merged_two_row_headers():
    p, schema, rows, lines, _ = read("merged_two_rows.xlsx")
    assert p["header_rows"] == "auto"
    assert schema.columns() == ["ID", "Customer / Number", "Customer / Name", "Amount / Net",
                                "Amount / VAT", "Amount / Gross", "Notes"]
    assert [f.type for f in schema.fields()][3:6] == ["decimal"] * 3
    assert len(rows) == 12 and lines[0] == 5 and lines[-1] == 16
    assert rows[0] == ("INV-001", "C001", "Customer 1", 100.0, 25.0, 125.0, "rush")
    assert rows[-1] == ("INV-012", "C004", "Customer 4", 237.5, 59.375, 296.875, None)
    lay = schema.layout
    assert (lay.header_row, lay.header_rows) == (4, 2)
    assert lay.preamble == [{"line": 1, "cells": ["Invoice register, third quarter 2024"]}]
    assert [s["column"] for s in lay.settled] == ["B", "C", "D", "E", "F"]
    assert "column D: two header rows joined -> 'Amount / Net'" in warnings(schema)


def test_header_rows_1_keeps_the_group_row_above():
    _, schema, rows, _, _ = read("merged_two_rows.xlsx", {"header_rows": 1})
    assert schema.columns() == ["ID", "Number", "Name", "Net", "VAT", "Gross", "Notes"]
    assert len(rows) == 12 and [p["line"] for p in schema.layout.preamble] == [1, 3]


def test_merged_cell_over_two_columns_in_one_header_row():
    _, schema, rows, _, _ = read("merged_one_row.xlsx")
    assert schema.columns() == ["Item", "Description", "Amount", "Amount_2"]
    assert rows[0] == ("IT-0", "Item 0", 0, 0) and rows[-1] == ("IT-4", "Item 4", 40, 48)
    assert warnings(schema) == ("column D: merged cell C1:D1: its label spread over the columns "
                                "it spans; duplicate of 'Amount' (column C) -> 'Amount_2'")


def test_csv_with_blank_and_duplicate_headers_trailing_empty_columns_and_rows():
    _, schema, rows, lines, _ = read("blank_dup.csv")
    assert schema.columns() == ["id", "Column_2", "name", "id_2", "amount"]
    assert len(rows) == 20 and lines[0] == 2 and lines[-1] == 22
    assert rows[0] == ("1", "X", "Name 1", "1001", "1.50")
    assert rows[-1] == ("20", None, "Name 20", "1020", "30.00")
    lay = schema.layout
    assert [(s["column"], s["name"]) for s in lay.settled] == [
        ("2", "Column_2"), ("4", "id_2"), ("6", None), ("7", None), ("8", None)]
    assert lay.skipped == {"blank": {"count": 2, "lines": [12, 25]},
                           "trailing": {"count": 2, "lines": [23, 24]}}
    assert "column 6: blank header and no data in the file: dropped" in warnings(schema)


def test_workbook_with_blank_and_duplicate_headers_and_empty_rows():
    _, schema, rows, lines, _ = read("blank_dup.xlsx")
    assert schema.columns() == ["code", "Column_B", "qty", "code_2", "note"]
    assert len(rows) == 8 and lines[0] == 2 and lines[-1] == 10
    assert rows[0] == ("K1", "extra 1", 1, "K-1", None)
    assert rows[-1] == ("K8", "extra 8", 8, "K-8", None)
    assert schema.layout.skipped == {"blank": {"count": 1, "lines": [6]}}
    assert "column E: blank header and no data in the file: dropped" in warnings(schema)


def test_keep_empty_columns_and_rename_override_the_names():
    params = {"keep_empty_columns": True, "rename": {"Column_2": "flag", "id_2": "legacy_id"}}
    _, schema, rows, _, _ = read("blank_dup.csv", params)
    assert schema.columns() == ["id", "flag", "name", "legacy_id", "amount", "Column_6",
                                "Column_7", "Column_8"]
    assert rows[0] == ("1", "X", "Name 1", "1001", "1.50", None, None, None)
    text = warnings(schema)
    assert "Column_2" not in text and "legacy_id" not in text  # the user chose those
    assert "column 6: blank header, no data, kept (keep_empty_columns) -> 'Column_6'" in text
    with pytest.raises(SourceError, match="rename: no column 'nope' in the file; its columns: "
                                          "id, Column_2, name, id_2, amount"):
        read("blank_dup.csv", {"rename": {"nope": "x"}})
    with pytest.raises(SourceError, match="duplicate column names: name"):
        read("blank_dup.csv", {"rename": {"Column_2": "name"}})


@pytest.mark.parametrize("name", ["items.tsv", "items_tab.csv"])
def test_tab_separated(name):
    p, schema, rows, _, _ = read(name)
    assert p["delimiter"] == "\t"
    assert schema.columns() == ["sku", "description", "price", "unit"]
    assert rows == [("A1", "Nut, small", "1,50", "pcs"), ("A2", 'Bolt "M6"', "2,00", "pcs"),
                    ("A3", "Washer; steel", "0,25", "box")]


def test_tsv_and_tab_are_csv_providers_with_a_tab(tmp_path):
    assert type_for_file("x.tsv") == type_for_file("x.tab") == "csv"
    one = tmp_path / "one.tab"
    one.write_text("code\nA\nB\n", encoding="utf-8")  # a single column: nothing to sniff
    p, schema, rows, _, _ = read(one)
    assert p["delimiter"] == "\t" and rows == [("A",), ("B",)]


def test_backslash_escaped_delimiters_and_quotes():
    p, schema, rows, lines, _ = read("backslash.csv")
    assert (p["delimiter"], p["quotechar"], p["escapechar"]) == (",", '"', "\\")
    assert schema.columns() == ["id", "name", "comment", "amount"]
    assert rows == [("1", "Smith, John", "plain", "10.00"), ("2", "Doe, Jane", 'said "yes"',
                                                             "20.50"),
                    ("3", "O'Brien, Pat", "a\\b", "30.00"), ("4", "Lee", "last", "40.00")]
    assert lines == [2, 3, 4, 5]
    # a delimiter given: no escape character unless asked for
    with pytest.raises(SourceError, match="too many fields"):
        read("backslash.csv", {"delimiter": ","})
    _, _, again, _, _ = read("backslash.csv", {"delimiter": ",", "escapechar": "\\"})
    assert again == rows


@pytest.mark.parametrize("text, dialect", [
    ('id,path\n1,C:\\temp\\x\n2,"D:\\data, old\\"\n', (",", '"', None)),  # Windows paths
    ("id;name\n1;a\\;b\n2;c\n", (";", '"', "\\")),
    ("id,name\n1,'a, b'\n2,'c'\n", (",", "'", None)),
    ('id,name\n1,"O\'Brien, P"\n2,x\n', (",", '"', None)),
    ("Report\nGenerated today\nPeriod 7\nid\tname\tqty\n1\tx\t2\n2\ty\t3\n", ("\t", '"', None)),
])
def test_dialect_detection(text, dialect):
    assert sniff_dialect(text) == dialect


def test_comment_lines_with_the_comment_parameter():
    p, schema, rows, lines, _ = read("comments.csv", {"comment": "#"})
    assert p["delimiter"] == ";" and schema.columns() == ["code", "name", "city"]
    assert rows == [("001", "Ålesund AS", "Ålesund"), ("002", "Bergen AS", "Bergen"),
                    ("003", "Oslo AS", "Oslo")]
    assert lines == [4, 6, 8]
    assert schema.layout.skipped == {"comment": {"count": 3, "lines": [1, 2, 5]},
                                     "blank": {"count": 1, "lines": [7]}}
    with pytest.raises(SourceError, match="set comment: '#'") as e:
        read("comments.csv")
    assert e.value.location.line == 5


def test_a_quoted_field_starting_with_the_prefix_is_no_comment(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text('id,note\n"#1",x\n2,"two\n# not a comment"\n# a comment\n3,y\n',
                 encoding="utf-8")
    _, _, rows, lines, _ = read(f, {"comment": "#"})
    assert rows == [("#1", "x"), ("2", "two\n# not a comment"), ("3", "y")]
    assert lines == [2, 3, 6]


# -- rows ---------------------------------------------------------------------------------------
def test_short_blank_rows_in_the_middle_stay_ragged(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("a,b,c\n1,2,3\n,\n4,5,6\n", encoding="utf-8")
    with pytest.raises(SourceError, match="too few fields: 2, expected 3") as e:
        read(f)
    assert e.value.location.line == 3
    _, schema, rows, _, batches = read(f, {"tolerate_ragged": True})
    assert rows == [("1", "2", "3"), (None, None, None), ("4", "5", "6")]
    assert [w for b in batches for w in b.warnings] == [
        "r.csv, line 3: too few fields: 2, expected 3 (the header's columns) "
        "(padded with nulls)"]
    assert schema.layout.skipped == {"ragged": {"count": 1, "lines": [3]}}


def test_rows_may_differ_only_over_unnamed_columns(tmp_path):
    f = tmp_path / "w.csv"
    f.write_text("a,b,,\n1,2,,\n3,4\n5,6,,,,\n", encoding="utf-8")
    _, schema, rows, _, _ = read(f)
    assert schema.columns() == ["a", "b"] and rows == [("1", "2"), ("3", "4"), ("5", "6")]
    assert schema.layout.skipped == {"short_unnamed": {"count": 1, "lines": [3]},
                                     "extra_empty": {"count": 1, "lines": [4]}}
    f.write_text("a,b\n1,2\n3,4,x\n", encoding="utf-8")
    with pytest.raises(SourceError, match="too many fields: 3, expected 2"):
        read(f)


def test_an_unnamed_column_is_dropped_only_when_the_whole_file_has_no_data(tmp_path):
    f = tmp_path / "late.csv"
    lines = ["id,,name"] + [f"{i},,n{i}" for i in range(1, 1500)]
    lines[1400] = "1400,late,n1400"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, schema, rows, _, _ = read(f)  # the schema samples 1000 rows, the scan reads them all
    assert schema.columns() == ["id", "Column_2", "name"] and schema.layout.rows == 1499
    assert rows[1399] == ("1400", "late", "n1400") and rows[-1] == ("1499", None, "n1499")


def test_a_new_version_with_data_in_a_dropped_column(tmp_path):
    v1, v2 = tmp_path / "v1.csv", tmp_path / "v2.csv"
    v1.write_text("id,,name\n1,,a\n2,,b\n", encoding="utf-8")
    v2.write_text("id,,name\n1,,a\n2,oops,b\n", encoding="utf-8")
    csv_type = get_provider_type("csv")
    p, schema, _, _, _ = read(v1)
    assert schema.columns() == ["id", "name"]
    with pytest.raises(SourceError, match="column 2 has no name and held no data") as e:
        list(csv_type.read_batches(v2, p, schema))
    assert (e.value.location.line, e.value.location.column) == (3, 2)
    with api.init_workspace(tmp_path / "ws") as ws:
        api.add_provider(ws, "p", v1)
        with pytest.raises(SchemaMismatchError) as e:
            api.upload_version(ws, "p", v2)
        assert e.value.diff == ["added column 'Column_2' in Row"]


def test_ragged_rows_after_the_sample_are_counted_not_refused(tmp_path):
    f = tmp_path / "late.csv"
    f.write_text("a,b\n" + "".join(f"{i},x\n" for i in range(20)) + "bad\n1,y\n",
                 encoding="utf-8")
    csv_type = get_provider_type("csv")
    p = csv_type.detect(f, {})
    schema = csv_type.read_schema(f, p, sample_rows=5)
    assert schema.layout.skipped == {"ragged_later": {"count": 1, "lines": [22]}}
    assert "reading stops at the first one" in warnings(schema)
    with pytest.raises(SourceError, match="too few fields: 1, expected 2"):
        list(csv_type.read_batches(f, p, schema))


def test_two_header_rows_in_a_csv_on_request(tmp_path):
    f = tmp_path / "two.csv"
    f.write_text("Report\n,Customer,,Amount,\nID,Number,Name,Net,VAT\n1,C1,Acme,10,2.5\n",
                 encoding="utf-8")
    _, schema, rows, _, _ = read(f, {"header_rows": 2})
    assert schema.columns() == ["ID", "Customer / Number", "Customer / Name", "Amount / Net",
                                "Amount / VAT"]
    assert rows == [("1", "C1", "Acme", "10", "2.5")]
    assert schema.layout.preamble == [{"line": 1, "cells": ["Report"]}]
    _, schema, _, _, _ = read(f)  # by default a CSV has one header row
    assert schema.columns() == ["ID", "Number", "Name", "Net", "VAT"]


def test_two_header_rows_in_a_workbook_without_merges_on_request(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Ref", "Amount", None])
    ws.append([None, "Net", "VAT"])
    ws.append(["A", 1, 2])
    wb.save(tmp_path / "two.xlsx")
    _, schema, rows, _, _ = read(tmp_path / "two.xlsx", {"header_rows": 2})
    assert schema.columns() == ["Ref", "Amount / Net", "Amount / VAT"] and rows == [("A", 1, 2)]
    with pytest.raises(SourceError, match="header_rows: 2, but the row above the header"):
        read(tmp_path / "two.xlsx", {"header_rows": 2, "header_row": 1})


# -- writing back -------------------------------------------------------------------------------
def test_write_with_an_escape_character_and_a_comment_prefix(tmp_path):
    csv_type = get_provider_type("csv")
    p, schema, rows, _, _ = read("backslash.csv", {"comment": "#"})
    more = rows + [("#5", "C:\\new\\dir", 'a "b", c', "1.00"), ("6", None, "", "\\")]
    out = tmp_path / "out.csv"
    assert csv_type.write(out, p, schema, schema.columns(), more) == len(more)
    _, _, back, _, _ = read(out, {"comment": "#", "escapechar": "\\", "delimiter": ","})
    assert back == [tuple(None if v == "" else v for v in r) for r in more]


def test_write_two_header_rows_reads_back_the_same_names(tmp_path):
    csv_type = get_provider_type("csv")
    f = tmp_path / "two.csv"
    f.write_text(",Amount,\nID,Net,VAT\n1,10,2\n", encoding="utf-8")
    p, schema, rows, _, _ = read(f, {"header_rows": 2})
    out = tmp_path / "out.csv"
    csv_type.write(out, p, schema, schema.columns(), rows + [("2", dt.date(2024, 1, 2),
                                                             decimal.Decimal("3.5"))])
    _, again, back, _, _ = read(out, {"header_rows": 2})
    assert again.columns() == schema.columns() == ["ID", "Amount / Net", "Amount / VAT"]
    assert back == [("1", "10", "2"), ("2", "2024-01-02", "3.5")]


# -- the layout is kept -------------------------------------------------------------------------
def test_the_layout_round_trips_through_the_provider_definition(tmp_path):
    with api.init_workspace(tmp_path / "ws") as ws:
        prov = api.add_provider(ws, "m", MESSY / "merged_two_rows.xlsx")
        again = api.load_provider(ws, "m")
    assert again.schema.layout == prov.schema.layout
    assert again.schema.layout.warnings() == prov.schema.layout.warnings()
    d = prov.schema.to_dict()
    assert Schema.from_dict(d).to_dict() == d
    assert Layout.from_dict(Layout().to_dict()) == Layout()


# -- properties ---------------------------------------------------------------------------------
SETTINGS = settings(max_examples=int(os.environ.get("PROVIDER_EXAMPLES", "60")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
cells = st.sampled_from(["", "", "id", "id", "id_2", "name", "Column_2", "Column_3", "x y",
                         "Amount", "amount"])


@SETTINGS
@given(header=st.lists(cells, min_size=1, max_size=8), data=st.data())
def test_settled_names_are_unique_and_the_same_for_the_same_header(header, data):
    has = data.draw(st.sets(st.integers(0, len(header) - 1)))
    one = Names(header, label=lambda i: str(i + 1), has_data=lambda i: i in has)
    two = Names(list(header), label=lambda i: str(i + 1), has_data=lambda i: i in has)
    names = one.columns()
    assert names == two.columns() and len(set(names)) == len(names) and all(names)
    for i, c in enumerate(header):
        if c and header.count(c) == 1:
            assert one.names[i] == c  # a name seen once is read as is
        elif c:
            assert one.names[i] is not None  # a named column is always kept
        else:
            assert (one.names[i] is None) == (i not in has)  # blank: kept when it has data


def _version(path: Path, header: list[str], has: set[int], preamble: list[str], rows: int,
             tag: str) -> Path:
    lines = [*preamble, ",".join(header)]
    for r in range(rows):
        lines.append(",".join(f"{tag}{r}.{i}" if c or i in has else ""
                              for i, c in enumerate(header)))
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


@SETTINGS
@given(header=st.lists(cells, min_size=1, max_size=8).filter(any), data=st.data())
def test_names_are_the_same_for_every_version_of_a_messy_header(tmp_path_factory, header,
                                                                data):
    """Any header (blank and duplicate names, columns without data), the header row given:
    every version gets the same unique names and reads into version 1's schema."""
    blanks = [i for i, c in enumerate(header) if not c]
    has = data.draw(st.sets(st.sampled_from(blanks))) if blanks else set()
    pre = data.draw(st.lists(st.sampled_from(["Title", "Period 7,,", "x,y"]), max_size=3))
    tmp = tmp_path_factory.mktemp("names")
    csv_type = get_provider_type("csv")
    params = {"header_row": len(pre) + 1}
    v1 = _version(tmp / "v1.csv", header, has, pre, data.draw(st.integers(1, 5)), "a")
    v2 = _version(tmp / "v2.csv", header, has, pre, data.draw(st.integers(1, 5)), "b")
    p, s1, _, _, _ = read_all(csv_type, v1, params)
    _, s2, rows2, _, _ = read_all(csv_type, v2, params)
    names = s1.columns()
    assert len(set(names)) == len(names) and all(names)
    assert s2.columns() == names and schema_diff(s1, s2) == []
    assert [r for b in csv_type.read_batches(v2, p, s1) for r in b.rows] == rows2


@SETTINGS
@given(header=st.lists(cells.filter(bool), min_size=2, max_size=8), data=st.data())
def test_the_header_is_found_below_preambles_of_any_length(tmp_path_factory, header, data):
    """A header that names most columns (fewer than half blank), below a title and period
    preamble of 0 to 8 lines that changes from version to version: found in each, with the
    same names."""
    n = len(header)
    header = list(header)
    for i in data.draw(st.sets(st.integers(0, n - 1), max_size=(n - 1) // 2)):
        header[i] = ""
    has = {i for i, c in enumerate(header) if not c}
    lines = st.sampled_from(["Greater London Authority", "Expenditure over £250" + "," * (n - 1),
                             "", "Period 7 2023/24"])
    tmp = tmp_path_factory.mktemp("preamble")
    csv_type = get_provider_type("csv")
    schemas, counts = [], []
    for v in (1, 2):
        pre = data.draw(st.lists(lines, max_size=8))
        rows = data.draw(st.integers(1, 6))
        f = _version(tmp / f"v{v}.csv", header, has, pre, rows, f"v{v}")
        _, schema, got, _, _ = read_all(csv_type, f)
        assert schema.layout.header_row == len(pre) + 1
        assert len(got) == rows and got[0][0] == f"v{v}0.0"
        schemas.append(schema)
        counts.append(len(got))
    assert schemas[0].columns() == schemas[1].columns()
    assert len(set(schemas[0].columns())) == len(schemas[0].columns())


def test_find_header_rules():
    assert find_header([["Title"], ["a", "b", "c"], ["1", "2", "3"]]) == 1
    assert find_header([["Period:", "7"], ["a", "b", "c"], ["1", "2", "3"]]) == 1
    assert find_header([["Report", "", "", "Page 1"], ["a", "b", "c", "d"],
                        ["1", "2", "3", "4"]]) == 1
    assert find_header([["a", "b", "c"], ["1", "2"], ["1", "2", "3", "4"], ["5", "6", "7"]]) == 0
    assert find_header([["code"], ["A"], ["B"]]) == 0  # one column
    assert find_header([["id", "name", ""], ["1", "x", "5"]], [3, 3]) == 0
