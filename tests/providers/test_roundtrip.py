"""Property-based round trips: read(write(rows)) == rows for every provider type."""

from __future__ import annotations

import datetime as dt
import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migration_kit.providers import FieldSchema, ObjectSchema, Schema, get_provider_type

# PROVIDER_EXAMPLES=500 for a deeper run
SETTINGS = settings(max_examples=int(os.environ.get("PROVIDER_EXAMPLES", "40")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# any text a file can hold: quotes, delimiters, newlines, unicode; no NUL (binary) and no
# lone surrogates (not encodable)
any_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   max_size=20)
# XML 1.0 and Excel cannot hold C0 control characters other than tab, newline, CR
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
xml_text = any_text.filter(lambda s: not _CONTROL.search(s))
names = st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9_ ]{0,8}[A-Za-z0-9]", fullmatch=True),
                 min_size=1, max_size=4, unique=True)


def _flat_schema(cols, types=None):
    types = types or ["string"] * len(cols)
    return Schema([ObjectSchema("Row", [FieldSchema(c, t) for c, t in zip(cols, types)])])


def _read(ptype, path, params, schema):
    return [r for b in ptype.read_batches(path, params, schema, batch_size=7) for r in b.rows]


@st.composite
def csv_case(draw):
    cols = draw(names)
    rows = draw(st.lists(st.tuples(*[st.none() | any_text for _ in cols]), max_size=12))
    params = {
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])),
        "delimiter": draw(st.sampled_from([",", ";", "\t", "|"])),
        "quotechar": draw(st.sampled_from(['"', "'"])),
        "line_terminator": draw(st.sampled_from(["\r\n", "\n"])),
        "header_row": draw(st.integers(1, 3)),
        "skip_rows": draw(st.integers(0, 2)),
    }
    return cols, rows, params


@SETTINGS
@given(case=csv_case())
def test_csv_roundtrip(tmp_path, case):
    cols, rows, params = case
    csv_type = get_provider_type("csv")
    path = tmp_path / "rt.csv"
    schema = _flat_schema(cols)
    assert csv_type.write(path, params, schema, cols, rows) == len(rows)
    # the null literals ("" and "NULL") read back as None
    expected = [tuple(None if v in ("", "NULL") else v for v in r) for r in rows]
    assert _read(csv_type, path, params, schema) == expected


@st.composite
def excel_case(draw):
    n = draw(st.integers(1, 4))
    cols = [f"c{i}" for i in range(n)]
    kinds = draw(st.lists(st.sampled_from(["string", "integer", "date", "boolean", "decimal"]),
                          min_size=n, max_size=n))
    value = {
        "string": xml_text.filter(lambda s: s != ""),
        "integer": st.integers(-(2**40), 2**40),
        "date": st.dates(dt.date(1905, 1, 1), dt.date(2100, 12, 31)),
        "boolean": st.booleans(),
        # Excel keeps 15 significant digits (openpyxl writes %.16g): stay within them
        "decimal": st.integers(-(10**12), 10**12).map(lambda i: i / 1000).filter(
            lambda f: not f.is_integer()),
    }
    rows = draw(st.lists(st.tuples(*[st.none() | value[k] for k in kinds]), max_size=10))
    rows = [r for r in rows if any(v is not None for v in r)]  # empty rows are skipped
    return cols, kinds, rows, draw(st.booleans())


@SETTINGS
@given(case=excel_case())
def test_excel_roundtrip(tmp_path, case):
    cols, kinds, rows, date1904 = case
    excel_type = get_provider_type("excel")
    path = tmp_path / "rt.xlsx"
    schema = _flat_schema(cols, kinds)
    params = {"sheet": "Data 1", "header_row": 1, "date1904": date1904}
    assert excel_type.write(path, params, schema, cols, rows) == len(rows)
    detected = excel_type.detect(path, {})
    assert detected["date1904"] is date1904 and detected["sheet"] == "Data 1"
    assert _read(excel_type, path, params, schema) == rows


@st.composite
def xml_case(draw):
    n_inv = draw(st.integers(0, 5))
    rows = []
    for i in range(n_inv):
        head = (f"id{i}", draw(st.none() | xml_text), draw(st.none() | xml_text),
                draw(st.none() | xml_text))
        lines = draw(st.lists(st.tuples(xml_text, st.none() | xml_text, st.none() | xml_text),
                              max_size=3))
        if not lines:
            rows.append(head + (None, None, None))
        rows += [head + line for line in lines]
    return rows


XML_PARAMS = {"record_path": "/x:Invoices/x:Invoice", "detail_paths": ["x:Line"],
              "namespaces": {"x": "urn:example:x", "": "urn:example:default"},
              "encoding": "UTF-8"}
XML_SCHEMA = Schema([
    ObjectSchema("Invoice", [FieldSchema("@no", path="@no"), FieldSchema("ID", path="ID"),
                             FieldSchema("Party/Name", path="x:Party/x:Name"),
                             FieldSchema("Note", path="x:Note")],
                 path="/x:Invoices/x:Invoice"),
    ObjectSchema("Line", [FieldSchema("Qty", path="x:Qty"), FieldSchema("@ref", path="@ref"),
                          FieldSchema("Item/Text", path="x:Item/Text")],
                 path="/x:Invoices/x:Invoice/x:Line", parent="Invoice", position=3),
])


@SETTINGS
@given(rows=xml_case())
def test_xml_roundtrip(tmp_path, rows):
    xml_type = get_provider_type("xml")
    path = tmp_path / "rt.xml"
    cols = XML_SCHEMA.columns()
    assert xml_type.write(path, XML_PARAMS, XML_SCHEMA, cols, rows) == len(rows)
    assert _read(xml_type, path, XML_PARAMS, XML_SCHEMA) == rows


@SETTINGS
@given(rows=st.lists(st.tuples(xml_text, st.none() | xml_text), max_size=8))
def test_xml_flat_roundtrip(tmp_path, rows):
    xml_type = get_provider_type("xml")
    path = tmp_path / "flat.xml"
    schema = Schema([ObjectSchema("Item", [FieldSchema("@id", path="@id"),
                                           FieldSchema("Name", path="Name")],
                                  path="/Items/Item")])
    params = {"record_path": "/Items/Item", "detail_paths": [], "namespaces": {}}
    xml_type.write(path, params, schema, ["@id", "Name"], rows)
    assert _read(xml_type, path, params, schema) == rows
