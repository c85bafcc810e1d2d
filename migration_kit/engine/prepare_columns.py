"""Prepare a batch at a time, column by column: the default engine (scenario option
``engine: columns``).

It writes the same prepared records and lines as the row path of :mod:`.prepare`
(``engine: rows``, the reference; ``tests/engine/test_prepare_engines.py`` compares the
two on generated files), with the work of a provider batch done per column or per stretch
of rows instead of per row:

* restrictions read only the fields they name, so the restriction predicate is evaluated
  once per distinct combination of those fields' values (text values; others row by row);
* key and identity of a row likewise, once per distinct combination of the key columns'
  texts, by the mapping's own ``key_and_identity``: a key value is converted once, and a
  bad one gives the very error the row path gives;
* records: a run of adjacent rows with equal keys starts where a row's key differs from
  the one above (compared in C); with ``grouping: key`` the runs of a key join the key's
  one record as they come: within a batch in memory, across batches through one indexed
  query per batch for the batch's keys already written (their counts follow in one
  statement at the end), so a shuffled file writes each record once and leaves
  :func:`.grouping.gather` (the row path's way, in SQL afterwards) nothing to merge; a
  key outside the range of the keys written so far is not looked up (a sorted file);
* the lines' JSON by ``jsonio.dump_row`` (json's C encoder, built once);
* records and lines written with ``bulk_insert`` (SQLite executemany, PostgreSQL COPY);
  a batch's lines last, their COPY left to end at the next statement, so PostgreSQL
  stores them while the next batch is read.

Continuation rows go through the row path's own :class:`.continuation.Continuation`,
called only for the rows whose key columns are blank. Memory stays bounded by a batch:
only the record still open at a batch's end (its run may go on) is kept for the next.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from itertools import compress
from operator import itemgetter, ne
from typing import Any

from sqlalchemy import and_, bindparam, select, text, update

from .. import db
from ..erp.store import bulk_insert, bulk_insert_columns
from ..errors import MappingError
from ..jsonio import dump_row
from ..providers.read_ahead import AheadBatch, read_ahead, worth_it
from ..scenarios.model import Scenario
from .continuation import CONTINUATION_BEFORE_KEY, Continuation
from .grouping import doc_key
from .mapping import ImportMapping
from .sources import SingleObject

PR = db.prepared_record
PL = db.prepared_line
_PL_NAMES = list(PL.c.keys())  # scenario, line_no, record_no, source_line, data
# the records of some group keys (one statement, compiled once: the keys are expanded as
# it runs instead of coerced one by one into a new statement)
_WRITTEN = select(PR.c.group_key, PR.c.record_no).where(and_(
    PR.c.scenario == bindparam("s"), PR.c.group_key.in_(bindparam("g", expanding=True))))
MEMO_SIZE = 20_000  # distinct combinations remembered across batches (then forgotten)
# The group keys of the records written, kept in memory while they answer the batches'
# look-ups (a shuffled file: most keys of a batch were written before), up to this many;
# dropped when the first batches find almost none there (a sorted file), or past it: the
# database answers then (one indexed query per batch).
KNOWN_MAX = 200_000
KNOWN_TRIAL = 4  # batches


def write(conn, sc: Scenario, source, mapping: ImportMapping, keep: Callable,
          follow: Continuation | None, bar) -> tuple[int, int]:
    """Write a scenario's prepared records and lines from ``source``; returns (lines,
    lines left out by restrictions), as the row path does."""
    ahead = _read_ahead(sc, source, mapping, follow)
    if ahead is not None:  # the rows cut to the columns read here, their JSON made there
        w = _Writer(sc, ahead[0], mapping, keep, follow)
        # closed as the prepare fails, too: the reader stops then, not when the failure's
        # traceback is let go (a notebook keeps the last one)
        with closing(ahead[1]) as batches:
            for b in batches:
                w.batch(conn, b.rows, b.lines, b.data)
                bar.update(len(b.rows))
    else:
        w = _Writer(sc, source.columns, mapping, keep, follow)
        for batch in source.batches(conn):
            w.batch(conn, batch.rows, batch.lines)
            bar.update(len(batch.rows))
    w.finish(conn)
    return w.lines, w.filtered


def _read_ahead(sc: Scenario, source, mapping: ImportMapping, follow: Continuation | None
                ) -> tuple[list[str], Generator[AheadBatch, None, None]] | None:
    """The columns the writer reads and the file's batches read ahead in a second process
    (``providers.read_ahead``), where that pays: one object's big file, without
    continuation rows (they rewrite whole rows). None: read here."""
    if follow is not None or not isinstance(source, SingleObject) or not worth_it(
            source.fv.path):
        return None
    idx = {c: i for i, c in enumerate(source.columns)}  # as dict(zip(columns, row))
    src = mapping.text_key_source()
    wanted = [*_restricted(sc), *_key_columns(mapping), *([src] if src is not None else [])]
    names = [c for c in dict.fromkeys(wanted) if c in idx]
    prov = source.prov
    return names, read_ahead(prov.ptype, source.fv.path, prov.params, prov.schema,
                             [idx[c] for c in names], source.batch_size)


def _restricted(sc: Scenario) -> list[str]:
    """The fields the scenario's active restrictions read."""
    return [r.field for r in sc.restrictions if r.active]


