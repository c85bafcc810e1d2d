"""The two export engines give the same results: ``engine: columns`` (the bulk path,
migration_kit/engine/export_columns.py) against ``engine: rows`` (the reference path).

Hypothesis fills the ERP's sales invoices (documents with 0..n lines, empty values,
decimals of every scale, dates, non-ASCII text, text starting with ``=``, ``+``, ``-``,
``@``, quotes, delimiters and line breaks, account numbers that do not fit the file's
integer column) and exports them through both engines to CSV, Excel and XML, with plain
mappings, a formula that fails on some rows, a constant and restrictions: the prepare
summaries, the prepared records and lines, the export summaries (rows, failures and their
errors) and the files are the same (CSV and XML byte for byte, Excel cell by cell with
each cell's type). Each is run twice: an export that prepares first (the bulk path in one
pass), then, with the first record made inactive, an export from the prepared data.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from migration_kit import api, db
from migration_kit.engine import export_columns
from migration_kit.errors import MigrationError
from migration_kit.scenarios.conditions import Restriction
from migration_kit.scenarios.model import MappingLine, Scenario

from ..helpers import INVOICE_MAP as CSV_MAP
from ..helpers import INVOICE_XML_MAP as XML_MAP
from ..helpers import SAMPLES, invoices_xlsx

FORMATS = ("csv", "excel", "xml")
# the mapping's variations: plain lines only; a formula that fails for big quantities
# whose line description is no number, a constant, and a column mapped twice (the last
# line wins)
FORMULA = "=IIf([Line.Quantity] > 500, CDec([Line.Description]), [Line.Quantity] * 2)"
RESTRICTIONS = {
    "none": [],
    "doc_type": [Restriction("Document.DocType", "equals", ["Invoice"])],
    "line": [Restriction("Line.Quantity", "greater", ["0"]),
             Restriction("Document.Description", "starts_with", ["a"], op="or")],
}




def setup_providers(ws, tmp: Path) -> None:
    api.add_provider(ws, "out_csv", SAMPLES / "sales_invoices.csv")
    api.add_provider(ws, "out_excel", invoices_xlsx(tmp / "sales_invoices.xlsx"))
    api.add_provider(ws, "out_xml", SAMPLES / "sales_invoices.xml")


def save_scenarios(ws, fmt: str, mapping: str, restrictions: str,
                   neutralise: bool = True) -> None:
    base = XML_MAP if fmt == "xml" else CSV_MAP
    lines = [MappingLine(target=t, source=s) for t, s in base.items()]
    if mapping == "formula":
        qty, desc, item = (("InvoiceLine.Quantity", "InvoiceLine.Description",
                            "InvoiceLine.ItemCode") if fmt == "xml"
                           else ("Qty", "LineDescription", "ItemCode"))
        lines += [MappingLine(target=qty, source=FORMULA),
                  MappingLine(target=desc, constant="=fixed"),
                  MappingLine(target=item, source="Document.CurrencyID")]
    for engine in ("rows", "columns"):
        api.save_scenario(ws, Scenario(
            name=f"{fmt}_{engine}", kind="export", window="AR301000", provider=f"out_{fmt}",
            mapping=lines, restrictions=RESTRICTIONS[restrictions],
            options={"engine": engine, "neutralise_formulas": neutralise}))


def fill_erp(ws, docs: list[dict]) -> None:
    doc_t = ws.store.tables[("AR301000", "Document")]
    line_t = ws.store.tables[("AR301000", "Line")]
    with ws.transaction() as conn:
        conn.execute(delete(line_t))
        conn.execute(delete(doc_t))
        for i, d in enumerate(docs, 1):
            lines = d.pop("lines")
            conn.execute(insert(doc_t), [{"_id": i, **d}])
            if lines:
                conn.execute(insert(line_t), [{"_doc_id": i, "LineNbr": n, **ln}
                                              for n, ln in enumerate(lines, 1)])


def prepared(ws, name: str) -> tuple[list, list]:
    pr, pl = db.prepared_record, db.prepared_line
    with ws.connect() as conn:
        recs = [tuple(r) for r in conn.execute(
            select(pr.c.record_no, pr.c.first_line, pr.c.last_line, pr.c.key, pr.c.active,
                   pr.c.processed, pr.c.error, pr.c.error_field)
            .where(pr.c.scenario == name).order_by(pr.c.record_no))]
        lines = [tuple(r) for r in conn.execute(
            select(pl.c.line_no, pl.c.record_no, pl.c.source_line, pl.c.data)
            .where(pl.c.scenario == name).order_by(pl.c.line_no))]
    return recs, lines


def file_content(fmt: str, path: str) -> object:
    if fmt == "excel":
        wb = openpyxl.load_workbook(path)
        try:
            return [[(c.value, c.data_type) for c in row] for row in wb.active.iter_rows()]
        finally:
            wb.close()
    return Path(path).read_bytes()  # CSV and XML: byte for byte


def outcome(ws, fmt: str, engine: str, **kw) -> tuple:
    """An export's summary, prepared data and file (or its error)."""
    name = f"{fmt}_{engine}"
    try:
        s = api.export(ws, name, progress=False, **kw)
    except MigrationError as e:
        return ("error", type(e).__name__, str(e), prepared(ws, name))
    return (s.rows, s.failed, s.errors, prepared(ws, name), file_content(fmt, s.path))


