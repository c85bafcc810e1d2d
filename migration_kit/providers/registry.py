"""Provider types by name and by file extension. Adding a format is adding one module here."""

from __future__ import annotations

from pathlib import Path

from migration_kit.errors import Location, NotFoundError, SourceError

from .base import ProviderType
from .csv import CsvType
from .excel import ExcelType
from .xml import XmlType

_TYPES: dict[str, ProviderType] = {t.name: t for t in (CsvType(), ExcelType(), XmlType())}


def provider_types() -> list[str]:
    """Names of every provider type: ``["csv", "excel", "xml"]``."""
    return list(_TYPES)


def get_provider_type(name: str) -> ProviderType:
    try:
        return _TYPES[name]
    except KeyError:
        raise NotFoundError(f"unknown provider type {name!r}; known: {', '.join(_TYPES)}",
                            name=name) from None


def type_for_file(path: Path | str) -> str:
    """The provider type name for a file, by extension (``.csv``/``.txt`` -> ``csv``, ...)."""
    ext = Path(path).suffix.lower()
    for t in _TYPES.values():
        if ext in t.extensions:
            return t.name
    known = ", ".join(e for t in _TYPES.values() for e in t.extensions)
    raise SourceError(f"unknown file type {ext or '(no extension)'!r}; known: {known}",
                      location=Location(file=Path(path).name), extension=ext)
