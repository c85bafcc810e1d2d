"""A provider's new structure and what it does to its scenarios: take a file's schema as the
provider's (kept type overrides, a new version), move the scenarios' field references to the
renamed columns, and name the scenarios that no longer fit. Above both the catalog and the
scenarios, so neither has to know the other."""

from __future__ import annotations

from pathlib import Path

from ..catalog.uploads import flattened_repeats
from ..catalog.versions import (
    editable,
    existing_file,
    inspect_file,
    load_provider,
    store_version,
)
from ..errors import BadInputError
from ..providers.schema import column_renames, keep_unseen_details, schema_diff
from ..workspace import Workspace
from .model import broken_scenarios, rename_provider_fields


def update_schema(ws: Workspace, name: str, file: str | Path) -> tuple[list[str], list[str]]:
    """Take a new structure from ``file`` as the provider's schema, and add it as a version.

    Returns (the diff, the scenarios whose mapping no longer fits).
    """
    prov = editable(load_provider(ws, name))
    if prov.parts is not None:
        raise BadInputError(f"provider {name!r} has several objects; to change their "
                            "structure, add a new provider with the new files")
    file = existing_file(file)
    repeats = flattened_repeats(prov, file)
    if repeats:  # elements that repeat now become detail objects, and stay ones
        prov.params = {**prov.params, "detail_paths": [*prov.params.get("detail_paths", []),
                                                       *(r for r, _ in repeats)]}
    _, schema = inspect_file(ws, file, prov.type, prov.params)
    schema = keep_unseen_details(prov.schema, schema)
    diff = schema_diff(prov.schema, schema)
    renames = column_renames(prov.schema, schema)
    # keep the user's type overrides on fields that still exist (also when they moved)
    old = dict(zip(prov.schema.columns(), prov.schema.fields()))
    was = {n: o for o, n in renames.items()}
    for col, f in zip(schema.columns(), schema.fields()):
        prev = old.get(was.get(col, col))
        if prev is not None and prev.type_overridden:
            f.type, f.type_overridden = prev.type, True
    prov.schema = schema
    store_version(ws, prov, file, origin="upload", write_definition=True)
    moved = rename_provider_fields(ws, name, renames)
    diff += [f"scenario {sc}: {n} field reference(s) moved to the new columns"
             for sc, n in moved.items()]
    return diff, broken_scenarios(ws, name)
