"""Prepared lines written by SQLite itself (migration_kit/engine/export_sql.py) while the
file is written: the same prepared data and file as the reference path, or, for a value
SQLite would write otherwise, the lines written by Python (and the history says which).

* Each SQL text is checked against Python's text value by value: random doubles in
  decimal columns of every scale (the guard around ``printf``), random dates and text.
* Whole exports against ``engine: rows`` with values the fast texts do not cover
  (control characters, more digits than the column's scale, huge numbers, bad dates).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    insert,
)

from migration_kit import api
from migration_kit.engine import export_sql
from migration_kit.jsonio import value_text

from ..helpers import SAMPLES
from .test_export_engines import (
    CSV_MAP,
    RESTRICTIONS,
    compare,
    documents,
    export_workspace,
    fill_erp,
    prepared,
    save_scenarios,
    tricky_documents,
)


def last_note(ws, name: str) -> str | None:
    """How the last export that prepared first wrote its prepared lines."""
    notes = [r["counts"]["prepared_lines"] for r in api.history_of(ws, name)
             if r["action"] == "prepare" and "prepared_lines" in (r["counts"] or {})]
    return notes[-1] if notes else None


# -- one value at a time ---------------------------------------------------------------
@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A SQLite table of a decimal column per scale, a date and a text column, written
    through SQLAlchemy as the ERP's tables are."""
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('sql') / 'v.sqlite'}")
    md = MetaData()
    cols = [Column(f"n{s}", Numeric(18, s)) for s in (0, 2, 4, 6)]
    t = Table("v", md, Column("id", Integer, primary_key=True), *cols,
              Column("d", Date), Column("t", String(50)))
    md.create_all(engine)
    yield engine, t
    engine.dispose()


def sql_text(engine, t: Table, name: str, value) -> str | None:
    """The SQL text of the stored value, or None where the statement fails on purpose."""
    with engine.begin() as conn:
        conn.execute(t.delete())
        conn.execute(insert(t), [{"id": 1, name: value}])
        expr = export_sql._text(f'"{name}"', t.c[name].type)
        try:
            return conn.exec_driver_sql(f"SELECT {expr} FROM v").scalar()
        except Exception as e:  # noqa: BLE001 - the deliberate failure only
            assert any(m in str(e) for m in export_sql._DELIBERATE), e
            return None


def python_text(engine, t: Table, name: str) -> str:
    with engine.connect() as conn:
        return value_text(conn.execute(t.select()).mappings().one()[name])


doubles = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.floats(-1e12, 1e12),
    st.integers(-10 ** 10, 10 ** 10).map(lambda n: n / 100),
    st.integers(-10 ** 12, 10 ** 12).map(lambda n: n / 10 ** 4),
    st.integers(-10 ** 9, 10 ** 9).map(lambda n: n / 1000 + 0.0005),  # ties, near-ties
    st.sampled_from([0.0, -0.0, 0.125, 2.675, 1.005, 0.3 + 0.1 * 2, 2 ** 53 + 1.0,
                     9007199254740993, -(2 ** 63), 1e15, 5e-05, 1e-07]))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(x=doubles, scale=st.sampled_from([0, 2, 4, 6]))
def test_decimal_text_is_pythons_or_none(scratch, x, scale):
    engine, t = scratch
    name = f"n{scale}"
    got = sql_text(engine, t, name, x)
    if got is not None:
        assert got == python_text(engine, t, name), (x, scale)


def test_decimal_text_covers_the_usual_values(scratch):
    """Values with at most the column's digits (what an import stores) take the SQL text."""
    engine, t = scratch
    for v, name in [(Decimal("864.91"), "n4"), (Decimal("6"), "n4"), (Decimal("-0.5"), "n2"),
                    (Decimal("12345678.1234"), "n4"), (Decimal("0.01"), "n2"),
                    (Decimal("-7"), "n0")]:
        assert sql_text(engine, t, name, v) == python_text(engine, t, name) is not None, v


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(v=st.one_of(st.none(), st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
                   st.text(max_size=12)))
