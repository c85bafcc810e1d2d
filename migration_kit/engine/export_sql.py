"""An export's prepared lines (and records) written by the database itself (SQLite),
while Python reads the same documents (and writes the file): the two cores work at once.

The prepared lines hold each line's values as compact JSON text; for a scenario of plain
fields and constants, SQLite builds that very text in one ``INSERT ... SELECT`` over the
window's join (``json_quote`` for text, ``printf`` for decimals, ``row_number`` for the
line and record numbers), in a thread. A document's texts are built once per document,
into a temporary table keyed by the document (:data:`DOCS`) that the lines join in the
summary table's own order: numbering them needs no sort (a restriction on a line's field
numbers the records by ``dense_rank``, which sorts). The statements run in a thread: in C,
without the GIL, so the Python work of ``export_columns`` goes on beside them. Where no
restriction reads a line's field and the key fields are text or integers, a second
statement writes the records (one per kept document, its key by ``json_object``: the
reference's value, without the spaces); else ``export_columns`` writes them from its pass.

Exactly the reference path's text, or none: each value's SQL text is used only where it
is provably the one Python writes (a decimal only where ``printf``'s digits read back as
the stored number and the number is small enough for those digits to be the correctly
rounded ones; a date only when SQLite reads it back as itself, February 30 not). Any
other value makes the statement fail on purpose (``json(']' ...)``), the thread rolls
back to its savepoint, and the caller writes the prepared lines and records in Python, as
without this module. :func:`plan` says why a scenario does not take this path (another database, an
SQLite before 3.35 or whose ``json_quote`` writes other text than Python's JSON, more
restricted combinations of values than :data:`MAX_COMBOS`); formulas are the caller's
reason.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import Boolean, Connection, Date, Integer, Numeric, String, Table

from .. import db
from ..erp.bulk_read import flat_columns
from ..erp.store import ERPStore

# the prepared record columns an export writes (the others stay empty)
RECORD_COLUMNS = ["scenario", "record_no", "first_line", "last_line", "key", "active",
                  "processed", "error", "error_field"]
MAX_COMBOS = 256  # distinct values of the restricted fields a WHERE clause may list
DOCS = "temp.mk_export_docs"  # the kept documents, numbered, with their texts
# json_quote must write Python's text for these (control characters, quotes, non-ASCII)
_SAMPLE = ['a "q" \\ \n\t\r\b\f\x00\x01\x1f\x7f é ø \u2028\u2029 \ufeff 😀 日本', "", " "]
_DELIBERATE = ("malformed JSON", "JSON cannot hold BLOB values")


@dataclass
class Column:
    """A provider column's source: a field (index into the fields read) or a constant's
    JSON text."""

    field: int | None = None
    constant: str | None = None


@dataclass
class InDatabase:
    """The prepared lines' ``INSERT ... SELECT`` (and, where ``records`` is set, the
    prepared records'), run by :meth:`start` in a thread on the caller's connection (its
    transaction) under one savepoint; :meth:`wait` gives the lines written, or None when a
    value made a statement fail (nothing written: the caller writes lines and records)."""

    sql: str
    params: dict[str, Any]
    records: str | None = None  # the records' statement (None: the caller writes them)
    before: list[str] = field(default_factory=list)  # statements run first (same savepoint)
    after: list[str] = field(default_factory=list)  # and last
    records_written: int = -1
    _dbapi: Any = None
    _thread: threading.Thread | None = None
    _result: list[Any] = field(default_factory=list)

    def start(self, conn: Connection) -> None:
        dbapi = self._dbapi = conn.connection.dbapi_connection

        def run() -> None:
            cur = dbapi.cursor()
            try:
                cur.execute("SAVEPOINT mk_export_lines")
                try:
                    for stmt in self.before:
                        cur.execute(stmt, self.params)
                    cur.execute(self.sql, self.params)
                    lines = cur.rowcount
                    if self.records is not None:
                        cur.execute(self.records, self.params)
                        self.records_written = cur.rowcount
                    for stmt in self.after:
                        cur.execute(stmt)
                except sqlite3.OperationalError as e:
                    cur.execute("ROLLBACK TO mk_export_lines")
                    cur.execute("RELEASE mk_export_lines")
                    if not any(m in str(e) for m in _DELIBERATE):
                        raise
                    self._result.append(None)
                    return
                cur.execute("RELEASE mk_export_lines")
                self._result.append(lines)
            except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
                self._result.append(e)
            finally:
                cur.close()

        self._thread = threading.Thread(target=run, name="mk-export-prepared-lines")
        self._thread.start()

    def cancel(self) -> None:
        """Stop the statement (the caller's run failed or was interrupted: its transaction
        rolls back) and wait for the thread; what it raises is dropped."""
        assert self._thread is not None
        self._dbapi.interrupt()
        self._thread.join()

    def wait(self) -> int | None:
        assert self._thread is not None
        self._thread.join()
        got = self._result[0]
        if isinstance(got, BaseException):
            raise got
        return got


def plan(conn: Connection, store: ERPStore, window_id: str, scenario: str,
         columns: Sequence[Column], fields: list[str], restricted_fields: list[int],
         kept: Callable[[tuple], bool] | None, keys: list[tuple[str, int]]
         ) -> InDatabase | str:
    """The statements that write ``scenario``'s prepared lines (numbered as the bulk path
    numbers them) and, where they can, its records, or why there are none. ``kept`` tells
    whether a combination of the raw values of ``restricted_fields`` passes the
    scenario's restrictions (None: none); ``keys``: the key's names and fields."""
    if conn.dialect.name != "sqlite":
        return f"database {conn.dialect.name}"
    if sqlite3.sqlite_version_info < (3, 35):
        return f"SQLite {sqlite3.sqlite_version} (3.35 or newer writes the lines)"
    if not _json_quote_matches(conn):
        return "this SQLite's json_quote writes other text than Python's JSON"
    st, dt_, cols = flat_columns(store, window_id, fields)
    prep = conn.dialect.identifier_preparer

    def ref(i: int) -> str | None:
        c = cols[i]
        if not isinstance(getattr(c, "table", None), Table):
            return None  # not a field of the window: always empty
        return ("s." if c.table is st else "d.") + prep.quote(c.name)

    params: dict[str, Any] = {"scenario": scenario}

    def bind(v: Any) -> str:
        params[f"p{len(params)}"] = v
        return f":p{len(params) - 1}"

    summary_level = [col.field is not None and (ref(col.field) or "").startswith("s.")
                     for col in columns]
    texts: list[str] = []
    # a document's texts, computed once per document (not once per line) into the
    # documents' table; consecutive ones joined into one text
    heads: list[str] = []
    run: list[str] = []

    def close_run() -> None:
        if run:
            heads.append(" || ',' || ".join(run))
            texts.append(f'h."t{len(heads) - 1}"')
            run.clear()

    for col, head in zip(columns, summary_level):
        if col.field is None:
            close_run()
            texts.append(bind(col.constant) if col.constant is not None else "'null'")
            continue
        text = _text(ref(col.field), cols[col.field].type if ref(col.field) else None)
        if head and dt_ is not None:
            run.append(text)
            continue
        close_run()
        texts.append(text)
    close_run()
    data = "'[' || " + (" || ',' || ".join(texts) if texts else "''") + " || ']'"
    summary = f"{prep.format_table(st)} AS s"
    detail = (f' LEFT OUTER JOIN {prep.format_table(dt_)} AS d ON d."_doc_id" = s."_id"'
              if dt_ is not None else "")
    where = ""
    line_level = False  # the restrictions read a line's field
    if kept is not None:
        refs = [ref(i) or "NULL" for i in restricted_fields]
        line_level = any(r.startswith("d.") for r in refs)
        got = conn.connection.dbapi_connection.execute(
            f"SELECT DISTINCT {', '.join(refs)} FROM {summary}"
            f"{detail if line_level else ''} LIMIT {MAX_COMBOS + 1}").fetchall()
        if len(got) > MAX_COMBOS:
            return f"the restricted fields hold more than {MAX_COMBOS} combinations of values"
        keep = [tuple(c) for c in got if kept(tuple(c))]
        drop = [tuple(c) for c in got if not kept(tuple(c))]
        if drop:
            listed = keep if len(keep) <= len(drop) else drop
            match = " OR ".join("(" + " AND ".join(f"{r} IS {bind(v)}"
                                                   for r, v in zip(refs, c)) + ")"
                                for c in listed) or "0"
            where = f" WHERE {match}" if listed is keep else f" WHERE NOT ({match})"
    pl = db.prepared_line
    target = f"{prep.format_table(pl)} ({', '.join(prep.quote(n) for n in pl.c.keys())})"
    if dt_ is None:  # one line per document
        sql = (f'INSERT INTO {target} SELECT :scenario, row_number() OVER (ORDER BY s."_id"), '
               f'row_number() OVER (ORDER BY s."_id"), NULL, {data} FROM {summary}{where}')
        return InDatabase(sql, params)
    # the documents (kept by restrictions on their own fields), numbered, with their texts,
    # in a table keyed by the document: the lines join it in the summary's own order, so
    # numbering them needs no sort; restrictions on a line's field drop lines, and a
    # document without one is no record
    doc_where, line_where = ("", where) if line_level else (where, "")
    records = None if line_level else _records(
        prep, st, dt_, summary, doc_where, [(n, ref(i), cols[i].type if ref(i) else None)
                                            for n, i in keys])
    record = 'dense_rank() OVER (ORDER BY s."_id")' if line_level else 'h."rec"'
    h_cols = "".join(f', "t{i}"' for i in range(len(heads)))
    before = [
        f"DROP TABLE IF EXISTS {DOCS}",
        f'CREATE TEMP TABLE {DOCS.partition(".")[2]} ("id" INTEGER PRIMARY KEY, '
        f'"rec" INTEGER NOT NULL{h_cols})',
        f'INSERT INTO {DOCS} ("id", "rec"{h_cols}) SELECT s."_id", '
        f'row_number() OVER (ORDER BY s."_id"){"".join(", " + h for h in heads)} '
        f"FROM {summary}{doc_where}",
    ]
    source = f'{summary} JOIN {DOCS} AS h ON h."id" = s."_id"{detail}'
    sql = (f'INSERT INTO {target} SELECT :scenario, row_number() OVER (ORDER BY s."_id", '
           f'd."_id"), {record}, NULL, {data} FROM {source}{line_where}')
    return InDatabase(sql, params, records, before=before, after=[f"DROP TABLE {DOCS}"])


def _records(prep: Any, st: Table, dt_: Table, summary: str, where: str,
             keys: list[tuple[str, str | None, Any]]) -> str | None:
    """The prepared records' statement: one per document kept, its lines (at least one:
    a document without lines is one line of empty line fields) numbered on from the
    previous record's, its key as JSON (``json_object``: the reference's key, written
    compactly); None where a key field is neither text nor an integer."""
    pairs = []
    for name, c, t in keys:
        if c is None or not c.startswith("s.") or isinstance(t, Numeric) \
                or not isinstance(t, String | Integer):
            return None
        value = c if isinstance(t, String) else \
            f"CASE WHEN typeof({c}) = 'real' THEN {_fail(c)} ELSE {c} END"
        pairs += [_sql_text(name), value]
    key = f"json_object({', '.join(pairs)})"
    pr = db.prepared_record
    target = f"{prep.format_table(pr)} ({', '.join(prep.quote(n) for n in RECORD_COLUMNS)})"
    count = (f'max((SELECT count(*) FROM {prep.format_table(dt_)} AS d '
             f'WHERE d."_doc_id" = s."_id"), 1)')
    docs = f'SELECT s."_id" AS "id", {count} AS "n", {key} AS "k" FROM {summary}{where}'
    return (f"INSERT INTO {target} SELECT :scenario, r, last - n + 1, last, k, 1, 0, NULL, "
            f'NULL FROM (SELECT row_number() OVER w AS r, n, sum(n) OVER w AS last, k '
            f'FROM ({docs}) WINDOW w AS (ORDER BY "id"))')


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fail(c: str) -> str:
    """An expression that fails the statement (on purpose: see the module doc)."""
    return f"json(']' || quote({c}))"


def _text(c: str | None, t: Any) -> str:
    """The SQL of a raw column value's JSON text inside a prepared line: what
    ``jsonio.value_text`` writes of the value SQLAlchemy reads (see the module doc)."""
    if c is None:
        return "'null'"
    if isinstance(t, Numeric) and not isinstance(t, Integer):
        s = t.scale
        if not t.asdecimal or t.decimal_return_scale is not None or s is None \
                or not 0 <= s <= 14:
            return f"CASE WHEN {c} IS NULL THEN 'null' ELSE {_fail(c)} END"
        fmt = f"printf('%.{s}f', {c})"
        zeros = "." + "0" * s if s else ""
        # an integer (NUMERIC affinity stores 12.0 as 12): its digits, then the zeros; a
        # real: printf's digits when they read back as the number and the number is small
        # enough (below 10**(15-s)) for them to be its correctly rounded digits
        return (f"CASE WHEN {c} IS NULL THEN 'null' "
                f"WHEN typeof({c}) = 'integer' AND abs({c}) < 9007199254740992 "
                f"THEN '\"' || {c} || '{zeros}\"' "
                f"WHEN typeof({c}) = 'real' AND {c} <> 0 AND abs({c}) < 1e{15 - s} "
                f"AND CAST({fmt} AS REAL) = {c} THEN printf('\"%.{s}f\"', {c}) "
                f"ELSE {_fail(c)} END")
    if isinstance(t, Boolean):
        return (f"CASE WHEN {c} IS NULL THEN 'null' WHEN {c} IS 1 THEN 'true' "
                f"WHEN {c} IS 0 THEN 'false' ELSE {_fail(c)} END")
    if isinstance(t, Date):
        return (f"CASE WHEN {c} IS NULL THEN 'null' WHEN typeof({c}) = 'text' "
                f"AND length({c}) = 10 AND {c} >= '0001' AND date({c}, '+0 days') IS {c} "
                f"THEN '\"' || {c} || '\"' ELSE {_fail(c)} END")
    if isinstance(t, Integer):
        return (f"CASE WHEN typeof({c}) = 'real' THEN {_fail(c)} "
                f"ELSE json_quote({c}) END")
    if isinstance(t, String):
        # TEXT affinity: text or NULL (json_quote: 'null'); a blob fails the statement
        return f"json_quote({c})"
    return f"CASE WHEN {c} IS NULL THEN 'null' ELSE {_fail(c)} END"


def _json_quote_matches(conn: Connection) -> bool:
    try:
        got = [conn.connection.dbapi_connection.execute("SELECT json_quote(?)", (s,))
               .fetchone()[0] for s in _SAMPLE]
    except sqlite3.Error:
        return False
    return got == [encode_basestring(s) for s in _SAMPLE]
