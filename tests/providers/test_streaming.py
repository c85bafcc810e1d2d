"""Reading is streaming: memory stays bounded however long the file is."""

from __future__ import annotations

import tracemalloc

from migration_kit.providers import get_provider_type

ROWS = 300_000


def test_large_csv_reads_in_bounded_memory(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("id;name;amount;day;note\r\n")
        chunk = []
        for i in range(ROWS):
            chunk.append(f'{i};Customer {i};{i % 1000}.25;2024-01-{i % 28 + 1:02d};"x, ""y"""\r\n')
            if len(chunk) == 10_000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
    assert path.stat().st_size > 15_000_000
    csv_type = get_provider_type("csv")
    params = csv_type.detect(path, {})
    schema = csv_type.read_schema(path, params)
    assert [f.type for f in schema.objects[0].fields] == [
        "integer", "string", "decimal", "date", "string"]
    tracemalloc.start()
    try:
        n = 0
        last = None
        for batch in csv_type.read_batches(path, params, schema, batch_size=5000):
            n += len(batch.rows)
            last = batch
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == ROWS
    assert last.lines[-1] == ROWS + 1 and last.rows[-1][4] == 'x, "y"'
    assert peak < 50 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
