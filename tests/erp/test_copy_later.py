"""``bulk_insert_columns(..., end_later=True)``: a PostgreSQL COPY that ends at the
connection's next use (``erp.copy_later``), on a real server. Whatever comes next (a
statement, the store's own cursor, a commit, a rollback, the connection going back to the
pool) finds the rows stored, or abandons them with the transaction; an error in the rows
is raised at the next statement, naming the COPY. On SQLite the rows are there at once."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, func, select
from sqlalchemy.exc import IntegrityError

from migration_kit.erp.store import bulk_insert_columns, fetch_rows

# a COPY left open where the driver waits for its end (a commit, a rollback, another
# statement) blocks for ever: fail instead
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def table(db_url):
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    md = MetaData()
    t = Table("t_later", md, Column("id", Integer, primary_key=True), Column("txt", Text))
    md.create_all(engine)
    yield engine, t
    md.drop_all(engine)
    engine.dispose()


def _put(conn, t, ids) -> None:
    bulk_insert_columns(conn, t, ["id", "txt"], [list(ids), [f"row\t{i}\n" for i in ids]],
                        end_later=True)


def _count(engine, t) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(t)).scalar_one()


def test_the_next_statement_and_the_commit_find_the_rows(table):
    engine, t = table
    with engine.begin() as conn:
        _put(conn, t, range(1, 5001))
        assert conn.execute(select(func.count()).select_from(t)).scalar_one() == 5000
        _put(conn, t, range(5001, 5003))
        # the store's own cursor (no SQLAlchemy statement in between)
        assert fetch_rows(conn, select(t.c.id, t.c.txt).where(t.c.id > 5000)
                          .order_by(t.c.id)) == [(5001, "row\t5001\n"), (5002, "row\t5002\n")]
        _put(conn, t, [6000])  # then straight to the commit
    assert _count(engine, t) == 5003
    with engine.connect() as conn:
        assert conn.execute(select(t.c.txt).where(t.c.id == 6000)).scalar_one() == "row\t6000\n"


def test_a_rollback_leaves_nothing_and_the_connection_works(table):
    engine, t = table
    with engine.connect() as conn:
        conn.begin()  # the workspace's transactions are begun so too
        _put(conn, t, range(1, 100))
        conn.rollback()
        assert conn.execute(select(func.count()).select_from(t)).scalar_one() == 0
        _put(conn, t, range(1, 3))
        conn.commit()
    with engine.connect() as conn:  # back to the pool with a COPY still open
        conn.begin()
        _put(conn, t, range(10, 20))
    with engine.connect() as conn:  # no transaction begun: the pool's reset rolls back
        _put(conn, t, range(30, 40))
    with pytest.raises(ZeroDivisionError), engine.begin() as conn:
        _put(conn, t, range(20, 30))
        raise ZeroDivisionError  # e.g. bad input found after the COPY: all rolled back
    assert _count(engine, t) == 2
    with engine.begin() as conn:  # the pooled connection is fine
        _put(conn, t, [99])
    assert _count(engine, t) == 3


def test_an_error_in_the_rows_is_raised_at_the_next_statement(table):
    engine, t = table
    with engine.begin() as conn:
        _put(conn, t, [1, 2])
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        _put(conn, t, [3, 2])  # 2 is there: the server finds it, maybe only at the end
        conn.execute(select(func.count()).select_from(t)).scalar_one()
    said = "COPY" if engine.dialect.name == "postgresql" else "INSERT INTO"  # SQLite: at once
    assert said in str(caught.value) and "t_later" in str(caught.value)
    assert _count(engine, t) == 2
