"""The benchmark runs end to end at a tiny scale, so it never rots (no timing assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.data import sizes
from tests.pgserver import find_pg_bin

ROOT = Path(__file__).resolve().parents[2]
SCALE = 0.002


@pytest.mark.timeout(600)
def test_bench_runs_every_case_at_a_tiny_scale(tmp_path):
    cases = ["csv_read", "excel_read", "import_sqlite", "import_sqlite_floor",
             "import_sqlite_shuffled", "import_sqlite_2w", "memory", "export"]
    if find_pg_bin() is not None:
        cases += ["import_pg", "import_pg_2w"]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", str(SCALE), "--cases", ",".join(cases),
         "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "MIGRATION_KIT_PROGRESS": "0"})
    assert proc.returncode == 0, proc.stdout + proc.stderr

    report = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    by_case = {c["case"]: c for c in report["cases"]}
    assert list(by_case) == cases
    n = sizes(SCALE)
    small = sizes(SCALE / 10)
    expected = {"csv_read": (n["lines"], n["lines"]),
                "excel_read": (n["excel_rows"], n["excel_rows"]),
                "import_sqlite": (n["lines"], n["lines"]),
                "import_sqlite_floor": (n["lines"], n["lines"]),
                "import_sqlite_shuffled": (n["lines"], n["lines"]),
                "import_pg": (n["lines"], n["lines"]),
                "import_pg_2w": (n["lines"], n["lines"]),
                "import_sqlite_2w": (n["lines"], n["lines"]),
                "memory": (n["lines"], small["lines"]),
                "export": (n["lines"], n["lines"])}
    for name, c in by_case.items():
        assert "error" not in c, c
        assert (c["rows"], c["baseline_rows"]) == expected[name], name
        for k in ("ours_s", "base_s", "ratio", "ours_peak_mb", "base_peak_mb"):
            assert c[k] > 0, (name, k)
        assert isinstance(c["met"], bool)
    # both paths stored every invoice
    steps = report["steps"]
    for case in ("import_sqlite", "import_sqlite_shuffled", "import_pg"):
        if case in by_case:
            assert steps[f"{case}/import_ours"]["documents"] == n["invoices"]
            assert steps[f"{case}/import_pandas"]["documents"] == n["invoices"]
    for case in ("import_sqlite_2w", "import_pg_2w"):  # every invoice, a worker's RSS
        if case in by_case:
            assert steps[f"{case}/import_ours"]["documents"] == n["invoices"]
            assert steps[f"{case}/import_ours"]["worker_peak_rss_mb"] > 0
            assert by_case[case]["vs_1_worker"] > 0
    assert steps["memory/import_ours_small"]["documents"] == small["invoices"]
    assert steps["export/export_ours"]["file_rows"] == n["lines"]

    # the Markdown table: a header and one row per case
    table = [ln for ln in proc.stdout.splitlines() if ln.startswith("| ")]
    assert table[0].startswith("| case |")
    assert [ln.split("|")[1].strip() for ln in table[1:]] == cases
