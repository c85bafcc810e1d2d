"""XML provider: record and detail detection, UBL namespaces, hostile files, writing back."""

from __future__ import annotations

import tracemalloc

import pytest
from lxml import etree

from migration_kit.errors import BadInputError, SourceError
from migration_kit.providers import FieldSchema, ObjectSchema, Schema
from migration_kit.providers import xml as xmlmod

from .conftest import read_all

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"


def test_single_ubl_invoice(xml_type, sample):
    p, schema, rows, lines, _ = read_all(xml_type, sample("ubl_invoice.xml"))
    assert p["record_path"] == "/Invoice"
    assert p["detail_paths"] == ["cac:InvoiceLine"]
    assert p["namespaces"] == {"": INV, "cac": CAC, "cbc": CBC}
    assert p["encoding"] == "UTF-8"
    inv, line = schema.objects
    assert (inv.name, inv.path, inv.parent) == ("Invoice", "/Invoice", None)
    assert (line.name, line.path, line.parent) == ("InvoiceLine", "/Invoice/cac:InvoiceLine",
                                                   "Invoice")
    assert [(f.name, f.path) for f in inv.fields] == [
        ("ID", "cbc:ID"), ("IssueDate", "cbc:IssueDate"),
        ("AccountingCustomerParty/Party/PartyName/Name",
         "cac:AccountingCustomerParty/cac:Party/cac:PartyName/cbc:Name"),
        ("LegalMonetaryTotal/PayableAmount", "cac:LegalMonetaryTotal/cbc:PayableAmount"),
        ("LegalMonetaryTotal/PayableAmount@currencyID",
         "cac:LegalMonetaryTotal/cbc:PayableAmount/@currencyID")]
    assert [(f.name, f.path, f.type) for f in line.fields] == [
        ("ID", "cbc:ID", "integer"), ("InvoicedQuantity", "cbc:InvoicedQuantity", "decimal"),
        ("InvoicedQuantity@unitCode", "cbc:InvoicedQuantity/@unitCode", "string"),
        ("Price/PriceAmount", "cac:Price/cbc:PriceAmount", "decimal"),
        ("Price/PriceAmount@currencyID", "cac:Price/cbc:PriceAmount/@currencyID", "string")]
    assert inv.fields[1].type == "date"
    assert schema.columns()[:2] == ["Invoice.ID", "Invoice.IssueDate"]
    assert "InvoiceLine.InvoicedQuantity@unitCode" in schema.columns()
    assert rows[0] == ("INV-1001", "2024-03-01", "Acme & Co", "26.50", "NOK",
                       "1", "2", "EA", "10.50", "NOK")
    assert [r[5] for r in rows] == ["1", "2", "3"]
    assert lines == [10, 15, 20]  # the InvoiceLine elements


def test_several_invoices(xml_type, sample):
    p, schema, rows, lines, _ = read_all(xml_type, sample("invoices.xml"))
    assert p["record_path"] == "/Invoices/Invoice"
    assert p["detail_paths"] == ["cac:InvoiceLine"]
    assert "" not in p["namespaces"]
    cols = schema.columns()
    assert cols[0] == "Invoice.@status" and "Invoice.ID" in cols
    ids = [(r[cols.index("Invoice.ID")], r[cols.index("InvoiceLine.ID")]) for r in rows]
    assert ids == [("INV-1", "1"), ("INV-1", "2"), ("INV-2", "1"), ("INV-3", None),
                   ("INV-4", "1"), ("INV-4", "2"), ("INV-4", "3")]
    name = cols.index("Invoice.AccountingCustomerParty/Party/PartyName/Name")
    assert rows[2][name] == "Søstrene <Grene>"
    assert rows[3][cols.index("InvoiceLine.InvoicedQuantity")] is None
    assert lines[3] == 38  # the Invoice element itself when it has no lines


