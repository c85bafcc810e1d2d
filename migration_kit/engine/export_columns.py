"""Export in bulk (scenario option ``engine: columns``, the default): the same prepared data
and the same file as the reference path of :mod:`.export` (``engine: rows``), by batches.

* **Read**: the database flattens the documents (``erp.bulk_read``: summary LEFT JOIN the
  first detail object, ordered by document and line, streamed), batches of whole
  documents as raw columns; the summary's fields come once per document
  (``DocColumn``) and are converted once per document.
* **Restrictions** are evaluated once per distinct combination of the values they read
  (a restriction on the document type: once per run, not once per line).
* **Mapping**, column by column: a plain field is a column copy; a constant a repeated
  value; only formula lines are evaluated row by row (on rows of the fields they read).
  Each distinct raw value of a column is converted once (the ERP's type, its JSON text
  for the prepared data, the value the export check makes of it): the values of a column
  are looked up in a bounded memo by ``map`` (in C), the conversion runs on a miss.
* **Prepared data** (records and lines) is written as the reference path writes it, in
  bulk; the prepared line's JSON text is built from each value's text.
* **Write**: CSV rows are joined from the columns' quoted texts and written a batch at a
  time after the header the provider itself wrote (byte for byte the provider's output);
  Excel and XML rows go to the provider's own streaming writers (openpyxl write-only,
  lxml ``xmlfile``) from the checked columns.

``prepare_and_write`` (an export that prepares first) does both in one pass: the file is
written from the batches as they are prepared, without reading the prepared lines back;
the prepare commits before the export's own transaction, as when the two run one after
the other. What the bulk path cannot do falls back to the reference path for the whole
scenario (:func:`unsupported` says why).
"""

from __future__ import annotations

import datetime as dt
import json
from array import array
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate, chain, compress, repeat
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, Numeric, and_, select

from .. import db
from ..catalog.versions import Provider, load_provider
from ..erp.bulk_read import DocColumn, flat_batches, flat_columns
from ..erp.store import bulk_insert_columns
from ..errors import FormulaRuntimeError, Location, SourceError
from ..jsonio import value_text as jtext
from ..providers.base import display_name
from ..providers.csv import STORED_DEFAULTS as CSV_DEFAULTS
from ..scenarios.conditions import compile_restrictions
from ..scenarios.model import Scenario
from ..values import FileText
from ..workspace import Workspace
from . import export_sql, history
from .export_checks import (
    Failed,
    cell_limit,
    column_check,
    column_specs,
    neutralises,
    plain_decimal,
)
from .mapping import formula_context, getter, source_columns
from .prepare import PrepareSummary, clear_prepared, save_prepared_state
from .progress import progress_bar

PR = db.prepared_record
PL = db.prepared_line
MEMO_SIZE = 20_000  # distinct values remembered per column (then the memo starts again)
LOOK_EVERY = 8  # batches between two looks at how distinct a column's values are
READ_BATCH = 20_000  # rows read per batch (whole documents: a batch may hold more)

# (rows written, the records of the rows written, the rows that failed)
Written = tuple[int, set[int], list[dict[str, Any]]]


def unsupported(ws: Workspace, sc: Scenario) -> str | None:
    """Why the scenario's export cannot run in bulk (it runs the reference path), or None."""
    d = ws.db_engine.dialect
    if not (d.name == "sqlite" or (d.name == "postgresql" and d.driver == "psycopg")):
        return f"database {d.name}+{d.driver}: no streamed read"
    prov = load_provider(ws, sc.provider)
    columns = prov.schema.columns()
    if not columns:
        return "the provider has no columns"
    if any(m.target not in columns for m in sc.active_mapping() if m.target):
        return "a mapping line's target is not a column of the provider"
    return None


