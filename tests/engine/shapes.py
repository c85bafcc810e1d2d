"""Sales invoice files in the shapes customers send: lines of one document spread through
the file, continuation rows, re-dropped versions. Each row carries a unique line
description, so a test can follow every row to its document (or its error)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

HEADER = ["InvoiceNbr", "Customer", "InvoiceDate", "DueDate", "Description", "ItemCode",
          "LineDescription", "Qty", "UnitPrice", "Discount", "Account"]
CUSTOMERS = ["C001", "C002", "C003", "C004", "C006"]
ITEMS = ["FISH-01", "FISH-02", "BREAD-01", "COFFEE-01", "PAPER-01"]


def invoice_rows(n_orders: int, rng: random.Random, prefix: str = "SO",
                 max_lines: int = 4) -> list[list[str]]:
    """Rows of ``n_orders`` invoices, in order: each invoice's lines together."""
    rows = []
    for i in range(1, n_orders + 1):
        nbr = f"{prefix}-{i:04d}"
        cust = rng.choice(CUSTOMERS)
        day = rng.randint(1, 28)
        for j in range(1, rng.randint(1, max_lines) + 1):
            rows.append([nbr, cust, f"2024-03-{day:02d}", f"2024-04-{day:02d}",
                         f"order {nbr}", rng.choice(ITEMS), f"{nbr}/{j}",
                         str(rng.randint(1, 20)), f"{rng.randint(10, 500)}.00", "0", "3000"])
    return rows


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def expected_documents(rows: list[list[str]]) -> dict[str, list[str]]:
    """Invoice number -> its line descriptions in file order."""
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(r[6])
    return out


def erp_documents(docs) -> dict[str, list[str]]:
    """What the ERP holds: the document's Description names its invoice number."""
    return {d["Document"]["Description"].removeprefix("order "):
            [ln["Description"] for ln in d["Line"]] for d in docs}