def test_flat_records_latin1_and_missing_values(xml_type, sample, tmp_path):
    p, schema, rows, lines, _ = read_all(xml_type, sample("customers.xml"))
    assert p["record_path"] == "/Export/Customers/Customer" and p["detail_paths"] == []
    assert p["encoding"] == "ISO-8859-1" and p["namespaces"] == {}
    assert schema.columns() == ["@no", "Name", "City", "Credit"]
    assert [f.type for f in schema.objects[0].fields] == ["integer", "string", "string",
                                                          "decimal"]
    assert rows == [("1", "Bjørn", "Tromsø", "1000"), ("2", "Åse", "Ålesund", "250.5"),
                    ("3", "Kari", "", None)]
    assert lines == [4, 5, 6]
    out = tmp_path / "customers.xml"
    assert xml_type.write(out, p, schema, schema.columns(), rows) == 3
    assert out.read_bytes().startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    assert b"Troms\xf8" in out.read_bytes()
    p2, _, back, _, _ = read_all(xml_type, out, schema=schema)
    assert back == rows and p2["record_path"] == p["record_path"]


def test_explicit_paths(xml_type, sample):
    params = {"record_path": "/Invoices/Invoice", "detail_paths": [], "namespaces": None}
    _, schema, rows, _, _ = read_all(xml_type, sample("invoices.xml"), params)
    assert len(schema.objects) == 1 and len(rows) == 4
    # without details the first line's values are flattened into the invoice
    assert "InvoiceLine/ID" in schema.columns()
    params = {"record_path": "/Invoices/Invoice",
              "detail_paths": ["/Invoices/Invoice/cac:InvoiceLine"]}
    p = xml_type.detect(sample("invoices.xml"), params)
    assert p["detail_paths"] == ["cac:InvoiceLine"]


@pytest.mark.parametrize("value, expected", [
    ("cac:InvoiceLine", ["cac:InvoiceLine"]),  # -p detail_paths=cac:InvoiceLine
    ("cac:InvoiceLine, cac:AllowanceCharge", ["cac:InvoiceLine", "cac:AllowanceCharge"]),
    (["/Invoice/cac:InvoiceLine"], ["cac:InvoiceLine"]), ("", []), ("auto", ["cac:InvoiceLine"])])
def test_detail_paths_as_text_or_list(xml_type, sample, value, expected):
    p = xml_type.detect(sample("ubl_bill_one_line.xml"), {"detail_paths": value})
    assert p["detail_paths"] == expected


def test_declared_detail_with_one_line_then_three(xml_type, sample):
    """A detail object declared up front stays one on a file with a single line."""
    p, schema, rows, _, _ = read_all(xml_type, sample("order_one_line.xml"),
                                     {"detail_paths": "Line"})
    assert p["detail_paths"] == ["Line"]
    assert [o.name for o in schema.objects] == ["Order", "Line"]
    assert schema.columns() == ["Order.No", "Order.Date", "Order.Total", "Line.Item", "Line.Qty"]
    assert rows == [("O-1", "2024-04-02", "1", "FISH-01", "2")]
    three = sample("order_three_lines.xml")
    assert xml_type.read_schema(three, p).columns() == schema.columns()
    rows = [r for b in xml_type.read_batches(three, p, schema) for r in b.rows]
    assert [(r[0], r[3], r[4]) for r in rows] == [("O-2", "FISH-01", "1"), ("O-2", "FISH-02", "3"),
                                                  ("O-2", "SERV-01", "1.5")]
    assert xml_type.flattened_repeats(three, p) == []


def test_undeclared_single_line_is_flattened_and_its_repeat_found(xml_type, sample):
    p = xml_type.detect(sample("order_one_line.xml"), {})
    assert p["detail_paths"] == []  # seen once and not a UBL line: plain fields
    assert "Line/Item" in xml_type.read_schema(sample("order_one_line.xml"), p).columns()
    assert xml_type.flattened_repeats(sample("order_one_line.xml"), p) == []
    assert xml_type.flattened_repeats(sample("order_three_lines.xml"), p) == [("Line", 3)]


def test_ubl_line_seen_once_is_a_detail_object(xml_type, sample, tmp_path):
    p, schema, rows, _, _ = read_all(xml_type, sample("ubl_bill_one_line.xml"))
    assert p["detail_paths"] == ["cac:InvoiceLine"]
    assert [o.name for o in schema.objects] == ["Invoice", "InvoiceLine"]
    assert len(rows) == 1 and rows[0][schema.columns().index("InvoiceLine.Item/Name")] == \
        "Power, March"
    # a non-UBL namespace with the same names: only a repeat makes it a detail object
    other = tmp_path / "other.xml"
    other.write_text(sample("ubl_bill_one_line.xml").read_text().replace(CAC, "urn:x:cac"))
    assert xml_type.detect(other, {})["detail_paths"] == []