# -- memos -----------------------------------------------------------------------------
class _Memo(dict):
    """``fn(value)`` of each value of a column, each distinct value computed once.

    ``any_key``: every value is remembered (a column of one type, read from the
    database); else only text (JSON values, where ``True``, ``1`` and ``1.0`` are equal
    keys with different results)."""

    def __init__(self, fn: Callable[[Any], Any], any_key: bool):
        super().__init__()
        self.fn = fn
        self.any_key = any_key
        self.distinct = False  # the last look found mostly distinct values
        self.looks = 0  # batches until the next look (a column keeps its kind: it is
        # looked at every LOOK_EVERY batches, not on every one)

    def __missing__(self, k: Any) -> Any:
        v = self.fn(k)
        if self.any_key or type(k) is str or k is None:
            if len(self) >= MEMO_SIZE:
                self.clear()
            self[k] = v
        return v

    def map(self, col: Iterable[Any]) -> list[Any]:
        if isinstance(col, DocColumn):  # a document's value: converted once per document
            return col.expand(self.map(col.values))
        col = col if isinstance(col, list | tuple) else list(col)
        try:
            if self.looks == 0 and len(col) >= 256:
                # mostly distinct values (line texts, amounts): a memo would miss anyway
                self.distinct = len(set(col)) * 2 > len(col)
                self.looks = LOOK_EVERY
            self.looks = max(self.looks - 1, 0)
            if self.distinct:
                many = getattr(self.fn, "many", None)  # a whole column at once
                return many(col) if many is not None else list(map(self.fn, col))
            return list(map(self.__getitem__, col))
        except TypeError:  # a value that cannot be a key
            return [self.fn(v) for v in col]


def _then(first: Callable[[Any], Any] | None, fn: Callable[[Any], Any]
          ) -> Callable[[Any], Any]:
    if first is None:
        return fn
    return lambda v: fn(first(v))


_PLAIN_JSON = (str, int, float, bool)


def jvalue(v: Any) -> Any:
    """The value as read back from a prepared line's JSON (dates, decimals: text)."""
    t = type(v)
    if v is None or t in _PLAIN_JSON:
        return v
    if t is Decimal:
        return format(v, "f")
    if t is dt.date:
        return v.isoformat()
    return json.loads(jtext(v))


# -- prepare ---------------------------------------------------------------------------
@dataclass
class _Batch:
    """Prepared rows of whole records, for the writer: their numbers and one column per
    provider column, of JSON values (as read back from prepared lines) or, where
    ``typed[j]`` is set, of raw database values that ``typed[j]`` makes the ERP's."""

    line_nos: list[int]
    record_nos: list[int]
    columns: list[list[Any]]
    typed: list[Callable[[Any], Any] | None] | None = None
    # where set, ``typed[j]`` is SQLite's decimal processor, ``Decimal("%.{s}f" % raw)``
    scales: list[int | None] | None = None


@dataclass
class _Line:
    kind: str  # plain | constant | formula
    target: str
    pos: int
    field: int = -1  # plain: index into the fields read
    value: Any = None  # constant
    get: Callable[[Any], Any] | None = None  # formula
    names: tuple[str, ...] = ()  # formula: the fields it reads


def _identity(v: Any) -> Any:
    return v


