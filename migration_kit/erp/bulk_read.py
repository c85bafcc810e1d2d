"""A window's documents flattened by the database, read in batches of raw columns.

The summary table LEFT JOIN its first detail object's table, ordered by document then
line: one row per detail line, a document without lines as one row of empty line fields
(what ``engine.mapping.flatten`` makes of ``ERPStore.iter_documents``). Rows come off the
DBAPI cursor as the driver gives them, streamed (SQLite's cursor; a server-side cursor on
PostgreSQL), and each batch is handed out as columns of raw values with, per column, the
result processor SQLAlchemy would apply (``None``: the value as it is). Callers convert
the distinct values they need only (a column of a document's date repeats its value on
every line). Every batch holds whole documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, literal_column, null, select

from .store import ERPStore

BATCH = 20_000


@dataclass
class FlatBatch:
    """Rows of whole documents: ``doc_ids`` (one per row) and one raw column per field."""

    doc_ids: tuple[int, ...]
    columns: list[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.doc_ids)


def can_read(conn: Connection) -> bool:
    """Whether :func:`flat_batches` can stream on this connection's database."""
    d = conn.dialect
    return d.name == "sqlite" or (d.name == "postgresql" and d.driver == "psycopg")


def flat_columns(store: ERPStore, window_id: str, fields: list[str]
                 ) -> tuple[Table, Table | None, list[Any]]:
    """The summary table, the first detail object's table (None: no detail) and the column
    of each of ``fields`` (``Object.Field``; any other name: an empty column, SQL NULL)."""
    w = store.windows.get(window_id)
    st = store.summary_table(window_id)
    detail = w.detail_objects[0] if w.detail_objects else None
    dt_ = store.tables[(w.id, detail.name)] if detail is not None else None
    cols: list[Any] = []
    for f in fields:
        obj, _, name = f.partition(".")
        if obj == w.summary and name in w.summary_object.fields:
            cols.append(st.c[name])
        elif detail is not None and dt_ is not None and obj == detail.name \
                and name in detail.fields:
            cols.append(dt_.c[name])
        else:
            cols.append(null())
    return st, dt_, cols


def flat_batches(conn: Connection, store: ERPStore, window_id: str, fields: list[str], *,
                 batch: int = BATCH
                 ) -> tuple[list[Callable[[Any], Any] | None], Iterator[FlatBatch]]:
    """The result processors of ``fields`` (``Object.Field`` of the summary or the first
    detail object; any other name reads as an empty column) and the batches.

    The read runs on ``conn``'s own DBAPI connection (its transaction); a generator not
    run to its end closes its cursor when it is closed or collected.
    """
    st, dt_, cols = flat_columns(store, window_id, fields)
    cols = [st.c._id, *cols]
    if dt_ is not None:
        q = (select(*cols).select_from(st.outerjoin(dt_, dt_.c._doc_id == st.c._id))
             .order_by(st.c._id, dt_.c._id))
    else:
        q = select(*cols).order_by(st.c._id)
    if not fields:
        q = q.add_columns(literal_column("0"))  # a select needs a column past the id
    dialect = conn.dialect
    sql = str(q.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    types = [c.type for c in cols[1:]]

    pg = dialect.name == "postgresql"
    if pg:
        cur = conn.connection.driver_connection.cursor(name="mk_export_flat")
        cur.itersize = batch
    else:
        cur = conn.connection.cursor()
    cur.execute(sql)
    procs = [t.dialect_impl(dialect).result_processor(dialect, d[1])
             for t, d in zip(types, cur.description[1:])]

    def batches() -> Iterator[FlatBatch]:
        try:
            tail: list[tuple] = []
            while True:
                rows = cur.fetchmany(batch)
                if not rows:
                    break
                if tail:
                    rows = tail + rows
                # hold back the last document: its lines may go on in the next fetch
                last = rows[-1][0]
                cut = len(rows)
                while cut and rows[cut - 1][0] == last:
                    cut -= 1
                if cut == 0:
                    tail = rows
                    continue
                tail = rows[cut:]
                yield _batch(rows[:cut], len(fields))
            if tail:
                yield _batch(tail, len(fields))
        finally:
            cur.close()

    return procs, batches()


def _batch(rows: list[tuple], n: int) -> FlatBatch:
    cols = list(zip(*rows))
    return FlatBatch(cols[0], cols[1:n + 1])

