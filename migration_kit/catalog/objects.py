"""Providers with several objects: several CSV files added to one provider (objects named
after the files), or each sheet of a workbook (``-p sheets=all``, objects named after the
sheets), as the ERP's Excel providers do.

Each object is a *part*: its own parameters and, for files, its own file in every version.
A version of a multi-file provider is a folder ``vNNNN/`` with one file per object; a new
version may bring some of the files, the others are carried over from the version before.
Every new file is checked against its object's schema, as for one-object providers.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInputError, NotFoundError, SchemaMismatchError
from ..providers.base import ObjectSchema, RowBatch, Schema
from ..providers.registry import get_provider_type, type_for_file
from ..providers.schema import schema_diff
from ..workspace import Workspace
from .versions import (
    FileVersion,
    Provider,
    check_name,
    clean_original_name,
    existing_file,
    file_digest,
    inspect_file,
    latest_version,
    load_provider,
    provider_path,
    publish_version,
    store_version,
)


@dataclass
class Part:
    object: str
    params: dict[str, Any]
    file: str | None  # the object's file in a version folder; None: the version's one file
    original_name: str

    def to_dict(self) -> dict[str, Any]:
        d = {"object": self.object, "params": self.params, "original_name": self.original_name}
        if self.file is not None:
            d["file"] = self.file
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Part:
        return cls(d["object"], dict(d.get("params") or {}), d.get("file"),
                   d.get("original_name", ""))


def parts(prov: Provider) -> list[Part]:
    return [Part.from_dict(p) for p in prov.parts or []]


def part(prov: Provider, name: str) -> Part:
    for p in parts(prov):
        if p.object == name:
            return p
    raise NotFoundError(f"provider {prov.name!r} has no object {name!r}; objects: "
                        f"{', '.join(p.object for p in parts(prov))}")


def read_part(prov: Provider, fv: FileVersion, name: str) -> tuple[ObjectSchema, Path,
                                                                     Iterator[RowBatch]]:
    """The rows of one object of a file version, in batches."""
    p = part(prov, name)
    obj = prov.schema.object(name)
    path = fv.path / p.file if p.file else fv.path
    one = Schema([ObjectSchema("Row", obj.fields)])
    return obj, path, prov.ptype.read_batches(path, p.params, one)


def _one_object(ws: Workspace, file: Path, type_name: str, params: dict[str, Any],
                name: str) -> tuple[dict[str, Any], ObjectSchema]:
    full, schema = inspect_file(ws, file, type_name, params)
    if len(schema.objects) != 1:
        raise BadInputError(f"{file.name}: a file of a multi-object provider must hold one "
                            f"object; it has {len(schema.objects)}")
    o = schema.objects[0]
    return full, ObjectSchema(name, o.fields, layout=schema.layout)


def _object_name(file: Path) -> str:
    return check_name(file.stem.replace(" ", "_"), "object")


def add_objects_provider(ws: Workspace, name: str, files: list[Path], *,
                         type_name: str | None = None, params: dict[str, Any] | None = None,
                         description: str = "") -> Provider:
    """A provider with one object per file (CSV or Excel, one sheet each)."""
    check_name(name)
    if provider_path(ws, name).exists():
        raise BadInputError(f"provider {name!r} exists already; use `provider upload` "
                            "to add a file version")
    for f in files:
        existing_file(f)
    type_name = type_name or type_for_file(files[0])
    names = [_object_name(f) for f in files]
    if len(set(names)) != len(names):
        raise BadInputError(f"the files must have different names (objects are named after "
                            f"them): {', '.join(names)}")
    ext = "." + get_provider_type(type_name).extensions[0]
    the_parts, objects = [], []
    for f, obj in zip(files, names):
        full, schema = _one_object(ws, f, type_name, dict(params or {}), obj)
        the_parts.append(Part(obj, full, f"{obj}{f.suffix.lower() or ext}", clean_original_name(f)))
        objects.append(schema)
    prov = Provider(name=name, type=type_name, params={}, schema=Schema(objects),
                    original_name=", ".join(p.original_name for p in the_parts),
                    description=description, parts=[p.to_dict() for p in the_parts])
    _store_folder(ws, prov, {p.file: f for p, f in zip(the_parts, files)}, None,
                  write_definition=True)
    return prov


def add_sheets_provider(ws: Workspace, name: str, file: Path, *,
                        params: dict[str, Any] | None = None, description: str = "",
                        ) -> Provider:
    """An Excel provider with one object per sheet of the workbook."""
    from python_calamine import CalamineWorkbook

    params = {k: v for k, v in (params or {}).items() if k != "sheets"}
    try:
        sheets = CalamineWorkbook.from_path(str(file)).sheet_names
    except Exception as e:  # noqa: BLE001 - calamine raises its own error types
        raise BadInputError(f"{file.name}: not a readable workbook: {e}") from None
    the_parts, objects = [], []
    for sheet in sheets:
        full, schema = _one_object(ws, file, "excel", {**params, "sheet": sheet}, sheet)
        the_parts.append(Part(sheet, full, None, clean_original_name(file)))
        objects.append(schema)
    prov = Provider(name=name, type="excel", params={}, schema=Schema(objects),
                    original_name=clean_original_name(file), description=description,
                    parts=[p.to_dict() for p in the_parts])
    store_version(ws, prov, file, origin="upload", write_definition=True)
    return prov


def upload_objects(ws: Workspace, name: str, files: list[Path],
                   object_name: str | None = None) -> FileVersion:
    """A new version of a multi-object provider: each file checked against its object."""
    prov = load_provider(ws, name)
    ps = parts(prov)
    if ps and ps[0].file is None:  # sheets of one workbook: the new workbook, every sheet
        if len(files) != 1:
            raise BadInputError(f"provider {name!r} reads the sheets of one workbook: upload "
                                "one workbook")
        for p in ps:
            _check(ws, prov, p, files[0])
        return store_version(ws, prov, files[0], origin="upload")
    if object_name is not None and len(files) != 1:
        raise BadInputError("--object names the object of one file")
    new: dict[str, Path] = {}
    for f in files:
        existing_file(f)
        obj = object_name or _object_name(f)
        p = part(prov, obj)
        _check(ws, prov, p, f)
        new[p.file] = f
    prev = latest_version(ws, name)
    return _store_folder(ws, prov, new, prev.path)


def _check(ws: Workspace, prov: Provider, p: Part, file: Path) -> None:
    _, found = _one_object(ws, file, prov.type, p.params, p.object)
    diff = schema_diff(Schema([prov.schema.object(p.object)]), Schema([found]))
    if diff:
        raise SchemaMismatchError(
            f"{file.name}: its structure differs from object {p.object!r} of provider "
            f"{prov.name!r}; the version was not added", diff=diff, provider=prov.name)


def _store_folder(ws: Workspace, prov: Provider, new: dict[str, Path], previous: Path | None,
                  *, write_definition: bool = False) -> FileVersion:
    """Version N+1 as a folder: the new files, the others carried over from ``previous``."""
    sources = {p.file: new.get(p.file) or (previous / p.file if previous else None)
               for p in parts(prov)}
    digests = {f: file_digest(src) for f, src in sources.items()}
    h = hashlib.sha256()
    for f in sorted(digests):
        h.update(f"{f} {digests[f][0]}\n".encode())
    size = sum(s for _, s in digests.values())
    shown = ", ".join(clean_original_name(f) for f in new.values())

    def write(tmp: Path) -> None:
        tmp.mkdir()
        for f, src in sources.items():
            shutil.copyfile(src, tmp / f)

    return publish_version(ws, prov, "", shown, h.hexdigest(), size, "upload", write,
                           write_definition=write_definition)
