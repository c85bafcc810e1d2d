"""Simplified scenarios: upload a file, pick the window, map source fields to target fields,
tick Key on summary fields. The toolkit creates the provider (type from the extension) and
the scenario (fields in the window's order, the Save action added). A simplified scenario
cannot be edited as a manual one until it is converted (a one-way step).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from ..catalog.uploads import add_provider
from ..catalog.versions import (
    discard_new_provider,
    load_provider,
    provider_path,
    save_provider,
)
from ..erp.windows import WindowDef
from ..errors import BadInputError, ScenarioError
from ..providers.registry import get_provider_type, type_for_file
from ..workspace import Workspace
from .model import (
    MappingLine,
    Scenario,
    check_scenario,
    definition_problems,
    list_scenarios,
    load_scenario,
    save_scenario,
    scenario_path,
)

# Names legacy systems use for the ERP's fields (normalised: lower case, letters and digits).
SYNONYMS = {
    "qty": "quantity", "antall": "quantity", "amount": "amount", "item": "inventoryid",
    "itemcode": "inventoryid", "itemno": "inventoryid", "sku": "inventoryid",
    "invoicenbr": "referencenbr", "invoiceno": "referencenbr", "invoicenumber": "referencenbr",
    "docno": "referencenbr", "price": "unitprice", "discount": "discountpercent",
    "customer": "customerid", "custno": "customerid", "supplier": "supplierid",
    "vendor": "supplierid", "invoicedate": "date", "docdate": "date", "account": "accountid",
    "currency": "currencyid", "name": "customername", "unit": "uom",
}


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def suggest_mapping(ws: Workspace, window: WindowDef, source_fields: list[str],
                    cutoff: float = 75.0) -> dict[str, str | None]:
    """For each source field, the target ``Object.Field`` most likely meant (or None).

    Earlier mappings in this workspace for the same window come first; then fuzzy matching
    of the names (rapidfuzz), each target used at most once.
    """
    earlier: dict[str, str] = {}
    for sc in list_scenarios(ws, "import"):
        if sc.window == window.id:
            for m in sc.mapping:
                if m.target and m.source and not m.is_formula:
                    earlier.setdefault(_norm(m.source), m.target)
    targets = [f"{o}.{f.name}" for o, f in window.all_fields() if not f.computed]
    choices = {t: _norm(t.split(".", 1)[1]) for t in targets}
    out: dict[str, str | None] = {}
    used: set[str] = set()
    for src in source_fields:
        leaf = src.split(".")[-1].split("/")[-1]
        hit = earlier.get(_norm(src))
        if hit is None and _norm(leaf) in SYNONYMS:
            want = SYNONYMS[_norm(leaf)]
            hit = next((t for t, c in choices.items() if c == want and t not in used), None)
        if hit is None:
            best = process.extractOne(_norm(leaf), {t: c for t, c in choices.items()
                                                    if t not in used},
                                      scorer=fuzz.WRatio, score_cutoff=cutoff)
            hit = best[2] if best else None
        if hit in used:
            hit = None
        out[src] = hit
        if hit:
            used.add(hit)
    return out


Pairs = list[tuple[str, str]]


def mapping_pairs(mapping: Mapping[str, str] | Iterable[tuple[str, str]]) -> Pairs:
    """The mapping of a simplified scenario as (source, target) lines.

    A list of pairs lets one source feed several targets (``Code`` -> ``CustomerID`` and
    ``Code`` -> ``CustomerName``); a dict {source: target} is still accepted.
    """
    items = mapping.items() if isinstance(mapping, Mapping) else mapping
    pairs = []
    for item in items:
        if isinstance(item, str) or len(item) != 2:
            raise BadInputError(f"mapping line {item!r}: expected a (source, target) pair")
        src, target = item
        pairs.append((str(src), str(target)))
    return pairs


def create_simplified(ws: Workspace, name: str, file: str | Path, window_id: str,
                      mapping: Pairs | Mapping[str, str],
                      keys: list[str] | None = None, *, params: dict[str, Any] | None = None,
                      options: dict[str, Any] | None = None) -> Scenario:
    """Create the provider and a simplified import scenario in one step.

    ``mapping`` is a list of (source field or formula, target ``Object.Field``) pairs: a
    source may be used for several targets, a target only once (a dict {source: target} is
    accepted too). ``keys`` are summary targets.
    """
    window = ws.windows.get(window_id)
    ws.require(window.id, "edit")
    if scenario_path(ws, name).exists():
        raise BadInputError(f"scenario {name!r} exists already")
    pairs = mapping_pairs(mapping)
    problems = _check_pairs(window, pairs, keys or [])
    if problems:
        raise ScenarioError(f"simplified scenario {name!r} cannot be created",
                            problems=problems)
    type_name = type_for_file(file)
    if provider_path(ws, name).exists():
        raise BadInputError(f"provider {name!r} exists already; pick another scenario name")
    draft = Scenario(name=name, kind="import", window=window.id, provider=name,
                     options={"break_on_error": True, "mode": "insert", **(options or {})})
    problems = definition_problems(draft.to_dict())  # unknown options, wrong types
    if problems:
        raise ScenarioError(f"simplified scenario {name!r} cannot be created",
                            problems=problems)
    prov = add_provider(ws, name, file, type_name=type_name,
                        params={**get_provider_type(type_name).simplified_params,
                                **(params or {})},
                        simplified=True, description=f"created for simplified scenario {name}")
    sc = Scenario(name=name, kind="import", window=window.id, provider=prov.name,
                  mapping=ordered_mapping(window, pairs), keys=list(keys or []),
                  options={"break_on_error": True, "mode": "insert", **(options or {})},
                  simplified=True)
    problems = check_scenario(ws, sc)
    if problems:
        discard_new_provider(ws, name)  # refused: the workspace stays as it was
        raise ScenarioError(f"simplified scenario {name!r} cannot be created",
                            problems=problems)
    save_scenario(ws, sc)
    return sc


def _check_pairs(window: WindowDef, pairs: Pairs, keys: list[str]) -> list[str]:
    problems = []
    fields = {f"{o}.{f.name}": f for o, f in window.all_fields()}
    seen = set()
    for src, target in pairs:
        if target not in fields:
            problems.append(f"{src} -> {target}: {window.id} has no field {target}")
        elif target in seen:
            problems.append(f"{target} is mapped twice (a target takes one source; a "
                            "source may feed several targets)")
        seen.add(target)
        if target.lower().startswith(("action", "@")):
            problems.append(f"{target}: simplified scenarios cannot add actions or commands")
    for k in keys:
        if k not in fields:
            problems.append(f"key {k}: {window.id} has no field {k}")
        elif k.split(".", 1)[0] != window.summary:
            problems.append(f"key {k}: Key can be set only on fields of the summary object "
                            f"{window.summary}")
        elif k not in seen:
            problems.append(f"key {k} is not mapped")
    return problems


def ordered_mapping(window: WindowDef, pairs: Pairs) -> list[MappingLine]:
    """Mapping lines in the window's order (summary first), then the Save action."""
    order = {f"{o}.{f.name}": i for i, (o, f) in enumerate(window.all_fields())}
    lines = [MappingLine(target=t, source=s) for s, t in sorted(pairs, key=lambda p:
                                                                 order.get(p[1], 1 << 30))]
    return lines + [MappingLine(action="Save")]


