"""Storage of the embedded ERP: one table per window object, built from the definitions.

``save_many`` validates documents in order and writes the valid ones in bulk on the
caller's connection, so the caller (the import) can commit the documents and its own
bookkeeping in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import is_, itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from ..db import Growth, among, numbering
from ..errors import BadInputError, DocumentError, FieldError, NotFoundError
from ..values import convert, has_none
from .copy_later import copy_rows, settle
from .validation import Doc, DocumentValidator
from .windows import FieldDef, WindowDef, WindowRegistry

PRELOAD_LIMIT = 200_000  # selector windows up to this size are cached whole for a run


def _column(f: FieldDef) -> Column:
    if f.type in ("string", "enum"):
        t = String(f.max_length or 255)
    elif f.type == "integer":
        t = Integer()
    elif f.type == "decimal":
        t = Numeric(18, f.scale if f.scale is not None else 4)
    elif f.type == "date":
        t = Date()
    else:
        t = Boolean()
    return Column(f.name, t, nullable=True)


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """``conn.execute(insert(table), rows)`` for many rows with the same keys, faster: see
    :func:`bulk_insert_columns`."""
    if not rows:
        return
    names = list(rows[0])
    try:
        columns = [list(map(itemgetter(n), rows)) for n in names]  # the loops run in C
    except KeyError:  # rows with other keys: SQLAlchemy's own handling (and message)
        conn.execute(insert(table), rows)
        return
    bulk_insert_columns(conn, table, names, columns)


def bulk_insert_columns(conn: Connection, table: Table, names: list[str],
                        columns: list[list[Any]], *, end_later: bool = False,
                        bound: bool = False) -> None:
    """Rows given as one list per column (``names``) into ``table``: on the connection's own
    DBAPI connection (so in the caller's transaction), every value through its column's
    bind processor as SQLAlchemy does; SQLite: one ``executemany``; PostgreSQL with
    psycopg 3: ``COPY ... FROM STDIN``. Other databases: SQLAlchemy's executemany (batched
    multi-row INSERTs).

    ``end_later``: the COPY ends at the connection's next statement or commit
    (:mod:`.copy_later`), so that the server stores the rows while the caller goes on
    with work that needs no database. ``bound``: the columns went through :func:`_bound`
    for this dialect already (:meth:`ERPStore.bind_lines`).
    """
    n = len(columns[0]) if columns else 0
    if not n:
        return
    dialect = conn.dialect
    if not _binds_itself(dialect):
        conn.execute(insert(table), [dict(zip(names, r)) for r in zip(*columns)])
        return
    copy = dialect.name == "postgresql"
    values = columns if bound else _bound(dialect, [table.c[n].type for n in names], columns)
    params = list(zip(*values))
    prep = dialect.identifier_preparer
    target = f"{prep.format_table(table)} ({', '.join(prep.quote(n) for n in names)})"
    if copy:
        sql = f"COPY {target} FROM STDIN"
        if end_later:
            copy_rows(conn, sql, params)
            return
        with _cursor(conn, sql, driver=True) as cur, cur.copy(sql) as out:
            for p in params:
                out.write_row(p)
    else:
        sql = f"INSERT INTO {target} VALUES ({', '.join('?' * len(names))})"
        with _cursor(conn, sql) as cur:
            cur.executemany(sql, params)


def _binds_itself(dialect) -> bool:
    """Whether :func:`bulk_insert_columns` binds the values itself (SQLite's executemany,
    psycopg 3's COPY) rather than handing the rows to SQLAlchemy."""
    return dialect.name == "sqlite" or (dialect.name, dialect.driver) == ("postgresql",
                                                                         "psycopg")


def _line_columns(lines: list[list[dict[str, Any]]]) -> tuple[list[str], list[list[Any]]] | None:
    """A detail object's lines (a list per document, some line among them) as one list per
    field, the fields named by the first line; None where a line lacks one of them."""
    rows = list(chain.from_iterable(lines))
    names = list(rows[0])
    try:  # one list per column, straight from the lines (no copy of each line)
        return names, [list(map(itemgetter(n), rows)) for n in names]
    except KeyError:
        return None


@contextmanager
def _cursor(conn: Connection, sql: str, params: Any = None, *, driver: bool = False
            ) -> Iterator[Any]:
    """A cursor of the connection's own DBAPI connection (the caller's transaction; the
    driver's own for psycopg's COPY), closed after; a driver error is raised as
    SQLAlchemy's (the statement named), as ``conn.execute`` would."""
    dialect = conn.dialect
    settle(conn)  # a COPY left to end later (``bulk_insert_columns``)
    cur = (conn.connection.driver_connection if driver else conn.connection).cursor()
    try:
        yield cur
    except dialect.loaded_dbapi.Error as e:
        raise DBAPIError.instance(sql, params, e, dialect.loaded_dbapi.Error) from e
    finally:
        cur.close()


def _bound(dialect, types: list[Any], columns: list[list[Any]]) -> list[list[Any]]:
    """Each column's values through its type's bind processor, as SQLAlchemy binds them."""
    values = list(columns)
    for i, col_type in enumerate(types):
        p = col_type.dialect_impl(dialect).bind_processor(dialect)
        if p is None:
            continue
        if isinstance(col_type, Date | Boolean):
            # a Python call per value: once per distinct date or truth value
            try:
                seen = {v: p(v) for v in set(values[i])}
            except TypeError:  # unhashable, or not a truth value: SQLAlchemy's says why
                values[i] = list(map(p, values[i]))
                continue
            values[i] = list(map(seen.__getitem__, values[i]))
        elif isinstance(col_type, JSON) and has_none(values[i]):
            # a record's result before its import, a key's blank: None's text once
            blank = p(None)
            values[i] = [blank if v is None else p(v) for v in values[i]]
        else:
            values[i] = list(map(p, values[i]))
    return values


def bulk_execute(conn: Connection, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """``conn.execute(stmt, rows)`` for an UPDATE or DELETE of many rows with the same keys,
    faster on SQLite: see :func:`_execute_columns`. Elsewhere: SQLAlchemy's."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(stmt, rows)
        return
    first = rows[0]
    try:
        columns = {k: list(map(itemgetter(k), rows)) for k in first}
    except KeyError:  # rows with other keys: SQLAlchemy's own handling (and message)
        conn.execute(stmt, rows)
        return
    if not _execute_columns(conn, stmt, columns, len(rows)):
        conn.execute(stmt, rows)


def _execute_columns(conn: Connection, stmt: Any, columns: dict[str, list[Any]], n: int
                     ) -> bool:
    """SQLite: ``stmt`` run for ``n`` rows whose parameters are given as one list per bind
    name, in one ``executemany`` on the connection's own cursor (the caller's
    transaction), every value through its bind processor as SQLAlchemy binds it (a value
    the statement holds, as ``.values(processed=True)``, too), without SQLAlchemy's work
    per row. False (nothing done) where that does not apply: another database, or a
    statement with expanding parameters or a required parameter not given."""
    dialect = conn.dialect
    if dialect.name != "sqlite":
        return False
    compiled = stmt.compile(dialect=dialect)
    order = compiled.positiontup
    binds = [compiled.binds[k] for k in order] if order is not None else []
    if (order is None or any(b.expanding or b.callable is not None for b in binds)
            or any(b.required and b.key not in columns for b in binds)):
        return False
    values = [columns[b.key] if b.key in columns else [b.effective_value] * n for b in binds]
    params = list(zip(*_bound(dialect, [b.type for b in binds], values)))
    with _cursor(conn, compiled.string) as cur:
        cur.executemany(compiled.string, params)
    return True


def bulk_update(conn: Connection, table: Table, keys: list[str], names: list[str],
                columns: list[list[Any]], fixed: dict[str, Any] | None = None) -> None:
    """Many rows of ``table`` updated, each found by its ``keys`` columns: row ``i`` gets
    ``names[j] = columns[j][i]`` (``keys`` lead ``names``, their values lead ``columns``)
    and every ``fixed`` value. PostgreSQL: one ``UPDATE ... FROM unnest(arrays)`` (one
    statement for the batch instead of one per row), values through their columns' bind
    processors; SQLite: one ``executemany`` of the UPDATE (:func:`_execute_columns`)."""
    n = len(columns[0]) if columns else 0
    if not n:
        return
    fixed = fixed or {}
    dialect = conn.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        stmt = update(table).where(and_(*(table.c[k] == bindparam(f"p_{k}") for k in keys)))
        stmt = stmt.values(**fixed, **{c: bindparam(f"p_{c}") for c in names[len(keys):]})
        by_name = {f"p_{c}": col for c, col in zip(names, columns)}
        if not _execute_columns(conn, stmt, by_name, n):  # the rows as SQLAlchemy takes them
            conn.execute(stmt, [dict(zip(by_name, r)) for r in zip(*columns)])
        return
    prep = dialect.identifier_preparer
    types = [table.c[c].type for c in names]
    values = _bound(dialect, types, columns)
    # the arrays in binary: the text format quotes and escapes element by element with a
    # regex (JSON texts: every one), the binary one is psycopg's C
    arrays = ", ".join(f"CAST(%(a{j})b AS {t.compile(dialect=dialect)}[])"
                       for j, t in enumerate(types))
    v_cols = ", ".join(f"c{j}" for j in range(len(names)))
    sets = [f"{prep.quote(c)} = v.c{j}" for j, c in enumerate(names) if j >= len(keys)]
    params: dict[str, Any] = {f"a{j}": list(col) for j, col in enumerate(values)}
    f_types = [table.c[c].type for c in fixed]
    for i, (c, t, (v,)) in enumerate(zip(fixed, f_types, _bound(
            dialect, f_types, [[v] for v in fixed.values()]))):
        sets.append(f"{prep.quote(c)} = CAST(%(f{i})s AS {t.compile(dialect=dialect)})")
        params[f"f{i}"] = v
    where = " AND ".join(f"t.{prep.quote(k)} = v.c{j}" for j, k in enumerate(keys))
    sql = (f"UPDATE {prep.format_table(table)} AS t SET {', '.join(sets)} "
           f"FROM unnest({arrays}) AS v({v_cols}) WHERE {where}")
    with _cursor(conn, sql, driver=True) as cur:
        cur.execute(sql, params)


def fetch_rows(conn: Connection, stmt: Any) -> list[tuple]:
    """``conn.execute(stmt).all()`` for a SELECT of many rows, as plain tuples: on SQLite
    and on PostgreSQL with psycopg 3, the cursor's own rows (made in C) instead of a
    SQLAlchemy Row per row, when no result column needs a result processor and no
    parameter a bind processor (integers, text). Elsewhere, or for other columns:
    SQLAlchemy's rows (tuples too)."""
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect)
    order = compiled.positiontup
    named = dialect.name == "postgresql" and dialect.driver == "psycopg"
    if (dialect.name == "sqlite" and order is not None) or named:
        binds = list(compiled.binds.values()) if named else [compiled.binds[n] for n in order]
        plain = (all(not b.expanding and b.callable is None and not b.literal_execute
                     and b.type.dialect_impl(dialect).bind_processor(dialect) is None
                     for b in binds)
                 and all(_unprocessed(c.type, dialect) for c in stmt.selected_columns))
        if plain:
            # psycopg: named parameters (a dict, even empty: the text's %% are escapes)
            params = dict(compiled.params) if named else [compiled.params[n] for n in order]
            with _cursor(conn, compiled.string, params) as cur:
                cur.execute(compiled.string, params)
                return cur.fetchall()
    return [tuple(r) for r in conn.execute(stmt)]