def prepare(ws: Workspace, sc: Scenario, progress: bool) -> PrepareSummary:
    gen = _prepare(ws, sc, progress, values=False)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def _prepare(ws: Workspace, sc: Scenario, progress: bool, *, values: bool
             ) -> Generator[_Batch, None, PrepareSummary]:
    """Prepare the export (what ``export._prepare`` stores, in bulk); with ``values``,
    yield each batch's rows of records without an error for the writer."""
    window = ws.windows.get(sc.window)
    prov = load_provider(ws, sc.provider)
    columns = prov.schema.columns()
    positions = {c: i for i, c in enumerate(columns)}
    ctx = formula_context(ws, sc)
    keep = compile_restrictions(sc.restrictions, today=ctx.today, locale=sc.locale)

    fields: dict[str, int] = {}

    def need(name: str) -> int:
        return fields.setdefault(name, len(fields))

    key_idx = [(k, need(f"{window.summary}.{k}")) for k in window.key_fields]
    key_names = [k for k, _ in key_idx]
    lines_: list[_Line] = []
    for m in sc.active_mapping():
        if not m.target:
            continue
        pos = positions[m.target]
        if m.is_formula:
            names = tuple(sorted(source_columns(m)))
            for n in names:
                need(n)
            lines_.append(_Line("formula", m.target, pos, get=getter(m, ctx), names=names))
        elif m.source is not None:
            lines_.append(_Line("plain", m.target, pos, field=need(m.source)))
        else:
            lines_.append(_Line("constant", m.target, pos, value=m.constant))
    r_names = list(dict.fromkeys(r.field for r in sc.restrictions))
    r_idx = [need(n) for n in r_names]
    f_names = sorted({n for ln in lines_ for n in ln.names})
    f_idx = [fields[n] for n in f_names]
    width = len(columns)
    # a column filled by one plain line only goes to the writer as the raw column
    per_pos = Counter(ln.pos for ln in lines_)
    raw_of = {ln.pos: ln.field for ln in lines_ if ln.kind == "plain" and per_pos[ln.pos] == 1}

    bar = progress_bar(progress, desc=f"prepare {sc.name}", unit="rows")
    counts = [0, 0, 0, 0]  # lines, records, filtered, errors

    def passes(conn: Any, read: Any, *, texts: bool, records_to: _Records | None,
               values: bool, shown: bool = True) -> Generator[_Batch, None, None]:
        """One pass over the documents: with ``texts``, the prepared lines and records are
        written; without, the database writes the lines (``export_sql``, when it can: else
        this pass takes ``texts`` after all) and ``records_to`` collects the records, or
        the database writes those too. With ``values``, each batch's rows of records
        without an error are yielded for the writer."""
        counts[:] = [0, 0, 0, 0]
        procs, batches = flat_batches(read, ws.store, sc.window, list(fields),
                                      batch=READ_BATCH)
        typed = [_Memo(p, True) if p is not None else None for p in procs]
        to_erp = [p if p is not None else _identity for p in procs]
        pass_typed = [to_erp[raw_of[j]] if j in raw_of else None for j in range(width)]
        pass_scales = [scales[raw_of[j]] if j in raw_of and procs[raw_of[j]] is not None
                       else None for j in range(width)]

        def value_of(i: int, col: list[Any]) -> list[Any]:
            m = typed[i]
            return m.map(col) if m is not None else col

        jtexts = [_Memo(_then(p, jtext), True) for p in procs]
        jvalues = [_Memo(_then(p, jvalue), True) for p in procs]

        def restricted(key: tuple) -> bool:
            return bool(keep({n: to_erp[i](v) for n, i, v in zip(r_names, r_idx, key)}))

        kept_memo = _Memo(restricted, True)
        out_jt = _Memo(jtext, False)
        out_jv = _Memo(jvalue, False)
        try:
            if not texts:  # the lines from the database, if it can write them
                started = export_sql.plan(conn, ws.store, sc.window, sc.name, sql_columns,
                                          list(fields), r_idx,
                                          restricted if sc.restrictions else None, key_idx)
                if isinstance(started, str):  # not this scenario: the lines from Python
                    texts = True
                    records_to = None
                    note.append(f"written by Python: {started}")
                else:
                    started.start(conn)  # the connection is the thread's until wait()
                    lines_db.append(started)
                    if started.records is not None:
                        records_to = None  # the database's too
            for b in batches:
                lines, records = counts[0], counts[1]
                ids, raw = b.doc_ids, b.columns
                docs = len(dict.fromkeys(ids))
                if sc.restrictions:
                    mask = kept_memo.map(zip(*(raw[i] for i in r_idx)))
                    if not all(mask):
                        ids = list(compress(ids, mask))
                        raw = [list(compress(c, mask)) for c in raw]
                k = len(ids)
                per_doc = Counter(ids)  # in document order
                counts[2] += docs - len(per_doc)
                if not k:
                    continue
                # records: one per document with rows left
                base = records + 1
                sizes = list(per_doc.values())
                n_rec = len(sizes)
                rec_nos = list(chain.from_iterable(map(repeat, range(base, base + n_rec),
                                                       sizes)))
                lasts = list(accumulate(sizes, initial=lines))
                firsts = [i - lines for i in lasts[:-1]]  # each record's first row
                # (not where the database writes the records)
                key_values = [[_text(to_erp[i](raw[i][r])) for r in firsts]
                              for _kf, i in key_idx] if texts or records_to is not None else []
                line_nos = list(range(lines + 1, lines + k + 1))
                # the mapping, column by column (the last line of a column wins)
                jt: list[list[str] | None] = [None] * width
                jv: list[list[Any] | None] = [None] * width
                fails: list[tuple[int, int, str, str]] = []
                rows: list[dict[str, Any]] | None = None
                for order, ln in enumerate(lines_):
                    if ln.kind == "plain":
                        col = raw[ln.field]
                        if texts:
                            jt[ln.pos] = jtexts[ln.field].map(col)
                        if values:
                            jv[ln.pos] = col if ln.pos in raw_of \
                                else jvalues[ln.field].map(col)
                        continue
                    if ln.kind == "constant":
                        jt[ln.pos] = [jtext(ln.value)] * k
                        if values:
                            jv[ln.pos] = [jvalue(ln.value)] * k
                        continue
                    if rows is None:
                        rows = [dict(zip(f_names, vals)) for vals in
                                zip(*(value_of(i, raw[i]) for i in f_idx))] \
                            if f_idx else [{} for _ in range(k)]
                    got: list[Any] = []
                    bad: list[int] = []
                    get = ln.get
                    assert get is not None
                    for i, row in enumerate(rows):
                        try:
                            got.append(get(row))
                        except FormulaRuntimeError as e:
                            got.append(None)
                            bad.append(i)
                            fails.append((i, order, e.message, ln.target))
                    t_col, v_col = out_jt.map(got), out_jv.map(got) if values else None
                    if bad:  # the column keeps what an earlier line gave it
                        before_t, before_v = jt[ln.pos], jv[ln.pos]
                        for i in bad:
                            t_col[i] = before_t[i] if before_t is not None else "null"
                            if v_col is not None:
                                v_col[i] = before_v[i] if before_v is not None else None
                    jt[ln.pos], jv[ln.pos] = t_col, v_col
                err: list[str | None] = [None] * n_rec
                err_field: list[str | None] = [None] * n_rec
                bad_recs: set[int] = set()
                if fails:
                    fails.sort()
                    for i, _order, message, target in fails:
                        r = rec_nos[i] - base
                        if err[r] is None:
                            err[r], err_field[r] = message, target
                            counts[3] += 1
                            bad_recs.add(rec_nos[i])
                if records_to is not None:  # (no formula: no error)
                    records_to.add(sizes, key_values)
                elif texts:
                    keys = [dict(zip(key_names, v)) for v in zip(*key_values)] \
                        if key_idx else [{} for _ in sizes]
                    bulk_insert_columns(conn, PR, _PR_NAMES, [
                        [sc.name] * n_rec, list(range(base, base + n_rec)),
                        [i + 1 for i in lasts[:-1]], lasts[1:], keys, [True] * n_rec,
                        [False] * n_rec, err, err_field])
                if texts:
                    nulls = ["null"] * k
                    data = list(map("[{}]".format, map(",".join, zip(
                        *(c if c is not None else nulls for c in jt)))))
                    bulk_insert_columns(conn, PL, _PL_NAMES,
                                        [[sc.name] * k, line_nos, rec_nos, [None] * k, data])
                counts[0] += k
                counts[1] += n_rec
                if shown:  # (a second pass is not shown twice)
                    bar.update(k)
                if values:
                    nones = [None] * k
                    vcols = [c if c is not None else nones for c in jv]
                    if bad_recs:
                        ok = [r not in bad_recs for r in rec_nos]
                        line_nos = list(compress(line_nos, ok))
                        rec_nos = list(compress(rec_nos, ok))
                        vcols = [list(compress(c, ok)) for c in vcols]
                    if line_nos:
                        yield _Batch(line_nos, rec_nos, vcols, pass_typed, pass_scales)
        finally:
            batches.close()

    # Prepared lines written by the database (export_sql) while the pass reads the same
    # documents: only where the lines are all plain fields and constants (formulas are
    # Python)
    scales = _decimal_scales(ws, sc, list(fields))
    lines_db: list[export_sql.InDatabase] = []
    sql_columns = _sql_columns(lines_, width)
    note: list[str] = []  # how the prepared lines were written, for the history
    if sql_columns is None:
        note.append("written by Python: formulas need Python")
    with ws.transaction() as conn:
        run = history.start(conn, sc.name, "prepare", ws.user)
        clear_prepared(conn, sc.name)
        with ws.connect() as read:
            if sql_columns is None:
                yield from passes(conn, read, texts=True, records_to=None, values=values)
            else:
                pr_cols = _Records(key_names)
                try:
                    yield from passes(conn, read, texts=False, records_to=pr_cols,
                                      values=values)
                except BaseException:  # (closed, interrupted, failed: all rolls back)
                    if lines_db:
                        lines_db[0].cancel()
                    raise
                written = lines_db[0].wait() if lines_db else -1
                if written is None:  # a value the database would write otherwise
                    note.append("written by Python: a value the database does not write "
                                "as Python does (the database's lines were undone)")
                    pr_cols = _Records(key_names)  # (its memory back)
                    for _ in passes(conn, read, texts=True, records_to=None, values=False,
                                    shown=False):
                        pass
                elif lines_db:
                    done = lines_db[0]
                    if written != counts[0] or (done.records is not None
                                                and done.records_written != counts[1]):
                        # the two reads must agree line for line, record for record
                        raise RuntimeError(
                            f"the database wrote {written} prepared lines and "
                            f"{done.records_written} records, the documents read have "
                            f"{counts[0]} and {counts[1]}")
                    if done.records is None:
                        pr_cols.write(conn, sc.name)
                    note.append("written by the database, in a second thread")
        bar.close()
        save_prepared_state(conn, sc, columns, None)
        lines, records, filtered, errors = counts
        summary = PrepareSummary(sc.name, None, lines, records, filtered, 0, errors)
        history.finish(conn, run, status="done", counts={
            **summary.to_dict(), **({"prepared_lines": note[-1]} if note else {})})
    return summary