def compare(ws, fmt: str) -> None:
    for engine in ("rows", "columns"):
        api.rollback(ws, f"{fmt}_{engine}")
    first = [outcome(ws, fmt, e) for e in ("rows", "columns")]
    assert first[1] == first[0]
    if first[0][0] == "error":
        return
    # an export from the prepared data, with the first record inactive
    for engine in ("rows", "columns"):
        if first[0][3][0]:
            api.set_active(ws, f"{fmt}_{engine}", 1, False)
    second = [outcome(ws, fmt, e, prepare_first=False) for e in ("rows", "columns")]
    assert second[1] == second[0]
    # prepare on its own: the same summaries
    p = [api.prepare_export(ws, f"{fmt}_{e}", progress=False) for e in ("rows", "columns")]
    assert {**p[0].to_dict(), "scenario": ""} == {**p[1].to_dict(), "scenario": ""}


# -- data ------------------------------------------------------------------------------
TRICKY = ["=SUM(A1:A2)", "+1", "-5", "-x", "@cmd", "\tTab", "=1+2", " =lead", "'quoted",
          'say "hi"', "a,b", "a;b", "line\nbreak", "cr\rlf", "ñøå €", "日本", "#DIV/0!",
          "3000", "  ", "", "1.50", "007"]
texts = st.one_of(st.none(), st.sampled_from(TRICKY),
                  st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12))
short = st.one_of(st.none(), st.sampled_from(["C001", "=C", "ñ", "", "a,b"]),
                  st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=5))
dates = st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)))


def decimals(scale: int, digits: int = 8):
    return st.one_of(st.none(), st.integers(-10 ** digits, 10 ** digits).map(
        lambda n: Decimal(n).scaleb(-scale)), st.sampled_from(
        [Decimal(0), Decimal("-0.5"), Decimal("1000")]))


line = st.fixed_dictionaries({
    "InventoryID": short, "Description": texts,
    "Quantity": st.one_of(decimals(4), st.sampled_from([Decimal("501"), Decimal("2.5")])),
    "UnitPrice": decimals(4), "DiscountPercent": decimals(2, 4),
    "AccountID": st.one_of(st.none(), st.sampled_from(["3000", "3100", "x1", "-7", "+12"]),
                           short),
})


@st.composite
def documents(draw):
    n = draw(st.integers(0, 6))
    out = []
    for i in range(n):
        out.append({
            "DocType": draw(st.sampled_from(["Invoice", "CreditNote"])),
            "ReferenceNbr": f"{draw(st.sampled_from(['INV-', '=R', 'ñ', '+', 'a,']))}{i}",
            "CustomerID": draw(short), "Date": draw(dates), "DueDate": draw(dates),
            "CurrencyID": draw(st.sampled_from([None, "NOK", "=X", ""])),
            "Description": draw(texts), "ExternalRef": draw(short),
            "lines": draw(st.lists(line, max_size=4)),
        })
    return out


def export_workspace(tmp: Path):
    """A workspace with the CSV, Excel and XML providers the export scenarios write."""
    w = api.init_workspace(tmp / "ws")
    setup_providers(w, tmp)
    return w


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = export_workspace(tmp_path_factory.mktemp("export_engines"))
    yield w
    w.dispose()


