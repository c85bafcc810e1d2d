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
        keys = {id(t) for t in self.key_targets}
        # the summary fields a later row of a record could contradict (read from the file)
        self._header_targets = [(t, self.values_of[id(t)]) for t in self.by_object[window.summary]
                                if t.columns and id(t) not in keys]
        # their source columns: a later row that repeats these repeats the header
        self.header_cells = sorted({c for t, _ in self._header_targets for c in t.columns})

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

    def text_key_source(self) -> str | None:
        """The source column of the key when the key is one plain column into a text field
        and is the identity too (the usual case): its ``key_and_identity`` is then the
        column's text stripped (None when blank), what a columns engine can compute from
        the text alone. None for any other key."""
        if len(self.key_targets) != 1 or not self._ident_is_key:
            return None
        (t,) = self.key_targets
        return t.source if t.source is not None and t.text else None

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

    def document(self, rows: list[Mapping[str, Any]],
                 lines: list[int] | None = None) -> dict[str, Any]:
        """The window document of a record (``lines``: its rows' source lines, named in
        errors); raises MappingError naming the field, with every value of the record it
        cannot map (``document_lenient``) when there is more than one."""
        try:
            first = rows[0]
            head = {f: value(first) for f, value in self._summary_values}
            doc: dict[str, Any] = {self.window.summary: head}
            for obj, values in self._detail_values:
                out = []
                for row in rows:
                    ln = {f: value(row) for f, value in values}
                    for v in ln.values():  # a line with every value blank is left out
                        if v is not None:
                            out.append(ln)
                            break
                doc[obj] = out
            if len(rows) > 1 and self._header_targets:
                self._one_header(rows, head, lines, _raise)
        except MappingError as e:
            _, errors = self.document_lenient(rows, lines)
            raise _combined(errors or [e]) from None
        return doc

    def document_lenient(self, rows: list[Mapping[str, Any]], lines: list[int] | None = None
                         ) -> tuple[dict[str, Any], list[MappingError]]:
        """``document`` that goes on past values it cannot map (left empty), returning
        them too: what the control totals of a record in error can still count."""
        errors: list[MappingError] = []
        where = _where(rows, lines)

        def get(value, row, k):
            try:
                return value(row)
            except MappingError as e:
                errors.append(MappingError(e.target, where(k) + e.message))
                return None

        first = rows[0]
        head = {f: get(value, first, 0) for f, value in self._summary_values}
        doc: dict[str, Any] = {self.window.summary: head}
        for obj, values in self._detail_values:
            doc[obj] = [ln for ln in ({f: get(value, row, k) for f, value in values}
                                      for k, row in enumerate(rows))
                        if any(v is not None for v in ln.values())]
        if len(rows) > 1:
            self._one_header(rows, head, lines, errors.append)
        return doc, errors

    def _one_header(self, rows: list[Mapping[str, Any]], head: dict[str, Any],
                    lines: list[int] | None, report: Callable[[MappingError], Any]) -> None:
        """A document has one header, taken from its record's first row: a later row of the
        record that says otherwise in a summary field (a value, not a blank) is an error,
        never dropped in silence. The key fields are equal by the grouping itself."""
        where = _where(rows, lines)
        first = rows[0]
        cells = self.header_cells
        said_first = [first.get(c) for c in cells]
        for k in range(1, len(rows)):
            row = rows[k]
            if [row.get(c) for c in cells] == said_first:  # the usual: the header repeated
                continue
            for t, value in self._header_targets:
                if all(row.get(c) == first.get(c) for c in t.columns):
                    continue
                try:
                    v = value(row)
                except MappingError as e:
                    report(MappingError(e.target, where(k) + e.message))
                    continue
                h = head.get(t.field)
                if v is None or _same(v, h):
                    continue
                said = row.get(t.source) if t.source is not None else v
                was = first.get(t.source) if t.source is not None else h
                report(MappingError(t.target, (
                    f"{where(k)}{t.target} is {_shown(said)} here but {_shown(was)} on "
                    f"{_place(lines, 0)}, the first line of its record: a document has one "
                    "header (give this line its own key, or the same value)")))


def _combined(errors: list[MappingError]) -> MappingError:
    """One error for a record's errors: the first one's field, every message."""
    first = errors[0]
    if len(errors) == 1:
        return first
    return MappingError(first.target,
                        "; ".join([first.message, *(str(e) for e in errors[1:])]))


def _raise(e: MappingError) -> None:
    raise e


def _where(rows: list, lines: list[int] | None) -> Callable[[int], str]:
    """The prefix naming a row of a record of several rows ("line 12: ")."""
    if len(rows) < 2:
        return lambda k: ""
    return lambda k: f"{_place(lines, k)}: "


def _place(lines: list[int] | None, k: int) -> str:
    if lines is None or k >= len(lines) or lines[k] is None:
        return f"row {k + 1} of the record"
    return f"line {lines[k]}"


def _same(a: Any, b: Any) -> bool:
    if type(a) is str and type(b) is str:  # the ERP stores text stripped
        return a.strip() == b.strip()
    return a == b


def _shown(v: Any) -> str:
    if v is None or (isinstance(v, str) and not v.strip()):
        return "blank"
    return repr(v if isinstance(v, str) else str(v))


def _plain(v: Any) -> Any:
    """JSON-friendly text of a key value (dates and decimals as text), text stripped: the
    ERP compares keys stripped, so " A1" and "A1" are one key here too."""
    if type(v) is str:
        return v.strip()
    if v is None or isinstance(v, int | bool):
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
