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
    literal_column,
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


def test_bulk_execute_updates_as_sqlalchemy_does(db_url):
    """``bulk_execute`` (SQLite: executemany on the cursor) leaves the very rows SQLAlchemy's
    own executemany of the same UPDATE leaves: values from the rows and from the statement,
    JSON, booleans, decimals, dates and None included."""
    from sqlalchemy import bindparam, update

    from migration_kit.erp.store import bulk_execute

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    md = MetaData()
    tables = [Table(f"t_upd_{k}", md, Column("id", Integer, primary_key=True),
                    Column("doc", JSON), Column("num", Numeric(18, 4)), Column("day", Date),
                    Column("flag", Boolean), Column("txt", Text)) for k in ("a", "b")]
    md.create_all(engine)
    rows = [{"i": i, "d": ({"k": TRICKY[i]} if i % 3 else None),
             "x": Decimal(i) / 8 if i % 4 else None, "t": TRICKY[i]}
            for i in range(1, len(TRICKY))]
    got = []
    try:
        for t, run in zip(tables, (lambda c, s, r: c.execute(s, r), bulk_execute)):
            with engine.begin() as conn:
                bulk_insert_columns(conn, t, ["id"], [list(range(len(TRICKY)))])
                run(conn, update(t).where(t.c.id == bindparam("i")).values(
                    doc=bindparam("d"), num=bindparam("x"), day=dt.date(2024, 2, 29),
                    flag=True, txt=bindparam("t")), rows)
            with engine.connect() as conn:
                got.append([tuple(r)[1:] for r in conn.execute(select(t).order_by(t.c.id))])
    finally:
        md.drop_all(engine)
        engine.dispose()
    assert got[0] == got[1]
    assert got[1][0] == (None, None, None, None, None)  # row 0: not in the update
    assert got[1][2] == ({"k": TRICKY[2]}, Decimal("0.25"), dt.date(2024, 2, 29), True,
                         TRICKY[2])
    assert got[1][3][0] is None  # JSON null read back as None


def test_fetch_rows_reads_as_sqlalchemy_does(db_url):
    """``fetch_rows`` (the cursor's own rows where no value needs a processor)
    gives the rows ``conn.execute(stmt).all()`` gives: text and integers with bound
    parameters, and the columns that need SQLAlchemy's processing (dates, decimals,
    booleans, JSON, expanding parameters) through SQLAlchemy."""
    from migration_kit.erp.store import fetch_rows

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    md = MetaData()
    t = _table(md)
    md.create_all(engine)
    cols = _rows()
    try:
        with engine.begin() as conn:
            bulk_insert_columns(conn, t, list(cols), list(cols.values()))
        with engine.connect() as conn:
            statements = [
                select(t.c.id, t.c.txt, t.c.n).where(t.c.id >= 3, t.c.short != "plain")
                .order_by(t.c.id),
                select(t.c.txt, t.c.id).where(t.c.txt == TRICKY[1]),
                select(t.c.id, t.c.day, t.c.num, t.c.flag).where(t.c.day >= dt.date(2024, 1, 1))
                .order_by(t.c.id),
                select(t.c.id, t.c.txt).where(t.c.id.in_([2, 5, 7])).order_by(t.c.id),
                select(t.c.id).where(t.c.id > 1000),
                # a % in the statement's own text (psycopg: written %%, an escape)
                select(t.c.id, literal_column("'50%'")).order_by(t.c.id),  # no parameter
            ]
            for stmt in statements:
                want = [tuple(r) for r in conn.execute(stmt).all()]
                got = fetch_rows(conn, stmt)
                assert got == want
                assert all(type(r) is tuple for r in got)
            assert fetch_rows(conn, statements[1]) == [(TRICKY[1], 2)]
            assert fetch_rows(conn, statements[3])[1] == (5, TRICKY[4])
    finally:
        md.drop_all(engine)
        engine.dispose()


