"""Substitution lists (value maps): named tables of legacy value -> ERP value, kept as
``valuemaps/NAME.yaml`` in the workspace and used by formulas: ``=Map('NAME', [Field])``.
A value missing from the list is an error naming the list and the value, unless the list
has a default.
"""

from __future__ import annotations

from typing import Any

from ..catalog.versions import check_name
from ..errors import NotFoundError
from ..workspace import Workspace, dump_yaml, load_yaml


def _path(ws: Workspace, name: str):
    return ws.path("valuemaps", f"{check_name(name, 'value map')}.yaml")


def load_valuemap(ws: Workspace, name: str) -> dict[str, Any]:
    p = _path(ws, name)
    if not p.exists():
        raise NotFoundError(f"no value map {name!r} in {ws.root}")
    d = load_yaml(p) or {}
    return {"name": name, "values": dict(d.get("values") or {}), "default": d.get("default")}


def save_valuemap(ws: Workspace, name: str, values: dict[str, Any],
                  default: Any = None) -> None:
    ws.path("valuemaps").mkdir(exist_ok=True)
    d: dict[str, Any] = {"values": {str(k): v for k, v in values.items()}}
    if default is not None:
        d["default"] = default
    dump_yaml(_path(ws, name), d)


def set_value(ws: Workspace, name: str, legacy: str, value: Any) -> None:
    """Add or change one entry (creates the list when it does not exist)."""
    try:
        vm = load_valuemap(ws, name)
    except NotFoundError:
        vm = {"values": {}, "default": None}
    vm["values"][str(legacy)] = value
    save_valuemap(ws, name, vm["values"], vm["default"])


def remove_value(ws: Workspace, name: str, legacy: str) -> None:
    vm = load_valuemap(ws, name)
    if str(legacy) not in vm["values"]:
        raise NotFoundError(f"value map {name!r} has no entry {legacy!r}")
    del vm["values"][str(legacy)]
    save_valuemap(ws, name, vm["values"], vm["default"])


def set_default(ws: Workspace, name: str, default: Any) -> None:
    vm = load_valuemap(ws, name)
    save_valuemap(ws, name, vm["values"], default)


def list_valuemaps(ws: Workspace) -> list[str]:
    return [p.stem for p in sorted(ws.path("valuemaps").glob("*.yaml"))]
