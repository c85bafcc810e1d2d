"""The window's rules over a batch of documents given as columns: the fast path of
:meth:`DocumentValidator.check` for the columns import engine.

It answers one question per document: is it clean, and if so, what is the checked
document. A document with any value that breaks a rule, or that this module does not
handle, is *flagged*; the caller checks it again with ``DocumentValidator.check``, which
words the errors. So every message has one source, and a flag too many costs time, never
a different result (tests/engine/test_engines.py runs both paths on the same files).

Input values are as ``ImportMapping`` gives them: None, or already converted to the
field's type (decimals quantized to the field's scale). Columns whose values have another
type are settled cell by cell with the validator's own rules.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import compress
from operator import methodcaller
from typing import Any

from ..errors import FieldError
from ..values import convert, has_none
from .validation import Doc, DocumentValidator, ObjectPlan

Cols = dict[str, list[Any]]  # field -> one value per row
MEMO_SIZE = 50_000  # settled values remembered per field (text -> value, ok)
_NONE = type(None)
_ZERO = Decimal(0)  # equal to every zero: 0, 0.00, -0


class ColumnChecker:
    """``check(n, summary, details)`` for the documents of one window."""

    def __init__(self, validator: DocumentValidator):
        self.v = validator
        w = validator.window
        # the unique rule depends on the documents checked before in the same batch
        self.supported = not any(r["rule"] == "unique" for r in w.rules)
        # fields whose rules read the window's own documents: remembered for one batch
        self._per_batch = {(o.name, f.name) for o in w.objects.values()
                           for f in o.fields.values()
                           if f.selector is not None and f.selector.window == w.id}
        self._memo: dict[tuple[str, str], tuple[dict[Any, Any], set[Any]]] = {}

    def check(self, n: int, summary: Cols, details: dict[str, tuple[Cols, list[int]]]
              ) -> list[Doc | None]:
        """``n`` documents: their summary fields as columns, and per detail object its
        lines' fields as columns with the document (0..n-1) of each line. Returns the
        checked document of each, None where it is flagged."""
        for key in self._per_batch:
            self._memo.pop(key, None)
        w = self.v.window
        bad = bytearray(n)
        heads = self._object(self.v.plans(w.summary_object), n, summary, None, bad)
        per_obj = []
        for obj in w.detail_objects:
            cols, owner = details.get(obj.name, ({}, []))
            rows = self._object(self.v.plans(obj), len(owner), cols, owner, bad)
            lines: list[list[dict[str, Any]]] = [[] for _ in range(n)]
            for o, row in zip(owner, rows):
                lines[o].append(row)
            per_obj.append((obj.name, lines))
        out: list[Doc | None] = []
        rules = self.v.document_rules if w.rules else None
        for i in range(n):
            if bad[i]:
                out.append(None)
                continue
            doc: Doc = {w.summary: heads[i]}
            for name, lines in per_obj:
                doc[name] = lines[i]
            if rules is not None:
                errors: list[FieldError] = []
                rules(doc, errors)
                if errors:
                    out.append(None)
                    continue
            out.append(doc)
        return out

    # -- one object ----------------------------------------------------------------------
    def _object(self, plan: ObjectPlan, m: int, cols: Cols, owner: list[int] | None,
                bad: bytearray) -> list[dict[str, Any]]:
        oname = plan.obj.name
        flagged: set[int] = set()  # rows
        vals: Cols = {}
        for p in plan.rows:
            vals[p[0]] = self._field(oname, p, cols.get(p[0]), m, flagged)
        self._after(plan, vals, m, flagged)
        self._computed(plan, vals, m, flagged)
        for j in flagged:
            bad[owner[j] if owner is not None else j] = 1
        names = list(vals)
        return [dict(zip(names, r)) for r in zip(*vals.values())] if m else []

    def _field(self, oname: str, p: tuple, col: list[Any] | None, m: int,
               flagged: set[int]) -> list[Any]:
        name, blank, exact, decimal, quant, required, check, f = p
        if col is None:  # not mapped: every row has the blank value
            v, ok = self._settle(p, None)
            if not ok:
                flagged.update(range(m))
            return [v] * m
        types = set(map(type, col))
        if decimal and types <= {Decimal, _NONE}:
            # mapped decimals are finite and quantized to the field's scale already (what
            # the validator's quantize would do)
            if _NONE in types:
                bv, ok = self._settle(p, None)
                if not ok:
                    flagged.update(j for j, v in enumerate(col) if v is None)
                col = [bv if v is None else v for v in col]
            if check is not None:
                self._number_checks(p, col, flagged)
            return col
        if types <= {exact, _NONE} and not decimal:
            return self._by_value(oname, p, col, flagged)
        out = []
        for j, v in enumerate(col):  # other types: the validator's own rules, cell by cell
            v, ok = self._settle(p, v)
            if not ok:
                flagged.add(j)
            out.append(v)
        return out

    def _by_value(self, oname: str, p: tuple, col: list[Any], flagged: set[int]) -> list[Any]:
        """Text, dates, whole numbers, booleans: each distinct value settled once."""
        key = (oname, p[0])
        memo = self._memo.get(key)
        if memo is None or len(memo[0]) > MEMO_SIZE:
            memo = self._memo[key] = ({}, set())
        values, wrong = memo
        for v in set(col).difference(values):
            values[v], ok = self._settle(p, v)
            if not ok:
                wrong.add(v)
        if wrong and not wrong.isdisjoint(col):
            flagged.update(j for j, v in enumerate(col) if v in wrong)
        return list(map(values.__getitem__, col))

    def _number_checks(self, p: tuple, col: list[Any], flagged: set[int]) -> None:
        f, check = p[7], p[6]
        if f.values or f.pattern or f.selector or f.max_length:  # not plain number rules
            for j, v in enumerate(col):
                if v is not None:
                    errors: list[FieldError] = []
                    check(v, None, errors)
                    if errors:
                        flagged.add(j)
            return
        plan_min = None if f.min is None else Decimal(str(f.min))
        plan_max = None if f.max is None else Decimal(str(f.max))
        given = [v for v in col if v is not None] if has_none(col) else col
        if not given or ((plan_min is None or min(given) >= plan_min)
                         and (plan_max is None or max(given) <= plan_max)
                         and not (f.not_zero and _ZERO in given)):
            return  # the usual batch: no value out of range, found by min and max in C
        for j, v in enumerate(col):
            if v is not None and ((plan_min is not None and v < plan_min)
                                  or (plan_max is not None and v > plan_max)
                                  or (f.not_zero and v == 0)):
                flagged.add(j)

    def _settle(self, p: tuple, v: Any) -> tuple[Any, bool]:
        """One value as ``DocumentValidator._object`` settles it: (value, no error)."""
        name, blank, exact, decimal, quant, required, check, f = p
        if exact is str and type(v) is str:
            v = v.strip()
            if not v:
                v = None
        if v is None or (isinstance(v, str) and v.strip() == ""):
            v = blank
        if v is not None:
            t = type(v)
            try:
                if t is exact:
                    pass
                elif t is Decimal and decimal and v.is_finite():
                    if quant is not None:
                        try:
                            v = v.quantize(quant, ROUND_HALF_UP)
                        except InvalidOperation:
                            v = convert(v, f.value_type, scale=f.scale)
                else:
                    v = convert(v, f.value_type, scale=f.scale)
            except ValueError:
                return None, False
            if isinstance(v, str):
                v = v.strip()
        if v is None:
            return None, not required
        if check is not None:
            errors: list[FieldError] = []
            check(v, None, errors)
            return v, not errors
        return v, True

    # -- after the values: defaults from a selected record, dates not before ------------
    def _after(self, plan: ObjectPlan, vals: Cols, m: int, flagged: set[int]) -> None:
        fields = plan.obj.fields
        lookup = self.v.lookup
        for f in plan.after:
            col = vals[f.name]
            if f.default_from and has_none(col):
                src = f.default_from["field"]
                take = f.default_from["take"]
                sel = fields[src].selector
                if sel and sel.window:
                    srcs = vals[src]
                    col = vals[f.name] = list(col)
                    for j, v in enumerate(col):
                        if v is None and srcs[j] is not None:
                            row = lookup.selector_row(sel.window, srcs[j])
                            if row is not None:
                                col[j] = row.get(take)
            if f.not_before:
                other = vals[f.not_before]
                for j, (a, b) in enumerate(zip(col, other)):
                    if a is not None and b is not None and a < b:
                        flagged.add(j)

    # -- computed fields -----------------------------------------------------------------
    def _computed(self, plan: ObjectPlan, vals: Cols, m: int, flagged: set[int]) -> None:
        for f, formula, q in plan.computed_rows:
            if any(vals.get(n) is None or has_none(vals[n]) for n in formula.fields):
                self._computed_rows(plan, f, formula, q, vals, m, flagged)  # some rows
                continue  # keep what was given
                continue
            value = formula.evaluate_columns(vals, m)
            if value is not None:
                try:
                    if q is not None:
                        if set(map(type, value)) != {Decimal}:
                            raise InvalidOperation
                        value = list(map(methodcaller("quantize", q, ROUND_HALF_UP), value))
                    else:
                        value = [convert(v, f.value_type, scale=f.scale) for v in value]
                except (InvalidOperation, ValueError):
                    value = None
            if value is None:
                self._computed_rows(plan, f, formula, q, vals, m, flagged)
                continue
            given = vals[f.name]
            tol = Decimal(str(f.tolerance))
            if has_none(given):
                wrong = [g is not None and abs(g - c) > tol for g, c in zip(given, value)]
            else:
                wrong = [abs(g - c) > tol for g, c in zip(given, value)]
            if any(wrong):
                flagged.update(compress(range(m), wrong))
            vals[f.name] = value

    def _computed_rows(self, plan: ObjectPlan, f, formula, q, vals: Cols, m: int,
                       flagged: set[int]) -> None:
        """Row by row, as the validator does (one small record per row)."""
        names = [n for n in sorted(formula.fields | {f.name}) if n in vals]
        col = vals[f.name] = list(vals[f.name])
        for j in range(m):
            row = {n: vals[n][j] for n in names}
            errors: list[FieldError] = []
            self.v.compute_field(plan.obj, f, row, None, errors, formula, q)
            if errors:
                flagged.add(j)
            col[j] = row[f.name]