def test_bulk_update_updates_as_sqlalchemy_does(db_url):
    """``bulk_update`` (PostgreSQL: one UPDATE ... FROM unnest of arrays) leaves the rows
    SQLAlchemy's executemany of the same UPDATE leaves: rows found by a two-column key,
    values from the rows (JSON, decimals, text, None) and fixed values (a boolean, a
    date, None); rows not named keep theirs."""
    from sqlalchemy import bindparam, update

    from migration_kit.erp.store import bulk_update

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    md = MetaData()
    tables = [Table(f"t_bupd_{k}", md, Column("grp", String(10), primary_key=True),
                    Column("id", Integer, primary_key=True), Column("doc", JSON),
                    Column("num", Numeric(18, 4)), Column("day", Date),
                    Column("flag", Boolean), Column("txt", Text), Column("gone", Text))
              for k in ("a", "b")]
    md.create_all(engine)
    picked = list(range(1, len(TRICKY), 2))
    cols = [["g"] * len(picked), picked,
            [({"k": TRICKY[i], "n": [1, None]} if i % 3 else None) for i in picked],
            [Decimal(i) / 8 if i % 4 != 1 else None for i in picked],
            [TRICKY[i] for i in picked]]
    names = ["grp", "id", "doc", "num", "txt"]
    fixed = {"flag": True, "day": dt.date(2024, 2, 29), "gone": None}
    got = []
    try:
        for k, t in enumerate(tables):
            with engine.begin() as conn:
                n = len(TRICKY)
                bulk_insert_columns(conn, t, ["grp", "id", "gone", "txt"], [
                    ["g"] * n + ["h"] * n, [*range(n), *range(n)], ["was"] * 2 * n,
                    ["before"] * 2 * n])
                if k == 0:
                    conn.execute(update(t).where(t.c.grp == bindparam("p_grp"),
                                                 t.c.id == bindparam("p_id"))
                                 .values(doc=bindparam("p_doc"), num=bindparam("p_num"),
                                         txt=bindparam("p_txt"), **fixed),
                                 [dict(zip((f"p_{c}" for c in names), r))
                                  for r in zip(*cols)])
                else:
                    bulk_update(conn, t, ["grp", "id"], names, cols, fixed)
            with engine.connect() as conn:
                got.append([tuple(r) for r in conn.execute(
                    select(t).order_by(t.c.grp, t.c.id))])
    finally:
        md.drop_all(engine)
        engine.dispose()
    assert got[0] == got[1]
    assert got[1][0] == ("g", 0, None, None, None, None, "before", "was")  # not named
    assert got[1][7] == ("g", 7, {"k": TRICKY[7], "n": [1, None]}, Decimal("0.875"),
                         dt.date(2024, 2, 29), True, TRICKY[7], None)
    assert got[1][9][2:4] == (None, None)  # JSON null and a None decimal
    assert got[1][len(TRICKY) + 7][6:] == ("before", "was")  # the other group's row 7


def test_bound_values_are_sqlalchemys_own():
    """``store._bound`` binds a column of dates or truth values once per distinct value, and
    JSON's None once: each value is what the column's own bind processor gives it, on
    both databases' dialects, and a value the processor refuses is refused the same way."""
    import pytest
    from sqlalchemy.dialects import postgresql, sqlite

    from migration_kit.erp.store import _bound

    types = [Date(), Boolean(), JSON(), Numeric(18, 2), Text()]
    cols = [[dt.date(2024, 2, 29), None, dt.date(2024, 2, 29), dt.date(1, 1, 1)],
            [True, None, False, 1, 0, True],
            [{"k": "a"}, None, [1, "x"], None, "text"],
            [Decimal("1.50"), None, Decimal("-0")],
            ["a", None, "b"]]
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        got = _bound(dialect, types, cols)
        for t, col, values in zip(types, cols, got):
            p = t.dialect_impl(dialect).bind_processor(dialect)
            # repr: psycopg's Json wrappers (PostgreSQL's JSON) are equal only to themselves
            assert list(map(repr, values)) == list(map(repr, col if p is None
                                                       else [p(v) for v in col]))
        for bad in ([True, 2], [True, "yes"]):
            p = Boolean().dialect_impl(dialect).bind_processor(dialect)
            with pytest.raises(Exception) as want:
                [p(v) for v in bad]
            with pytest.raises(type(want.value), match=str(want.value).replace("'", ".")):
                _bound(dialect, [Boolean()], [bad])