def _decimal_scales(ws: Workspace, sc: Scenario, fields: list[str]) -> list[int | None]:
    """Each field's decimal scale where SQLite hands out its raw numbers (a float or an
    int that SQLAlchemy's processor formats with that many digits), else None."""
    if ws.db_engine.dialect.name != "sqlite":
        return [None] * len(fields)
    out: list[int | None] = []
    for c in flat_columns(ws.store, sc.window, fields)[2]:
        t = getattr(c, "type", None)
        ok = isinstance(t, Numeric) and not isinstance(t, Integer) and t.asdecimal \
            and t.decimal_return_scale is None and t.scale is not None and 0 <= t.scale <= 6
        out.append(t.scale if ok else None)
    return out


def _sql_columns(lines: list[_Line], width: int) -> list[export_sql.Column] | None:
    """Each provider column's source for ``export_sql`` (the last line of a column wins),
    or None when a formula line needs Python."""
    if any(ln.kind == "formula" for ln in lines):
        return None
    out = [export_sql.Column() for _ in range(width)]
    for ln in lines:
        out[ln.pos] = (export_sql.Column(field=ln.field) if ln.kind == "plain"
                       else export_sql.Column(constant=jtext(ln.value)))
    return out


class _Records:
    """The prepared records of a pass whose lines the database writes (records numbered
    from 1, without errors): each one's line count and key values, kept compact until
    the lines are in, then written in chunks."""

    def __init__(self, names: list[str]):
        self.names = names
        self.sizes = array("q")
        self.keys: list[list[Any]] = [[] for _ in names]

    def add(self, sizes: list[int], key_values: list[list[Any]]) -> None:
        self.sizes.extend(sizes)
        for acc, values in zip(self.keys, key_values):
            acc.extend(values)

    def write(self, conn: Any, scenario: str, chunk: int = 20_000) -> None:
        last = 0
        for lo in range(0, len(self.sizes), chunk):
            sizes = self.sizes[lo:lo + chunk]
            k = len(sizes)
            lasts = list(accumulate(sizes, initial=last))
            keys = [dict(zip(self.names, v)) for v in zip(*(c[lo:lo + k] for c in self.keys))] \
                if self.names else [{} for _ in range(k)]
            bulk_insert_columns(conn, PR, _PR_NAMES, [
                [scenario] * k, list(range(lo + 1, lo + k + 1)), [i + 1 for i in lasts[:-1]],
                lasts[1:], keys, [True] * k, [False] * k, [None] * k, [None] * k])
            last = lasts[-1]


