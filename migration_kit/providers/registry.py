"""Provider types by name and by file extension.

A file format is one module in this package that ends with ``register(TheType())``: the
registry imports every module of the package the first time a type is asked for, so adding a
format is adding that module and nothing else (the CLI's ``--type`` choices, the provider
YAML check and simplified scenarios all read the names from here).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from migration_kit.errors import Location, NotFoundError, SourceError

from .base import ProviderType, Schema

_TYPES: dict[str, ProviderType] = {}
_loaded = False


def register(ptype: ProviderType) -> ProviderType:
    """Make a provider type known by its ``name`` and ``extensions``; returns it."""
    _TYPES[ptype.name] = ptype
    # kept in name order, whichever module was imported first
    ordered = sorted(_TYPES.items())
    _TYPES.clear()
    _TYPES.update(ordered)
    return ptype


def _types() -> dict[str, ProviderType]:
    global _loaded
    if not _loaded:
        _loaded = True  # first, so a module that asks while it is imported does not recurse
        # by name, not by a static import: the formats import this module to register
        for m in pkgutil.iter_modules([str(Path(__file__).parent)]):
            importlib.import_module(f"{__package__}.{m.name}")
    return _TYPES


def provider_types() -> list[str]:
    """Names of every provider type: ``["csv", "excel", "xml"]``."""
    return list(_types())


def provider_type_in(module: str, name: str) -> ProviderType:
    """The type ``name`` that ``module`` (of this package) registers, importing that module
    alone (a process that reads one format, such as ``read_ahead``'s, loads no other)."""
    if name not in _TYPES:
        if not module.startswith(f"{__package__}."):
            raise NotFoundError(f"{module!r} is not a module of {__package__}", name=name)
        importlib.import_module(module)
    return _TYPES.get(name) or get_provider_type(name)


def get_provider_type(name: str) -> ProviderType:
    types = _types()
    try:
        return types[name]
    except KeyError:
        raise NotFoundError(f"unknown provider type {name!r}; known: {', '.join(types)}",
                            name=name) from None


def type_for_file(path: Path | str) -> str:
    """The provider type name for a file, by extension (``.csv``/``.txt`` -> ``csv``, ...)."""
    ext = Path(path).suffix.lower()
    types = _types()
    for t in types.values():
        if ext in t.extensions:
            return t.name
    known = ", ".join(e for t in types.values() for e in t.extensions)
    raise SourceError(f"unknown file type {ext or '(no extension)'!r}; known: {known}",
                      location=Location(file=Path(path).name), extension=ext)


def read_file_schema(file: Path | str, params: dict[str, Any] | None = None, *,
                     simplified: bool = False) -> tuple[ProviderType, dict[str, Any], Schema]:
    """A file's type (by extension), its complete parameters and its schema: what a provider
    made from it would hold. ``simplified``: with the defaults of a simplified scenario's
    provider under ``params``."""
    file = Path(file)
    if not file.is_file():  # before a reader opens it (scenario suggest --file missing.csv)
        raise NotFoundError(f"no file {file}")
    ptype = get_provider_type(type_for_file(file))
    given = {**ptype.simplified_params, **(params or {})} if simplified else dict(params or {})
    full = ptype.detect(file, given)
    return ptype, full, ptype.read_schema(file, full)
