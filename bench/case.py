"""One step of one benchmark case, run in its own process so its peak RSS is its own.

``python -m bench.case STEP --data DIR --work DIR --result FILE [--db-url URL] ...``

Steps named ``setup_*`` prepare what a case needs (not timed); the others time one path
(ours or the baseline) and write ``{"rows", "seconds", "peak_rss_mb", ...}`` as JSON to
``--result``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from bench.data import INVOICE_HEADER
from migration_kit.runbook import SALES_INVOICE_MAP

HEADER_COLS = ["InvoiceNbr", "Customer", "InvoiceDate", "DueDate", "Description"]
LINE_COLS = ["InvoiceNbr", "ItemCode", "LineDescription", "Qty", "UnitPrice", "Discount",
             "Account"]
MASTERS = [  # (scenario, file, window, {source: target})
    ("accounts", "accounts.csv", "GL202500",
     {"Account": "Account.AccountID", "Description": "Account.Description",
      "Type": "Account.Type", "Active": "Account.Active"}),
    ("customers", "customers.csv", "AR303000",
     {"CustomerID": "Customer.CustomerID", "Name": "Customer.CustomerName",
      "Class": "Customer.CustomerClass", "Status": "Customer.Status",
      "Currency": "Customer.CurrencyID", "Email": "Customer.Email",
      "Address": "Customer.AddressLine1", "City": "Customer.City",
      "PostalCode": "Customer.PostalCode", "Country": "Customer.Country",
      "CreditLimit": "Customer.CreditLimit"}),
    ("stock_items", "stock_items.csv", "IN202500",
     {"Item": "StockItem.InventoryID", "Description": "StockItem.Description",
      "Class": "StockItem.ItemClass", "Unit": "StockItem.BaseUnit",
      "Price": "StockItem.DefaultPrice", "Status": "StockItem.Status"}),
]
ROOT = Path(__file__).resolve().parent.parent
EXPORT_SCENARIO = ROOT / "templates" / "scenarios" / "sales_invoices_export.yaml"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class TreeSampler:
    """The peak of this process's RSS plus its children's, sampled every 0.1 s (Linux
    /proc), and the children's own high-water marks (``VmHWM``, read while they live).
    ``RUSAGE_CHILDREN`` would report a child's peak including the copy of this process it
    was forked from before it ran its own program: for prepare's file reader, this
    process's size then, not the reader's."""

    def __init__(self) -> None:
        import threading

        self.tree_kb = self.child_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _status(pid: str) -> dict[str, int]:
        try:
            with open(f"/proc/{pid}/status") as f:
                return {k: int(v.split()[0]) for k, _, v in (ln.partition(":") for ln in f)
                        if k in ("VmRSS", "VmHWM")}
        except (OSError, ValueError):
            return {}

    def _run(self) -> None:
        me = Path("/proc/self/task")
        while not self._stop.wait(0.1):
            try:
                kids = [c for t in me.iterdir() for c in (t / "children").read_text().split()]
            except OSError:
                kids = []
            total = self._status("self").get("VmRSS", 0)
            for c in kids:
                st = self._status(c)
                total += st.get("VmRSS", 0)
                self.child_kb = max(self.child_kb, st.get("VmHWM", 0))
            self.tree_kb = max(self.tree_kb, total)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f) - 1


# -- set-up (not timed) --------------------------------------------------------------------
def _workspace(work: Path, db_url: str | None):
    from migration_kit import api

    if work.exists():
        shutil.rmtree(work)
    return api.init_workspace(work / "ws", db_url=db_url)


def _import_masters(ws, data: Path) -> None:
    from migration_kit import api

    for name, file, window, mapping in MASTERS:
        key = next(t for t in mapping.values() if t.endswith("ID"))
        api.create_simplified(ws, name, data / file, window, mapping, keys=[key])
        api.prepare(ws, name, progress=False)
        api.import_(ws, name, progress=False).raise_for_errors()


def setup_import(a) -> dict:
    """A fresh workspace with the master data imported and the invoice scenario created."""
    from migration_kit import api

    ws = _workspace(a.work, a.db_url)
    _import_masters(ws, a.data)
    api.create_simplified(ws, "invoices", a.data / "sales_invoices.csv", "AR301000",
                          SALES_INVOICE_MAP, keys=["Document.ReferenceNbr"],
                          options={"break_on_error": True, "mode": "insert"})
    ws.dispose()
    return {}


def setup_export(a) -> dict:
    """A workspace with the invoices stored in the ERP (written directly, in bulk) and the
    export scenario of templates/scenarios/sales_invoices_export.yaml."""
    import csv

    from sqlalchemy import insert

    from migration_kit import api

    ws = _workspace(a.work, a.db_url)
    _import_masters(ws, a.data)
    currency = {}
    with open(a.data / "customers.csv", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            currency[r["CustomerID"]] = r["Currency"]
    doc_t = ws.store.tables[("AR301000", "Document")]
    line_t = ws.store.tables[("AR301000", "Line")]
    cent = Decimal("0.01")
    heads, lines = [], []
    doc_id = 0
    last = None
    line_nbr = 0
    with ws.transaction() as conn, open(a.data / "sales_invoices.csv", encoding="utf-8",
                                        newline="") as f:
        for r in csv.DictReader(f):
            if r["InvoiceNbr"] != last:
                last, doc_id, line_nbr = r["InvoiceNbr"], doc_id + 1, 0
                heads.append({"_id": doc_id, "DocType": "Invoice",
                              "ReferenceNbr": r["InvoiceNbr"], "CustomerID": r["Customer"],
                              "Date": dt.date.fromisoformat(r["InvoiceDate"]),
                              "DueDate": dt.date.fromisoformat(r["DueDate"]),
                              "CurrencyID": currency[r["Customer"]],
                              "Description": r["Description"], "ExternalRef": None})
            line_nbr += 1
            qty, price, disc = (Decimal(r["Qty"]), Decimal(r["UnitPrice"]),
                                Decimal(r["Discount"]))
            lines.append({"_doc_id": doc_id, "LineNbr": line_nbr,
                          "InventoryID": r["ItemCode"] or None,
                          "Description": r["LineDescription"], "Quantity": qty, "UOM": None,
                          "UnitPrice": price, "DiscountPercent": disc,
                          "Amount": (qty * price * (100 - disc) / 100).quantize(
                              cent, rounding=ROUND_HALF_UP),
                          "AccountID": r["Account"]})
            if len(lines) >= 20_000:
                if heads:
                    conn.execute(insert(doc_t), heads)
                conn.execute(insert(line_t), lines)
                heads, lines = [], []
        if heads:
            conn.execute(insert(doc_t), heads)
        if lines:
            conn.execute(insert(line_t), lines)
    # The export provider: the structure of the invoice file (a short copy of it).
    sample = a.work / "sales_invoices_out.csv"
    with open(a.data / "sales_invoices.csv", encoding="utf-8") as src, \
            open(sample, "w", encoding="utf-8") as dst:
        for i, text in enumerate(src):
            if i > 300:
                break
            dst.write(text)
    api.add_provider(ws, "sales_invoices_out", sample, type_name="csv")
    shutil.copy(EXPORT_SCENARIO, ws.path("scenarios", EXPORT_SCENARIO.name))
    api.load_scenario(ws, "sales_invoices_export")  # checks it
    ws.dispose()
    return {"documents": doc_id}


def setup_excel(a) -> dict:
    from bench.data import excel_file

    path = excel_file(a.rows, a.data)
    return {"path": str(path)}


# -- timed steps -------------------------------------------------------------------------
def import_ours(a) -> dict:
    from migration_kit import api

    ws = api.open_workspace(a.work / "ws", db_url=a.db_url)
    t0 = time.perf_counter()
    prep = api.prepare(ws, "invoices", progress=False)
    t1 = time.perf_counter()
    summary = api.import_(ws, "invoices", progress=False, batch_size=a.batch_size,
                          workers=a.workers)
    t2 = time.perf_counter()
    summary.raise_for_errors()
    if summary.remaining or summary.imported != prep.records:
        raise SystemExit(f"import incomplete: {summary}")
    ws.dispose()
    return {"rows": prep.lines, "documents": summary.imported, "seconds": t2 - t0,
            "prepare_s": t1 - t0, "import_s": t2 - t1}


def import_pandas(a) -> dict:
    import pandas as pd
    from sqlalchemy import create_engine

    url = a.db_url or f"sqlite:///{a.work / 'pandas.sqlite'}"
    if a.db_url is None:
        a.work.mkdir(parents=True, exist_ok=True)
        (a.work / "pandas.sqlite").unlink(missing_ok=True)
    engine = create_engine(url)
    t0 = time.perf_counter()
    df = pd.read_csv(a.data / "sales_invoices.csv")
    heads = df[HEADER_COLS].drop_duplicates()
    heads.to_sql("headers", engine, index=False, if_exists="replace")
    df[LINE_COLS].to_sql("lines", engine, index=False, if_exists="replace")
    t1 = time.perf_counter()
    engine.dispose()
    return {"rows": len(df), "documents": len(heads), "seconds": t1 - t0}


def import_floor(a) -> dict:
    """The floor: the lines as they are in the file, read with the csv module and written
    with one ``sqlite3.executemany`` into a table of text columns, one commit. No
    conversion, no validation, no documents: what no import can beat."""
    import csv
    import sqlite3

    a.work.mkdir(parents=True, exist_ok=True)
    path = a.work / "floor.sqlite"
    path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    con = sqlite3.connect(path)
    with open(a.data / "sales_invoices.csv", encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        con.execute(f"CREATE TABLE lines ({', '.join(f'{c} TEXT' for c in header)})")
        con.executemany(f"INSERT INTO lines VALUES ({', '.join('?' * len(header))})", rows)
    con.commit()
    n = con.execute("SELECT count(*) FROM lines").fetchone()[0]
    t1 = time.perf_counter()
    con.close()
    return {"rows": n, "seconds": t1 - t0}


def export_ours(a) -> dict:
    from migration_kit import api

    ws = api.open_workspace(a.work / "ws", db_url=a.db_url)
    t0 = time.perf_counter()
    s = api.export(ws, "sales_invoices_export", progress=False)
    t1 = time.perf_counter()
    if s.failed:
        raise SystemExit(f"export failed: {s}")
    out = Path(s.path)
    shutil.copy(out, a.work / "export_ours.csv")
    ws.dispose()
    return {"rows": s.rows, "seconds": t1 - t0, "file_rows": count_lines(out)}


def export_pandas(a) -> dict:
    import pandas as pd
    from sqlalchemy import create_engine

    from migration_kit import api

    ws = api.open_workspace(a.work / "ws", db_url=a.db_url)
    url = ws.db_url
    ws.dispose()
    engine = create_engine(url)
    out = a.work / "export_pandas.csv"
    t0 = time.perf_counter()
    with engine.connect() as conn:
        heads = pd.read_sql("SELECT * FROM erp_ar301000_document", conn)
        lines = pd.read_sql("SELECT * FROM erp_ar301000_line", conn)
    heads = heads[heads["DocType"] == "Invoice"]
    flat = heads.merge(lines, left_on="_id", right_on="_doc_id", suffixes=("", "_line"))
    flat = flat.sort_values(["_id", "_id_line"])
    flat = flat[["ReferenceNbr", "CustomerID", "Date", "DueDate", "Description",
                 "InventoryID", "Description_line", "Quantity", "UnitPrice",
                 "DiscountPercent", "AccountID"]]
    flat.columns = INVOICE_HEADER
    flat.to_csv(out, index=False)
    t1 = time.perf_counter()
    engine.dispose()
    return {"rows": len(flat), "seconds": t1 - t0}


def _excel_schema(path: Path):
    from migration_kit.providers.registry import get_provider_type

    pt = get_provider_type("excel")
    params = pt.detect(path, {})
    return pt, params, pt.read_schema(path, params)


def excel_ours(a) -> dict:
    from bench.data import excel_file

    path = excel_file(a.rows, a.data)
    pt, params, schema = _excel_schema(path)
    t0 = time.perf_counter()
    n = sum(len(b) for b in pt.read_batches(path, params, schema))
    t1 = time.perf_counter()
    return {"rows": n, "seconds": t1 - t0}


def excel_openpyxl(a) -> dict:
    from openpyxl import load_workbook

    from bench.data import excel_file

    path = excel_file(a.rows, a.data)
    t0 = time.perf_counter()
    wb = load_workbook(path, read_only=True)
    ws = wb.worksheets[0]
    n = -1  # the header row
    for _row in ws.iter_rows(values_only=True):
        n += 1
    wb.close()
    t1 = time.perf_counter()
    return {"rows": n, "seconds": t1 - t0}


def csv_ours(a) -> dict:
    from migration_kit.providers.registry import get_provider_type

    path = a.data / "sales_invoices.csv"
    pt = get_provider_type("csv")
    params = pt.detect(path, {})
    schema = pt.read_schema(path, params)
    t0 = time.perf_counter()
    n = sum(len(b) for b in pt.read_batches(path, params, schema))
    t1 = time.perf_counter()
    return {"rows": n, "seconds": t1 - t0}


def csv_pandas(a) -> dict:
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_csv(a.data / "sales_invoices.csv")
    t1 = time.perf_counter()
    return {"rows": len(df), "seconds": t1 - t0}


STEPS = {f.__name__: f for f in (setup_import, setup_export, setup_excel, import_ours,
                                  import_pandas, import_floor, export_ours, export_pandas, excel_ours,
                                  excel_openpyxl, csv_ours, csv_pandas)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.case")
    ap.add_argument("step", choices=sorted(STEPS))
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--result", type=Path, required=True)
    ap.add_argument("--db-url", default=None)
    ap.add_argument("--rows", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args(argv)
    if a.step.startswith(("import", "export")) or a.step.startswith("setup_"):
        import os

        os.environ.setdefault("MIGRATION_KIT_PROGRESS", "0")
    sampler = TreeSampler() if Path("/proc/self/task").is_dir() else None
    out = STEPS[a.step](a)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if sampler is not None:
        sampler.stop()
    if a.workers and a.workers > 1:  # the largest worker process this one started
        out["worker_peak_rss_mb"] = round(children, 1)
    elif sampler is not None and sampler.child_kb:
        # prepare's file reader (providers/read_ahead), alive beside this process: its own
        # peak, and the peak of both together (this process's own peak at the least)
        out["reader_peak_rss_mb"] = round(sampler.child_kb / 1024, 1)
        out["tree_peak_rss_mb"] = round(max(sampler.tree_kb / 1024, out["peak_rss_mb"]), 1)
    a.result.write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    main()