def _unprocessed(col_type: Any, dialect: Any) -> bool:
    """True when SQLAlchemy returns the driver's value of this type as it is."""
    try:
        return col_type.dialect_impl(dialect).result_processor(dialect, None) is None
    except Exception:  # noqa: BLE001 - the processor needs the driver's type code
        return False  # (psycopg's numeric): SQLAlchemy's own rows


def table_name(window_id: str, object_name: str) -> str:
    return f"erp_{window_id.lower()}_{object_name.lower()}"


@dataclass
class BoundLines:
    """The detail lines of documents about to be saved, one list per field, already through
    the fields' bind processors (:meth:`ERPStore.bind_lines`)."""

    dialect: str
    docs: list[Doc]
    # detail object -> (field names, bound columns, the number of lines of each document)
    objects: dict[str, tuple[list[str], list[list[Any]], list[int]]]

    def fits(self, dialect: str, docs: list[Doc], obj: str) -> bool:
        """Whether these are the lines of ``docs`` as they are now: the same documents in
        the same order, each with as many ``obj`` lines as when they were bound."""
        return (obj in self.objects and dialect == self.dialect and len(docs) == len(self.docs)
                and all(map(is_, docs, self.docs))
                and list(map(len, (d[obj] for d in docs))) == self.objects[obj][2])