def test_bad_detail_paths_value(xml_type, sample):
    with pytest.raises(BadInputError, match="detail_paths"):
        xml_type.detect(sample("order_one_line.xml"), {"detail_paths": 3})


@pytest.mark.parametrize("name, line", [("xxe.xml", 2), ("billion_laughs.xml", 2),
                                        ("external_dtd.xml", 2)])
def test_hostile_xml_refused(xml_type, sample, name, line):
    for call in (lambda: xml_type.detect(sample(name), {}),
                 lambda: next(xml_type.read_batches(
                     sample(name), {"record_path": "/r", "detail_paths": [], "namespaces": {},
                                    "encoding": "UTF-8"}, Schema([ObjectSchema("r", [])])))):
        with pytest.raises(SourceError) as e:
            call()
        assert "DTD and entities are not allowed (XXE / entity expansion protection)" in str(
            e.value)
        assert e.value.location.file == name and e.value.location.line == line


def test_lxml_guard_behind_the_prescan(xml_type, sample, monkeypatch):
    """Even if the byte pre-scan missed it, the parser's doctype check refuses the file."""
    monkeypatch.setattr(xmlmod, "_prescan", lambda path, file: None)
    with pytest.raises(SourceError, match="DTD and entities are not allowed"):
        xml_type.detect(sample("billion_laughs.xml"), {})


def test_deep_nesting(xml_type, sample):
    with pytest.raises(SourceError, match="nested deeper than 100 levels") as e:
        xml_type.detect(sample("deep.xml"), {})
    assert e.value.location.line == 3
    p = xml_type.detect(sample("deep.xml"), {"max_depth": 200})
    assert p["record_path"].startswith("/r/d/d")
    assert read_all(xml_type, sample("deep.xml"), p)[2] == [("x",)]


def test_nesting_deeper_than_the_parser_allows(xml_type, tmp_path):
    """libxml2 2.14 stops at 256 levels itself: the same error, naming the limit that
    applied (max_depth below it, else the parser's)."""
    path = tmp_path / "very_deep.xml"
    path.write_text("<r>\n" + "<d>" * 300 + "x" + "</d>" * 300 + "\n</r>\n", encoding="utf-8")
    with pytest.raises(SourceError, match="nested deeper than 100 levels"):
        xml_type.detect(path, {})
    with pytest.raises(SourceError, match=r"nested deeper than \d+ levels \((max_depth|the "
                       r"XML parser's limit)\)") as e:
        xml_type.detect(path, {"max_depth": 400})
    assert e.value.location.file.endswith("very_deep.xml")


@pytest.mark.parametrize("name, line, text", [
    ("malformed.xml", 4, "Opening and ending tag mismatch"),
    ("undefined_entity.xml", 2, "Entity 'secret' not defined"),
])
def test_not_well_formed(xml_type, sample, name, line, text):
    with pytest.raises(SourceError) as e:
        xml_type.detect(sample(name), {})
    assert "XML is not well-formed" in str(e.value) and text in str(e.value)
    assert e.value.location.line == line and e.value.location.column is not None


def test_empty_and_missing_record(xml_type, tmp_path):
    f = tmp_path / "empty.xml"
    f.write_bytes(b"  \n")
    with pytest.raises(SourceError, match="file is empty"):
        xml_type.detect(f, {})
    f.write_text("<a><b>1</b></a>")
    p = xml_type.detect(f, {"record_path": "/a/c"})
    with pytest.raises(SourceError, match="no element at the record path '/a/c'"):
        xml_type.read_schema(f, p)


def test_max_bytes(xml_type, sample):
    with pytest.raises(SourceError, match="over the limit"):
        xml_type.detect(sample("invoices.xml"), {"max_bytes": 10})


