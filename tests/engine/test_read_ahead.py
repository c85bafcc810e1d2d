"""Prepare with the file read ahead in a second process (``providers.read_ahead``) gives the
prepared data, summary and errors of reading it in the prepare's own process; a read error
past the first batch changes nothing; a reader that dies is an error naming its exit
status; a prepare that stops early stops its reader.

The size above which a file is read ahead is set to 0 (read ahead) or out of reach (read
here) for each run, so small files take both ways.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

import openpyxl
import pytest

from migration_kit import api
from migration_kit.catalog.versions import get_version, load_provider
from migration_kit.engine import prepare_columns
from migration_kit.errors import MigrationError, SourceError
from migration_kit.providers import read_ahead as ra

from .test_prepare_engines import (
    COLUMNS,
    KEY_SETS,
    RESTRICTIONS,
    batch_size,
    csv_text,
    random_rows,
    scenario_yaml,
    stored,
    write_scenario,
)


def _prepare(ws, name: str, ahead: bool, monkeypatch, size: int = 7) -> dict:
    """One prepare, read ahead or here; what it left (or its error) and how often it read
    ahead."""
    calls = []
    real = prepare_columns.read_ahead

    def counted(*a, **kw):
        calls.append(a[1])
        return real(*a, **kw)

    monkeypatch.setattr(ra, "MIN_BYTES", 0 if ahead else 1 << 60)
    monkeypatch.setattr(prepare_columns, "read_ahead", counted)
    with batch_size(size):
        try:
            s = api.prepare(ws, name, progress=False)
            out = {"summary": s.to_dict(), "text": str(s)}
        except MigrationError as e:
            out = {"error": (type(e).__name__, str(e))}
    out.update(stored(ws, name))
    assert len(calls) == (1 if ahead else 0)
    return out


def _children() -> set[int]:
    """The live child processes of this process (Linux: /proc)."""
    out = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        out.update(int(p) for p in (task / "children").read_text().split())
    return out


@pytest.mark.parametrize("keys,restrictions,grouping", [
    (KEY_SETS[0], RESTRICTIONS[0], "key"),
    (KEY_SETS[1], RESTRICTIONS[1], "key"),
    (KEY_SETS[3], RESTRICTIONS[4], "consecutive"),
    (KEY_SETS[4], RESTRICTIONS[2], "key"),
])
def test_read_ahead_prepares_the_same(workspace, tmp_path, monkeypatch, keys, restrictions,
                                      grouping):
    """A shuffled CSV with bad keys, blank lines and lines broken inside fields, read in
    batches of 7 rows, on SQLite and PostgreSQL: the same records, lines and summary."""
    rng = random.Random(len(keys) * 10 + len(restrictions))
    rows = random_rows(rng, 300, 5, 0.1, 0.0)
    rng.shuffle(rows)
    file = tmp_path / "shuffled.csv"
    file.write_text(csv_text(rows, [0, 40, 41, 299], None), encoding="utf-8")
    api.add_provider(workspace, "ahead", file)
    write_scenario(workspace, scenario_yaml("ahead", keys, restrictions,
                                            {"grouping": grouping}, False, True))
    here = _prepare(workspace, "ahead", False, monkeypatch)
    ahead = _prepare(workspace, "ahead", True, monkeypatch)
    assert "error" not in here and len(here["lines"]) > 100
    assert ahead == here


def test_read_ahead_of_a_workbook(sqlite_workspace, tmp_path, monkeypatch):
    """An Excel sheet: its numbers and dates (not text) read ahead give the same lines."""
    rows = random_rows(random.Random(3), 60, 4, 0.0, 0.0)
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.append(COLUMNS)
    for i, r in enumerate(rows):
        values = [r[c] for c in COLUMNS]
        values[COLUMNS.index("Qty")] = i % 4 + 0.5  # a number, not text
        sheet.append(values)
    file = tmp_path / "lines.xlsx"
    wb.save(file)
    api.add_provider(sqlite_workspace, "book", file)
    write_scenario(sqlite_workspace, scenario_yaml("book", KEY_SETS[0], RESTRICTIONS[1],
                                                   {"grouping": "key"}, False, True))
    here = _prepare(sqlite_workspace, "book", False, monkeypatch)
    ahead = _prepare(sqlite_workspace, "book", True, monkeypatch)
    assert "error" not in here and here["lines"]
    assert ahead == here


def test_a_read_error_past_the_first_batch(sqlite_workspace, tmp_path, monkeypatch):
    """A row with a field too many, far into the file (batches of 7 rows): the same error,
    naming the file as uploaded and the line, both ways, and the prepared data of the
    prepare before stays. (An upload reads the whole file, so the bad row is written into
    the stored copy: a file changed on disk after its upload.)"""
    ws = sqlite_workspace
    rows = random_rows(random.Random(8), 250, 5, 0.0, 0.0)
    good = tmp_path / "lines.csv"
    good.write_text(csv_text(rows, [], None), encoding="utf-8")
    api.add_provider(ws, "late", good)
    write_scenario(ws, scenario_yaml("late", KEY_SETS[0], [], {"grouping": "key"}, False,
                                     False))
    before = _prepare(ws, "late", False, monkeypatch)
    assert "error" not in before
    get_version(ws, "late", None).path.write_text(csv_text(rows, [], 198), encoding="utf-8")
    here = _prepare(ws, "late", False, monkeypatch)
    ahead = _prepare(ws, "late", True, monkeypatch)
    assert here["error"][0] == "SourceError"
    assert "lines.csv of provider 'late'" in here["error"][1]
    assert "too many fields" in here["error"][1]
    assert ahead == here
    assert {k: here[k] for k in ("records", "lines")} == {
        k: before[k] for k in ("records", "lines")}


def _provider(ws, tmp_path, name: str, seed: int, n: int) -> list[dict]:
    """A provider ``name`` of ``n`` generated rows; returns the rows."""
    rows = random_rows(random.Random(seed), n, 5, 0.0, 0.0)
    file = tmp_path / f"{name}.csv"
    file.write_text(csv_text(rows, [], None), encoding="utf-8")
    api.add_provider(ws, name, file)
    return rows


def _reader(ws, name: str):
    prov = load_provider(ws, name)
    fv = get_version(ws, name, None)
    return ra.read_ahead(prov.ptype, fv.path, prov.params, prov.schema, [0, 2], 10)


def test_a_reader_that_dies(sqlite_workspace, tmp_path):
    """The reader killed after its first batch: an error naming its exit status, not a
    short file taken for a whole one."""
    rows = _provider(sqlite_workspace, tmp_path, "dies", 9, 5000)
    before = _children()
    it = _reader(sqlite_workspace, "dies")
    first = next(it)
    assert len(first) == 10 and first.rows[0] == (rows[0]["InvoiceNbr"],
                                                  rows[0]["Customer"])
    (child,) = _children() - before
    os.kill(child, signal.SIGKILL)
    with pytest.raises(SourceError, match=r"ended before its end \(exit status -9\)"):
        for _ in it:
            pass
    assert _children() == before


def test_stopping_early_stops_the_reader(sqlite_workspace, tmp_path):
    _provider(sqlite_workspace, tmp_path, "early", 10, 5000)
    before = _children()
    it = _reader(sqlite_workspace, "early")
    next(it)
    assert len(_children() - before) == 1
    it.close()
    deadline = time.monotonic() + 10
    while _children() != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _children() == before


def test_small_files_are_read_here(tmp_path):
    small = tmp_path / "small.csv"
    small.write_text("a,b\n1,2\n", encoding="utf-8")
    assert not ra.worth_it(small)


def test_no_interpreter_to_start_reads_here(sqlite_workspace, tmp_path, monkeypatch):
    """Where no interpreter can be started (an embedded Python), the batches are read in
    the caller's process: the same batches, and no child."""
    _provider(sqlite_workspace, tmp_path, "here", 11, 95)
    child = [(b.rows, b.lines, b.data) for b in _reader(sqlite_workspace, "here")]
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    before = _children()
    it = _reader(sqlite_workspace, "here")
    first = next(it)
    assert _children() == before
    here = [(first.rows, first.lines, first.data), *((b.rows, b.lines, b.data) for b in it)]
    assert here == child and sum(len(r) for r, _, _ in here) == 95


def test_a_prepare_that_fails_stops_its_reader(sqlite_workspace, tmp_path, monkeypatch):
    """Prepare failing on its side (a failure put into its third batch) stops the reader
    at once, while the failure is still held (a notebook keeps the last traceback), and
    leaves no prepared data."""
    _provider(sqlite_workspace, tmp_path, "fails", 12, 5000)
    write_scenario(sqlite_workspace, scenario_yaml("fails", KEY_SETS[0], [],
                                                   {"grouping": "key"}, False, False))
    real, calls = prepare_columns._Writer.batch, []

    def batch(self, *a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real(self, *a, **kw)

    monkeypatch.setattr(ra, "MIN_BYTES", 0)
    monkeypatch.setattr(prepare_columns._Writer, "batch", batch)
    before = _children()
    with batch_size(10), pytest.raises(RuntimeError, match="went away") as held:
        api.prepare(sqlite_workspace, "fails", progress=False)
    assert held.value is not None and _children() == before
    assert stored(sqlite_workspace, "fails") == {"records": [], "lines": []}