@dataclass
class SaveResult:
    ok: bool
    key: dict[str, Any] | None = None
    errors: list[FieldError] = field(default_factory=list)
    action: str = "inserted"  # inserted | updated | failed | not saved
    doc: Doc | None = None  # the document as saved (validated, numbered)


class _Lookup:
    """Selector rows, reference lists and existence checks for one run, cached."""

    def __init__(self, store: ERPStore, conn: Connection):
        self.store = store
        self.conn = conn
        self.rows: dict[str, dict[Any, dict[str, Any]] | None] = {}
        self.pending_unique: set[tuple] = set()
        self.exclude_id: int | None = None

    def selector_row(self, window_id: str, value: Any) -> dict[str, Any] | None:
        cache = self.rows.get(window_id)
        if cache is not None:  # the common case: a preloaded window
            return cache.get(value)
        w = self.store.windows.get(window_id)
        (key,) = w.key_fields
        t = self.store.summary_table(window_id)
        if window_id not in self.rows:
            n = self.conn.execute(select(func.count()).select_from(t)).scalar_one()
            self.rows[window_id] = (
                {r[key]: dict(r) for r in self.conn.execute(select(t)).mappings()}
                if n <= PRELOAD_LIMIT else None)
        cache = self.rows[window_id]
        if cache is not None:
            return cache.get(value)
        r = self.conn.execute(select(t).where(t.c[key] == value)).mappings().first()
        return dict(r) if r else None

    def saved(self, window_id: str, summary: dict[str, Any]) -> None:
        cache = self.rows.get(window_id)
        if cache is not None:
            (key,) = self.store.windows.get(window_id).key_fields
            cache[summary[key]] = summary

    def in_list(self, list_name: str, value: Any) -> bool:
        return str(value) in self.store.windows.lists[list_name]

    def unique_taken(self, window: WindowDef, fields: list[str], values: list[Any]) -> bool:
        if (window.id, *values) in self.pending_unique:
            return True
        t = self.store.summary_table(window.id)
        q = select(t.c._id).where(and_(*(t.c[f] == v for f, v in zip(fields, values))))
        if self.exclude_id is not None:
            q = q.where(t.c._id != self.exclude_id)
        return self.conn.execute(q.limit(1)).first() is not None