def test_write_back_invoices_same_structure(xml_type, sample, tmp_path):
    p, schema, rows, _, _ = read_all(xml_type, sample("invoices.xml"))
    out = tmp_path / "out.xml"
    assert xml_type.write(out, p, schema, schema.columns(), rows) == 7
    p2, schema2, back, _, _ = read_all(xml_type, out)
    assert back == rows
    assert (p2["record_path"], p2["detail_paths"], p2["namespaces"]) == (
        p["record_path"], p["detail_paths"], p["namespaces"])
    root = etree.parse(str(out)).getroot()
    assert root.tag == "Invoices" and root.nsmap == {"cac": CAC, "cbc": CBC}
    first = root[0]
    tags = [etree.QName(c).localname for c in first]
    assert tags == ["ID", "IssueDate", "AccountingCustomerParty", "InvoiceLine", "InvoiceLine",
                    "LegalMonetaryTotal"]  # the lines stay before the total, as in the source
    assert first.get("status") == "paid"


def test_write_back_single_ubl_invoice(xml_type, sample, tmp_path):
    p, schema, rows, _, _ = read_all(xml_type, sample("ubl_invoice.xml"))
    out = tmp_path / "inv.xml"
    xml_type.write(out, p, schema, schema.columns(), rows)
    root = etree.parse(str(out)).getroot()
    assert root.tag == f"{{{INV}}}Invoice"
    assert root.nsmap == {None: INV, "cac": CAC, "cbc": CBC}
    assert len(root.findall(f"{{{CAC}}}InvoiceLine")) == 3
    assert read_all(xml_type, out, schema=schema)[2] == rows
    # the root is the record: one invoice per file
    two = rows + [("INV-2",) + rows[0][1:]]
    with pytest.raises(SourceError, match="holds one record"):
        xml_type.write(out, p, schema, schema.columns(), two)


def test_write_escapes_values(xml_type, tmp_path):
    schema = Schema([ObjectSchema("Item", [FieldSchema("@id", path="@id"),
                                           FieldSchema("Name", path="Name")],
                                  path="/Items/Item")])
    params = {"record_path": "/Items/Item", "detail_paths": [], "namespaces": {}}
    rows = [('a"1', "<b>&amp; ]]> 'q'"), ("2", "tab\tnl\ncr\r")]
    out = tmp_path / "items.xml"
    xml_type.write(out, params, schema, ["@id", "Name"], rows)
    assert read_all(xml_type, out, schema=schema)[2] == rows
    with pytest.raises(SourceError, match="cannot be written to XML"):
        xml_type.write(out, params, schema, ["@id", "Name"], [("1", "bell\x07")])


def test_streaming_many_records(xml_type, tmp_path):
    out = tmp_path / "big.xml"
    with open(out, "w", encoding="utf-8") as f:
        f.write("<Invoices>\n")
        for i in range(20000):
            f.write(f'<Invoice n="{i}"><ID>{i}</ID><Line><Q>1</Q></Line><Line><Q>2</Q></Line>'
                    "</Invoice>\n")
        f.write("</Invoices>\n")
    p = xml_type.detect(out, {})
    schema = xml_type.read_schema(out, p, sample_rows=100)
    tracemalloc.start()
    try:
        n = sum(len(b.rows) for b in xml_type.read_batches(out, p, schema, batch_size=1000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 40000
    assert peak < 20 * 1024 * 1024


def test_fields_without_paths_use_their_names(xml_type, tmp_path):
    schema = Schema([ObjectSchema("Item", [FieldSchema("@id"), FieldSchema("Party/Name"),
                                           FieldSchema("Qty@unit"), FieldSchema("Qty")],
                                  path="/Items/Item")])
    params = {"record_path": "/Items/Item", "detail_paths": [], "namespaces": {}}
    out = tmp_path / "items.xml"
    rows = [("1", "Acme", "EA", "2")]
    xml_type.write(out, params, schema, schema.columns(), rows)
    assert b'<Item id="1"><Party><Name>Acme</Name></Party><Qty unit="EA">2</Qty></Item>' in (
        out.read_bytes())
    assert read_all(xml_type, out, params, schema)[2] == rows


def test_failed_write_leaves_no_file(xml_type, tmp_path):
    schema = Schema([ObjectSchema("Item", [FieldSchema("Name", path="Name")], path="/I/Item")])
    out = tmp_path / "bad.xml"
    with pytest.raises(SourceError):
        xml_type.write(out, {"record_path": "/I/Item", "detail_paths": [], "namespaces": {}},
                       schema, ["Name"], [("ok",), ("\x07",)])
    assert list(tmp_path.iterdir()) == []
