"""Shared tools of the reliability tests: workspaces with master data, generated invoices,
child processes running the real CLI, and snapshots of everything a workspace holds."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select

from migration_kit import api
from migration_kit.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
BAD = ROOT / "tests" / "data" / "bad"
INVOICE_COLUMNS = ["InvoiceNbr", "Customer", "InvoiceDate", "DueDate", "Description",
                   "ItemCode", "LineDescription", "Qty", "UnitPrice", "Discount", "Account"]
MASTER = {"accounts": "accounts.csv", "customers": "customers.csv",
          "stock_items": "stock_items.xlsx"}
CUSTOMERS = ["C001", "C002", "C003", "C004", "C006"]  # C005 is on hold
ITEMS = ["FISH-01", "FISH-02", "BREAD-01", "COFFEE-01", "SERV-01", "PAPER-01", ""]


def new_db_url(kind: str, tmp_path: Path, request) -> str:
    """Another fresh database of the same kind as the test's ``db_url``."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'state-{uuid.uuid4().hex[:8]}.sqlite'}"
    server = request.getfixturevalue("pg_server")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


def db_kind(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


# -- building workspaces --------------------------------------------------------------------
def install_master(ws: Workspace) -> None:
    """Accounts, customers and stock items through the manual template scenarios."""
    for name, file in MASTER.items():
        api.add_provider(ws, name, TEMPLATES / "samples" / file)
        shutil.copy(TEMPLATES / "scenarios" / f"{name}.yaml", ws.path("scenarios"))
        api.prepare(ws, name, progress=False)
        s = api.import_(ws, name, progress=False)
        assert s.ok and s.remaining == 0, str(s)


def make_invoices(path: Path, lines: int = 3000, *, seed: int = 9, first: int = 1,
                  prefix: str = "INV-") -> int:
    """A flat sales-invoice CSV (the columns of templates/samples/sales_invoices.csv):
    many invoices of 1-5 lines each. Returns the number of invoices."""
    rng = random.Random(seed)
    n = 0
    inv = first - 1
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(INVOICE_COLUMNS)
        while n < lines:
            inv += 1
            day = rng.randint(1, 28)
            cust = rng.choice(CUSTOMERS)
            for j in range(min(rng.randint(1, 5), lines - n)):
                w.writerow([f"{prefix}{inv:06d}", cust, f"2024-03-{day:02d}", "2024-04-30",
                            f"Invoice {inv}, {cust}", rng.choice(ITEMS), f"line {j + 1}",
                            rng.randint(1, 40), f"{rng.randint(100, 99999) / 100:.2f}",
                            rng.choice([0, 5, 10]), rng.choice(["3000", "3100"])])
                n += 1
    return inv - first + 1


def invoice_scenario(ws: Workspace, name: str, file: Path, *, batch_size: int = 50,
                     options: dict[str, Any] | None = None) -> api.Scenario:
    """A simplified AR301000 scenario for an invoice file, mapped by ``suggest_mapping``."""
    from migration_kit.providers.registry import get_provider_type, type_for_file

    pt = get_provider_type(type_for_file(file))
    columns = pt.read_schema(file, pt.detect(file, {})).columns()
    window = ws.windows.get("AR301000")
    mapping = {s: t for s, t in api.suggest_mapping(ws, window, columns).items() if t}
    assert mapping.get("InvoiceNbr") == "Document.ReferenceNbr", mapping
    return api.create_simplified(ws, name, file, "AR301000", mapping,
                                 keys=["Document.ReferenceNbr"],
                                 options={"batch_size": batch_size, **(options or {})})


def master_workspace(root: Path, db_url: str) -> Workspace:
    ws = Workspace.init(root, db_url=db_url)
    install_master(ws)
    return ws


# -- child processes ------------------------------------------------------------------------
def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MK_TEST_HOOK", "MIGRATION_KIT_USER", "MIGRATION_KIT_DB",
                        "MIGRATION_KIT_WORKSPACE")}
    env["MIGRATION_KIT_PROGRESS"] = "0"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def cli_command(ws_root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tests.reliability.runner", "-w", str(ws_root), *args]


def json_error(stderr: str) -> dict:
    """The error the CLI printed with --json (its last stderr line)."""
    return json.loads(stderr.strip().splitlines()[-1])


def run_cli(ws_root: Path, *args: str, hook: str | None = None, user: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """The real CLI in a child process (through the hook runner); returncode -9 = killed."""
    extra = {}
    if hook:
        extra["MK_TEST_HOOK"] = hook
    if user:
        extra["MIGRATION_KIT_USER"] = user
    return subprocess.run(cli_command(ws_root, *args), cwd=ROOT, env=child_env(**extra),
                          capture_output=True, text=True, timeout=timeout)


def start_cli(ws_root: Path, *args: str, hook: str | None = None,
              resume: Path | None = None) -> subprocess.Popen:
    extra = {"MK_TEST_HOOK": hook} if hook else {}
    if resume is not None:
        extra["MK_TEST_RESUME"] = str(resume)
    return subprocess.Popen(cli_command(ws_root, *args), cwd=ROOT, env=child_env(**extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc: subprocess.Popen, marker: str) -> None:
    """Read the child's stdout until ``marker`` (the child must print it and then wait)."""
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"child ended (rc {proc.wait()}) before {marker!r}: {err}")
        if marker in line:
            return


# -- snapshots ------------------------------------------------------------------------------
def _cell(v: Any) -> str:
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, default=str)
    return repr(v)


def dump_tables(ws: Workspace, only: tuple[str, ...] | None = None,
                skip_columns: dict[str, set[str]] | None = None) -> dict[str, list]:
    """Every table of the workspace database (or those starting with ``only``), rows sorted."""
    names = sorted(inspect(ws.db_engine).get_table_names())
    out = {}
    meta = ws.store.metadata
    from migration_kit import db

    with ws.connect() as conn:
        for name in names:
            if only and not name.startswith(only):
                continue
            t = db.metadata.tables.get(name)
            if t is None:
                t = meta.tables.get(name)
            if t is None:
                from sqlalchemy import MetaData, Table

                t = Table(name, MetaData(), autoload_with=conn)
            skip = (skip_columns or {}).get(name, set())
            cols = [c for c in t.c if c.name not in skip]
            out[name] = sorted(tuple(_cell(v) for v in r) for r in conn.execute(select(*cols)))
    return out


def dump_files(root: Path) -> dict[str, bytes | None]:
    """Every file under the workspace folder with its bytes (folders as None), except the
    SQLite database files, whose contents are compared through :func:`dump_tables`."""
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith("state.sqlite"):
            continue
        out[rel] = p.read_bytes() if p.is_file() else None
    return out


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def documents(ws: Workspace, window: str = "AR301000") -> list[dict]:
    """The window's documents, sorted by key, as comparable plain data."""
    docs = [json.loads(json.dumps(d, default=str)) for d in api.list_documents(ws, window)]
    w = ws.windows.get(window)
    return sorted(docs, key=lambda d: [str(d[w.summary][k]) for k in w.key_fields])


def check_processed_matches_erp(ws: Workspace, scenario: str) -> dict[str, int]:
    """A record is Processed iff its document is in the ERP (and in the ledger); no
    document exists that is not a prepared record. Returns counts."""
    from migration_kit import db

    pr = db.prepared_record
    with ws.connect() as conn:
        recs = conn.execute(select(pr.c.record_no, pr.c.key, pr.c.processed)
                            .where(pr.c.scenario == scenario)).all()
        ledger = {r[0] for r in conn.execute(select(db.import_ledger.c.doc_key).where(
            db.import_ledger.c.scenario == scenario))}
        st = ws.store.summary_table("AR301000")
        in_erp = {r[0] for r in conn.execute(select(st.c.ReferenceNbr))}
    prepared_keys = set()
    processed = 0
    for rec_no, key, done in recs:
        nbr = key["Document.ReferenceNbr"]
        prepared_keys.add(nbr)
        assert bool(done) == (nbr in in_erp), (
            f"record {rec_no} ({nbr}): processed={done} but in ERP={nbr in in_erp}")
        processed += bool(done)
    assert in_erp <= prepared_keys, f"documents not from the file: {in_erp - prepared_keys}"
    ledger_nbrs = {json.loads(k)["Document.ReferenceNbr"] for k in ledger}
    assert ledger_nbrs == in_erp, "the exactly-once ledger differs from the ERP"
    return {"records": len(recs), "processed": processed, "documents": len(in_erp)}
