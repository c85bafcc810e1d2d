"""Import and export scenarios as readable YAML files in the workspace.

An import scenario maps a provider's fields onto a window: mapping lines (target object
and field, or an action; source: a provider field, a constant, or a formula starting with
``=``), key fields, source restrictions and options. An export scenario maps a window's
fields onto a provider's fields. Loading or saving checks a scenario against the window
and provider schemas and reports every problem with its line.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from ..catalog.versions import Provider, check_name, load_provider
from ..definitions import Strict, choice, rule
from ..definitions import problems as model_problems
from ..errors import (
    BadInputError,
    FormulaSyntaxError,
    Location,
    NotFoundError,
    ScenarioError,
)
from ..formula import check_formula, compile_formula
from ..values import LOCALES
from ..workspace import Workspace, dump_yaml, load_yaml
from .conditions import Restriction, check_restrictions

MODES = ("insert", "upsert")
SYNC = ("full", "incremental")
GROUPING = ("key", "consecutive")
ENGINES = ("columns", "rows")
KINDS = ("import", "export")


# -- the YAML form, checked strictly (see migration_kit/definitions.py) ------------------
def _is_date(v: Any) -> bool:
    if isinstance(v, dt.date):
        return True
    try:
        dt.date.fromisoformat(v.strip())
    except (AttributeError, TypeError, ValueError):
        return False
    return True


def is_workers(v: Any) -> bool:
    """A value of the option ``workers`` (and of ``--workers``, once read as a number)."""
    return v == "auto" or (type(v) is int and 1 <= v <= 64)


NOT_WORKERS = "is not a whole number from 1 to 64, or auto"


def _is_name(v: Any) -> bool:
    return isinstance(v, str | int | float) and not isinstance(v, bool)


class OptionsModel(Strict):
    """A scenario's ``options:``; every key the engine reads, nothing else."""

    break_on_error: bool = True
    break_on_incorrect_target: bool = True
    mode: Annotated[str, AfterValidator(choice(MODES))] = "insert"
    locale: Annotated[str, AfterValidator(choice(sorted(LOCALES)))] | None = None
    batch_size: Annotated[int, Field(gt=0)] = 500
    # import processes (engine/workers.py); "auto": 2 for a big run where they can share it
    workers: Annotated[Any, rule(is_workers, NOT_WORKERS)] \
        = "auto"
    # engine: "columns" converts and checks a batch column by column (import) or flattens
    # in the database and writes in batches (export); "rows" is the reference, record by
    # record (the same results: tests/engine/test_engines.py, test_export_engines.py)
    engine: Annotated[str, AfterValidator(choice(ENGINES))] = "columns"
    sync: Annotated[str, AfterValidator(choice(SYNC))] = "full"
    discard_previous: bool = True
    save_only_if_valid: bool = False
    grouping: Annotated[str, AfterValidator(choice(GROUPING))] = "key"
    continuation_rows: bool = False
    today: Annotated[Any, rule(_is_date, "is not a date (yyyy-mm-dd)")] = None
    neutralise_formulas: bool = True  # export


class MappingLineModel(Strict):
    target: str | None = None
    source: str | None = None
    constant: Any = None
    action: str | None = None
    active: bool = True
    commit: bool = False
    ignore_error: bool = False


class RestrictionModel(Strict):
    field: Annotated[Any, rule(_is_name, "is not a field name")]
    condition: str
    value: Any = None
    values: Any = None
    op: str | None = None
    open: int | None = None
    close: int | None = None
    open_brackets: int | None = None
    close_brackets: int | None = None
    active: bool = True


class ObjectsModel(Strict):
    summary: str
    detail: str
    link: dict[str, str]


class ScenarioModel(Strict):
    name: str
    kind: Annotated[str, AfterValidator(choice(KINDS))] = "import"
    simplified: bool = False
    description: str | None = None
    window: str
    provider: str
    options: OptionsModel | None = None
    objects: ObjectsModel | None = None
    keys: list[str] | None = None
    mapping: list[MappingLineModel] | None = None
    restrictions: list[RestrictionModel] | None = None
    target_restrictions: list[RestrictionModel] | None = None


def definition_problems(d: Any) -> list[str]:
    """Unknown keys and wrong types of a scenario's YAML form, each with its path."""
    return model_problems(ScenarioModel, d)