_PR_NAMES = export_sql.RECORD_COLUMNS
_PL_NAMES = list(PL.c.keys())  # scenario, line_no, record_no, source_line, data


def _text(v: Any) -> Any:
    return v if v is None or isinstance(v, str | int) else str(v)


# -- write -----------------------------------------------------------------------------
def prepare_and_write(ws: Workspace, sc: Scenario, prov: Provider, cols: list[str],
                      tmp: Path, progress: bool) -> Written:
    """Prepare and write in one pass. When the write fails, the prepare still finishes
    and commits (as a prepare run before the export would have) before the error goes
    on."""
    gen = _prepare(ws, sc, progress, values=True)
    batches = _Drained(gen)
    try:
        return _write(ws, sc, prov, cols, tmp, progress, batches)
    except Exception:
        batches.finish()
        raise
    finally:
        gen.close()


class _Drained:
    """Iterates a prepare's batches; ``finish`` runs the prepare to its end."""

    def __init__(self, gen: Generator[_Batch, None, PrepareSummary]):
        self.gen = gen
        self.done = False

    def __iter__(self) -> Iterator[_Batch]:
        # not ``yield from``: closing this iterator must not close (roll back) the prepare
        while True:
            try:
                b = next(self.gen)
            except StopIteration:
                self.done = True
                return
            yield b

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        for _ in self.gen:
            pass


