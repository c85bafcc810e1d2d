"""CSV provider: every parameter, every encoding, every kind of bad input, on real files."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from migration_kit.errors import SchemaMismatchError, SourceError
from migration_kit.providers import FieldSchema, ObjectSchema, Schema

from .conftest import read_all

PARAM_KEYS = {"encoding", "delimiter", "quotechar", "escapechar", "header_row", "header_rows",
              "skip_rows", "comment", "null_values", "decimal_separator", "date_format",
              "tolerate_ragged", "keep_empty_columns", "rename", "line_terminator", "max_bytes"}


def test_detect_returns_complete_plain_params(csv_type, sample):
    p = csv_type.detect(sample("basic.csv"), {})
    assert set(p) == PARAM_KEYS
    assert p["encoding"] == "utf-8" and p["delimiter"] == "," and p["line_terminator"] == "\r\n"
    assert p["quotechar"] == '"' and p["escapechar"] is None and p["comment"] is None
    assert p["header_row"] == "auto" and p["header_rows"] == 1 and p["skip_rows"] == 0
    assert p["null_values"] == ["", "NULL"] and p["rename"] == {}
    assert csv_type.detect(sample("basic.csv"), p) == p  # stored params give the same run
    assert all(v is None or isinstance(v, str | int | bool | list | dict) for v in p.values())


def test_basic_rows_nulls_and_types(csv_type, sample):
    _, schema, rows, lines, batches = read_all(csv_type, sample("basic.csv"))
    assert schema.columns() == ["id", "name", "amount", "issued", "active", "code"]
    types = {f.name: f.type for f in schema.objects[0].fields}
    assert types == {"id": "integer", "name": "string", "amount": "decimal", "issued": "date",
                     "active": "boolean", "code": "string"}
    f = schema.objects[0].fields[1]
    assert f.samples == ["Alpha", "Beta", "Delta, Inc."] and f.max_length == 11
    assert rows[0] == ("1", "Alpha", "10.50", "2024-01-31", "true", "00123")
    assert rows[2] == ("3", None, None, None, "true", None)
    assert rows[3][1] == "Delta, Inc."
    assert lines == [2, 3, 4, 5]
    assert batches[0].file == "basic.csv" and batches[0].sheet is None


def test_small_batches(csv_type, sample):
    _, _, rows, lines, batches = read_all(csv_type, sample("basic.csv"), batch_size=3)
    assert [len(b.rows) for b in batches] == [3, 1]
    assert batches[1].location(0).line == 5


@pytest.mark.parametrize("name, encoding, delimiter, expect", [
    ("cp1252.csv", "cp1252", ";", ("2", "Æbleø A/S", "Århus", "€ 3,00")),
    ("latin1.csv", None, ",", ("1", "François", "Orléans")),
    ("utf8_bom.csv", "utf-8-sig", ",", ("1", "Zoë")),
    ("utf16.csv", "utf-16", "\t", ("2", "李", "北京")),
    ("utf16le_nobom.csv", "utf-16-le", ",", ("1", "Ærlig")),
])
def test_encodings_detected(csv_type, sample, name, encoding, delimiter, expect):
    p, schema, rows, _, _ = read_all(csv_type, sample(name))
    if encoding:
        assert p["encoding"] == encoding
    assert p["delimiter"] == delimiter
    assert expect in rows
    assert schema.columns()[0] == "kundenr" if name == "cp1252.csv" else "id"


def test_latin1_read_with_explicit_encoding(csv_type, sample):
    _, schema, rows, _, _ = read_all(csv_type, sample("latin1.csv"), {"encoding": "latin-1"})
    assert rows[1] == ("2", "Jürgen", "Düsseldorf")


def test_bom_kept_out_of_header_even_with_plain_utf8(csv_type, sample):
    _, schema, _, _, _ = read_all(csv_type, sample("utf8_bom.csv"), {"encoding": "utf-8"})
    assert schema.columns() == ["id", "name"]


@pytest.mark.parametrize("name, delimiter", [("tab.txt", "\t"), ("pipe.csv", "|")])
def test_delimiters(csv_type, sample, name, delimiter):
    p, schema, rows, _, _ = read_all(csv_type, sample(name))
    assert p["delimiter"] == delimiter
    assert schema.columns() == ["id", "name", "qty"]
    assert rows[1][1] in ("nut, small", "nut; small")


def test_quoted_newlines_keep_line_numbers(csv_type, sample):
    _, _, rows, lines, _ = read_all(csv_type, sample("quoted_newlines.csv"))
    assert [r[1] for r in rows] == ["first line\r\nsecond line", 'a "quoted" word, and a comma',
                                    "three\nlines\nhere", "plain"]
    assert lines == [2, 4, 5, 8]


def test_header_row_skip_rows_decimal_separator(csv_type, sample):
    params = {"header_row": 3, "skip_rows": 1, "decimal_separator": ","}
    p, schema, rows, lines, _ = read_all(csv_type, sample("header_row.csv"), params)
    assert p["header_row"] == 3 and p["skip_rows"] == 1 and p["delimiter"] == ";"
    assert schema.columns() == ["sku", "description", "price"]
    assert schema.objects[0].fields[2].type == "decimal"
    assert rows == [("A1", "Hammer", "99,90"), ("A2", "Saw", "149,00")]
    assert lines == [5, 6]


def test_date_format_and_decimal_separator_in_inference_and_write(csv_type, sample, tmp_path):
    params = {"date_format": "%d.%m.%Y", "decimal_separator": ","}
    p, schema, rows, _, _ = read_all(csv_type, sample("date_format.csv"), params)
    assert [f.type for f in schema.objects[0].fields] == ["integer", "date", "decimal"]
    out = tmp_path / "out.csv"
    n = csv_type.write(out, p, schema, schema.columns(),
                       [(1, dt.date(2024, 1, 31), decimal.Decimal("1234.50")),
                        (2, dt.datetime(2024, 2, 29), -0.75), (3, None, True)])
    assert n == 3
    text = out.read_text(encoding="utf-8")
    assert text.splitlines() == ["nr;dato;beløp", "1;31.01.2024;1234,50", "2;29.02.2024;-0,75",
                                 "3;;true"]


def test_null_values_param(csv_type, sample):
    _, _, rows, _, _ = read_all(csv_type, sample("null_values.csv"),
                                {"null_values": ["N/A", "-", ""]})
    assert [r[1] for r in rows] == [None, None, "x", None]
    _, _, rows, _, _ = read_all(csv_type, sample("null_values.csv"))
    assert [r[1] for r in rows] == ["N/A", "-", "x", None]


def test_quotechar_param(csv_type, tmp_path):
    f = tmp_path / "single.csv"
    f.write_text("id,name\n1,'a, b'\n2,'it''s'\n", encoding="utf-8")
    _, _, rows, _, _ = read_all(csv_type, f, {"quotechar": "'"})
    assert rows == [("1", "a, b"), ("2", "it's")]


def test_ragged_rows_are_errors(csv_type, sample):
    p = csv_type.detect(sample("ragged.csv"), {})
    schema = csv_type.read_schema(sample("ragged.csv"), p, sample_rows=1)
    with pytest.raises(SourceError, match="too few fields: 2, expected 3") as e:
        list(csv_type.read_batches(sample("ragged.csv"), p, schema))
    assert e.value.location.line == 3 and e.value.location.file == "ragged.csv"
    assert "tolerate_ragged" in str(e.value)


def test_ragged_rows_tolerated_with_warnings(csv_type, sample):
    _, _, rows, _, batches = read_all(csv_type, sample("ragged.csv"), {"tolerate_ragged": True})
    assert rows == [("1", "2", "3"), ("4", "5", None), ("6", "7", "8"), ("10", "11", "12")]
    warnings = [w for b in batches for w in b.warnings]
    assert len(warnings) == 2
    assert "line 3" in warnings[0] and "padded" in warnings[0]
    assert "line 4" in warnings[1] and "too many" in warnings[1] and "truncated" in warnings[1]


@pytest.mark.parametrize("name, columns, settled", [
    ("blank_header.csv", ["id", "Column_2", "name"],
     [{"column": "2", "name": "Column_2", "rule": "blank header over data"}]),
    ("duplicate_header.csv", ["id", "name", "id_2"],
     [{"column": "3", "name": "id_2", "rule": "duplicate of 'id' (column 1)"}]),
])
def test_blank_and_duplicate_names_are_settled(csv_type, sample, name, columns, settled):
    p, schema, rows, _, _ = read_all(csv_type, sample(name))
    assert schema.columns() == columns and rows == [("1", "2", "3")]
    assert schema.layout.settled == settled
    assert f"column {settled[0]['column']}: {settled[0]['rule']}" in schema.layout.warnings()[0]


def test_empty_file(csv_type, sample):
    with pytest.raises(SourceError, match="file is empty"):
        csv_type.detect(sample("empty.csv"), {})


def test_header_only_file(csv_type, sample):
    _, schema, rows, _, batches = read_all(csv_type, sample("header_only.csv"))
    assert schema.columns() == ["id", "name"] and rows == [] and batches == []
    assert [f.type for f in schema.objects[0].fields] == ["string", "string"]


def test_undecodable_bytes(csv_type, sample):
    with pytest.raises(SourceError) as e:  # found in detect's prefix already
        csv_type.detect(sample("bad_utf8.csv"), {"encoding": "utf-8"})
    msg = str(e.value)
    assert "0xe9" in msg and "byte offset 25" in msg and "utf-8" in msg and "encoding: auto" in msg
    assert e.value.location.line == 4
    assert e.value.facts["offset"] == 25
    # with complete stored params (no detection) the error comes at the row
    p = {"encoding": "utf-8", "delimiter": ",", "line_terminator": "\n"}
    schema = Schema([ObjectSchema("Row", [FieldSchema("id"), FieldSchema("name")])])
    with pytest.raises(SourceError) as e:
        list(csv_type.read_batches(sample("bad_utf8.csv"), p, schema))
    assert "byte offset 25" in str(e.value) and e.value.location.line == 4


def test_undecodable_bytes_auto_detects_single_byte(csv_type, sample):
    p, _, rows, _, _ = read_all(csv_type, sample("bad_utf8.csv"))
    assert p["encoding"] == "cp1252"
    assert ("3", "café") in rows


def test_unknown_encoding(csv_type, sample):
    with pytest.raises(SourceError, match="unknown encoding"):
        csv_type.detect(sample("basic.csv"), {"encoding": "klingon"})


@pytest.mark.parametrize("name, message", [
    ("binary.csv", "NUL byte at byte offset 10"),
    ("zipped.csv", "zip archive"),
])
def test_binary_files_refused(csv_type, sample, name, message):
    with pytest.raises(SourceError, match=message):
        csv_type.detect(sample(name), {})
    with pytest.raises(SourceError, match=message):
        list(csv_type.read_batches(sample(name), {"encoding": "utf-8", "delimiter": ",",
                                                  "line_terminator": "\n"},
                                   Schema([ObjectSchema("Row", [])])))


def test_max_bytes(csv_type, sample):
    with pytest.raises(SourceError, match="over the limit of 10 bytes") as e:
        csv_type.detect(sample("basic.csv"), {"max_bytes": 10})
    assert e.value.location.file == "basic.csv"


def test_schema_mismatch_and_reordered_columns(csv_type, sample, tmp_path):
    p = csv_type.detect(sample("basic.csv"), {})
    other = Schema([ObjectSchema("Row", [FieldSchema(n) for n in
                                         ["id", "name", "amount", "issued", "active", "sku"]])])
    with pytest.raises(SchemaMismatchError) as e:
        next(csv_type.read_batches(sample("basic.csv"), p, other))
    assert e.value.diff == ["renamed column 'sku' -> 'code' in Row"]
    reordered = Schema([ObjectSchema("Row", [FieldSchema(n) for n in
                                             ["code", "id", "name", "amount", "issued",
                                              "active"]])])
    rows = [r for b in csv_type.read_batches(sample("basic.csv"), p, reordered) for r in b.rows]
    assert rows[0] == ("00123", "1", "Alpha", "10.50", "2024-01-31", "true")


def test_write_keeps_the_file_structure(csv_type, sample, tmp_path):
    p, schema, rows, _, _ = read_all(csv_type, sample("cp1252.csv"))
    out = tmp_path / "out.csv"
    assert csv_type.write(out, p, schema, schema.columns(), rows) == len(rows)
    assert out.read_bytes() == sample("cp1252.csv").read_bytes()
    p2, schema2, rows2, _, _ = read_all(csv_type, out)
    assert (p2["encoding"], p2["delimiter"], rows2) == ("cp1252", ";", rows)

    p, schema, rows, _, _ = read_all(csv_type, sample("header_row.csv"),
                                     {"header_row": 3, "skip_rows": 1})
    csv_type.write(out, p, schema, schema.columns(), rows)
    _, _, back, lines, _ = read_all(csv_type, out, {"header_row": 3, "skip_rows": 1})
    assert back == rows and lines == [5, 6]


def test_write_unencodable_value(csv_type, sample, tmp_path):
    p, schema, _, _, _ = read_all(csv_type, sample("cp1252.csv"))
    with pytest.raises(SourceError, match="cannot be written in encoding cp1252"):
        csv_type.write(tmp_path / "o.csv", p, schema, schema.columns(), [("1", "李", "x", "1")])
    assert list(tmp_path.iterdir()) == []  # no half-written file
