"""Every CSV and Excel file that was accepted before the messy-file rules (issue 17) still reads
the same way: the same column names and types, the same rows with the same lines.

``tests/data/regression/accepted.json`` was recorded by ``tests/data/regression/record.py`` on
the code before those rules. Each accepted file is read twice: as a new provider (parameters
detected now) and as an existing provider (the parameters ``detect`` stored then).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from migration_kit.providers import get_provider_type

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "regression" / "accepted.json"
RECORDED = json.loads(FIXTURE.read_text(encoding="utf-8"))
ACCEPTED = sorted(k for k, v in RECORDED.items() if "error" not in v)


_spec = importlib.util.spec_from_file_location("regression_record", FIXTURE.parent / "record.py")
_record = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_record)
_encode = _record.encode


def _read(path: Path, type_name: str, params: dict):
    ptype = get_provider_type(type_name)
    full = ptype.detect(path, params)
    schema = ptype.read_schema(path, full)
    rows, lines = [], []
    for b in ptype.read_batches(path, full, schema):
        rows += [[_encode(v) for v in r] for r in b.rows]
        lines += list(b.lines)
    return schema, rows, lines


def test_the_fixture_covers_the_sample_files():
    assert len(ACCEPTED) >= 39
    assert "templates/samples/sales_invoices.csv" in ACCEPTED


@pytest.mark.parametrize("stored", [False, True], ids=["new provider", "stored params"])
@pytest.mark.parametrize("name", ACCEPTED)
def test_previously_accepted_file_reads_the_same(name, stored):
    want = RECORDED[name]
    schema, rows, lines = _read(ROOT / name, want["type"], want["params"] if stored else {})
    assert schema.columns() == want["columns"]
    assert [f.type for f in schema.fields()] == want["types"]
    assert lines == want["lines"]
    assert rows == want["rows"]