def write_prepared(ws: Workspace, sc: Scenario, prov: Provider, cols: list[str], tmp: Path,
                   progress: bool) -> Written:
    """Write the Active rows of records without error from the stored prepared data."""
    return _write(ws, sc, prov, cols, tmp, progress, _stored(ws, sc))


def _stored(ws: Workspace, sc: Scenario, batch: int = READ_BATCH) -> Iterator[_Batch]:
    q = (select(PL.c.line_no, PL.c.record_no, PL.c.data)
         .join(PR, and_(PR.c.scenario == PL.c.scenario, PR.c.record_no == PL.c.record_no))
         .where(and_(PL.c.scenario == sc.name, PR.c.active.is_(True), PR.c.error.is_(None)))
         .order_by(PL.c.line_no))
    with ws.connect() as read:
        result = read.execution_options(yield_per=batch).execute(q)
        for part in result.partitions(batch):
            line_nos, rec_nos, data = (list(c) for c in zip(*part))
            rows = list(map(json.loads, data))
            yield _Batch(line_nos, rec_nos, [list(c) for c in zip(*rows)])


class _Bad:
    __slots__ = ("error",)

    def __init__(self, error: dict[str, str]):
        self.error = error


def _safe(check: Callable[[Any], Any], failing: list[bool], j: int) -> Callable[[Any], Any]:
    def run(v: Any) -> Any:
        try:
            return check(v)
        except Failed as e:
            failing[j] = True  # the column is looked through for failures from now on
            return _Bad(e.error)

    return run


