"""New providers and new file versions from uploaded files: one file, several files (one
object each) or every sheet of a workbook. A new version whose structure differs from the
provider's is refused with the difference, and so is one where an element the schema reads
as plain fields repeats (XML: only its first occurrence would be read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import BadInputError, SchemaMismatchError
from ..providers.registry import type_for_file
from ..providers.schema import keep_unseen_details, schema_diff
from ..workspace import Workspace
from .objects import add_objects_provider, add_sheets_provider, upload_objects
from .versions import (
    FileVersion,
    Provider,
    check_name,
    clean_original_name,
    existing_file,
    inspect_file,
    load_provider,
    provider_path,
    store_version,
)


def add_provider(ws: Workspace, name: str, file: str | Path | list[str | Path], *,
                 type_name: str | None = None, params: dict[str, Any] | None = None,
                 simplified: bool = False, description: str = "") -> Provider:
    """Create a provider from a file: detect parameters, extract the schema, store version 1.

    Several files (a list): one object per file, named after it. An Excel workbook with
    ``sheets: all``: one object per sheet (see catalog/objects.py).
    """
    check_name(name)
    if isinstance(file, list | tuple):
        if len(file) > 1:
            return add_objects_provider(ws, name, [Path(f) for f in file],
                                        type_name=type_name, params=params,
                                        description=description)
        file = file[0]
    sheets = (params or {}).get("sheets")
    if sheets is not None and sheets != "all":
        raise BadInputError(f"params.sheets: {sheets!r} is not all (one object per sheet); "
                            "leave it out and give `sheet` to read one sheet")
    if sheets == "all":
        if provider_path(ws, name).exists():
            raise BadInputError(f"provider {name!r} exists already")
        return add_sheets_provider(ws, name, Path(file), params=params,
                                   description=description)
    file = existing_file(file)
    if provider_path(ws, name).exists():
        raise BadInputError(f"provider {name!r} exists already; use `provider upload` "
                            "to add a file version")
    type_name = type_name or type_for_file(file)
    full, schema = inspect_file(ws, file, type_name, params or {})
    prov = Provider(name=name, type=type_name, params=full, schema=schema,
                    simplified=simplified, original_name=clean_original_name(file),
                    description=description)
    store_version(ws, prov, file, origin="upload", write_definition=True)
    return prov


def upload_version(ws: Workspace, name: str, file: str | Path | list[str | Path], *,
                   object_name: str | None = None) -> FileVersion:
    """Add version N+1; refused (nothing replaced) when the schema differs.

    A multi-object provider takes one or more files, each matched to its object by name
    (or ``object_name``); the objects not given are carried over from the last version.
    """
    prov = load_provider(ws, name)
    if prov.parts is not None:
        files = [Path(f) for f in file] if isinstance(file, list | tuple) else [Path(file)]
        return upload_objects(ws, name, files, object_name)
    if isinstance(file, list | tuple):
        if len(file) != 1:
            raise BadInputError(f"provider {name!r} has one object: upload one file")
        file = file[0]
    file = existing_file(file)
    _, schema = inspect_file(ws, file, prov.type, prov.params)
    schema = keep_unseen_details(prov.schema, schema)
    repeats = flattened_repeats(prov, file)
    diff = schema_diff(prov.schema, schema)
    if repeats:
        raise SchemaMismatchError(_repeats_message(prov, file, repeats),
                                  diff=[_repeat_line(prov, r, n) for r, n in repeats] + diff,
                                  provider=name, repeated=[r for r, _ in repeats])
    if diff:
        raise SchemaMismatchError(
            f"{file.name}: its structure differs from provider {name!r}; the version was "
            "not added. Update the provider's schema first (`provider update-schema`)",
            diff=diff, provider=name)
    return store_version(ws, prov, file, origin="upload")


def flattened_repeats(prov: Provider, file: Path) -> list[tuple[str, int]]:
    """Elements that repeat in ``file`` but that ``prov`` reads as plain fields (XML)."""
    find = getattr(prov.ptype, "flattened_repeats", None)
    return find(file, prov.params) if find is not None else []


def _repeat_line(prov: Provider, rel: str, n: int) -> str:
    summary = prov.schema.objects[0].name if prov.schema.objects else "the record"
    return (f"element '{rel}' repeats ({n} in one {summary}) but the schema reads it as "
            f"fields of {summary}")


def _repeats_message(prov: Provider, file: Path, repeats: list[tuple[str, int]]) -> str:
    paths = ", ".join(r for r, _ in repeats)
    what = f"element {paths} repeats" if len(repeats) == 1 else f"elements {paths} repeat"
    summary = prov.schema.objects[0].name if prov.schema.objects else "the record"
    declared = ",".join([*prov.params.get("detail_paths", []), *(r for r, _ in repeats)])
    fix = (f"convert its scenario to a manual one (`scenario convert`) and run `provider "
           f"update-schema {prov.name} FILE`, or create the simplified scenario again with "
           f"`-p detail_paths={declared}`" if prov.simplified else
           f"run `provider update-schema {prov.name} FILE` (detail objects from now on; the "
           "provider's scenarios are moved to the new columns), or declare them when the "
           f"provider is created: `-p detail_paths={declared}`")
    return (f"{file.name}: {what} in this file, but provider {prov.name!r} reads "
            f"{'it' if len(repeats) == 1 else 'them'} as plain fields of {summary} (its "
            "schema saw one occurrence), so only the first occurrence would be read; the "
            f"version was not added. To read every occurrence: {fix}")