def update_simplified(ws: Workspace, name: str, mapping: Pairs | Mapping[str, str],
                      keys: list[str] | None = None) -> Scenario:
    """Change the mapping of a simplified scenario (its only allowed edit); ``mapping`` as
    for :func:`create_simplified`."""
    sc = load_scenario(ws, name, check=False)
    if not sc.simplified:
        raise BadInputError(f"scenario {name!r} is a manual scenario; edit its YAML instead")
    window = ws.windows.get(sc.window)
    ws.require(window.id, "edit")
    pairs = mapping_pairs(mapping)
    problems = _check_pairs(window, pairs, keys or [])
    if problems:
        raise ScenarioError(f"simplified scenario {name!r} cannot be changed",
                            problems=problems)
    sc.mapping = ordered_mapping(window, pairs)
    sc.keys = list(keys or [])
    save_scenario(ws, sc)
    return sc


def ensure_manual(sc: Scenario) -> None:
    if sc.simplified:
        raise BadInputError(f"scenario {sc.name!r} is a simplified scenario: convert it to a "
                            "manual scenario first (`scenario convert`)")


def convert_to_manual(ws: Workspace, name: str) -> Scenario:
    """Make a simplified scenario (and its provider) regular ones. One-way."""
    sc = load_scenario(ws, name, check=False)
    ws.require(sc.window, "edit")
    if not sc.simplified:
        raise BadInputError(f"scenario {name!r} is already a manual scenario")
    prov = load_provider(ws, sc.provider)
    prov.simplified = False
    save_provider(ws, prov)
    sc.simplified = False
    save_scenario(ws, sc, check=False)
    return sc
