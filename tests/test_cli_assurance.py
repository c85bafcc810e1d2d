"""reconcile and undo through the command line, on SQLite and PostgreSQL: exit codes, what
they print, the report files, and `erp save --upsert` making reconcile fail."""

from __future__ import annotations

import json

from .helpers import SAMPLES
from .test_cli import mk
from .test_cli_shapes import _simplified, cli_ws  # noqa: F401 (the fixture)


def _invoice(ws, ref: str) -> dict:
    out = mk(ws, "--json", "erp", "list", "AR301000", "--where", f"ReferenceNbr={ref}",
             check=0).stdout
    return json.loads(out.splitlines()[0])


def test_reconcile_and_undo_from_the_command_line(cli_ws, tmp_path):  # noqa: F811
    ws = cli_ws
    _simplified(ws, "inv", SAMPLES / "sales_invoices.csv")
    mk(ws, "import", "inv", "--prepare", check=0)
    out = tmp_path / "report" / "inv.html"
    r = mk(ws, "reconcile", "inv", "--output", out, check=0)
    assert "RECONCILED" in r.stdout and "total Line.Quantity" in r.stdout
    assert out.is_file() and out.with_suffix(".csv").is_file()
    assert json.loads(out.with_suffix(".json").read_text())["ok"] is True

    # a document changed in the ERP afterwards: exit 1, naming it
    doc = _invoice(ws, "INV-1002")
    doc["Line"][0]["Quantity"] = "41"
    doc["Line"][0]["Amount"] = None
    (tmp_path / "doc.json").write_text(json.dumps(doc))
    mk(ws, "erp", "save", "AR301000", tmp_path / "doc.json", "--upsert", check=0)
    r = mk(ws, "reconcile", "inv", "--output", out, check=1)
    assert "Invoice INV-1002" in r.stderr and "changed in the ERP after import" in r.stderr
    assert "Line 1.Quantity: file 40, ERP 41" in r.stdout
    r = mk(ws, "--json", "reconcile", "inv", "--output", out, check=1)
    data = json.loads(r.stdout)
    assert data["ok"] is False and data["differences"][0]["document"] == "Invoice INV-1002"

    # the customers that the invoices use: refused, exit 2, naming the references
    before = mk(ws, "--json", "erp", "list", "AR303000", check=0).stdout
    r = mk(ws, "undo", "customers", check=2)
    assert "refused, nothing changed" in r.stderr and "Document.CustomerID = C001" in r.stderr
    assert mk(ws, "--json", "erp", "list", "AR303000", check=0).stdout == before
    r = mk(ws, "undo", "customers", "--dry-run", check=2)
    assert "would delete 6" in r.stdout and "would be REFUSED" in r.stdout

    # the invoices: INV-1002 was changed, so only with --force
    r = mk(ws, "undo", "inv", check=2)
    assert "AR301000 Invoice INV-1002" in r.stderr and "--force" in r.stderr
    r = mk(ws, "undo", "inv", "--dry-run", "--force", check=0)
    assert "would delete 5" in r.stdout
    r = mk(ws, "--json", "undo", "inv", "--force", check=0)
    res = json.loads(r.stdout)
    assert (res["deleted"], res["records_unmarked"], res["refused"]) == (5, 5, False)
    assert mk(ws, "erp", "list", "AR301000", check=0).stdout == ""
    r = mk(ws, "undo", "inv", check=2)
    assert "nothing to undo" in r.stderr
    r = mk(ws, "undo", "customers", check=0)
    assert "deleted 6 document(s) of AR303000" in r.stdout
    assert mk(ws, "erp", "list", "AR303000", check=0).stdout == ""
    r = mk(ws, "history", "customers", check=0)
    assert r.stdout.splitlines()[-1].split()[2] == "undo"

    # imported again, exactly once
    mk(ws, "import", "customers", check=0)
    r = mk(ws, "import", "inv", check=0)
    assert "imported 5" in r.stdout
    mk(ws, "reconcile", "inv", check=0)
    r = mk(ws, "import", "inv", "--prepare", check=0)
    assert "imported 0" in r.stdout