def test_date_and_text_are_pythons(scratch, v):
    engine, t = scratch
    name = "t" if isinstance(v, str) else "d"
    got = sql_text(engine, t, name, v)
    assert got == python_text(engine, t, name)  # never failing: every value has its text


def test_a_bad_stored_date_fails_the_statement(scratch):
    engine, t = scratch
    with engine.begin() as conn:
        conn.execute(t.delete())
        conn.exec_driver_sql("INSERT INTO v (id, d) VALUES (1, '2024-02-30')")
        expr = export_sql._text('"d"', t.c["d"].type)
        with pytest.raises(Exception, match="malformed JSON"):
            conn.exec_driver_sql(f"SELECT {expr} FROM v").scalar()


def test_json_quote_matches_pythons_json_here():
    c = sqlite3.connect(":memory:")
    # every code point of the BMP but surrogates, and some astral ones
    for start in range(0, 0x10000, 4096):
        s = "".join(chr(i) for i in range(start, start + 4096) if not 0xD800 <= i < 0xE000)
        assert c.execute("SELECT json_quote(?)", (s,)).fetchone()[0] == value_text(s)


# -- whole exports ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = export_workspace(tmp_path_factory.mktemp("export_sql"))
    yield w
    w.dispose()


def test_plain_scenario_takes_the_database_path(ws):
    fill_erp(ws, tricky_documents())
    save_scenarios(ws, "csv", "plain", "doc_type")
    compare(ws, "csv")
    assert last_note(ws, "csv_columns") == "written by the database, in a second thread"
    api.prepare_export(ws, "csv_columns", progress=False)  # prepare on its own: the same
    assert last_note(ws, "csv_columns") == "written by the database, in a second thread"


def test_formula_scenario_writes_its_lines_in_python(ws):
    fill_erp(ws, tricky_documents())
    save_scenarios(ws, "csv", "formula", "none")
    compare(ws, "csv")
    assert last_note(ws, "csv_columns") == "written by Python: formulas need Python"


def test_a_value_with_more_digits_than_its_column_is_written_by_python(ws):
    docs = tricky_documents()
    docs[1]["lines"][0]["UnitPrice"] = Decimal("1.23456")  # the column keeps 4 digits
    fill_erp(ws, docs)
    save_scenarios(ws, "csv", "plain", "none")
    compare(ws, "csv")
    assert last_note(ws, "csv_columns").startswith("written by Python: a value the database")


def test_too_many_restricted_values_are_written_by_python(ws, monkeypatch):
    monkeypatch.setattr(export_sql, "MAX_COMBOS", 1)
    fill_erp(ws, tricky_documents())
    save_scenarios(ws, "csv", "plain", "line")
    compare(ws, "csv")
    assert "combinations" in last_note(ws, "csv_columns")


wild_text = st.one_of(st.none(), st.text(max_size=8))  # control characters too
wild_decimal = st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False,
                                                places=6, min_value=-10 ** 12,
                                                max_value=10 ** 12))


@st.composite
def wild_documents(draw):
    docs = draw(documents())
    for d in docs:
        d["Description"] = draw(wild_text)
        for ln in d["lines"]:
            ln["Description"] = draw(wild_text)
            ln["UnitPrice"] = draw(wild_decimal)
    return docs


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@example(docs=tricky_documents(), restrictions="line")
@given(docs=wild_documents(), restrictions=st.sampled_from(["none", "doc_type", "line"]))
def test_database_lines_agree_with_the_reference(ws, docs, restrictions):
    fill_erp(ws, docs)
    save_scenarios(ws, "csv", "plain", restrictions)
    compare(ws, "csv")
    assert last_note(ws, "csv_columns").startswith("written by")


