"""``store.bulk_insert_columns`` (SQLite executemany on the connection's cursor, PostgreSQL
COPY FROM STDIN): what goes in is what comes back, on a real database of each kind, text
with tabs, line breaks, backslashes and ``\\N`` included."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    create_engine,
    select,
)

from migration_kit.erp.store import bulk_insert_columns

TRICKY = ["plain", "tab\there", "two\nlines", "cr\rlf\r\n", "back\\slash", "\\N", "\\",
          "", " ", "ø漢😀", "end\\", "a\\tb", "NULL", "'quoted'", '"dq"', "comma,;"]


def _table(md: MetaData) -> Table:
    return Table("t_bulk", md, Column("id", Integer, primary_key=True),
                 Column("txt", Text), Column("short", String(20)), Column("num", Numeric(18, 4)),
                 Column("day", Date), Column("flag", Boolean), Column("n", Integer))


def _rows():
    n = len(TRICKY)
    return {
        "id": list(range(1, n + 2)),
        "txt": [*TRICKY, None],
        "short": [t[:20] for t in TRICKY] + [None],
        "num": [Decimal("1.5"), Decimal("-0.0001"), Decimal("1E+3"), Decimal("12345678.1234"),
                *[Decimal(i) for i in range(n - 4)], None],
        "day": [dt.date(2024, 2, 29), dt.date(1, 1, 1), *[dt.date(2025, 1, 1 + i)
                                                         for i in range(n - 2)], None],
        "flag": [i % 2 == 0 for i in range(n)] + [None],
        "n": [*range(-3, n - 3), None],
    }


def _round_trip(url: str, table_of, cols: dict) -> list[tuple]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    md = MetaData()
    t = table_of(md)
    md.create_all(engine)
    try:
        with engine.begin() as conn:
            bulk_insert_columns(conn, t, list(cols), list(cols.values()))
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(t).order_by(t.c.id))]
    finally:
        md.drop_all(engine)
        engine.dispose()


def test_values_come_back_as_they_went_in(db_url):
    cols = _rows()
    got = _round_trip(db_url, _table, cols)
    assert got == list(zip(*cols.values()))


def test_json_columns_come_back_too(db_url):
    """JSON through its bind processor (psycopg's Json on PostgreSQL)."""
    def table_of(md):
        return Table("t_bulk_json", md, Column("id", Integer, primary_key=True),
                     Column("doc", JSON), Column("txt", Text))

    cols = {"id": [1, 2, 3], "doc": [{"k": "a\tb\\"}, None, {"n": 1}],
            "txt": ["x\ny", None, "\\N"]}
    got = _round_trip(db_url, table_of, cols)
    assert got == [(1, {"k": "a\tb\\"}, "x\ny"), (2, None, None), (3, {"n": 1}, "\\N")]
