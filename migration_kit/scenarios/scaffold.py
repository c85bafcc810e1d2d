"""A starting point for a manual scenario: the provider's fields mapped to the window's by
the same suggestions as simplified scenarios, written as YAML for the consultant to edit."""

from __future__ import annotations

from ..catalog.versions import load_provider
from ..errors import BadInputError
from ..workspace import Workspace
from .model import MappingLine, Scenario, save_scenario, scenario_path
from .simplified import ordered_mapping, suggest_mapping


def new_scenario(ws: Workspace, name: str, provider: str, window_id: str,
                 kind: str = "import") -> Scenario:
    """Create ``scenarios/NAME.yaml`` (import or export) with suggested mapping lines."""
    window = ws.windows.get(window_id)
    ws.require(window.id, "edit" if kind == "import" else "view")
    if scenario_path(ws, name).exists():
        raise BadInputError(f"scenario {name!r} exists already")
    prov = load_provider(ws, provider)
    pairs = [(s, t) for s, t in suggest_mapping(ws, window, prov.schema.columns()).items()
             if t]
    if kind == "import":
        mapping = ordered_mapping(window, pairs)
    elif kind == "export":
        mapping = [MappingLine(target=s, source=t) for s, t in pairs]
    else:
        raise BadInputError(f"kind {kind!r} is not import or export")
    sc = Scenario(name=name, kind=kind, window=window.id, provider=prov.name,
                  mapping=mapping, options={"break_on_error": True} if kind == "import"
                  else {})
    save_scenario(ws, sc, check=False)
    return sc
