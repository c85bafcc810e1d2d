"""The embedded ERP's rules: a whole document is checked and every problem is returned.

The rules come from the window definitions (types, required, lengths, allowed values,
ranges, selectors, defaults, computed fields, document rules); nothing window-specific is
written here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Protocol

from ..errors import FieldError, FormulaRuntimeError
from ..formula import FormulaContext, compile_formula
from ..values import convert
from .windows import FieldDef, ObjectDef, WindowDef

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ZERO = Decimal(0)

Doc = dict[str, Any]  # {summary object: {field: value}, detail object: [{field: value}, ...]}


class Lookup(Protocol):
    """What validation needs from the store: selector rows, lists, existing documents."""

    def selector_row(self, window_id: str, value: Any) -> dict[str, Any] | None: ...
    def in_list(self, list_name: str, value: Any) -> bool: ...
    def unique_taken(self, window: WindowDef, fields: list[str], values: list[Any]) -> bool: ...


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


_FAILED = object()  # a value that could not be converted (its error is recorded)
# The Python type convert() returns unchanged for each value type.
_EXACT = {"string": str, "integer": int, "date": dt.date, "boolean": bool}


@lru_cache(maxsize=256)
def _decimal(x: Any) -> Decimal:
    return Decimal(str(x))


class _FieldPlan:
    """What checking one field needs, worked out once per validator."""

    __slots__ = ("f", "blank", "exact", "decimal", "quant", "min", "max", "checked")

    def __init__(self, f: FieldDef):
        self.f = f
        self.blank = None if f.computed or f.numbering or f.default_from else f.default
        self.exact = _EXACT.get(f.value_type)
        self.decimal = f.value_type == "decimal"
        self.quant = (Decimal(1).scaleb(-f.scale) if self.decimal and f.scale is not None
                      else None)
        self.min = _decimal(f.min) if f.min is not None else None
        self.max = _decimal(f.max) if f.max is not None else None
        self.checked = bool(f.max_length or f.values or f.min is not None
                            or f.max is not None or f.not_zero or f.pattern == "email"
                            or f.selector)


class ObjectPlan:
    def __init__(self, obj: ObjectDef, validator: DocumentValidator):
        self.obj = obj
        self.fields = [_FieldPlan(f) for f in obj.fields.values()]
        self.names = frozenset(obj.fields)
        self.after = [f for f in obj.fields.values() if f.default_from or f.not_before]
        self.computed = [f for f in obj.fields.values() if f.computed]
        self.quant = {p.f.name: p.quant for p in self.fields if p.quant is not None}
        # One tuple per field for the loop of _object, with its value checks compiled into
        # one closure holding only the checks the field has (None: nothing to check).
        self.rows = [(p.f.name, p.blank, p.exact, p.decimal, p.quant,
                      bool(p.f.required and not p.f.numbering),
                      validator._compile_checks(obj, p) if p.checked else None, p.f)
                     for p in self.fields]
        self.computed_rows = [(f, validator.computed[(obj.name, f.name)],
                               self.quant.get(f.name))
                              for f in self.computed]


class DocumentValidator:
    """Checks documents of one window; holds compiled computed-field formulas."""

    def __init__(self, window: WindowDef, lookup: Lookup, window_names: dict[str, str]):
        self.window = window
        self.lookup = lookup
        self.window_names = window_names
        self.computed = {(o.name, f.name): compile_formula(f.computed)
                         for o in window.objects.values() for f in o.fields.values()
                         if f.computed}
        self._plan_cache: dict[str, ObjectPlan] = {}
        self._ctx: FormulaContext | None = None

    def check(self, doc: Doc) -> tuple[Doc, list[FieldError]]:
        w = self.window
        self._ctx = FormulaContext()  # the computed fields' context, one per document
        errors: list[FieldError] = []
        if not isinstance(doc, dict):  # e.g. a JSON list given to `erp save`
            return {}, [FieldError(w.id, w.summary, None,
                                   f"a document is a mapping of its objects ({w.summary}: "
                                   f"{{...}}, detail objects: [...]), not "
                                   f"{type(doc).__name__}")]
        for name in doc:
            if name not in w.objects:
                errors.append(FieldError(w.id, name, None, f"window {w.id} has no object {name}"))
        raw_summary = doc.get(w.summary) or {}
        if not isinstance(raw_summary, dict):
            errors.append(FieldError(w.id, w.summary, None, "the summary must be one record"))
            raw_summary = {}
        out: Doc = {w.summary: self._object(w.summary_object, raw_summary, None, errors)}
        for obj in w.detail_objects:
            lines = doc.get(obj.name) or []
            if not isinstance(lines, list):
                errors.append(FieldError(w.id, obj.name, None,
                                         f"the {obj.name} lines must be a list of records"))
                lines = []
            out[obj.name] = []
            for i, ln in enumerate(lines, start=1):
                if ln and not isinstance(ln, dict):
                    errors.append(FieldError(w.id, obj.name, None, "a line must be one record",
                                             i))
                    ln = {}
                out[obj.name].append(self._object(obj, ln or {}, i, errors))
        self.document_rules(out, errors)
        return out, errors

    # -- one object's values -------------------------------------------------------------
    def plans(self, obj: ObjectDef) -> ObjectPlan:
        plan = self._plan_cache.get(obj.name)
        if plan is None or plan.obj is not obj:
            plan = self._plan_cache[obj.name] = ObjectPlan(obj, self)
        return plan

    def _object(self, obj: ObjectDef, raw: dict[str, Any], line: int | None,
                errors: list[FieldError]) -> dict[str, Any]:
        wid = self.window.id
        plan = self.plans(obj)
        fields = obj.fields
        if not plan.names.issuperset(raw):
            for name in raw:
                if name not in fields:
                    errors.append(FieldError(wid, obj.name, name,
                                             f"{obj.name} has no field {name}", line,
                                             raw[name]))
        out: dict[str, Any] = {}
        for name, blank, exact, decimal, quant, required, check, f in plan.rows:
            v = raw.get(name)
            if exact is str and type(v) is str:  # the usual text: stripped once
                v = v.strip()
                if v:
                    out[name] = v
                    if check is not None:
                        check(v, line, errors)
                    continue
                v = None
            if v is None or (isinstance(v, str) and v.strip() == ""):
                v = blank
            if v is not None:
                # Values that already have the field's type skip convert(): it would return
                # them unchanged (decimals: the same quantize).
                t = type(v)
                if t is exact:
                    pass
                elif t is Decimal and decimal and v.is_finite():
                    if quant is not None:
                        try:
                            v = v.quantize(quant, ROUND_HALF_UP)
                        except InvalidOperation:
                            v = self._convert(obj, f, v, raw, line, errors)
                else:
                    v = self._convert(obj, f, v, raw, line, errors)
                if v is _FAILED:
                    out[name] = None
                    continue
                if isinstance(v, str):
                    v = v.strip()
            out[name] = v
            if v is None:
                if required:
                    errors.append(FieldError(wid, obj.name, name, f"{name} is required", line))
                continue
            if check is not None:
                check(v, line, errors)
        for f in plan.after:
            if f.default_from and out.get(f.name) is None:
                src = f.default_from["field"]
                sel = fields[src].selector
                row = (self.lookup.selector_row(sel.window, out.get(src))
                       if sel and sel.window and out.get(src) is not None else None)
                if row is not None:
                    out[f.name] = row.get(f.default_from["take"])
            if f.not_before and out.get(f.name) is not None and out.get(f.not_before) is not None:
                if out[f.name] < out[f.not_before]:
                    errors.append(FieldError(
                        wid, obj.name, f.name,
                        f"{f.name} {out[f.name]} is before {f.not_before} {out[f.not_before]}",
                        line, out[f.name]))
        for f, formula, q in plan.computed_rows:
            self.compute_field(obj, f, out, line, errors, formula, q)
        return out

    def _convert(self, obj: ObjectDef, f: FieldDef, v: Any, raw: dict[str, Any],
                 line: int | None, errors: list[FieldError]) -> Any:
        try:
            return convert(v, f.value_type, scale=f.scale)
        except ValueError as e:
            errors.append(FieldError(self.window.id, obj.name, f.name, str(e), line,
                                     raw.get(f.name)))
            return _FAILED

    def _compile_checks(self, obj: ObjectDef, p: _FieldPlan) -> Callable[..., None]:
        """The value checks of one field as one closure ``check(v, line, errors)``: the
        field's rules read once here, the messages built only when a check fails."""
        f = p.f
        wid, oname, name = self.window.id, obj.name, f.name
        max_length, values, not_zero = f.max_length, f.values, f.not_zero
        vmin, vmax = p.min, p.max
        email = f.pattern == "email"
        sel = f.selector
        sel_list = sel.list if sel else None
        sel_window = sel.window if sel else None
        where = list(sel.where.items()) if sel_window else []
        what = self.window_names.get(sel_window, sel_window) if sel_window else None
        validator = self

        def check(v: Any, line: int | None, errors: list[FieldError]) -> None:
            if max_length and isinstance(v, str) and len(v) > max_length:
                errors.append(FieldError(
                    wid, oname, name,
                    f"{name} is {len(v)} characters long; at most {max_length} are allowed",
                    line, v))
            if values and v not in values:
                errors.append(FieldError(wid, oname, name,
                                         f"{name} must be one of {', '.join(values)}", line, v))
            if vmin is not None and v < vmin:
                errors.append(FieldError(wid, oname, name, f"{name} must be at least {f.min}",
                                         line, v))
            if vmax is not None and v > vmax:
                errors.append(FieldError(wid, oname, name, f"{name} must be at most {f.max}",
                                         line, v))
            if not_zero and v == 0:
                errors.append(FieldError(wid, oname, name, f"{name} must not be 0", line, v))
            if email and not EMAIL.match(v):
                errors.append(FieldError(wid, oname, name, f"{name} is not an e-mail address",
                                         line, v))
            if sel_list and not validator.lookup.in_list(sel_list, v):
                errors.append(FieldError(wid, oname, name,
                                         f"{name} {v!r} is not in the list of {sel_list}",
                                         line, v))
            if sel_window:
                row = validator.lookup.selector_row(sel_window, v)
                if row is None:
                    errors.append(FieldError(wid, oname, name, f"{what} {v!r} does not exist",
                                             line, v))
                else:
                    for k, want in where:
                        if row.get(k) != want:
                            errors.append(FieldError(
                                wid, oname, name,
                                f"{what} {v!r} has {k} {row.get(k)!r}; {want!r} is required",
                                line, v))

        return check

    def compute_field(self, obj: ObjectDef, f: FieldDef, out: dict[str, Any], line: int | None,
                  errors: list[FieldError], formula: Any, q: Decimal | None) -> None:
        for name in formula.fields:
            if out.get(name) is None:
                return
        try:
            value = formula.evaluate(out, self._ctx)
            try:  # what convert() does to a finite decimal, without its overhead
                if type(value) is not Decimal or q is None or not value.is_finite():
                    raise InvalidOperation
                value = value.quantize(q, ROUND_HALF_UP)
            except InvalidOperation:
                value = convert(value, f.value_type, scale=f.scale)
        except (FormulaRuntimeError, ValueError) as e:
            errors.append(FieldError(self.window.id, obj.name, f.name, str(e), line))
            return
        given = out.get(f.name)
        if given is not None and abs(given - value) > _decimal(f.tolerance):
            errors.append(FieldError(
                self.window.id, obj.name, f.name,
                f"{f.name} {given} differs from the computed {value} "
                f"({f.computed.lstrip('=')})", line, given))
        out[f.name] = value

    # -- document rules ------------------------------------------------------------------
    def document_rules(self, doc: Doc, errors: list[FieldError]) -> None:
        w = self.window
        for rule in w.rules:
            kind = rule["rule"]
            lines = doc.get(rule.get("object", ""), [])
            if kind == "min_lines" and len(lines) < rule.get("count", 1):
                errors.append(FieldError(w.id, rule["object"], None,
                                         f"at least {rule.get('count', 1)} "
                                         f"{rule['object']} line(s) required"))
            elif kind == "exactly_one_nonzero":
                names = rule["fields"]
                for i, ln in enumerate(lines, start=1):
                    nonzero = [n for n in names if (ln.get(n) or ZERO) != 0]
                    if len(nonzero) != 1:
                        errors.append(FieldError(
                            w.id, rule["object"], names[0],
                            f"exactly one of {' and '.join(names)} must be non-zero", i))
            elif kind == "balanced" and lines:
                debit = sum((ln.get(rule["debit"]) or ZERO for ln in lines), ZERO)
                credit = sum((ln.get(rule["credit"]) or ZERO for ln in lines), ZERO)
                if debit != credit:
                    errors.append(FieldError(
                        w.id, w.summary, None,
                        f"the batch does not balance: debit {debit}, credit {credit} "
                        f"(difference {debit - credit})"))
            elif kind == "unique":
                names = rule["fields"]
                values = [doc[w.summary].get(n) for n in names]
                if all(v is not None for v in values) and self.lookup.unique_taken(
                        w, names, values):
                    errors.append(FieldError(
                        w.id, w.summary, names[-1],
                        rule.get("message", f"{' + '.join(names)} must be unique"),
                        None, values[-1]))