def test_decimal_comma_and_semicolons_agree_with_the_reference(ws, tmp_path):
    """A decimal's CSV text (written by string work from SQLite's raw number) with the
    provider's decimal separator, where it is also the delimiter of another file."""
    from migration_kit.scenarios.model import MappingLine, Scenario

    from ..helpers import INVOICE_MAP

    header = (SAMPLES / "sales_invoices.csv").read_text(encoding="utf-8").splitlines()[0]
    row = ["INV-1", "C1", "2024-03-01", "2024-03-31", "d", "F", "S", "10,5", "189,50", "0,5",
           "3000"]
    for name, sep, delim in (("semi", ",", ";"), ("commas", ",", ",")):
        src = tmp_path / f"{name}.csv"
        quoted = [f'"{v}"' if delim in v else v for v in row]
        src.write_text(header.replace(",", delim) + "\n" + delim.join(quoted) + "\n",
                       encoding="utf-8")
        api.add_provider(ws, f"out_{name}", src, params={
            "delimiter": delim, "decimal_separator": sep, "encoding": "utf-8"})
        for engine in ("rows", "columns"):
            api.save_scenario(ws, Scenario(
                name=f"{name}_{engine}", kind="export", window="AR301000",
                provider=f"out_{name}", options={"engine": engine},
                mapping=[MappingLine(target=t, source=s) for t, s in INVOICE_MAP.items()]))
        docs = tricky_documents()
        docs[0]["lines"] = [{"InventoryID": "I", "Description": "d", "Quantity": q,
                             "UnitPrice": Decimal("1234.5"), "DiscountPercent": Decimal("0"),
                             "AccountID": "3000"}
                            for q in (Decimal("-0.0001"), Decimal("100000"), Decimal("0.5"),
                                      Decimal("-12.25"), Decimal("99999999.9999"))]
        fill_erp(ws, docs)
        compare(ws, name)
        assert last_note(ws, f"{name}_columns") == "written by the database, in a second thread"


def test_a_failing_pass_stops_the_database_and_writes_nothing(ws):
    """A stored date Python cannot read fails the export's pass (as on the reference path):
    the database's statement is stopped, nothing of the prepare is kept, no thread left."""
    import threading

    from sqlalchemy import update

    fill_erp(ws, tricky_documents())
    save_scenarios(ws, "csv", "plain", "none")
    api.rollback(ws, "csv_columns")
    doc_t = ws.store.tables[("AR301000", "Document")]
    with ws.transaction() as conn:  # past the SQLAlchemy type: the raw text
        conn.exec_driver_sql(f'UPDATE {doc_t.name} SET "Date" = \'2024-02-30\' WHERE _id = 3')
    before = threading.active_count()
    with pytest.raises(ValueError):
        api.export(ws, "csv_columns", progress=False)
    assert threading.active_count() == before
    assert prepared(ws, "csv_columns") == ([], [])
    assert [r["action"] for r in api.history_of(ws, "csv_columns")] == ["rollback"]
    with ws.transaction() as conn:
        conn.execute(update(doc_t).where(doc_t.c._id == 3).values(Date=None))


@pytest.mark.parametrize("restrictions", ["none", "doc_type"])
def test_the_lines_are_numbered_without_a_sort(ws, restrictions):
    """The lines join the documents' table by its key in the summary's own order: SQLite
    numbers them (``row_number``) as they come, with no sort of a million lines."""
    from migration_kit.scenarios.conditions import compile_restrictions

    fill_erp(ws, tricky_documents())
    fields = list(dict.fromkeys(CSV_MAP.values()))
    columns = [export_sql.Column(field=fields.index(f)) for f in CSV_MAP.values()]
    kept = None
    r_idx = []
    if RESTRICTIONS[restrictions]:
        keep = compile_restrictions(RESTRICTIONS[restrictions])
        fields.append("Document.DocType")
        r_idx = [len(fields) - 1]
        kept = lambda key: bool(keep({"Document.DocType": key[0]}))  # noqa: E731
    with ws.transaction() as conn:
        got = export_sql.plan(conn, ws.store, "AR301000", "s", columns, fields, r_idx, kept,
                              [("ReferenceNbr", fields.index("Document.ReferenceNbr"))])
        assert isinstance(got, export_sql.InDatabase), got
        cur = conn.connection.dbapi_connection.cursor()
        for stmt in got.before:
            cur.execute(stmt, got.params)
        steps = [r[3] for r in cur.execute("EXPLAIN QUERY PLAN " + got.sql, got.params)]
        cur.execute(f"DROP TABLE {export_sql.DOCS}")
        conn.rollback()
    assert not [s for s in steps if "TEMP B-TREE" in s], steps
    assert any("h USING INTEGER PRIMARY KEY" in s for s in steps), steps


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(order=st.permutations(list(CSV_MAP.items())), at=st.integers(0, len(CSV_MAP)),
       docs=documents())