def _key_columns(mapping: ImportMapping) -> list[str]:
    """The columns a row's key and identity are read from."""
    return [c for t in mapping.key_targets + mapping.ident_targets for c in sorted(t.columns)]


# -- values once per distinct combination ----------------------------------------------
_MISSING = object()


def _is_text(v: Any) -> bool:
    return v is None or type(v) is str


class _Memo:
    """``fn(row)`` for each row of a batch, where ``fn`` reads only the columns ``names``:
    called once per distinct combination of their values, given a row of those columns.
    Only combinations of text (and None) are remembered: ``1``, ``1.0`` and ``True`` are
    equal in Python but need not give the same result, so other values go row by row."""

    def __init__(self, fn: Callable[[dict[str, Any]], Any], columns: Sequence[str],
                 names: Sequence[str]):
        idx = {c: i for i, c in enumerate(columns)}  # as dict(zip(columns, row)): last wins
        self.names = [c for c in dict.fromkeys(names) if c in idx]
        self.fn = fn
        self.memo: dict[Any, Any] = {}
        self.single = len(self.names) == 1
        self.get = itemgetter(*[idx[c] for c in self.names]) if self.names else None

    def _row(self, combo: Any) -> dict[str, Any]:
        return {self.names[0]: combo} if self.single else dict(zip(self.names, combo))

    def _text(self, combo: Any) -> bool:
        return _is_text(combo) if self.single else all(map(_is_text, combo))

    def values(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        if self.get is None:  # reads no column of the file: one value for every row
            if () not in self.memo:
                self.memo[()] = self.fn({})
            return [self.memo[()]] * len(rows)
        combos = list(map(self.get, rows))
        memo, fn = self.memo, self.fn
        if len(memo) > MEMO_SIZE:
            memo.clear()
        others = False
        try:
            distinct = dict.fromkeys(combos)
        except TypeError:  # a value that cannot be a dict key: row by row
            distinct, others = {}, True
        for c in distinct:
            if c in memo:
                continue
            if self._text(c):
                memo[c] = fn(self._row(c))
            else:
                others = True
        if not others:
            return list(map(memo.__getitem__, combos))
        out = []
        for c in combos:
            v = memo.get(c, _MISSING) if self._text(c) else _MISSING
            out.append(fn(self._row(c)) if v is _MISSING else v)
        return out


# -- records from a batch ------------------------------------------------------------------
_NO_KEY = ((None,), None, None)  # a row whose one text key is blank: (key, ident, group)


def _key_of(result: Any) -> Any:
    return result[0]


class _Writer:
    def __init__(self, sc: Scenario, columns: list[str], mapping: ImportMapping,
                 keep: Callable, follow: Continuation | None):
        self.scenario = sc.name
        self.columns = columns
        self.mapping = mapping
        self.has_key = bool(mapping.key_targets)
        self.gather = sc.grouping == "key" and self.has_key
        fields = _restricted(sc)
        self.keep = _Memo(keep, columns, fields) if fields else None
        self.keys = _Memo(self._key, columns, _key_columns(mapping))
        # one text key (the usual case): each batch's distinct texts straight to their
        # results, without the mapping's calls per text (a shuffled file has most of its
        # keys in most batches, more than a memo can hold)
        src = mapping.text_key_source()
        idx = {c: i for i, c in enumerate(columns)}  # as dict(zip(columns, row))
        self.text_key = ((idx[src], mapping.key_targets[0].target)
                         if src is not None and src in idx else None)
        self.follow = follow
        if follow is not None:
            self.key_pos = [idx[c] for c in follow.key_columns if c in idx]
        self.first: Sequence[Any] | None = None  # continuation: the last keyed row
        self.first_given: Sequence[Any] | None = None  # the one follow.first was made of
        self.lines = self.filtered = self.records = 0
        self.current: dict[str, Any] | None = None  # the open record: its run may go on
        self.last_key: Any = None
        self.unwritten: dict[int, dict[str, Any]] = {}  # record number -> record
        self.by_group: dict[str, dict[str, Any]] = {}  # group key -> record of this batch
        # records written in an earlier batch that this batch's runs extend
        self.grown: dict[int, dict[str, Any]] = {}  # record number -> record (its runs here)
        self.grown_errors: list[dict[str, Any]] = []  # their first errors, in line order
        self.growth = db.Growth()
        self.regrown = False  # a record written before gained lines
        # group key -> record number of every record written so far (None: ask the
        # database); complete, since a prepare writes its records afresh in one transaction
        self.known: dict[str, int] | None = {} if self.gather else None
        self.asked = self.found = self.looked = 0
        # the least and the greatest group key of the records written so far
        self.lowest: str | None = None
        self.highest: str | None = None

    def _key(self, row: dict[str, Any]) -> Any:
        try:
            key, ident = self.mapping.key_and_identity(row)
        except MappingError as e:
            return e
        return key, ident, doc_key(ident)

    def _keys(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """``_key`` of each row: what ``key_and_identity`` gives, or its MappingError."""
        if self.text_key is None:
            return self.keys.values(rows)
        pos, target = self.text_key
        col = list(map(itemgetter(pos), rows))
        distinct: dict[Any, Any] = dict.fromkeys(col)
        if not all(map(_is_text, distinct)):
            # numbers, dates (1, 1.0 and True are one dict key): the mapping, row by row
            return self.keys.values(rows)
        for c in distinct:
            if c is not None and (s := c.strip()):
                ident = {target: s}
                distinct[c] = ((s,), ident, doc_key(ident))
            else:  # blank: no key
                distinct[c] = _NO_KEY
        return list(map(distinct.__getitem__, col))

    def _continue(self, rows: Sequence[Sequence[Any]], lines: Sequence[int]
                  ) -> tuple[Sequence[Sequence[Any]], dict[int, MappingError]]:
        """Continuation rows filled from their record's first line (by the row path's
        Continuation, given only the rows whose key columns are blank)."""
        follow, pos, columns = self.follow, self.key_pos, self.columns
        assert follow is not None
        errors: dict[int, MappingError] = {}
        out: list[Sequence[Any]] | None = None
        for i, values in enumerate(rows):
            for p in pos:
                v = values[p]
                if not (v is None or (isinstance(v, str) and v.strip() == "")):
                    break
            else:  # every key column blank: a continuation row
                if self.first is not self.first_given:
                    follow.first = (None if self.first is None
                                    else dict(zip(columns, self.first)))
                    self.first_given = self.first
                filled, err = follow.line(dict(zip(columns, values)), values, lines[i])
                if out is None:
                    out = list(rows)
                out[i] = filled
                if err is not None:
                    errors[i] = err
                continue
            self.first = values
        return (rows if out is None else out), errors

    def batch(self, conn, rows: Sequence[Sequence[Any]], lines: Sequence[int],
              data: list[str] | None = None) -> None:
        """``data``: each row's JSON, made already (rows read ahead: only the columns the
        writer reads)."""
        if self.keep is not None and rows:
            mask = self.keep.values(rows)
            if not all(mask):
                rows, lines = list(compress(rows, mask)), list(compress(lines, mask))
                if data is not None:
                    data = list(compress(data, mask))
                self.filtered += len(mask) - len(rows)
        n = len(rows)
        if not n:
            return
        row_errors: dict[int, MappingError] = {}
        if self.follow is not None:
            rows, row_errors = self._continue(rows, lines)
        results = self._keys(rows)
        base = self.lines  # line numbers: base + 1 .. base + n
        self.lines += n
        for i, e in row_errors.items():
            if e.target == CONTINUATION_BEFORE_KEY:  # no key read: a record of its own
                results[i] = e
        failed = [i for i, r in enumerate(results) if type(r) is not tuple]
        for i in failed:
            row_errors[i] = results[i]  # a bad key value: its error wins
        if failed:
            keys = [r[0] if type(r) is tuple else ("\0error", base + i + 1)
                    for i, r in enumerate(results)]
        else:
            keys = list(map(_key_of, results))
        # where runs start: every row without keys, else where the key changes
        if self.has_key:
            flags = list(map(ne, keys, [self.last_key, *keys[:-1]]))
            if self.current is None:
                flags[0] = True
            starts = list(compress(range(n), flags))
        else:
            starts = list(range(n))
        record_nos: list[int] = []
        if not starts or starts[0] != 0:  # the batch begins inside the open record
            assert self.current is not None
            self._extend(self.current, base, 0, starts[0] if starts else n, record_nos)
        ends = [*starts[1:], n]
        written = self._written(conn, results, starts) if self.gather else {}
        for s, e in zip(starts, ends):
            r = results[s]
            ident, group = (r[1], r[2]) if type(r) is tuple else (None, None)
            rec = self.by_group.get(group) if self.gather and group is not None else None
            if rec is None and group in written:  # the key's record, from a batch before
                rec = self.grown[written[group]] = self.by_group[group] = {
                    "record_no": written[group], "group_key": group, "last_line": 0,
                    "line_count": 0, "error": None, "grown": True}
                self.regrown = True  # its counts: in one statement at the end (``finish``)
            if rec is None:
                self.records += 1
                rec = {"scenario": self.scenario, "record_no": self.records,
                       "first_line": base + s + 1, "last_line": base + s + 1,
                       "key": ident, "active": True, "processed": False,
                       "error": None, "error_field": None, "error_stage": None,
                       "result": None, "group_key": group, "line_count": 0,
                       "source_line": lines[s], "note": None}
                self.unwritten[self.records] = rec
                if self.gather and group is not None:
                    self.by_group[group] = rec
            self.current = rec
            self._extend(rec, base, s, e, record_nos)
        if starts:
            self.last_key = keys[starts[-1]]
        for i in sorted(row_errors):  # the first error of a record, in line order
            rec = self.unwritten.get(record_nos[i]) or self.grown[record_nos[i]]
            if rec["error"] is None:
                e = row_errors[i]
                rec["error"], rec["error_field"], rec["error_stage"] = (e.message, e.target,
                                                                        "prepare")
                if "grown" in rec:  # the record's own error, if it has one, came first
                    self.grown_errors.append({"s": self.scenario, "r": rec["record_no"],
                                              "e": e.message, "f": e.target})
        if data is None:
            data = list(map(dump_row, rows))
        self._write(conn, keep_open=True)
        # the lines last, their COPY ended at the next statement: PostgreSQL stores them
        # while the next batch is read from the file
        bulk_insert_columns(conn, PL, _PL_NAMES, [
            [self.scenario] * n, list(range(base + 1, base + n + 1)), record_nos, list(lines),
            data], end_later=True)

    @staticmethod
    def _extend(rec: dict[str, Any], base: int, s: int, e: int, record_nos: list[int]
                ) -> None:
        rec["last_line"] = base + e
        rec["line_count"] += e - s
        record_nos.extend([rec["record_no"]] * (e - s))

    def _written(self, conn, results: list[Any], starts: list[int]) -> dict[str, int]:
        """The records of earlier batches for the group keys of this batch's runs (one
        indexed query; the open record is not written yet and is in ``by_group``)."""
        groups = {results[s][2] for s in starts if type(results[s]) is tuple}
        groups.discard(None)
        groups.difference_update(self.by_group)
        known = self.known
        if known is not None:
            out = {g: known[g] for g in groups if g in known}
            self.looked += 1
            self.asked += len(groups)
            self.found += len(out)
            if self.looked == KNOWN_TRIAL and self.found * 100 < self.asked:
                self.known = None  # keys do not come back: the database finds the few
            return out
        out = {}
        if self.lowest is None:
            return out  # no record written yet
        # a key outside the written keys' range was not written: a sorted file asks nothing
        lo, hi = self.lowest, self.highest
        todo = sorted(g for g in groups if lo <= g <= hi)
        for k in range(0, len(todo), 1000):
            out.update(conn.execute(_WRITTEN, {"s": self.scenario,
                                               "g": todo[k:k + 1000]}).all())
        return out

    def _write(self, conn, *, keep_open: bool) -> None:
        """Write the records that can no longer grow (all but the open one), and what the
        records of earlier batches gained."""
        cur = self.current if keep_open else None
        done = [r for r in self.unwritten.values() if r is not cur]
        if done:
            bulk_insert(conn, PR, done)
            keys = [r["group_key"] for r in done if r["group_key"] is not None]
            if keys:
                lo, hi = min(keys), max(keys)
                self.lowest = lo if self.lowest is None else min(lo, self.lowest)
                self.highest = hi if self.highest is None else max(hi, self.highest)
            self.growth.added(conn, PR, len(done))  # the next batch's look-up of its keys
            if self.known is not None:
                self.known.update((r["group_key"], r["record_no"]) for r in done
                                  if r["group_key"] is not None)
                if len(self.known) > KNOWN_MAX:
                    self.known = None
        if self.grown_errors:  # a record keeps its first error
            conn.execute(update(PR).where(and_(
                PR.c.scenario == bindparam("s"), PR.c.record_no == bindparam("r"),
                PR.c.error.is_(None))).values(
                error=bindparam("e"), error_field=bindparam("f"), error_stage="prepare"),
                self.grown_errors)
            self.grown_errors = []
        open_gain = cur is not None and "grown" in cur  # its run may go on
        self.grown = {cur["record_no"]: cur} if open_gain else {}
        self.unwritten = {} if cur is None or open_gain else {cur["record_no"]: cur}
        group = cur["group_key"] if cur is not None else None
        self.by_group = {group: cur} if self.gather and group is not None else {}

    def finish(self, conn) -> None:
        self._write(conn, keep_open=False)
        if self.regrown:
            # The records that gained lines in later batches: their counts and last lines
            # from their lines, in one pass (an UPDATE per record and batch was most of a
            # shuffled file's prepare: every batch extends most records).
            conn.execute(text(
                "UPDATE mk_prepared_record SET line_count = g.n, last_line = g.last FROM ("
                " SELECT record_no AS r, COUNT(*) AS n, MAX(line_no) AS last"
                " FROM mk_prepared_line WHERE scenario = :s GROUP BY record_no) AS g"
                " WHERE mk_prepared_record.scenario = :s AND mk_prepared_record.record_no = g.r"
                " AND mk_prepared_record.line_count <> g.n"), {"s": self.scenario})