class _Checks:
    """Each column's check (``export_checks.column_check``), then ``final`` (the text the
    CSV writer joins, or nothing), remembered per distinct value. A column of raw database
    values (``_Batch.typed``) is checked as the JSON value the reference path would read
    back from the prepared line; a decimal into a decimal column directly (the same
    value: the check would parse the decimal's own text)."""

    def __init__(self, prov: Provider, cols: list[str], neutral: bool,
                 final: Callable[[Any], Any] | None = None,
                 number: Callable[[str], str] | None = None):
        limit = cell_limit(prov)
        self.number = number  # with ``final``: the final text of a decimal's own text
        self.checks = []
        self.specs = column_specs(prov, cols)
        self.failing = [False] * len(cols)
        self.final = final
        for j, (c, f) in enumerate(zip(cols, self.specs)):
            safe = _safe(column_check(c, f, limit, neutral), self.failing, j)
            self.checks.append(safe if final is None else _finally(safe, final))
        self.memos: list[_Memo] | None = None

    def _memos(self, b: _Batch) -> list[_Memo]:
        if self.memos is None:
            self.memos = []
            for j, (check, f) in enumerate(zip(self.checks, self.specs)):
                to = b.typed[j] if b.typed is not None else None
                if to is None:
                    self.memos.append(_Memo(check, False))
                    continue
                decimal = f is not None and f.type == "decimal"
                run = self._raw_check(to, check, decimal, j)
                scale = b.scales[j] if b.scales is not None else None
                if decimal and scale is not None and self.number is not None:
                    run = _decimal_text(run, scale, self.number)
                self.memos.append(_Memo(run, True))
        return self.memos

    def _raw_check(self, to: Callable[[Any], Any], check: Callable[[Any], Any],
                   decimal: bool, j: int) -> Callable[[Any], Any]:
        final = self.final

        def run(raw: Any) -> Any:
            v = to(raw)
            if decimal and type(v) is Decimal and v.is_finite():
                d = plain_decimal(v)
                return final(d) if final is not None else d
            return check(jvalue(v))

        return run

    def apply(self, b: _Batch) -> tuple[list[list[Any]], list[bool] | None,
                                         list[dict[str, Any]]]:
        """The batch's checked columns, the rows to write (None: all) and the failures."""
        out = []
        bad: dict[int, dict[str, str]] = {}
        for j, (memo, col) in enumerate(zip(self._memos(b), b.columns)):
            got = memo.map(col)
            out.append(got)
            if self.failing[j]:
                for i, x in enumerate(got):
                    if isinstance(x, _Bad) and i not in bad:
                        bad[i] = x.error
        if not bad:
            return out, None, []
        failed = [{"line": b.line_nos[i], "record": b.record_nos[i], **bad[i]}
                  for i in sorted(bad)]
        return out, [i not in bad for i in range(len(b.line_nos))], failed


def _decimal_text(slow: Callable[[Any], Any], scale: int, number: Callable[[str], str]
                  ) -> Callable[[Any], Any]:
    """``slow`` (the processor's Decimal, ``plain_decimal``, the CSV text) for a raw SQLite
    number, by string work: the processor's digits without trailing zeros are the plain
    decimal's text (below 10**15, with at most 6 digits: no exponent, all within
    Decimal's precision). Its ``many`` does a whole column in one comprehension."""
    fmt = f"%.{scale}f"

    def run(raw: Any) -> Any:
        t = type(raw)
        if (t is float or t is int) and -1e15 < raw < 1e15:
            text = fmt % raw
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return number(text)
        return slow(raw)

    # ``number`` leaves a plain number's text as it is (no separator to change, nothing
    # to quote): not called at all
    plain = number("-0123456789.") == "-0123456789."

    def many(col: Iterable[Any]) -> list[Any]:
        if not plain:
            return list(map(run, col))
        if scale:
            return [(fmt % v).rstrip("0").rstrip(".")
                    if (type(v) is float or type(v) is int) and -1e15 < v < 1e15
                    else slow(v) for v in col]
        return [fmt % v if (type(v) is float or type(v) is int) and -1e15 < v < 1e15
                else slow(v) for v in col]

    run.many = many  # type: ignore[attr-defined]
    return run


def _finally(safe: Callable[[Any], Any], final: Callable[[Any], Any]
             ) -> Callable[[Any], Any]:
    def run(v: Any) -> Any:
        r = safe(v)
        return r if isinstance(r, _Bad) else final(r)

    return run


def _write(ws: Workspace, sc: Scenario, prov: Provider, cols: list[str], tmp: Path,
           progress: bool, batches: Iterable[_Batch]) -> Written:
    neutral = neutralises(prov, sc.options)
    written: set[int] = set()
    failed: list[dict[str, Any]] = []
    bar = progress_bar(progress, desc=f"export {sc.name}", unit="rows")
    csv = _csv_dialect(prov)
    if csv is not None:
        n = _write_csv(prov, cols, tmp, batches, csv, neutral, written, failed, bar)
        bar.close()
        return n, written, failed
    checks = _Checks(prov, cols, neutral)
    rows = chain.from_iterable(_checked(batches, checks, bar, written, failed))
    n = prov.ptype.write(tmp, prov.params, prov.schema, cols, rows)
    bar.close()
    return n, written, failed


