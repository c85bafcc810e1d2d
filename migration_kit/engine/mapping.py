"""A scenario's mapping, compiled once per run into fast getters.

Import: provider rows -> a window document (summary from the record's first row, one
detail line per row). Export: a flattened window row -> provider columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..erp.windows import FieldDef, WindowDef
from ..errors import FormulaRuntimeError, MappingError
from ..formula import FormulaContext, ValueMap, compile_formula
from ..scenarios import valuemaps
from ..scenarios.model import MappingLine, Scenario
from ..values import convert
from ..workspace import Workspace

Getter = Callable[[Mapping[str, Any]], Any]


def value_maps(ws: Workspace) -> dict[str, ValueMap]:
    """The workspace's substitution lists (``valuemaps/NAME.yaml``)."""
    out = {}
    for name in valuemaps.list_valuemaps(ws):
        vm = valuemaps.load_valuemap(ws, name)
        mapping = {str(k): ("" if v is None else str(v)) for k, v in vm["values"].items()}
        out[name] = ValueMap(name=name, mapping=mapping, default=vm["default"])
    return out


def formula_context(ws: Workspace, sc: Scenario | None = None) -> FormulaContext:
    """The value maps, locale and "today" formulas see (``sc`` None: no scenario yet, as in
    the mapping widget's preview)."""
    kw: dict[str, Any] = {"value_maps": value_maps(ws),
                          "locale": sc.locale if sc is not None else None}
    today = (sc.options.get("today") if sc is not None else None) or ws.settings.get("today")
    if today:  # a fixed "today" keeps headless runs reproducible
        from ..values import to_date

        kw["today"] = to_date(today)
    return FormulaContext(**kw)


def getter(m: MappingLine, ctx: FormulaContext) -> Getter:
    if m.is_formula:
        f = compile_formula(m.source)
        return lambda row: f.evaluate(row, ctx)
    if m.source is not None:
        name = m.source
        return lambda row: row.get(name)
    const = m.constant
    return lambda row: const


def source_columns(m: MappingLine) -> frozenset[str]:
    if m.is_formula:
        return frozenset(compile_formula(m.source).fields)
    return frozenset([m.source]) if m.source is not None else frozenset()


MEMO_SIZE = 20_000  # converted values remembered per target (source text -> value)
_MISSING = object()


@dataclass
class Target:
    target: str
    field: str
    fdef: FieldDef
    get: Getter
    ignore_error: bool
    source: str | None = None  # a plain source column (not a formula): read directly
    columns: frozenset[str] = frozenset()  # every source column the target reads

    def __post_init__(self) -> None:
        # Text into a text field is returned as it is by convert(); other text is converted
        # once per distinct value (convert is a pure function of the text).
        self.text = self.fdef.value_type == "string"
        self.memo: dict[str, Any] = {}

    def compile(self, locale: str | None) -> Callable[[Mapping[str, Any]], Any]:
        """``value(row)``: the target's value of a row, converted to the field's type (None
        for blanks); raises MappingError naming the target. One closure per target, so a
        value costs one call."""
        get, name, text, memo = self.get, self.source, self.text, self.memo
        vtype, scale = self.fdef.value_type, self.fdef.scale
        target, ignore = self.target, self.ignore_error

        def value(row: Mapping[str, Any]) -> Any:
            try:
                v = row.get(name) if name is not None else get(row)
                if v is None or (isinstance(v, str) and v.strip() == ""):
                    return None
                if type(v) is str:
                    if text:
                        return v
                    out = memo.get(v, _MISSING)
                    if out is _MISSING:
                        out = convert(v, vtype, locale=locale, scale=scale)
                        if len(memo) < MEMO_SIZE:
                            memo[v] = out
                    return out
                return convert(v, vtype, locale=locale, scale=scale)
            except (FormulaRuntimeError, ValueError) as e:
                if ignore:
                    return None
                msg = e.message if isinstance(e, FormulaRuntimeError) else str(e)
                raise MappingError(target, msg) from None

        return value