def tricky_documents() -> list[dict]:
    """Every tricky text, as a document's description and as its lines' texts."""
    return [{"DocType": "Invoice", "ReferenceNbr": f"T{i}", "CustomerID": text,
             "Date": dt.date(2024, 1, 31), "DueDate": None, "CurrencyID": "NOK",
             "Description": text, "ExternalRef": None,
             "lines": [{"InventoryID": text, "Description": text, "Quantity": q,
                        "UnitPrice": Decimal("0.0001"), "DiscountPercent": None,
                        "AccountID": a} for q, a in ((Decimal("-0.5"), "3000"),
                                                     (Decimal("501"), text))][:i % 3]}
            for i, text in enumerate(TRICKY)]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@example(docs=tricky_documents(), fmt="csv", mapping="plain", restrictions="none",
         neutralise=True)
@example(docs=tricky_documents(), fmt="excel", mapping="formula", restrictions="none",
         neutralise=True)
@example(docs=tricky_documents(), fmt="xml", mapping="formula", restrictions="line",
         neutralise=True)
@example(docs=tricky_documents(), fmt="csv", mapping="formula", restrictions="doc_type",
         neutralise=False)
@given(docs=documents(), fmt=st.sampled_from(FORMATS),
       mapping=st.sampled_from(["plain", "formula"]),
       restrictions=st.sampled_from(sorted(RESTRICTIONS)), neutralise=st.booleans())
def test_engines_agree(ws, docs, fmt, mapping, restrictions, neutralise):
    fill_erp(ws, docs)
    save_scenarios(ws, fmt, mapping, restrictions, neutralise)
    compare(ws, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_engines_agree_on_many_documents(ws, fmt):
    """Batches of whole documents: more rows than one read batch, a document across the
    boundary of a fetch."""
    docs = [{"DocType": "Invoice", "ReferenceNbr": f"R{i}", "CustomerID": f"C{i % 7}",
             "Date": dt.date(2024, 1, 1) + dt.timedelta(days=i % 40), "DueDate": None,
             "CurrencyID": "NOK", "Description": ["=x", "plain", None][i % 3],
             "ExternalRef": None,
             "lines": [{"InventoryID": None, "Description": f"l{j}",
                        "Quantity": Decimal(j) / 4, "UnitPrice": Decimal(i * 7 + j) / 100,
                        "DiscountPercent": Decimal(j), "AccountID": "3000" if j else "x"}
                       for j in range(i % 5)]}
            for i in range(700)]
    fill_erp(ws, docs)
    save_scenarios(ws, fmt, "formula", "line")
    old = export_columns.READ_BATCH
    export_columns.READ_BATCH = 97
    try:
        compare(ws, fmt)
    finally:
        export_columns.READ_BATCH = old


def test_columns_engine_is_the_default_and_rows_falls_back(ws):
    """The default runs the bulk path; a target that is no column of the provider (or a
    database the bulk read does not know) runs the reference path."""
    save_scenarios(ws, "csv", "plain", "none")
    assert export_columns.unsupported(ws, api.load_scenario(ws, "csv_columns")) is None
    sc = api.load_scenario(ws, "csv_columns")
    sc.mapping.append(MappingLine(target="NoSuchColumn", source="Document.Description"))
    assert "target" in export_columns.unsupported(ws, sc)


@pytest.mark.postgres
def test_engines_agree_on_postgres(tmp_path, pg_server):
    """The server-side cursor and COPY on PostgreSQL: the same results as the row path."""
    import uuid

    w = api.init_workspace(tmp_path / "ws",
                           db_url=pg_server.create_database(f"t_{uuid.uuid4().hex[:12]}"))
    try:
        setup_providers(w, tmp_path)
        docs = [{"DocType": "Invoice", "ReferenceNbr": f"=R{i}", "CustomerID": "ñ",
                 "Date": dt.date(2024, 2, 1 + i), "DueDate": None, "CurrencyID": None,
                 "Description": "a,b\n\"c\"" if i % 2 else None, "ExternalRef": None,
                 "lines": [{"InventoryID": "I", "Description": "d", "Quantity": Decimal(j * 300),
                            "UnitPrice": Decimal("1.2345"), "DiscountPercent": Decimal("2.5"),
                            "AccountID": "3000" if j != 2 else "bad"} for j in range(i % 4)]}
                for i in range(20)]
        fill_erp(w, docs)
        for fmt in FORMATS:
            save_scenarios(w, fmt, "formula", "doc_type")
            compare(w, fmt)
    finally:
        w.dispose()

