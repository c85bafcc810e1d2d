"""Fixtures for the provider file-type tests: the sample files in tests/data/providers."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration_kit.providers import get_provider_type

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "providers"


@pytest.fixture
def sample():
    def get(name: str) -> Path:
        p = SAMPLES / name
        assert p.exists(), f"missing sample {name}: run tests/data/providers/make_samples.py"
        return p
    return get


@pytest.fixture
def csv_type():
    return get_provider_type("csv")


@pytest.fixture
def excel_type():
    return get_provider_type("excel")


@pytest.fixture
def xml_type():
    return get_provider_type("xml")


def read_all(ptype, path, params=None, schema=None, batch_size=5000):
    """(params, schema, rows, lines, batches) of a whole file."""
    params = ptype.detect(path, params or {})
    schema = schema or ptype.read_schema(path, params)
    batches = list(ptype.read_batches(path, params, schema, batch_size=batch_size))
    rows = [r for b in batches for r in b.rows]
    lines = [n for b in batches for n in b.lines]
    return params, schema, rows, lines, batches