@dataclass
class MappingLine:
    """One line of a mapping. Import: target ``Object.Field`` (or an action) <- source.

    Export: target is a provider field, source a window field ``Object.Field``.
    ``source`` is a field name or a formula (``=...``); ``constant`` a fixed value.
    """

    target: str | None = None
    source: str | None = None
    constant: Any = None
    action: str | None = None
    active: bool = True
    commit: bool = False
    ignore_error: bool = False

    @property
    def is_formula(self) -> bool:
        return isinstance(self.source, str) and self.source.startswith("=")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.action:
            d["action"] = self.action
        if self.target:
            d["target"] = self.target
        if self.source is not None:
            d["source"] = self.source
        if self.constant is not None:
            d["constant"] = self.constant
        if not self.active:
            d["active"] = False
        if self.commit:
            d["commit"] = True
        if self.ignore_error:
            d["ignore_error"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MappingLine:
        unknown = set(d) - {"target", "source", "constant", "action", "active", "commit",
                            "ignore_error"}
        if unknown:
            raise BadInputError(f"unknown mapping attribute(s) {sorted(unknown)}")
        return cls(**d)


@dataclass
class Scenario:
    name: str
    kind: str  # import | export
    window: str
    provider: str
    mapping: list[MappingLine] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # import: summary target fields
    restrictions: list[Restriction] = field(default_factory=list)
    target_restrictions: list[Restriction] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    simplified: bool = False
    description: str = ""
    # Two provider objects: {summary: OBJ, detail: OBJ, link: {summary field: detail field}}
    objects: dict[str, Any] | None = None

    # -- options with their defaults (the spec's: break on error) --------------------
    @property
    def break_on_error(self) -> bool:
        return bool(self.options.get("break_on_error", True))

    @property
    def break_on_target(self) -> bool:
        return bool(self.options.get("break_on_incorrect_target", True))

    @property
    def mode(self) -> str:
        return self.options.get("mode", "insert")

    @property
    def locale(self) -> str | None:
        return self.options.get("locale")

    @property
    def grouping(self) -> str:
        """``key``: rows with equal keys form one record wherever they stand in the file;
        ``consecutive``: only adjacent rows do (a key may repeat as separate documents)."""
        return self.options.get("grouping", "key")

    @property
    def continuation_rows(self) -> bool:
        return bool(self.options.get("continuation_rows", False))

    @property
    def batch_size(self) -> int:
        return int(self.options.get("batch_size", 500))

    @property
    def workers(self) -> int | str:
        """A number of import processes, or ``auto`` (the default; engine/workers.py)."""
        w = self.options.get("workers", "auto")
        return w if w == "auto" else int(w)

    @property
    def engine(self) -> str:
        """``columns`` (default) or ``rows``: the import or export engine (OptionsModel)."""
        return self.options.get("engine", "columns")

    def active_mapping(self) -> list[MappingLine]:
        return [m for m in self.mapping if m.active]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.simplified:
            d["simplified"] = True
        if self.description:
            d["description"] = self.description
        d["window"] = self.window
        d["provider"] = self.provider
        if self.options:
            d["options"] = self.options
        if self.objects is not None:
            d["objects"] = self.objects
        if self.keys:
            d["keys"] = self.keys
        d["mapping"] = [m.to_dict() for m in self.mapping]
        if self.restrictions:
            d["restrictions"] = [r.to_dict() for r in self.restrictions]
        if self.target_restrictions:
            d["target_restrictions"] = [r.to_dict() for r in self.target_restrictions]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None) -> Scenario:
        """From the YAML form; unknown keys and wrong types are a :class:`ScenarioError`
        listing every one (``file``: where it was read, for the message)."""
        found = definition_problems(d)
        if found:
            name = d.get("name") if isinstance(d, dict) else None
            raise ScenarioError(
                f"scenario {name!r} has {len(found)} problem(s)" if isinstance(name, str)
                else f"the scenario has {len(found)} problem(s)", problems=found,
                scenario=name, location=Location(file=file) if file else None)
        try:
            return cls(
                name=d["name"], kind=d.get("kind", "import"), window=d["window"],
                provider=d["provider"],
                mapping=[MappingLine.from_dict(m) for m in d.get("mapping") or []],
                keys=list(d.get("keys") or []),
                restrictions=[Restriction.from_dict(r) for r in d.get("restrictions") or []],
                target_restrictions=[Restriction.from_dict(r)
                                     for r in d.get("target_restrictions") or []],
                options=dict(d.get("options") or {}), simplified=bool(d.get("simplified")),
                description=d.get("description", ""),
                objects=dict(d["objects"]) if d.get("objects") is not None else None)
        except KeyError as e:
            raise BadInputError(f"scenario is missing {e.args[0]!r}") from None
        except TypeError as e:
            raise BadInputError(f"scenario: {e}") from None


# -- files ------------------------------------------------------------------------------
def scenario_path(ws: Workspace, name: str):
    return ws.path("scenarios", f"{check_name(name, 'scenario')}.yaml")


