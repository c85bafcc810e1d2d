"""The columns import engine: a batch's records mapped column by column, then checked by
the window's rules column by column (``erp.validation_columns``).

The mapping here gives the same values as ``ImportMapping.document`` row by row: the
same conversions (per distinct source text, by the scenario's locale), blanks, constants
and formulas; a detail line with every value blank left out. A record with a value that
does not convert (or that this module does not handle) is *flagged*: the import maps and
checks it again the row way, which words its error. The row way stays the reference.
"""

from __future__ import annotations

from itertools import chain, repeat
from operator import is_not, itemgetter
from typing import Any

from ..erp.validation import Doc
from ..erp.validation_columns import Cols, ColumnChecker
from ..errors import MappingError
from ..values import plain_decimals
from .mapping import ImportMapping, Target

_NONE = type(None)
_SAFE = frozenset({str, int, _NONE})  # distinct values that are equal only when identical
_TEXT = frozenset({str, _NONE})
_FAILED = object()


class ColumnEngine:
    """``documents(records)``: each record's checked document, None where flagged."""

    def __init__(self, mapping: ImportMapping, columns: list[str], checker: ColumnChecker):
        self.m = mapping
        self.columns = columns
        self.index = {c: i for i, c in enumerate(columns)}
        self.checker = checker
        w = mapping.window
        self.summary = mapping.by_object[w.summary]
        self.details = [(o, mapping.by_object[o]) for o in mapping.details]
        heads = [self.index[c] for c in mapping.header_cells if c in self.index]
        # a record's later line that says otherwise in a summary cell goes the row way
        # (``ImportMapping.document``: an error, or the same value written differently)
        self.head_cells = itemgetter(*heads) if heads else None

    def documents(self, records: list[list[list[Any]]]) -> list[Doc | None]:
        """``records``: each record's lines as stored in prepared data (lists of values in
        the order of ``columns``)."""
        n = len(records)
        if not n:
            return []
        width = len(self.columns)
        bad = bytearray(n)
        if not all(records) or set(map(len, chain.from_iterable(records))) != {width}:
            for i, r in enumerate(records):
                if not r or any(len(v) != width for v in r):
                    bad[i] = 1  # a shape the row way handles (and words)
        cells = self.head_cells
        if cells is not None:
            for i, r in enumerate(records):
                if len(r) > 1 and not bad[i]:
                    h = cells(r[0])
                    for v in r:
                        if cells(v) != h:
                            bad[i] = 1
                            break
        heads = [r[0] if r else [None] * width for r in records]
        summary = self._object(self.summary, heads, None, bad)
        details: dict[str, tuple[Cols, list[int]]] = {}
        if self.details:
            lines = list(chain.from_iterable(records))
            owner = list(chain.from_iterable(repeat(i, len(r)) for i, r in enumerate(records)))
            for obj, targets in self.details:
                cols = self._object(targets, lines, owner, bad)
                given = [list(map(is_not, c, repeat(None))) for c in cols.values()]
                keep = list(map(any, zip(*given))) if given else []
                if not all(keep):  # a line with every value blank is left out
                    cols = {k: [v for v, k_ in zip(c, keep) if k_] for k, c in cols.items()}
                    own = [o for o, k_ in zip(owner, keep) if k_]
                else:
                    own = owner
                details[obj] = (cols, own)
        ok = [i for i in range(n) if not bad[i]]
        if len(ok) < n:  # the checker sees only the records mapped without a flag
            pos = {i: k for k, i in enumerate(ok)}
            summary = {f: [c[i] for i in ok] for f, c in summary.items()}
            for obj, (cols, own) in details.items():
                keep = [not bad[o] for o in own]
                details[obj] = ({f: [v for v, k_ in zip(c, keep) if k_] for f, c in cols.items()},
                                [pos[o] for o, k_ in zip(own, keep) if k_])
        checked = self.checker.check(len(ok), summary, details)
        out: list[Doc | None] = [None] * n
        for i, doc in zip(ok, checked):
            out[i] = doc
        return out

    def _object(self, targets: list[Target], rows: list[list[Any]], owner: list[int] | None,
                bad: bytearray) -> Cols:
        m = len(rows)
        source = list(zip(*rows)) if rows else []
        dicts: list[dict[str, Any]] | None = None
        cols: Cols = {}
        for t in targets:
            value = self.m.values_of[id(t)]
            if t.source is not None:
                i = self.index.get(t.source)
                col = source[i] if i is not None and i < len(source) else (None,) * m
                vals = self._convert(t, value, col, owner, bad)
            else:  # a formula or a constant: the mapping's own closure, row by row
                if dicts is None:
                    dicts = [dict(zip(self.columns, r)) for r in rows]
                vals = []
                for j, d in enumerate(dicts):
                    try:
                        vals.append(value(d))
                    except MappingError:
                        vals.append(None)
                        bad[owner[j] if owner is not None else j] = 1
            cols[t.field] = vals
        return cols

    def _convert(self, t: Target, value, col: tuple, owner: list[int] | None,
                 bad: bytearray) -> list[Any]:
        """One source column through the target's conversion, each distinct text once."""
        types = set(map(type, col))
        if not types <= _SAFE:  # e.g. floats (1.0 == 1) or lists: value by value
            out = []
            for j, v in enumerate(col):
                try:
                    out.append(value({t.source: v}))
                except MappingError:
                    out.append(None)
                    bad[owner[j] if owner is not None else j] = 1
            return out
        distinct = set(col)
        distinct.discard(None)
        only_text = types <= _TEXT
        strs = distinct if only_text else {v for v in distinct if type(v) is str}
        # blank: None, or text of nothing but white space (what strip() leaves empty)
        blanks = set(filter(str.isspace, strs))
        if "" in strs:
            blanks.add("")
        seen: dict[Any, Any] = dict.fromkeys(blanks)
        if _NONE in types:
            seen[None] = None
        if t.text:  # text kept as it is
            kept = strs - blanks
            seen.update(zip(kept, kept))
            todo = set() if only_text else distinct - strs
        else:
            todo = distinct - blanks
        if todo and t.fdef.value_type == "decimal":  # the plain numbers, at once
            seen.update(plain_decimals(todo if only_text else [
                v for v in todo if type(v) is str], self.m.locale, t.fdef.scale))
        failed = []
        for v in todo - seen.keys():
            try:
                seen[v] = value({t.source: v})
            except MappingError:
                seen[v] = _FAILED
                failed.append(v)
        out = list(map(seen.__getitem__, col))
        if failed:
            wrong = set(failed)
            for j, v in enumerate(col):
                if v in wrong:
                    out[j] = None
                    bad[owner[j] if owner is not None else j] = 1
        return out