class ImportMapping:
    """Provider rows of one record -> a window document."""

    def __init__(self, ws: Workspace, sc: Scenario, window: WindowDef):
        self.sc = sc
        self.window = window
        self.ctx = formula_context(ws, sc)
        self.locale = sc.locale
        self.by_object: dict[str, list[Target]] = {o: [] for o in window.objects}
        for m in sc.active_mapping():
            if m.action or not m.target:
                continue
            obj, fname = m.target.split(".", 1)
            self.by_object[obj].append(Target(
                m.target, fname, window.field(obj, fname), getter(m, self.ctx),
                m.ignore_error, None if m.is_formula else m.source, source_columns(m)))
        self.key_targets = [t for t in self.by_object[window.summary]
                            if t.target in sc.keys]
        # Identity of a document for exactly-once: the scenario's keys, else the window's.
        ident = sc.keys or [f"{window.summary}.{k}" for k in window.key_fields]
        mapped = {t.target: t for t in self.by_object[window.summary]}
        self.ident_targets = ([mapped[k] for k in ident]
                              if ident and all(k in mapped for k in ident) else [])
        self.details = [o.name for o in window.detail_objects if self.by_object[o.name]]
        self._ident_is_key = (len(self.ident_targets) == len(self.key_targets) and all(
            a is b for a, b in zip(self.ident_targets, self.key_targets)))
        self.values_of = {id(t): t.compile(self.locale)
                        for ts in self.by_object.values() for t in ts}
        self._summary_values = [(t.field, self.values_of[id(t)])
                                for t in self.by_object[window.summary]]
        self._detail_values = [(o, [(t.field, self.values_of[id(t)]) for t in self.by_object[o]])
                               for o in self.details]

    def key_columns(self) -> list[str]:
        """The source columns the key fields are read from (continuation rows)."""
        return sorted({c for t in self.key_targets for c in t.columns})

    def summary_columns(self) -> list[str]:
        """The source columns read by summary fields (a document's header)."""
        return sorted({c for t in self.by_object[self.window.summary] for c in t.columns})

    def _value(self, t: Target, row: Mapping[str, Any]) -> Any:
        return self.values_of[id(t)](row)

    def key_values(self, row: Mapping[str, Any]) -> tuple:
        """Grouping key of a row: consecutive rows with equal keys form one record."""
        return tuple(_plain(self._value(t, row)) for t in self.key_targets)

    def key_and_identity(self, row: Mapping[str, Any]) -> tuple[tuple | None,
                                                               dict[str, Any] | None]:
        """``key_values`` (None without key targets) and ``identity`` of a row, each value
        mapped once when the scenario's keys are the identity (the usual case)."""
        if not self.key_targets:
            return None, self.identity(row)
        key = self.key_values(row)
        if not self._ident_is_key:
            return key, self.identity(row)
        vals = {t.target: v for t, v in zip(self.key_targets, key)}
        return key, (vals if all(v not in (None, "") for v in vals.values()) else None)

    def identity(self, row: Mapping[str, Any]) -> dict[str, Any] | None:
        if not self.ident_targets:
            return None
        vals = {t.target: _plain(self._value(t, row)) for t in self.ident_targets}
        return vals if all(v not in (None, "") for v in vals.values()) else None

    def document(self, rows: list[Mapping[str, Any]]) -> dict[str, Any]:
        """The window document of a record; raises MappingError naming the field."""
        first = rows[0]
        doc: dict[str, Any] = {self.window.summary: {f: value(first)
                                                     for f, value in self._summary_values}}
        for obj, values in self._detail_values:
            lines = []
            for row in rows:
                ln = {f: value(row) for f, value in values}
                for v in ln.values():  # a line with every value blank is left out
                    if v is not None:
                        lines.append(ln)
                        break
            doc[obj] = lines
        return doc

    def document_lenient(self, rows: list[Mapping[str, Any]]
                         ) -> tuple[dict[str, Any], list[MappingError]]:
        """``document`` that goes on past values it cannot map (left empty), returning
        them too: what the control totals of a record in error can still count."""
        errors: list[MappingError] = []

        def get(value, row):
            try:
                return value(row)
            except MappingError as e:
                errors.append(e)
                return None

        first = rows[0]
        doc: dict[str, Any] = {self.window.summary: {f: get(value, first)
                                                     for f, value in self._summary_values}}
        for obj, values in self._detail_values:
            doc[obj] = [ln for ln in ({f: get(value, row) for f, value in values}
                                      for row in rows)
                        if any(v is not None for v in ln.values())]
        return doc, errors


def _plain(v: Any) -> Any:
    """JSON-friendly text of a key value (dates and decimals as text)."""
    if v is None or isinstance(v, str | int | bool):
        return v
    return str(v)


def row_reader(columns: list[str]) -> Callable[[list[Any]], dict[str, Any]]:
    return lambda values: dict(zip(columns, values))


def flatten(window: WindowDef, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per detail line, the summary fields repeated; no lines: one row."""
    head = {f"{window.summary}.{k}": v for k, v in doc[window.summary].items()}
    details = window.detail_objects
    if not details:
        return [head]
    obj = details[0]
    lines = doc.get(obj.name) or []
    if not lines:
        return [{**head, **{f"{obj.name}.{f}": None for f in obj.fields}}]
    return [{**head, **{f"{obj.name}.{k}": v for k, v in ln.items()}} for ln in lines]


def export_getters(ws: Workspace, sc: Scenario) -> list[tuple[str, Getter]]:
    ctx = formula_context(ws, sc)
    return [(m.target, getter(m, ctx)) for m in sc.active_mapping() if m.target]