class ERPStore:
    """Tables and the document operations of every window."""

    def __init__(self, windows: WindowRegistry):
        self.windows = windows
        self.metadata = MetaData()
        self.tables: dict[tuple[str, str], Table] = {}
        self._growth = Growth()  # the summary tables this store fills (PostgreSQL)
        self._ids_stmt: dict[tuple[str, str], Any] = {}
        for w in windows:
            st = self._table(w, w.summary_object, None)
            for obj in w.detail_objects:
                self._table(w, obj, st)

    def _table(self, w: WindowDef, obj, parent: Table | None) -> Table:
        cols: list[Any] = [Column("_id", Integer, primary_key=True, autoincrement=True)]
        if parent is not None:
            # the document's id, indexed; not a database foreign key: the store keeps lines
            # with their document (written with the ids of the documents it has just
            # written, deleted before their document), as an ERP's business layer does.
            # PostgreSQL checks a foreign key by a trigger per line: 0.5-1 s per 100,000
            # lines of an import, a tenth of it (measured, stop 35).
            cols.append(Column("_doc_id", Integer, nullable=False, index=True))
        cols += [_column(f) for f in obj.fields.values()]
        if parent is None and w.key_fields:
            cols.append(UniqueConstraint(*w.key_fields,
                                         name=f"uq_{table_name(w.id, obj.name)}_key"))
        t = Table(table_name(w.id, obj.name), self.metadata, *cols)
        self.tables[(w.id, obj.name)] = t
        return t

    def create_all(self, engine: Engine) -> None:
        self.metadata.create_all(engine)

    def summary_table(self, window_id: str) -> Table:
        return self.tables[(window_id, self.windows.get(window_id).summary)]

    def lookup(self, conn: Connection) -> _Lookup:
        return _Lookup(self, conn)

    def validator(self, window_id: str, lookup: _Lookup) -> DocumentValidator:
        names = {w.id: w.summary for w in self.windows}
        return DocumentValidator(self.windows.get(window_id), lookup, names)

    # -- saving ------------------------------------------------------------------------
    def save_many(self, conn: Connection, window_id: str, docs: list[Doc], *,
                  mode: str = "insert", stop_on_error: bool = True,
                  lookup: _Lookup | None = None, validator: DocumentValidator | None = None,
                  dry_run: bool = False,
                  checked: list[tuple[Doc | None, list[FieldError]]] | None = None,
                  bound: BoundLines | None = None) -> list[SaveResult]:
        """Validate ``docs`` in order and write the valid ones; nothing is committed here.

        With ``stop_on_error`` the documents after the first failing one are not saved
        (their result is ``not saved``). ``dry_run`` validates without writing.
        ``checked``: pass 1 done before for some documents (one ``(clean or None, errors)``
        per document, None for those to check here: their ``docs`` entry), by
        :meth:`precheck` where :meth:`prechecks` allows it, or by the columns engine.
        ``bound``: the checked documents' lines bound before (:meth:`bind_lines`), used
        where the documents to insert are those very ones.
        """
        w = self.windows.get(window_id)
        lookup = lookup or self.lookup(conn)
        validator = validator or self.validator(window_id, lookup)
        lookup.pending_unique = set()
        unique_rules = [r["fields"] for r in w.rules if r["rule"] == "unique"]
        given = list(checked) if checked is not None else [None] * len(docs)
        n_docs = len(given)
        # upsert: the stored ids of the documents' keys, in one query for the batch
        before = (self._existing_ids(conn, w, [_raw_key(w, d) for d, c in zip(docs, given)
                                               if c is None])
                  if mode == "upsert" and w.key_fields else None)
        # Pass 1: the window's rules, document by document (in order).
        checked = []
        for doc, pre in zip(docs, given):
            if pre is None:
                lookup.exclude_id = None
                if before is not None:
                    lookup.exclude_id = before.get(_norm_key(_raw_key(w, doc)))
                clean, errors = validator.check(doc)
                pre = (None if errors else clean, errors)
            checked.append(pre)
            if pre[1] and stop_on_error:
                break
            if not pre[1]:
                for names in unique_rules:
                    lookup.pending_unique.add((w.id, *(pre[0][w.summary][n] for n in names)))
        # Pass 2: keys already taken, in the database or earlier in this batch.
        keys = w.key_fields  # once for the batch (a property that builds its list)
        key_of = _key_getter(w.summary, keys)
        full = [key_of(c) if c is not None else None for c, _ in checked]
        existing = self._existing_ids(conn, w, [k for k in full if k]) if keys else {}
        seen: set[tuple] = set()
        results: list[SaveResult] = []
        to_insert: list[tuple[int, Doc]] = []
        to_update: list[tuple[int, Doc, int]] = []
        for (clean, errors), k in zip(checked, full):
            doc_id = None
            if clean is not None and k:
                nk = _norm_key(k)
                doc_id = existing.get(nk)
                if (doc_id is not None and mode == "insert") or nk in seen:
                    label = ", ".join(f"{n} {v}" for n, v in zip(keys, k))
                    errors = [FieldError(w.id, w.summary, keys[-1],
                                         f"{w.name}: {label} already exists", None, k[-1])]
                    clean = None
                else:
                    seen.add(nk)
            if clean is None:
                results.append(SaveResult(False, errors=errors, action="failed"))
                if stop_on_error:
                    break
                continue
            if doc_id is not None:
                to_update.append((len(results), clean, doc_id))
                results.append(SaveResult(True, action="updated"))
            else:
                to_insert.append((len(results), clean))
                results.append(SaveResult(True, action="inserted"))
        results += [SaveResult(False, action="not saved") for _ in range(n_docs - len(results))]
        if not dry_run:
            for _, clean, doc_id in to_update:
                self._update(conn, w, doc_id, clean)
            if to_insert:
                self._number(conn, w, [d for _, d in to_insert])
                self._insert(conn, w, [d for _, d in to_insert], bound)
        for pos, clean, *_ in to_insert + to_update:
            head = clean[w.summary]
            results[pos].key = {k: head[k] for k in keys}
            results[pos].doc = clean
            if not dry_run:
                lookup.saved(w.id, head)
        return results

    def prechecks(self, window_id: str, mode: str) -> bool:
        """Whether a window's rules (pass 1 of :meth:`save_many`) can be checked before the
        documents saved ahead of them are written: true unless they read the window's own
        stored documents (a unique rule, a selector or default into the window itself,
        the stored ids of an upsert). Parallel import workers validate such windows in
        record order, the others as soon as they have mapped a batch."""
        w = self.windows.get(window_id)
        if mode != "insert" or any(r["rule"] == "unique" for r in w.rules):
            return False
        return not self.selects_itself(window_id)

    def selects_itself(self, window_id: str) -> bool:
        """Whether a field of the window selects (or defaults from) the window itself."""
        w = self.windows.get(window_id)
        return any(f.selector is not None and f.selector.window == window_id
                   for o in w.objects.values() for f in o.fields.values())

    def precheck(self, validator: DocumentValidator, docs: list[Doc]
                 ) -> list[tuple[Doc | None, list[FieldError]]]:
        """Pass 1 of :meth:`save_many` on its own, for ``checked=``."""
        out = []
        for doc in docs:
            clean, errors = validator.check(doc)
            out.append((None if errors else clean, errors))
        return out

    def save(self, conn: Connection, window_id: str, doc: Doc, mode: str = "insert") -> dict:
        (res,) = self.save_many(conn, window_id, [doc], mode=mode)
        if not res.ok:
            raise DocumentError(window_id, res.errors)
        return res.key or {}

    def _existing_ids(self, conn: Connection, w: WindowDef, keys: list[tuple]) -> dict:
        """{normalised key: _id} of the given full keys that are stored already."""
        wanted = {_norm_key(k) for k in keys if k and all(v not in (None, "") for v in k)}
        if not wanted:
            return {}
        st = self.summary_table(w.id)
        names = w.key_fields
        # Every key field is filtered (so the database probes the key's unique index), in
        # chunks of the field with the most distinct values; the full key is checked below.
        values = [sorted({k[i] for k in wanted}) for i in range(len(names))]
        pos = max(range(len(names)), key=lambda i: len(values[i]))
        out = {}
        q = self._ids_by_key(conn, w.id, st, names)
        for chunk in range(0, len(values[pos]), 500):
            for row in conn.execute(q, {f"k{i}": values[i][chunk:chunk + 500] if i == pos
                                        else values[i] for i in range(len(names))}):
                nk = _norm_key(tuple(row[1:]))
                if nk in wanted:
                    out[nk] = row[0]
        return out

    def _number(self, conn: Connection, w: WindowDef, docs: list[Doc]) -> None:
        for f in w.summary_object.fields.values():
            if not isinstance(f.numbering, dict):
                continue
            blank = [d for d in docs if d[w.summary].get(f.name) is None]
            if not blank:
                continue
            name = f"{w.id}.{f.name}"
            last = conn.execute(select(numbering.c.last).where(numbering.c.name == name)
                                .with_for_update()).scalar()
            if last is None:
                conn.execute(insert(numbering).values(name=name, last=len(blank)))
                last = 0
            else:
                conn.execute(update(numbering).where(numbering.c.name == name)
                             .values(last=last + len(blank)))
            prefix, width = f.numbering.get("prefix", ""), f.numbering.get("width", 6)
            for n, d in enumerate(blank, start=last + 1):
                d[w.summary][f.name] = f"{prefix}{n:0{width}d}"
        self.number_lines(w, docs)

    @staticmethod
    def number_lines(w: WindowDef, docs: list[Doc]) -> None:
        """The line numbers (fields numbered ``line``) the lines of ``docs`` leave blank, as
        the save gives them: what a document gets from the database alone is its summary's
        automatic numbers (:meth:`numbers_pending`)."""
        for obj in w.detail_objects:
            for f in obj.fields.values():
                if f.numbering == "line":
                    for d in docs:
                        for n, ln in enumerate(d[obj.name], start=1):
                            if ln.get(f.name) is None:
                                ln[f.name] = n

    @staticmethod
    def numbers_pending(w: WindowDef, doc: Doc) -> bool:
        """Whether the save gives ``doc`` an automatic number (a blank numbered field)."""
        head = doc[w.summary]
        return any(isinstance(f.numbering, dict) and head.get(f.name) is None
                   for f in w.summary_object.fields.values())

    def bind_lines(self, dialect, window_id: str, docs: list[Doc]) -> BoundLines | None:
        """The detail lines of ``docs`` (checked, with their line numbers) bound for
        ``dialect`` ahead of their save, which then only adds the documents' ids: parallel
        workers bind a batch while the batches before it are being saved, which shortens
        the saves that run one after another. None where the lines have other keys, or
        where :func:`bulk_insert_columns` binds through SQLAlchemy (neither SQLite nor
        psycopg 3's COPY). The lines' values must not change after this (the save changes
        only the summary's automatic numbers; :meth:`BoundLines.fits` checks the documents
        and their line counts)."""
        if not _binds_itself(dialect):
            return None
        w = self.windows.get(window_id)
        objects = {}
        for obj in w.detail_objects:
            lines = [d[obj.name] for d in docs]
            if not any(lines):
                continue
            got = _line_columns(lines)
            if got is None:
                return None
            names, columns = got
            t = self.tables[(w.id, obj.name)]
            objects[obj.name] = (names, _bound(dialect, [t.c[n].type for n in names], columns),
                                 list(map(len, lines)))
        return BoundLines(dialect.name, docs, objects) if objects else None

    def _insert(self, conn: Connection, w: WindowDef, docs: list[Doc],
                bound: BoundLines | None = None) -> None:
        st = self.summary_table(w.id)
        heads = [d[w.summary] for d in docs]
        self._growth.added(conn, st, len(heads))
        if not w.detail_objects:
            bulk_insert(conn, st, heads)  # no lines: the ids are not needed
            return
        keys = w.key_fields
        if keys and all(h.get(k) is not None for k in keys for h in heads):
            bulk_insert(conn, st, heads)
            ids = None
            if conn.dialect.name == "sqlite" and "_id" not in heads[0]:
                # this transaction holds SQLite's one write lock from the INSERT on, and a
                # rowid table gives each new row the greatest id + 1: the documents' ids
                # are the run up to the last one inserted. (Past the greatest possible id
                # SQLite picks them at random; then they are read back as elsewhere.)
                last, top = conn.execute(select(func.last_insert_rowid(),
                                                func.max(st.c._id))).one()
                if last == top:
                    ids = list(range(last - len(heads) + 1, last + 1))
            if ids is None:  # read back by the unique key (in this transaction)
                by_key = {}
                ids_of = self._ids_by_key(conn, w.id, st, keys)
                for at in range(0, len(heads), 500):
                    part = heads[at:at + 500]
                    by_key.update((tuple(r[1:]), r[0]) for r in conn.execute(ids_of, {
                        f"k{i}": sorted({h[k] for h in part}) for i, k in enumerate(keys)}))
                ids = [by_key[tuple(h[k] for k in keys)] for h in heads]
        elif keys:
            # RETURNING in multi-row statements (sorting by parameter order would make that
            # one statement per document on SQLite); ids are matched back by the unique key.
            by_key = {tuple(r[1:]): r[0] for r in conn.execute(
                insert(st).returning(st.c._id, *(st.c[k] for k in keys)), heads)}
            ids = [by_key[tuple(h[k] for k in keys)] for h in heads]
        else:
            ids = conn.execute(insert(st).returning(st.c._id, sort_by_parameter_order=True),
                               heads).scalars().all()
        for obj in w.detail_objects:
            lines = [d[obj.name] for d in docs]
            table = self.tables[(w.id, obj.name)]
            if bound is not None and bound.fits(conn.dialect.name, docs, obj.name):
                names, values, counts = bound.objects[obj.name]
                owner = list(chain.from_iterable(map(repeat, ids, counts)))
                (owner,) = _bound(conn.dialect, [table.c._doc_id.type], [owner])
                bulk_insert_columns(conn, table, [*names, "_doc_id"], [*values, owner],
                                    bound=True)
                continue
            if not any(lines):
                continue
            got = _line_columns(lines)
            if got is None:  # lines with other keys: SQLAlchemy's own handling
                bulk_insert(conn, table, [{**ln, "_doc_id": doc_id}
                                          for doc_id, ls in zip(ids, lines) for ln in ls])
                continue
            names, columns = got
            owner = list(chain.from_iterable(map(repeat, ids, map(len, lines))))
            bulk_insert_columns(conn, table, [*names, "_doc_id"], [*columns, owner])

    def _ids_by_key(self, conn: Connection, window_id: str, st: Table, keys: list[str]
                    ) -> Any:
        """The ids and keys of the documents whose key fields are among given values (one
        statement per window, built once; each key field's values bound as a list ``k0``,
        ``k1``...)."""
        d = conn.dialect.name
        stmt = self._ids_stmt.get((window_id, d))
        if stmt is None:
            stmt = self._ids_stmt[(window_id, d)] = select(
                st.c._id, *(st.c[k] for k in keys)).where(
                and_(*(among(st.c[k], f"k{i}", d) for i, k in enumerate(keys))))
        return stmt

    def _update(self, conn: Connection, w: WindowDef, doc_id: int, doc: Doc) -> None:
        st = self.summary_table(w.id)
        conn.execute(update(st).where(st.c._id == doc_id).values(**doc[w.summary]))
        for obj in w.detail_objects:
            t = self.tables[(w.id, obj.name)]
            conn.execute(delete(t).where(t.c._doc_id == doc_id))
            for n, ln in enumerate(doc[obj.name], start=1):
                for f in obj.fields.values():
                    if f.numbering == "line" and ln.get(f.name) is None:
                        ln[f.name] = n
            if doc[obj.name]:
                conn.execute(insert(t), [{**ln, "_doc_id": doc_id} for ln in doc[obj.name]])

    # -- reading -----------------------------------------------------------------------
    def iter_documents(self, conn: Connection, window_id: str, *, page: int = 1000,
                       where: dict[str, Any] | None = None) -> Iterator[Doc]:
        """Documents in storage order, summary with its detail lines, a page at a time."""
        w = self.windows.get(window_id)
        st = self.summary_table(window_id)
        fields = list(w.summary_object.fields)
        conditions = [st.c[k] == v for k, v in _where(w, where).items()]
        last = 0
        while True:
            q = select(st).where(st.c._id > last, *conditions).order_by(st.c._id).limit(page)
            heads = [dict(r) for r in conn.execute(q).mappings()]
            if not heads:
                return
            last = heads[-1]["_id"]
            details: dict[str, dict[int, list[dict]]] = {}
            ids = [h["_id"] for h in heads]
            for obj in w.detail_objects:
                t = self.tables[(w.id, obj.name)]
                by_doc: dict[int, list[dict]] = {i: [] for i in ids}
                names = list(obj.fields)
                q = (select(t.c._doc_id, *(t.c[n] for n in names))
                     .where(t.c._doc_id.in_(ids)).order_by(t.c._doc_id, t.c._id))
                for r in conn.execute(q):  # plain rows: one dict(zip()) per line
                    by_doc[r[0]].append(dict(zip(names, r[1:])))
                details[obj.name] = by_doc
            for h in heads:
                doc: Doc = {w.summary: {n: h[n] for n in fields}}
                for obj in w.detail_objects:
                    doc[obj.name] = details[obj.name][h["_id"]]
                yield doc

    def get_document(self, conn: Connection, window_id: str, key: dict[str, Any]) -> Doc | None:
        for doc in self.iter_documents(conn, window_id, where=key, page=1):
            return doc
        return None

    def documents_by_keys(self, conn: Connection, window_id: str,
                          keys: list[dict[str, Any]]) -> dict[tuple, tuple[int, Doc]]:
        """The stored documents of the given keys ({key field: value}, as ``save`` returns
        them): {normalised key: (_id, document)}; keys not stored are left out."""
        w = self.windows.get(window_id)
        wanted = [tuple(k.get(n) for n in w.key_fields) for k in keys]
        ids = self._existing_ids(conn, w, wanted)
        docs = self._documents_by_ids(conn, w, sorted(ids.values()))
        return {nk: (i, docs[i]) for nk, i in ids.items() if i in docs}

    def _documents_by_ids(self, conn: Connection, w: WindowDef, ids: list[int]
                          ) -> dict[int, Doc]:
        st = self.summary_table(w.id)
        fields = list(w.summary_object.fields)
        out: dict[int, Doc] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            for r in conn.execute(select(st).where(st.c._id.in_(part))).mappings():
                doc: Doc = {w.summary: {n: r[n] for n in fields}}
                for obj in w.detail_objects:
                    doc[obj.name] = []
                out[r["_id"]] = doc
            for obj in w.detail_objects:
                t = self.tables[(w.id, obj.name)]
                names = list(obj.fields)
                q = (select(t.c._doc_id, *(t.c[n] for n in names))
                     .where(t.c._doc_id.in_(part)).order_by(t.c._doc_id, t.c._id))
                for r in conn.execute(q):
                    if r[0] in out:
                        out[r[0]][obj.name].append(dict(zip(names, r[1:])))
        return out

    def delete_documents(self, conn: Connection, window_id: str, ids: list[int]) -> int:
        """Delete the documents of the given ids with their lines (on the caller's
        transaction); returns how many summary rows were deleted."""
        w = self.windows.get(window_id)
        st = self.summary_table(window_id)
        n = 0
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            for obj in w.detail_objects:
                t = self.tables[(w.id, obj.name)]
                conn.execute(delete(t).where(t.c._doc_id.in_(part)))
            n += conn.execute(delete(st).where(st.c._id.in_(part))).rowcount
        return n

    def count(self, conn: Connection, window_id: str, object_name: str | None = None) -> int:
        w = self.windows.get(window_id)
        t = self.tables[(window_id, object_name or w.summary)]
        return conn.execute(select(func.count()).select_from(t)).scalar_one()


