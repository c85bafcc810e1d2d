"""A window's documents flattened by the database, read in batches of raw columns.

The summary table LEFT JOIN its first detail object's table, ordered by document then
line: one row per detail line, a document without lines as one row of empty line fields
(what ``engine.mapping.flatten`` makes of ``ERPStore.iter_documents``). Rows come off the
DBAPI cursor as the driver gives them, streamed (SQLite's cursor; a server-side cursor on
PostgreSQL), and each batch is handed out as columns of raw values with, per column, the
result processor SQLAlchemy would apply (``None``: the value as it is). The summary's
fields are read once per document, by a second cursor beside the first, and handed out as
:class:`DocColumn` (a value per document, repeated on its lines). Callers convert the
distinct values they need only. Every batch holds whole documents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

from sqlalchemy import Connection, Table, literal_column, null, select

from .copy_later import settle
from .store import ERPStore

BATCH = 20_000


class DocColumn(Sequence):
    """A document field's column in a batch: one value per document (``values``) and the
    number of rows of each (``counts``). It reads as the column of the batch's rows (each
    value repeated on its document's rows); a caller that converts values converts
    ``values`` and hands the result to :meth:`expand` (once per document, not per line)."""

    __slots__ = ("values", "counts", "_rows")

    def __init__(self, values: Sequence[Any], counts: Sequence[int]):
        self.values = values
        self.counts = counts
        self._rows: list[Any] | None = None

    def expand(self, values: Iterable[Any] | None = None) -> list[Any]:
        """``values`` (one per document; default: the column's own) on the rows."""
        return list(chain.from_iterable(map(repeat, self.values if values is None
                                            else values, self.counts)))

    @property
    def rows(self) -> list[Any]:
        if self._rows is None:
            self._rows = self.expand()
        return self._rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: Any) -> Any:
        return self.rows[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


@dataclass
class FlatBatch:
    """Rows of whole documents: ``doc_ids`` (one per row) and one raw column per field (a
    :class:`DocColumn` for a field of the summary object, where there are lines)."""

    doc_ids: tuple[int, ...]
    columns: list[Sequence[Any]]

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

    Where the window has lines, two cursors read side by side in the same order: the
    lines (with the line fields) and the documents (with the summary fields, read once
    per document, not once per line). The reads run on ``conn``'s own DBAPI connection
    (its transaction); a generator not run to its end closes its cursors when it is
    closed or collected.
    """
    st, dt_, cols = flat_columns(store, window_id, fields)
    at_doc = [dt_ is not None and getattr(c, "table", None) is st for c in cols]
    line_cols = [c for c, d in zip(cols, at_doc) if not d]
    doc_cols = [c for c, d in zip(cols, at_doc) if d]
    if dt_ is not None:
        q = (select(st.c._id, *line_cols)
             .select_from(st.outerjoin(dt_, dt_.c._doc_id == st.c._id))
             .order_by(st.c._id, dt_.c._id))
    else:
        q = select(st.c._id, *line_cols).order_by(st.c._id)
    if not line_cols:
        q = q.add_columns(literal_column("0"))  # a select needs a column past the id
    dialect = conn.dialect
    pg = dialect.name == "postgresql"

    def open_cursor(query: Any, name: str) -> Any:
        settle(conn)  # a COPY left to end later
        if pg:
            cur = conn.connection.driver_connection.cursor(name=name)
            cur.itersize = batch
        else:
            cur = conn.connection.cursor()
        cur.execute(str(query.compile(dialect=dialect,
                                      compile_kwargs={"literal_binds": True})))
        return cur

    def processors(cur: Any, of: list[Any]) -> list[Callable[[Any], Any] | None]:
        return [c.type.dialect_impl(dialect).result_processor(dialect, d[1])
                for c, d in zip(of, cur.description[1:])]

    cur = open_cursor(q, "mk_export_flat")
    cursors = [cur]
    by_line = processors(cur, line_cols)
    by_doc: list[Callable[[Any], Any] | None] = []
    docs = None
    if doc_cols:
        docs = open_cursor(select(st.c._id, *doc_cols).order_by(st.c._id),
                           "mk_export_flat_docs")
        cursors.append(docs)
        by_doc = processors(docs, doc_cols)
    line_it, doc_it = iter(by_line), iter(by_doc)
    procs = [next(doc_it) if d else next(line_it) for d in at_doc]
    n_line = len(line_cols)

    def make(rows: list[tuple]) -> FlatBatch:
        got = list(zip(*rows))
        ids, line_values = got[0], got[1:n_line + 1]
        if docs is None:
            return FlatBatch(ids, list(line_values))
        counts = Counter(ids)  # (the rows come by document: in document order)
        heads = docs.fetchmany(len(counts))
        head_cols = list(zip(*heads)) if heads else [()]
        if list(head_cols[0]) != list(counts):
            raise RuntimeError(f"{window_id}: the documents read ({len(heads)}) are not "
                               f"the documents of the lines read ({len(counts)})")
        sizes = list(counts.values())
        li, di = iter(line_values), iter(head_cols[1:])
        return FlatBatch(ids, [DocColumn(next(di), sizes) if d else next(li)
                               for d in at_doc])

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
                yield make(rows[:cut])
            if tail:
                yield make(tail)
            if docs is not None and docs.fetchone() is not None:
                raise RuntimeError(f"{window_id}: more documents read than lines read")
        finally:
            for c in cursors:
                c.close()

    return procs, batches()
