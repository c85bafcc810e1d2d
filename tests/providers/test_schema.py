"""Type inference, schema comparison, size limit, registry, RowBatch locations."""

from __future__ import annotations

import pytest
import yaml

from migration_kit.errors import Location, NotFoundError, SourceError
from migration_kit.providers import (
    FieldSchema,
    ObjectSchema,
    RowBatch,
    Schema,
    check_size,
    get_provider_type,
    infer_type,
    provider_types,
    schema_diff,
    type_for_file,
)


@pytest.mark.parametrize("values, expected", [
    (["1", "-2", "+30", "0"], "integer"),
    (["00123", "1"], "string"),  # leading zeros: a code, not a number
    (["1.5", "2", "-0.25", ".5"], "decimal"),
    (["1e5", "2.0"], "string"),  # exponents look like codes (12E4)
    (["0.5", "-0.0"], "decimal"),
    (["2024-01-31", "2024-02-29"], "date"),
    (["2024-02-30"], "string"),  # not a real date
    (["2024-01-31 10:00:00", "2024-01-01T08:30"], "date"),
    (["true", "FALSE", "True"], "boolean"),
    (["1", "x"], "string"),
    ([], "string"),
    ([None, ""], "string"),
    ([None, "7"], "integer"),
    (["12345678901234567890"], "string"),  # too long for an integer column
])
def test_infer_type(values, expected):
    assert infer_type(values) == expected


def test_infer_type_with_params():
    assert infer_type(["1,5", "-2,25"], decimal_separator=",") == "decimal"
    assert infer_type(["1,5"]) == "string"
    assert infer_type(["31.01.2024", "29.02.2024"], date_format="%d.%m.%Y") == "date"
    assert infer_type(["31.01.2024"]) == "string"
    assert infer_type(["2024-01-31"], date_format="%d.%m.%Y") == "date"  # ISO always a date


def _schema(*names, obj="Row"):
    return Schema([ObjectSchema(obj, [FieldSchema(n, "string") for n in names])])


def test_schema_diff_same_and_types_ignored():
    a = _schema("id", "name")
    b = Schema([ObjectSchema("Row", [FieldSchema("id", "integer"), FieldSchema("name", "date")])])
    assert schema_diff(a, a) == []
    assert schema_diff(a, b) == []


def test_schema_diff_changes():
    old = _schema("id", "name", "city")
    assert schema_diff(old, _schema("id", "name", "city", "zip")) == ["added column 'zip' in Row"]
    assert schema_diff(old, _schema("id", "city")) == ["removed column 'name' in Row"]
    assert schema_diff(old, _schema("id", "full_name", "city")) == [
        "renamed column 'name' -> 'full_name' in Row"]
    moved = schema_diff(old, _schema("name", "id", "city"))
    assert moved and all("moved column" in d for d in moved)


def test_schema_diff_objects():
    a = Schema([ObjectSchema("Invoice", [FieldSchema("ID")]),
                ObjectSchema("InvoiceLine", [FieldSchema("ID")], parent="Invoice")])
    b = Schema([ObjectSchema("Invoice", [FieldSchema("ID")])])
    assert schema_diff(a, b) == ["removed object 'InvoiceLine'"]
    assert schema_diff(b, a) == ["added object 'InvoiceLine'"]


def test_schema_dict_roundtrip_through_yaml():
    s = Schema([
        ObjectSchema("Invoice", [FieldSchema("ID", "string", 8, ["INV-1"], "cbc:ID")],
                     path="/Invoice"),
        ObjectSchema("InvoiceLine", [FieldSchema("Qty", "decimal", 3, ["1.5"], "cbc:Q",
                                                 type_overridden=True)],
                     path="/Invoice/cac:InvoiceLine", parent="Invoice", position=0),
    ])
    text = yaml.safe_dump(s.to_dict(), allow_unicode=True)
    back = Schema.from_dict(yaml.safe_load(text))
    assert back == s
    assert s.columns() == ["Invoice.ID", "InvoiceLine.Qty"]
    assert _schema("a", "b").columns() == ["a", "b"]


def test_check_size(tmp_path):
    f = tmp_path / "x.csv"
    f.write_bytes(b"a" * 100)
    check_size(f, 100)
    with pytest.raises(SourceError, match="over the limit") as e:
        check_size(f, 99)
    assert e.value.location.file == "x.csv"
    assert e.value.facts["size"] == 100


def test_registry():
    assert provider_types() == ["csv", "excel", "xml"]
    for name, kind in [("a.csv", "csv"), ("a.TXT", "csv"), ("a.xlsx", "excel"),
                       ("a.xlsm", "excel"), ("a.xls", "excel"), ("dir/a.XML", "xml")]:
        assert type_for_file(name) == kind
        assert get_provider_type(kind).name == kind
    with pytest.raises(SourceError, match="unknown file type '.pdf'"):
        type_for_file("report.pdf")
    with pytest.raises(NotFoundError):
        get_provider_type("json")
    assert all(get_provider_type(t).writable for t in provider_types())


def test_batch_location():
    b = RowBatch(["a"], [("1",), ("2",)], [2, 5], "f.xlsx", sheet="S")
    assert b.location(1) == Location(file="f.xlsx", sheet="S", line=5)
    assert b.location(0, version=3) == Location(file="f.xlsx", version=3, sheet="S", line=2)
    assert b.warnings == []
