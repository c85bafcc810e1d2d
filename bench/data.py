"""Deterministic synthetic source files for the benchmark (seeded, cached per scale).

At scale 1: 10,000 customers, 5,000 stock items, 20 accounts, and 100,000 sales invoices
with 1,000,000 lines as one flat CSV (the header fields repeated on each line), in the
columns of ``templates/samples/sales_invoices.csv``.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import shutil
from pathlib import Path

SEED = 20240301
INVOICE_HEADER = ["InvoiceNbr", "Customer", "InvoiceDate", "DueDate", "Description", "ItemCode",
                  "LineDescription", "Qty", "UnitPrice", "Discount", "Account"]
CUSTOMER_HEADER = ["CustomerID", "Name", "Class", "Status", "Currency", "Email", "Address",
                   "City", "PostalCode", "Country", "CreditLimit"]
ITEM_HEADER = ["Item", "Description", "Class", "Unit", "Price", "Status"]
ACCOUNT_HEADER = ["Account", "Description", "Type", "Active"]

CURRENCIES = ["NOK", "SEK", "EUR", "DKK", "GBP"]
COUNTRIES = ["NO", "SE", "DE", "DK", "GB"]
CITIES = ["Bergen", "Oslo", "Uppsala", "Berlin", "Aarhus", "Leeds", "Tromsø", "Malmö"]
UNITS = ["PCS", "KG", "BOX", "HOUR", "L"]
WORDS = ["salmon", "cod", "bread", "coffee", "paper", "consulting", "freight", "oven",
         "timber", "fillet", "beans", "box", "service", "délivery", "Ærlig", "spare part"]
INCOME_ACCOUNTS = [str(3000 + 10 * i) for i in range(10)]
OTHER_ACCOUNTS = [("1500", "Asset"), ("1920", "Asset"), ("2400", "Liability"),
                  ("4000", "Expense"), ("6800", "Expense")]


def sizes(scale: float) -> dict[str, int]:
    """Row counts at ``scale`` (masters never below a few dozen)."""
    invoices = max(2, round(100_000 * scale))
    return {"customers": max(50, round(10_000 * scale)),
            "items": max(30, round(5_000 * scale)),
            "invoices": invoices,
            "lines": max(invoices, round(1_000_000 * scale)),
            "excel_rows": max(20, round(200_000 * scale))}


def _write(path: Path, header: list[str], rows) -> int:
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(r)
            n += 1
    tmp.replace(path)
    return n


def customers(n: int):
    rng = random.Random(SEED + 1)
    for i in range(1, n + 1):
        k = rng.randrange(len(CURRENCIES))
        yield (f"C{i:06d}", f"Customer {i} {rng.choice(WORDS).title()} AS", rng.choice(
            ["DOMESTIC", "EXPORT"]), "Active", CURRENCIES[k], f"post{i}@example.com",
            f"Street {rng.randrange(1, 200)}", rng.choice(CITIES), f"{rng.randrange(1000, 9999)}",
            COUNTRIES[k], str(rng.randrange(0, 100) * 1000))


def items(n: int):
    rng = random.Random(SEED + 2)
    for i in range(1, n + 1):
        yield (f"ITEM-{i:05d}", f"{rng.choice(WORDS).title()} {i}", rng.choice(
            ["FOOD", "OFFICE", "SERVICE"]), rng.choice(UNITS),
            f"{rng.randrange(100, 200000) / 100:.2f}", "Active")


def accounts():
    for a in INCOME_ACCOUNTS:
        yield (a, f"Sales {a}", "Income", "true")
    for a, t in OTHER_ACCOUNTS:
        yield (a, f"Account {a}", t, "true")


def line_counts(invoices: int, lines: int) -> list[int]:
    """Lines per invoice (1 to 2 x average - 1), summing to exactly ``lines``."""
    rng = random.Random(SEED + 3)
    base, extra = divmod(lines, invoices)
    counts = [base] * invoices
    for i in range(extra):
        counts[i] += 1
    if base > 1:  # vary in pairs, so the sum stays the same
        for i in range(0, invoices - 1, 2):
            d = rng.randint(-(base - 1), base - 1)
            counts[i] += d
            counts[i + 1] -= d
    return counts


def invoice_lines(n_invoices: int, n_lines: int, n_customers: int, n_items: int):
    rng = random.Random(SEED + 4)
    start = dt.date(2023, 1, 1)
    for i, count in enumerate(line_counts(n_invoices, n_lines), start=1):
        date = start + dt.timedelta(days=rng.randrange(0, 700))
        due = date + dt.timedelta(days=rng.choice([14, 30, 45]))
        head = (f"INV-{i:07d}", f"C{rng.randrange(1, n_customers + 1):06d}", date.isoformat(),
                due.isoformat(), f"Invoice {i} {rng.choice(WORDS)}")
        account = rng.choice(INCOME_ACCOUNTS)
        for _ in range(count):
            item = rng.randrange(0, n_items + 1)
            yield (*head, f"ITEM-{item:05d}" if item else "", f"{rng.choice(WORDS)} line",
                   str(rng.randrange(1, 50)) if rng.random() < 0.8 else
                   f"{rng.randrange(1, 5000) / 100:.2f}",
                   f"{rng.randrange(100, 500000) / 100:.2f}",
                   rng.choice(["0", "0", "0", "5", "10", "12.5"]), account)


def generate(scale: float, root: Path) -> dict[str, Path]:
    """Write (or reuse) the CSV files for ``scale`` under ``root``; returns their paths."""
    n = sizes(scale)
    folder = root / f"data-{scale:g}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}.csv"
             for name in ("customers", "stock_items", "accounts", "sales_invoices")}
    done = folder / "DONE"
    if done.exists():
        return paths
    _write(paths["customers"], CUSTOMER_HEADER, customers(n["customers"]))
    _write(paths["stock_items"], ITEM_HEADER, items(n["items"]))
    _write(paths["accounts"], ACCOUNT_HEADER, accounts())
    _write(paths["sales_invoices"], INVOICE_HEADER,
           invoice_lines(n["invoices"], n["lines"], n["customers"], n["items"]))
    done.write_text(repr(n), encoding="utf-8")
    return paths


def excel_file(rows: int, root: Path) -> Path:
    """A workbook of ``rows`` invoice lines (written once with openpyxl write-only)."""
    from openpyxl import Workbook

    path = root / f"invoices-{rows}.xlsx"
    if path.exists():
        return path
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Invoices")
    ws.append(INVOICE_HEADER)
    n_lines = rows
    for r in invoice_lines(max(1, rows // 10), n_lines, 10_000, 5_000):
        inv, cust, date, due, desc, item, ldesc, qty, price, disc, acc = r
        ws.append([inv, cust, dt.date.fromisoformat(date), dt.date.fromisoformat(due), desc,
                   item or None, ldesc, float(qty), float(price), float(disc), int(acc)])
    tmp = path.with_name(path.name + ".tmp.xlsx")
    wb.save(tmp)
    tmp.replace(path)
    return path


def shuffled(src: Path, out: Path) -> Path:
    """A copy of the files of ``src`` in ``out`` with the invoice lines in a seeded random
    order. Run in its own process (``python -m bench.data shuffle SRC OUT``): holding the
    file in memory here would raise the peak RSS every later step inherits."""
    if (out / "DONE").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for f in src.glob("*.csv"):
        if f.name != "sales_invoices.csv":
            shutil.copy(f, out / f.name)
    head, *lines = (src / "sales_invoices.csv").read_text(encoding="utf-8").splitlines()
    random.Random(16).shuffle(lines)
    (out / "sales_invoices.csv").write_text("\n".join([head, *lines]) + "\n", encoding="utf-8")
    (out / "DONE").write_text("shuffled\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["shuffle"]:
        shuffled(Path(sys.argv[2]), Path(sys.argv[3]))