def _read(ws: Workspace, path) -> Scenario:
    return Scenario.from_dict(load_yaml(path) or {},
                              file=path.relative_to(ws.root).as_posix())


def load_scenario(ws: Workspace, name: str, *, check: bool = True) -> Scenario:
    p = scenario_path(ws, name)
    if not p.exists():
        raise NotFoundError(f"no scenario {name!r} in {ws.root}")
    sc = _read(ws, p)
    if check:
        raise_problems(ws, sc)
    return sc


def runnable_scenario(ws: Workspace, name: str) -> Scenario:
    """The scenario, if the user may run it: import needs ``edit`` on its window, export
    ``view`` (a user without the right does not see the scenario at all, nor the problems
    of a scenario file that does not load)."""
    try:
        sc = load_scenario(ws, name, check=False)
    except ScenarioError:
        raw = load_yaml(scenario_path(ws, name))
        window = raw.get("window") if isinstance(raw, dict) else None
        if isinstance(window, str) and window in ws.windows.windows:
            ws.require(window, "view" if raw.get("kind") == "export" else "edit")
        raise
    ws.require(sc.window, "edit" if sc.kind == "import" else "view")
    return sc


def save_scenario(ws: Workspace, sc: Scenario, *, check: bool = True) -> None:
    check_name(sc.name, "scenario")
    if check:
        raise_problems(ws, sc)
    dump_yaml(scenario_path(ws, sc.name), sc.to_dict())


def list_scenarios(ws: Workspace, kind: str | None = None) -> list[Scenario]:
    out = []
    for p in sorted(ws.path("scenarios").glob("*.yaml")):
        sc = _read(ws, p)
        if kind is None or sc.kind == kind:
            out.append(sc)
    return out


def raise_problems(ws: Workspace, sc: Scenario) -> None:
    problems = check_scenario(ws, sc)
    if problems:
        raise ScenarioError(f"scenario {sc.name!r} has {len(problems)} problem(s)",
                            problems=problems, scenario=sc.name)


# -- checks -----------------------------------------------------------------------------
def provider_fields(prov: Provider) -> list[str]:
    return prov.schema.columns()


def check_scenario(ws: Workspace, sc: Scenario) -> list[str]:
    """Every problem of a scenario against its window and provider, each with its line."""
    problems = definition_problems(sc.to_dict())
    if problems:  # unknown keys, wrong types: the rest cannot be checked
        return problems
    if sc.kind not in ("import", "export"):
        problems.append(f"kind {sc.kind!r} is not import or export")
    try:
        window = ws.windows.get(sc.window)
    except NotFoundError as e:
        return problems + [str(e)]
    try:
        prov = load_provider(ws, sc.provider)
    except (NotFoundError, BadInputError) as e:
        return problems + [str(e)]
    if sc.mode not in MODES:
        problems.append(f"options.mode {sc.mode!r} is not one of {', '.join(MODES)}")
    if sc.options.get("sync", "full") not in SYNC:
        problems.append(f"options.sync {sc.options.get('sync')!r} is not full or incremental")
    if sc.grouping not in GROUPING:
        problems.append(f"options.grouping {sc.grouping!r} is not key or consecutive")
    if sc.continuation_rows and not sc.keys:
        problems.append("options.continuation_rows needs key fields (`keys:`): a continuation "
                        "row is one whose key columns are blank")
    problems += check_objects(sc, prov)
    maps = [m for m in _value_maps(ws)]
    source_fields = provider_fields(prov)
    window_fields = [f"{o}.{f.name}" for o, f in window.all_fields()]
    if sc.kind == "import":
        sources, targets = source_fields, window_fields
    else:
        sources, targets = window_fields, source_fields
    for i, m in enumerate(sc.mapping, start=1):
        where = f"mapping line {i}"
        if m.action:
            if sc.kind == "export":
                problems.append(f"{where}: an export mapping has no actions")
            elif m.action not in window.actions:
                problems.append(f"{where}: window {window.id} has no action {m.action!r} "
                                f"(it has {', '.join(window.actions)})")
            continue
        if not m.target:
            problems.append(f"{where}: no target field")
        elif m.target not in targets:
            problems.append(f"{where}: target {m.target!r} is not a field of "
                            f"{window.id if sc.kind == 'import' else 'provider ' + prov.name}")
        if m.source is None and m.constant is None:
            problems.append(f"{where}: give a source field, a formula or a constant")
        elif m.is_formula:
            try:
                compile_formula(m.source)
                problems += [f"{where}: {p}" for p in check_formula(m.source, sources, maps)]
            except FormulaSyntaxError as e:
                problems.append(f"{where}: {e.message}")
        elif m.source is not None and m.source not in sources:
            problems.append(f"{where}: source {m.source!r} is not a field of "
                            f"{'provider ' + prov.name if sc.kind == 'import' else window.id}")
    if sc.kind == "import":
        summary = window.summary
        mapped = {m.target for m in sc.active_mapping() if m.target}
        for k in sc.keys:
            obj = k.split(".", 1)[0]
            if k not in window_fields:
                problems.append(f"key {k!r} is not a field of {window.id}")
            elif obj != summary:
                problems.append(f"key {k!r}: only fields of the summary object {summary} can "
                                "be keys")
            elif k not in mapped:
                problems.append(f"key {k!r} is not mapped")
    problems += [f"restriction {p}" for p in check_restrictions(sc.restrictions, sources)]
    problems += [f"target restriction {p}"
                 for p in check_restrictions(sc.target_restrictions, window_fields)]
    return problems