def _checked(batches: Iterable[_Batch], checks: _Checks, bar, written: set[int],
             failed: list[dict[str, Any]]) -> Iterator[Iterator[tuple]]:
    """Each batch's rows that passed the checks (the records written and the failures
    noted as it goes), one iterator of rows per batch."""
    for b in batches:
        out, ok, bad = checks.apply(b)
        bar.update(len(b.line_nos))
        failed.extend(bad)
        if ok is None:
            written.update(b.record_nos)
            yield zip(*out)
        else:
            written.update(compress(b.record_nos, ok))
            yield compress(zip(*out), ok)


@dataclass
class _Csv:
    enc: str
    delim: str
    term: str
    quote: Callable[[str], str]
    null_text: str
    fmt: FileText
    header_row: int


def _csv_dialect(prov: Provider) -> _Csv | None:
    """The CSV provider's dialect when its rows can be joined from quoted fields (no escape
    character, no comment prefix, one-character delimiter and quote); else None: the
    provider's own writer takes the rows."""
    if prov.type != "csv":
        return None
    p = {**CSV_DEFAULTS, **(prov.params or {})}
    delim = "," if p["delimiter"] == "auto" else p["delimiter"]
    q = '"' if p["quotechar"] in (None, "auto") else p["quotechar"]
    esc = None if p["escapechar"] in (None, "auto") else p["escapechar"]
    if esc is not None or p.get("comment") or len(delim) != 1 or len(q) != 1 \
            or str(p.get("header_rows")) == "2":
        return None
    import re

    special = re.compile("[" + re.escape(delim + q) + "\r\n]")

    def quote(v: str) -> str:  # csv.CsvType.write's quoting, field by field
        return q + v.replace(q, q + q) + q if special.search(v) else v

    nulls = list(p["null_values"] or [""])
    return _Csv(enc="utf-8" if p["encoding"] == "auto" else p["encoding"], delim=delim,
                term="\r\n" if p["line_terminator"] == "auto" else p["line_terminator"],
                quote=quote, null_text="" if "" in nulls else nulls[0],
                fmt=FileText(p["date_format"], p["decimal_separator"]),
                header_row=1 if p["header_row"] in (None, "auto") else int(p["header_row"]))


def _write_csv(prov: Provider, cols: list[str], tmp: Path, batches: Iterable[_Batch],
               d: _Csv, neutral: bool, written: set[int], failed: list[dict[str, Any]],
               bar: Any) -> int:
    """The provider writes the header (and what stands above and below it); the rows are
    appended a batch at a time, each field quoted as the provider quotes it."""
    prov.ptype.write(tmp, prov.params, prov.schema, cols, iter(()))
    quote, null_text, fmt = d.quote, d.null_text, d.fmt

    def final(v: Any) -> str:
        return quote(v if type(v) is str else null_text if v is None else fmt(v))

    def number(text: str) -> str:  # a decimal's text, as final writes the Decimal
        return quote(text.replace(".", fmt.sep) if fmt.sep != "." else text)

    checks = _Checks(prov, cols, neutral, final, number)
    one = len(cols) == 1
    n = 0
    with open(tmp, "a", encoding=d.enc, newline="", errors="strict") as f:
        for kept in _checked(batches, checks, bar, written, failed):
            text = list(map(d.delim.join, kept))
            if one:  # a lone empty field, not a blank line
                text = ['""' if t == "" else t for t in text]
            if not text:
                continue
            try:
                f.write(d.term.join(text) + d.term)
            except UnicodeEncodeError:
                _encode_error(text, d, n, tmp, prov)
            n += len(text)
    return n


def _encode_error(text: list[str], d: _Csv, n: int, tmp: Path, prov: Provider) -> None:
    """The provider's error for the first row that the encoding cannot hold."""
    for i, line in enumerate(text):
        try:
            (line + d.term).encode(d.enc)
        except UnicodeEncodeError as e:
            row = n + i
            raise SourceError(
                f"row {row + 1}: {e.object[e.start:e.end]!r} cannot be written in encoding "
                f"{d.enc}; choose an encoding that can hold it (e.g. utf-8)",
                location=Location(file=display_name(tmp), line=row + 1 + d.header_row),
                encoding=d.enc) from None
    raise AssertionError("unreachable")  # pragma: no cover