def norm_key(w: WindowDef, key: dict[str, Any]) -> tuple:
    """A document key ({key field: value}) as the store compares keys."""
    return _norm_key(tuple(key.get(n) for n in w.key_fields))


def _norm_key(k: tuple) -> tuple:
    return tuple(str(v).strip() if v is not None else None for v in k)


def _where(w: WindowDef, where: dict[str, Any] | None) -> dict[str, Any]:
    """Summary field values to filter on, converted to the fields' types (a value that does
    not convert, or a field the window does not have, is bad input)."""
    out = {}
    fields = w.summary_object.fields
    for k, v in (where or {}).items():
        f = fields.get(k)
        if f is None:
            raise NotFoundError(f"window {w.id} has no summary field {k!r}; fields: "
                                f"{', '.join(fields)}", window=w.id)
        try:
            out[k] = (convert(v, f.value_type) if isinstance(v, str) and f.value_type != "string"
                      else v)
        except ValueError as e:
            raise BadInputError(f"{w.id}.{k}: {e}", window=w.id, field=k) from None
    return out


def _raw_key(w: WindowDef, doc: Doc) -> tuple:
    s = doc.get(w.summary) if isinstance(doc, dict) else None
    return tuple(s.get(k) for k in w.key_fields) if isinstance(s, dict) else ()


def _key_getter(summary: str, keys: list[str]) -> Callable[[Doc], tuple | None]:
    """The stored key of a validated document of a window (``summary``'s ``keys``); None
    while an automatic number is blank. Built once for a batch of documents."""
    if not keys:
        return lambda clean: None
    get = itemgetter(*keys)
    one = len(keys) == 1

    def key_of(clean: Doc) -> tuple | None:
        head = clean[summary]
        try:
            k = (get(head),) if one else get(head)
        except KeyError:  # a field missing: None, as .get() gives
            k = tuple(head.get(n) for n in keys)
        return k if None not in k else None
    return key_of