def check_objects(sc: Scenario, prov: Provider) -> list[str]:
    """``objects:`` names two objects of the provider and links them by their fields."""
    if sc.objects is None:
        if prov.parts is not None and sc.kind == "import":
            return [f"provider {prov.name!r} has several objects "
                    f"({', '.join(ob.name for ob in prov.schema.objects)}): say which gives "
                    "the summary and which the detail fields, and how they link (`objects: "
                    "{summary: ..., detail: ..., link: {field: field}}`)"]
        return []
    o = sc.objects
    names = [ob.name for ob in prov.schema.objects]
    problems = []
    unknown = set(o) - {"summary", "detail", "link"}
    if unknown:
        problems.append(f"objects: unknown key(s) {sorted(unknown)}; give summary, detail and "
                        "link")
    for role in ("summary", "detail"):
        if o.get(role) not in names:
            problems.append(f"objects.{role}: {o.get(role)!r} is not an object of provider "
                            f"{prov.name!r} (it has {', '.join(names)})")
    if o.get("summary") is not None and o.get("summary") == o.get("detail"):
        problems.append("objects: summary and detail must be two different objects")
    link = o.get("link")
    if not isinstance(link, dict) or not link:
        problems.append("objects.link: give the key fields that link them, e.g. "
                        "{orderID: orderID} (summary field: detail field)")
    elif not problems:
        s_fields = prov.schema.object(o["summary"]).field_names()
        d_fields = prov.schema.object(o["detail"]).field_names()
        for a, b in link.items():
            if a not in s_fields:
                problems.append(f"objects.link: {a!r} is not a field of {o['summary']}")
            if b not in d_fields:
                problems.append(f"objects.link: {b!r} is not a field of {o['detail']}")
    return problems


def _value_maps(ws: Workspace) -> list[str]:
    return [p.stem for p in sorted(ws.path("valuemaps").glob("*.yaml"))]


_FIELD_REF = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\[([^\]]*)\]""")


def rename_provider_fields(ws: Workspace, provider: str, renames: dict[str, str]
                           ) -> dict[str, int]:
    """Point the scenarios of ``provider`` at renamed provider columns ({old: new}, e.g. after
    a schema update made ``InvoiceLine/ID`` the detail field ``InvoiceLine.ID``): import
    sources, ``[Field]`` references in formulas and source restrictions; export targets.
    Returns {scenario: references changed} for the scenarios saved."""
    if not renames:
        return {}

    def refs(text: str) -> str:
        return _FIELD_REF.sub(lambda m: m.group(0) if m.group(1) is None else
                              f"[{renames.get(m.group(1), m.group(1))}]", text)

    out: dict[str, int] = {}
    for sc in list_scenarios(ws):
        if sc.provider != provider:
            continue
        n = 0
        for m in sc.mapping:
            if sc.kind == "export":
                if m.target in renames:
                    m.target, n = renames[m.target], n + 1
            elif m.is_formula:
                new = refs(m.source)
                if new != m.source:
                    m.source, n = new, n + 1
            elif m.source in renames:
                m.source, n = renames[m.source], n + 1
        if sc.kind == "import":
            for r in sc.restrictions:
                if r.field in renames:
                    r.field, n = renames[r.field], n + 1
        if n:
            save_scenario(ws, sc, check=False)
            out[sc.name] = n
    return out


def broken_scenarios(ws: Workspace, provider: str) -> list[str]:
    """Scenarios of ``provider`` that no longer fit it (after a schema update)."""
    out = []
    for p in sorted(ws.path("scenarios").glob("*.yaml")):
        try:
            sc = _read(ws, p)
        except ScenarioError:
            raw = load_yaml(p)
            if isinstance(raw, dict) and raw.get("provider") == provider:
                out.append(str(raw.get("name", p.stem)))
            continue
        if sc.provider == provider and check_scenario(ws, sc):
            out.append(sc.name)
    return out
