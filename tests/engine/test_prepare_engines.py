"""The two prepare engines give the same prepared data (issue 16).

``engine: rows`` (prepare.py's row path) is the reference; ``engine: columns`` (the
default, prepare_columns.py) works a provider batch at a time. Generated CSV files (keys
repeated adjacent and not, blank and bad keys, continuation rows, restrictions, non-ASCII
text, blank lines, line breaks inside fields, small provider batches so records cross
batch boundaries) go through both; the prepared records and lines, as stored (raw SQL, so
a JSON ``null`` and a SQL NULL differ), the summary, and any error must be the same.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from contextlib import contextmanager
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from migration_kit import api
from migration_kit.engine import sources
from migration_kit.errors import MigrationError

from ..helpers import load_master
from .shapes import invoice_rows

COLUMNS = ["InvoiceNbr", "DocType", "Customer", "InvoiceDate", "DueDate", "Description",
           "ItemCode", "LineDescription", "Qty", "UnitPrice", "Discount", "Account"]
SUMMARY = COLUMNS[:6]
TARGETS = {"InvoiceNbr": "Document.ReferenceNbr", "Customer": "Document.CustomerID",
           "InvoiceDate": "Document.Date", "DueDate": "Document.DueDate",
           "Description": "Document.Description", "ItemCode": "Line.InventoryID",
           "LineDescription": "Line.Description", "Qty": "Line.Quantity",
           "UnitPrice": "Line.UnitPrice", "Discount": "Line.DiscountPercent",
           "Account": "Line.AccountID"}

NUMBERS = ["INV-1", "INV-2", "Ærø-3", "ĳ-4", "INV-5", " INV-1 ", "", "  "]  # padded: INV-1
DATES = ["2024-03-01", "2024-3-1", "2024-03-02", "2024-02-30", "not a date", ""]
DOC_TYPES = ["Invoice", "CreditNote", "bogus", ""]
CUSTOMERS = ["C001", "C002", "Ørsted", "", "NULL"]
TEXTS = ["plain", "æøå ĳ 😀", 'quote " and, comma', "two\nlines", "", "  x  "]
QTYS = ["1", "2.5", "3", "x", "", "-1"]

KEY_SETS = [
    ["Document.ReferenceNbr"],
    ["Document.ReferenceNbr", "Document.Date"],  # the mapping's order: keys are identity
    ["Document.Date", "Document.ReferenceNbr"],  # another order than the mapping's
    ["Document.DocType", "Document.ReferenceNbr"],
    [],  # no keys: every row a record; identity from the window's keys
]
RESTRICTIONS = [
    [],
    [{"field": "Qty", "condition": "greater", "value": 2}],
    [{"field": "Customer", "condition": "equals", "value": "C001"},
     {"field": "Customer", "condition": "is_empty", "op": "or"}],
    [{"field": "Description", "condition": "contains", "value": "ÆØ"},
     {"field": "Qty", "condition": "less", "value": 3, "op": "or", "active": False}],
    [{"field": "InvoiceDate", "condition": "between", "values": ["2024-03-01", "2024-03-31"],
      "open": 1}, {"field": "Qty", "condition": "not_equals", "value": "x", "op": "or",
                   "close": 1}, {"field": "InvoiceNbr", "condition": "is_not_empty"}],
    [{"field": "InvoiceNbr", "condition": "in", "values": ["INV-1", "Ærø-3", ""]}],
]

_names = itertools.count()


# -- files and scenarios ---------------------------------------------------------------
def random_rows(rng: random.Random, n: int, n_keys: int, p_bad: float, p_cont: float
                ) -> list[dict]:
    """``n`` rows over ``n_keys`` invoice numbers (so keys repeat, adjacent or not), some
    cells bad or blank with probability ``p_bad``, some continuation rows (``p_cont``)."""
    def pick(good: list[str], bad: list[str]) -> str:
        return rng.choice(bad if rng.random() < p_bad else good)

    numbers = rng.sample(NUMBERS[:5], min(n_keys, 5))
    rows = []
    for _ in range(n):
        nbr = pick(numbers, NUMBERS[5:])
        if rows and rng.random() < 0.5:
            nbr = rows[-1]["InvoiceNbr"]  # runs of adjacent rows
        shape = "row"
        if rows and rng.random() < p_cont:
            shape = "contradict" if rng.random() < 0.2 else "continue"
        rows.append({
            "InvoiceNbr": nbr, "DocType": pick(DOC_TYPES[:2], DOC_TYPES[2:]),
            "Customer": pick(CUSTOMERS[:3], CUSTOMERS[3:]),
            "InvoiceDate": pick(DATES[:3], DATES[3:]), "DueDate": pick(DATES[:3], DATES[3:]),
            "Description": rng.choice(TEXTS), "ItemCode": pick(["FISH-01"], ["", "Ünknown"]),
            "LineDescription": rng.choice(TEXTS), "Qty": pick(QTYS[:3], QTYS[3:]),
            "UnitPrice": pick(["10.00"], ["1,5", ""]), "Discount": "0", "Account": "3000",
            "shape": shape})
    return rows


def csv_text(rows: list[dict], blank_lines: list[int], ragged: int | None) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for i, r in enumerate(rows):
        for _ in range(blank_lines.count(i)):
            out.write("\r\n")
        values = [r[c] for c in COLUMNS]
        if r["shape"] != "row":
            values[:2] = ["", ""]
            values[3:6] = ["", "", ""]
            if r["shape"] == "continue":
                values[2] = ""
        if ragged == i:
            values.append("extra")
        w.writerow(values)
    return out.getvalue()


def scenario_yaml(name: str, keys: list[str], restrictions: list, options: dict,
                  formula: bool, doc_type: bool) -> dict:
    mapping = [{"target": t, "source": s} for s, t in TARGETS.items()]
    if formula:  # a key read by a formula from two columns
        mapping[0] = {"target": "Document.ReferenceNbr",
                      "source": "=Trim([InvoiceNbr]) & IIf(IsNull([Customer], '') = '', '', "
                                "'/' & [Customer])"}
    if doc_type or "Document.DocType" in keys:
        mapping.insert(1, {"target": "Document.DocType", "source": "DocType"})
    return {"name": name, "kind": "import", "window": "AR301000", "provider": name,
            "options": {"break_on_error": True, "mode": "insert", **options},
            "keys": keys, "mapping": [*mapping, {"action": "Save"}],
            "restrictions": restrictions}


def write_scenario(ws, d: dict) -> None:
    ws.path("scenarios", f"{d['name']}.yaml").write_text(
        yaml.safe_dump(d, sort_keys=False, allow_unicode=True), encoding="utf-8")


def set_options(ws, name: str, **options) -> None:
    p = ws.path("scenarios", f"{name}.yaml")
    d = yaml.safe_load(p.read_text(encoding="utf-8"))
    d.setdefault("options", {}).update(options)
    p.write_text(yaml.safe_dump(d, sort_keys=False, allow_unicode=True), encoding="utf-8")


@contextmanager
def batch_size(n: int):
    """Provider batches of ``n`` rows, so records cross batch boundaries."""
    with mock.patch.object(sources.SingleObject, "batch_size", n):
        yield


# -- what a prepare left ---------------------------------------------------------------
def stored(ws, name: str) -> dict:
    """The prepared data as stored: raw SQL, no column types in between."""
    with ws.db_engine.connect() as c:
        p = {"s": name}
        return {
            # the JSON columns as text too: PostgreSQL's driver reads a JSON null and a
            # SQL NULL both as None
            "records": [tuple(r) for r in c.execute(text(
                "SELECT *, CAST(key AS TEXT), CAST(result AS TEXT) FROM mk_prepared_record "
                "WHERE scenario = :s ORDER BY record_no"), p)],
            "lines": [tuple(r) for r in c.execute(text(
                "SELECT * FROM mk_prepared_line WHERE scenario = :s ORDER BY line_no"), p)],
        }


def run(ws, name: str, engine: str, size: int) -> dict:
    set_options(ws, name, engine=engine)
    with batch_size(size):
        try:
            s = api.prepare(ws, name, progress=False)
        except MigrationError as e:
            return {"error": (type(e).__name__, str(e)), **stored(ws, name)}
    return {"summary": s.to_dict(), "text": str(s), **stored(ws, name)}


def assert_same(ws, name: str, size: int) -> dict:
    rows = run(ws, name, "rows", size)
    columns = run(ws, name, "columns", size)
    assert columns == rows
    return rows


# -- the properties ----------------------------------------------------------------------
@settings(max_examples=70, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), n=st.integers(1, 60), n_keys=st.integers(1, 5),
       p_bad=st.sampled_from([0.0, 0.05, 0.3]), p_cont=st.sampled_from([0.0, 0.3, 0.6]),
       blank_lines=st.lists(st.integers(0, 40), max_size=4),
       ragged=st.one_of(st.none(), st.integers(0, 200)),
       keys=st.sampled_from(KEY_SETS),
       restrictions=st.sampled_from([[], [], *RESTRICTIONS]),
       grouping=st.sampled_from(["key", "consecutive"]), continuation=st.booleans(),
       formula=st.booleans(), doc_type=st.booleans(),
       size=st.sampled_from([1, 2, 3, 7, 5000]))
def test_both_engines_prepare_the_same(sqlite_workspace, tmp_path, seed, n, n_keys, p_bad,
                                       p_cont, blank_lines, ragged, keys, restrictions, grouping, continuation,
                                       formula, doc_type, size):
    ws = sqlite_workspace
    rows = random_rows(random.Random(seed), n, n_keys, p_bad, p_cont)
    name = f"gen{next(_names)}"
    if ragged is not None and ragged >= 4 * len(rows):
        ragged = None  # mostly files that read
    file = tmp_path / f"{name}.csv"
    file.write_text(csv_text(rows, blank_lines, ragged), encoding="utf-8")
    try:
        api.add_provider(ws, name, file)
    except MigrationError as e:
        event(f"refused: {str(e)[:60]}")
        return  # a file the provider refuses (a ragged first row): nothing to prepare
    options = {"grouping": grouping}
    if continuation and keys:
        options["continuation_rows"] = True
    write_scenario(ws, scenario_yaml(name, keys, restrictions, options, formula, doc_type))
    out = assert_same(ws, name, size)
    if ragged is None:
        assert "error" not in out, out.get("error")
    _events(out, size)


def _events(out: dict, size: int) -> None:
    """What an example covered (pytest --hypothesis-show-statistics)."""
    if "error" in out:
        event("the file is refused")
        return
    s = out["summary"]
    for what, yes in (("gathered", s["gathered"]), ("errors", s["errors"]),
                      ("filtered", s["filtered_out"]),
                      ("a record over a batch boundary", size < 5000 and any(
                          (r[2] - 1) // size != (r[3] - 1) // size for r in out["records"]))):
        event(f"{what}: {'yes' if yes else 'no'}")


def _v2(rows: list[list[str]], rng: random.Random) -> list[list[str]]:
    """A re-dropped file: some rows changed, some left out, new ones, a different order."""
    out = [r[:] for r in rows if rng.random() > 0.1]
    for r in out:
        if rng.random() < 0.15:
            r[7] = str(rng.randint(1, 9))
    out += invoice_rows(4, rng, prefix="NW")
    rng.shuffle(out)
    return out


def _write_invoices(path, rows: list[list[str]]):
    from .shapes import write_csv

    return write_csv(path, rows)


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), mode=st.sampled_from(["insert", "upsert"]),
       grouping=st.sampled_from(["key", "consecutive"]), size=st.sampled_from([3, 5000]))
def test_both_engines_match_the_ledger_the_same(sqlite_workspace, tmp_path, seed, mode,
                                                grouping, size):
    """A version imported, a second one dropped: imported before, changed, to update."""
    ws = sqlite_workspace
    if not list(api.list_documents(ws, "AR303000")):
        load_master(ws)
    n = next(_names)
    name = f"led{n}"
    rng = random.Random(seed)
    v1 = invoice_rows(12, rng, prefix=f"L{n}")
    rng.shuffle(v1)
    from ..helpers import INVOICE_MAP

    api.create_simplified(ws, name, _write_invoices(tmp_path / f"{name}-1.csv", v1),
                          "AR301000", INVOICE_MAP, ["Document.ReferenceNbr"],
                          options={"grouping": grouping, "mode": mode})
    with batch_size(size):
        api.prepare(ws, name, progress=False)
        api.import_(ws, name, progress=False, continue_on_error=True)
        # the same version again: already imported from this version
        out = assert_same(ws, name, size)
        assert out["summary"]["already_processed"] > 0
        api.upload_version(ws, name, _write_invoices(tmp_path / f"{name}-2.csv",
                                                     _v2(v1, rng)))
        out = assert_same(ws, name, size)
    assert out["summary"]["already_processed"] + out["summary"]["to_update"] > 0


@pytest.mark.parametrize("size", [2, 5000])
def test_both_engines_on_each_database(workspace, tmp_path, size):
    """A fixed shuffled file with every shape, on SQLite and PostgreSQL (COPY)."""
    rows = random_rows(random.Random(16), 150, 4, 0.1, 0.3)
    random.Random(17).shuffle(rows)
    file = tmp_path / "fixed.csv"
    file.write_text(csv_text(rows, [3, 3, 50], None), encoding="utf-8")
    for i, (keys, cont, restr) in enumerate([
            (KEY_SETS[0], True, RESTRICTIONS[0]), (KEY_SETS[2], False, RESTRICTIONS[4]),
            (KEY_SETS[4], False, RESTRICTIONS[2])]):
        name = f"fixed{i}"
        api.add_provider(ws := workspace, name, file)
        options = {"grouping": "key", **({"continuation_rows": True} if cont else {})}
        write_scenario(ws, scenario_yaml(name, keys, restr, options, False, True))
        out = assert_same(ws, name, size)
        assert "error" not in out and out["lines"]


@pytest.mark.parametrize("size", [2, 3])
def test_keys_that_come_back_after_a_sorted_start(workspace, tmp_path, size):
    """A file sorted at first (the columns engine stops remembering the keys it wrote and
    asks the database, only for keys within the range of those written), then keys that
    come back: the least written so far, the greatest, one between, and keys below and
    above the range. The columns engine writes each key's record once (``grouping.gather``
    afterwards would merge a second one, so the outcome alone cannot tell), and both
    engines give the same prepared data; on SQLite and PostgreSQL."""
    from migration_kit.engine import prepare_columns

    rng = random.Random(5)
    base = random_rows(rng, 1, 1, 0.0, 0.0)[0]
    order = [f"K{i:02d}" for i in range(10, 30)]  # sorted: nothing comes back at first
    order += ["K10", "K29", "K17", "K05", "K40", "K10", "K05", "K29", "K40"]
    rows = [{**base, "InvoiceNbr": k, "LineDescription": f"line {i}"}
            for i, k in enumerate(order)]
    file = tmp_path / "sorted_then_back.csv"
    file.write_text(csv_text(rows, [], None), encoding="utf-8")
    name = f"back{size}"
    api.add_provider(workspace, name, file)
    write_scenario(workspace, scenario_yaml(name, KEY_SETS[0], [], {"grouping": "key"},
                                            False, False))
    writers = []
    real = prepare_columns._Writer.finish

    def finish(self, conn):
        writers.append(self)
        return real(self, conn)

    with mock.patch.object(prepare_columns._Writer, "finish", finish):
        out = assert_same(workspace, name, size)
    assert "error" not in out
    (w,) = writers
    assert w.known is None, "the columns engine never asked the database"
    assert w.records == len(set(order)) == 22  # each key's record written once
    assert len(out["records"]) == 22 and len(out["lines"]) == len(order)