def test_document_and_line_fields_in_any_order_agree(ws, order, at, docs):
    """A document's fields are written once per document, runs of them joined: in any
    order of the columns, with a constant anywhere, the lines are the reference's."""
    from migration_kit.scenarios.model import MappingLine, Scenario

    lines = [MappingLine(target=t, source=s) for t, s in order]
    lines[at:at] = [MappingLine(target=order[at % len(order)][0], constant="k")]
    for engine in ("rows", "columns"):
        api.save_scenario(ws, Scenario(
            name=f"csv_{engine}", kind="export", window="AR301000", provider="out_csv",
            mapping=lines, options={"engine": engine}))
    fill_erp(ws, docs)
    compare(ws, "csv")
    assert last_note(ws, "csv_columns") == "written by the database, in a second thread"


def _csv_number(sep: str, delim: str):
    """A CSV writer's text of a decimal's own text (as ``export_columns._write_csv``)."""
    def number(text: str) -> str:
        text = text.replace(".", sep) if sep != "." else text
        return f'"{text}"' if delim in text else text

    return number


@settings(max_examples=300, deadline=None)
@given(col=st.lists(st.one_of(
    st.floats(), st.integers(-10 ** 16, 10 ** 16), st.none(), st.text(max_size=3),
    st.sampled_from([0.0, -0.0, 1e15, -1e15, 999999999999999.9, 0.00005, -0.5, 12])),
    max_size=30), scale=st.sampled_from([0, 1, 2, 4, 6]),
    csv=st.sampled_from([(".", ","), (",", ";"), (",", ","), (".", "-"), (".", "1")]))
def test_a_decimal_column_at_once_is_the_value_by_value_text(col, scale, csv):
    """A column of raw numbers in one comprehension: each value's text as one by one."""
    from migration_kit.engine.export_columns import _decimal_text

    run = _decimal_text(lambda v: ("slow", repr(v)), scale, _csv_number(*csv))
    assert run.many(col) == [run(v) for v in col]


def test_many_distinct_decimals_agree_with_the_reference(ws):
    """Hundreds of distinct prices and quantities on a document (each batch's column
    converted at once, not through the memo): the file and prepared data of the
    reference."""
    import random

    rnd = random.Random(7)
    prices = [Decimal(rnd.randint(0, 10 ** 12)).scaleb(-4) for _ in range(600)]
    prices[:6] = [Decimal(0), Decimal("0.0001"), Decimal("99999999999.9999"),
                  Decimal("100000"), Decimal("0.5"), Decimal("12.3400")]
    docs = tricky_documents()[:3]
    for d, part in zip(docs, (prices[:300], prices[300:], [])):
        d["lines"] = [{"InventoryID": "I", "Description": None, "UnitPrice": p,
                       "Quantity": Decimal(rnd.randint(-10 ** 9, 10 ** 9)).scaleb(-4),
                       "DiscountPercent": Decimal(rnd.randint(0, 10 ** 4)).scaleb(-2),
                       "AccountID": "3000"} for p in part]
    fill_erp(ws, docs)
    save_scenarios(ws, "csv", "plain", "none")
    compare(ws, "csv")
    assert last_note(ws, "csv_columns") == "written by the database, in a second thread"
