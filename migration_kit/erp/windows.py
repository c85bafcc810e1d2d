"""Window definitions of the embedded ERP, read from ``templates/windows/*.yaml`` (shipped with
the package, see :mod:`migration_kit.resources`) and a workspace's own ``windows/*.yaml``.

A window has one summary object and zero or more detail objects; each object has typed
fields with their rules. The definitions are data: adding a window is adding a YAML file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, model_validator

from .. import resources
from ..definitions import Strict, check, choice, load_yaml_text
from ..definitions import rule as valid_if
from ..errors import BadInputError, DefinitionError, Location, NotFoundError
from ..values import TYPES

# a window field is a value type, or one of a fixed list of codes
FIELD_TYPES = (*TYPES, "enum")
RULES = ("min_lines", "exactly_one_nonzero", "balanced", "unique")
# what each rule needs besides `rule`
RULE_NEEDS = {"min_lines": ("object",), "exactly_one_nonzero": ("object", "fields"),
              "balanced": ("object", "debit", "credit"), "unique": ("fields",)}


# -- the YAML form, checked strictly (see migration_kit/definitions.py) ------------------
class SelectorModel(Strict):
    window: str | None = None
    list: str | None = None
    where: dict[str, Any] | None = None


def _numbering(v: Any) -> bool:
    """``line`` (detail lines numbered 1, 2, ...) or ``{prefix: text, width: n}``."""
    if v == "line":
        return True
    return (isinstance(v, dict) and set(v) <= {"prefix", "width"}
            and isinstance(v.get("prefix", ""), str)
            and type(v.get("width", 6)) is int and v.get("width", 6) > 0)


class DefaultFromModel(Strict):
    field: str
    take: str


class FieldModel(Strict):
    type: Annotated[str, AfterValidator(choice(FIELD_TYPES))] = "string"
    max_length: int | None = None
    scale: int | None = None
    values: list[str] | None = None
    required: bool = False
    key: bool = False
    default: Any = None
    default_from: DefaultFromModel | None = None
    selector: SelectorModel | None = None
    computed: str | None = None
    tolerance: float = 0.0
    numbering: Annotated[Any, valid_if(_numbering, "is not line or {prefix: text, width: n}")] \
        = None
    not_before: str | None = None
    min: float | None = None
    max: float | None = None
    not_zero: bool = False
    pattern: str | None = None


class ObjectModel(Strict):
    detail: bool = False
    fields: dict[str, FieldModel | None] | None = None


class RuleModel(Strict):
    rule: Annotated[str, AfterValidator(choice(RULES))]
    object: str | None = None
    count: int | None = None
    fields: list[str] | None = None
    debit: str | None = None
    credit: str | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> RuleModel:
        missing = [k for k in RULE_NEEDS[self.rule] if getattr(self, k) is None]
        if missing:
            raise ValueError(f"rule {self.rule} needs {', '.join(missing)}")
        return self


class WindowModel(Strict):
    id: str
    name: str
    summary: str
    objects: dict[str, ObjectModel]
    rules: list[RuleModel] | None = None
    actions: list[str] | None = None


class ReferenceListModel(Strict):
    name: str
    values: list[Any]


@dataclass(frozen=True)
class Selector:
    """A reference to another window's key (``window``) or to a reference list (``list``)."""

    window: str | None = None
    list: str | None = None
    where: dict[str, Any] = field(default_factory=dict)


@dataclass
class FieldDef:
    name: str
    type: str = "string"
    max_length: int | None = None
    scale: int | None = None
    values: list[str] | None = None
    required: bool = False
    key: bool = False
    default: Any = None
    default_from: dict[str, str] | None = None  # {field: selector field, take: field there}
    selector: Selector | None = None
    computed: str | None = None  # a formula over the object's fields
    tolerance: float = 0.0
    numbering: dict[str, Any] | str | None = None  # {prefix, width} or "line"
    not_before: str | None = None
    min: float | None = None
    max: float | None = None
    not_zero: bool = False
    pattern: str | None = None

    @property
    def value_type(self) -> str:
        """The conversion type: enums are text."""
        return "string" if self.type == "enum" else self.type

    def describe(self) -> str:
        bits = [self.type + (f"({self.max_length})" if self.max_length else "")]
        if self.key:
            bits.append("key")
        if self.required:
            bits.append("required")
        if self.values:
            bits.append("values: " + "/".join(self.values))
        if self.selector:
            bits.append("selector: " + (self.selector.window or self.selector.list or ""))
        if self.computed:
            bits.append("computed")
        if self.numbering:
            bits.append("automatic")
        return ", ".join(bits)


