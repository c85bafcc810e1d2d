"""Real file shapes through the command line, on SQLite and PostgreSQL: a shuffled order
file, continuation rows, and a second record with an imported key (grouping consecutive)."""

from __future__ import annotations

import json
import random

import pytest
import yaml

from .engine.shapes import erp_documents, expected_documents, invoice_rows, write_csv
from .helpers import INVOICE_MAP
from .test_cli import cli_master, mk


@pytest.fixture
def cli_ws(tmp_path, db_url):
    ws = tmp_path / "ws"
    mk(ws, "init", "--db", db_url, check=0)
    cli_master(ws)
    return ws


def _simplified(ws, name, file, **options):
    maps = [a for s, t in INVOICE_MAP.items() for a in ("--map", f"{s}={t}")]
    mk(ws, "scenario", "simplified", name, "--file", file, "--window", "AR301000", *maps,
       "--key", "Document.ReferenceNbr", check=0)
    if options:
        p = ws / "scenarios" / f"{name}.yaml"
        d = yaml.safe_load(p.read_text())
        d["options"].update(options)
        p.write_text(yaml.safe_dump(d, sort_keys=False))


def _erp(ws):
    out = mk(ws, "--json", "erp", "list", "AR301000", check=0).stdout
    return erp_documents(json.loads(line) for line in out.splitlines() if line.strip())


def test_shuffled_and_continuation_files_from_the_command_line(cli_ws, tmp_path):
    ws = cli_ws
    rng = random.Random(99)
    rows = invoice_rows(60, rng)
    rng.shuffle(rows)
    _simplified(ws, "shuffled", write_csv(tmp_path / "shuffled.csv", rows))
    r = mk(ws, "prepare", "shuffled", check=0)
    assert "prepared 60 record(s)" in r.stdout and "not adjacent" in r.stdout
    r = mk(ws, "import", "shuffled", check=0)
    assert "imported 60" in r.stdout
    assert _erp(ws) == expected_documents(rows)
    r = mk(ws, "import", "shuffled", "--prepare", check=0)
    assert "imported 0" in r.stdout
    assert "not imported: 60 already imported from this file version (1)" in r.stdout

    ordered = sorted(invoice_rows(10, random.Random(5), prefix="OD"), key=lambda x: x[0])
    cont, last = [], None
    for x in ordered:
        cont.append(x[:] if x[0] != last else [""] * 5 + x[5:])
        last = x[0]
    _simplified(ws, "odoo", write_csv(tmp_path / "odoo.csv", cont), continuation_rows=True)
    mk(ws, "import", "odoo", "--prepare", check=0)
    got = _erp(ws)
    assert {k: v for k, v in got.items() if k.startswith("OD")} == expected_documents(ordered)


def test_second_record_with_an_imported_key_is_an_error_with_its_line(cli_ws, tmp_path):
    ws = cli_ws
    rows = invoice_rows(2, random.Random(2), max_lines=1)
    again = [rows[0][:6] + ["again"] + rows[0][7:]]
    _simplified(ws, "rep", write_csv(tmp_path / "rep.csv", rows + again),
                grouping="consecutive")
    mk(ws, "prepare", "rep", check=0)
    r = mk(ws, "import", "rep", check=1)
    assert "imported 2" in r.stdout
    assert f"ReferenceNbr={rows[0][0]} was imported already from line 2" in r.stdout
    r = mk(ws, "status", "rep", check=0)
    assert "not imported: 1 in error" in r.stdout and "line 3 (record 3, 1 line(s))" in r.stdout
    r = mk(ws, "prepared", "list", "rep", "--errors", check=0)
    assert "rec 3" in r.stdout and "ERROR key:" in r.stdout