@dataclass
class ObjectDef:
    name: str
    fields: dict[str, FieldDef]
    detail: bool = False


@dataclass
class WindowDef:
    id: str
    name: str
    summary: str
    objects: dict[str, ObjectDef]
    rules: list[dict[str, Any]] = field(default_factory=list)
    actions: list[str] = field(default_factory=lambda: ["Save", "Cancel"])

    @property
    def summary_object(self) -> ObjectDef:
        return self.objects[self.summary]

    @property
    def detail_objects(self) -> list[ObjectDef]:
        return [o for o in self.objects.values() if o.detail]

    @property
    def key_fields(self) -> list[str]:
        return [f.name for f in self.summary_object.fields.values() if f.key]

    def field(self, object_name: str, field_name: str) -> FieldDef:
        try:
            return self.objects[object_name].fields[field_name]
        except KeyError:
            raise NotFoundError(
                f"window {self.id} has no field {object_name}.{field_name}") from None

    def all_fields(self) -> list[tuple[str, FieldDef]]:
        return [(o.name, f) for o in self.objects.values() for f in o.fields.values()]


def _field(name: str, d: dict[str, Any], where: str) -> FieldDef:
    d = dict(d or {})
    sel = d.pop("selector", None)
    unknown = set(d) - set(FieldDef.__dataclass_fields__)
    if unknown:
        raise BadInputError(f"{where}: unknown field attribute(s) {sorted(unknown)}")
    f = FieldDef(name=name, **d)
    if f.type not in FIELD_TYPES:
        raise BadInputError(f"{where}: type {f.type!r} is not one of {FIELD_TYPES}")
    if f.type == "enum" and not f.values:
        raise BadInputError(f"{where}: an enum needs 'values'")
    if sel:
        f.selector = Selector(**sel)
    return f


def _load(path: Path, model: type[Strict]) -> Any:
    try:
        d = load_yaml_text(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise BadInputError(f"{path}: not valid YAML: {e}") from None
    what = "the window" if model is WindowModel else "the reference list"
    check(model, d, what, error=DefinitionError, location=Location(file=str(path)))
    return d


def load_window(path: Path) -> WindowDef:
    d = _load(path, WindowModel)
    where = path.name
    objects = {}
    for oname, od in d["objects"].items():
        fields = {fname: _field(fname, fd, f"{where} {oname}.{fname}")
                  for fname, fd in (od.get("fields") or {}).items()}
        objects[oname] = ObjectDef(oname, fields, bool(od.get("detail", False)))
    if d["summary"] not in objects:
        raise BadInputError(f"{where}: summary object {d['summary']!r} is not declared")
    for rule in d.get("rules") or []:
        if rule.get("rule") not in RULES:
            raise BadInputError(f"{where}: unknown rule {rule.get('rule')!r}; known: {RULES}")
    return WindowDef(id=d["id"], name=d["name"], summary=d["summary"], objects=objects,
                     rules=d.get("rules") or [], actions=d.get("actions") or ["Save", "Cancel"])


class WindowRegistry:
    """All windows and reference lists: the templates, overridden by a workspace's own."""

    def __init__(self, dirs: list[Path] | None = None):
        """``dirs``: folders with ``windows/`` and ``reference/``, later ones overriding
        earlier ones (default: the shipped templates)."""
        dirs = dirs or [resources.templates()]
        self.windows: dict[str, WindowDef] = {}
        self.lists: dict[str, frozenset[str]] = {}
        for base in dirs:
            for p in sorted((base / "windows").glob("*.yaml")):
                w = load_window(p)
                self.windows[w.id] = w
            for p in sorted((base / "reference").glob("*.yaml")):
                d = _load(p, ReferenceListModel)
                self.lists[d["name"]] = frozenset(str(v) for v in d["values"])
        for w in self.windows.values():
            for oname, f in w.all_fields():
                s = f.selector
                if s and s.window and s.window not in self.windows:
                    raise BadInputError(f"{w.id} {oname}.{f.name}: selector to unknown "
                                        f"window {s.window}")
                if s and s.list and s.list not in self.lists:
                    raise BadInputError(f"{w.id} {oname}.{f.name}: unknown list {s.list}")

    def get(self, window_id: str) -> WindowDef:
        try:
            return self.windows[window_id]
        except KeyError:
            known = ", ".join(sorted(self.windows))
            raise NotFoundError(f"no window {window_id!r}; known windows: {known}") from None

    def __iter__(self):
        return iter(self.windows.values())
