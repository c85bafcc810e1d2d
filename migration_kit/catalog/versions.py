"""Data providers in a workspace: their YAML definitions and their numbered file versions.

A provider is a named source: a type (csv, excel, xml), parameters, the schema it
extracted, and the attached file with versions 1, 2, ... Each version is stored under a
name the workspace chooses (never a user-supplied path) with its sha256, size, time and
user. Adding providers and versions from uploaded files, with their checks, is
``uploads.py``; providers with several objects are ``objects.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from .. import db
from ..errors import (
    BadInputError,
    DefinitionError,
    Location,
    NotFoundError,
)
from ..providers.base import Schema
from ..providers.params import check_params, provider_problems
from ..providers.registry import get_provider_type
from ..providers.schema import check_size
from ..values import TYPES
from ..workspace import Workspace, dump_yaml, load_yaml

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_name(name: str, what: str = "provider") -> str:
    """Names become file names: letters, digits, '_', '.', '-' only; no path parts."""
    if not NAME.match(name or "") or ".." in name:
        raise BadInputError(f"{what} name {name!r} is not allowed: use letters, digits, "
                            "'_', '.' and '-' (no path separators or '..')")
    return name


@dataclass
class Provider:
    name: str
    type: str
    params: dict[str, Any]
    schema: Schema
    simplified: bool = False
    original_name: str | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # Several objects, each with its own parameters (and file): see catalog/objects.py
    parts: list[dict[str, Any]] | None = None

    @property
    def ptype(self):
        return get_provider_type(self.type)

    @property
    def extension(self) -> str:
        return Path(self.original_name or "").suffix.lower() or "." + self.ptype.extensions[0]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.simplified:
            d["simplified"] = True
        if self.description:
            d["description"] = self.description
        d["original_name"] = self.original_name
        d["params"] = self.params
        if self.parts is not None:
            d["parts"] = self.parts
        d["schema"] = self.schema.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None) -> Provider:
        """From the YAML form; unknown keys, unknown parameters and wrong types are a
        :class:`DefinitionError` listing every one (``file``: where it was read)."""
        found = provider_problems(d)
        if found:
            name = d.get("name") if isinstance(d, dict) else None
            raise DefinitionError(
                f"provider {name!r} has {len(found)} problem(s)" if isinstance(name, str)
                else f"the provider has {len(found)} problem(s)", problems=found,
                provider=name, location=Location(file=file) if file else None)
        return cls(name=d["name"], type=d["type"], params=d.get("params") or {},
                   schema=Schema.from_dict(d["schema"]), simplified=bool(d.get("simplified")),
                   original_name=d.get("original_name"), description=d.get("description", ""),
                   parts=d.get("parts"))


@dataclass
class FileVersion:
    provider: str
    version: int
    path: Path
    original_name: str
    sha256: str
    size: int
    created: dt.datetime
    user: str
    origin: str

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "version": self.version, "path": str(self.path),
                "original_name": self.original_name, "sha256": self.sha256, "size": self.size,
                "created": self.created.isoformat(timespec="seconds"), "user": self.user,
                "origin": self.origin}


def provider_path(ws: Workspace, name: str) -> Path:
    return ws.path("providers", f"{check_name(name)}.yaml")


def load_provider(ws: Workspace, name: str) -> Provider:
    p = provider_path(ws, name)
    if not p.exists():
        raise NotFoundError(f"no provider {name!r} in {ws.root}")
    return _read(ws, p)


def _read(ws: Workspace, path: Path) -> Provider:
    return Provider.from_dict(load_yaml(path), file=path.relative_to(ws.root).as_posix())


def list_providers(ws: Workspace) -> list[Provider]:
    return [_read(ws, p) for p in sorted(ws.path("providers").glob("*.yaml"))]


def save_provider(ws: Workspace, provider: Provider) -> None:
    dump_yaml(provider_path(ws, provider.name), provider.to_dict())


def file_digest(path: Path) -> tuple[str, int]:
    """(sha256 hex, size in bytes) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def existing_file(file: str | Path) -> Path:
    """``file`` as a path, when it is a file (a name that is not there: NotFoundError)."""
    file = Path(file)
    if not file.is_file():
        raise NotFoundError(f"no file {file}")
    return file


def inspect_file(ws: Workspace, file: Path, type_name: str, params: dict[str, Any]
             ) -> tuple[dict[str, Any], Schema]:
    """(the complete parameters, the schema) of a file, after the size check."""
    ptype = get_provider_type(type_name)
    # the parameters are checked before one is used here (-p max_bytes=auto: exit 2)
    check_params(type_name, params, file.name)
    limit = int(params.get("max_bytes") or ws.settings["max_file_bytes"])
    check_size(file, limit)
    full = ptype.detect(file, dict(params))
    return full, ptype.read_schema(file, full)


def set_field_type(ws: Workspace, name: str, field_name: str, type_name: str) -> Provider:
    """Override a field's inferred type."""
    if type_name not in TYPES:
        raise BadInputError(f"type {type_name!r} is not one of {', '.join(TYPES)}")
    prov = editable(load_provider(ws, name))
    for o in prov.schema.objects:
        for f in o.fields:
            if f.name == field_name or f"{o.name}.{f.name}" == field_name:
                f.type, f.type_overridden = type_name, True
                save_provider(ws, prov)
                return prov
    raise NotFoundError(f"provider {name!r} has no field {field_name!r}")


def editable(prov: Provider) -> Provider:
    """``prov``, unless it belongs to a simplified scenario (then BadInputError)."""
    if prov.simplified:
        raise BadInputError(f"provider {prov.name!r} belongs to a simplified scenario and "
                            "cannot be edited; convert the scenario to a manual one first")
    return prov


def clean_original_name(file: Path) -> str:
    """The uploaded file's base name with unsafe characters replaced, kept as the version's
    ``original_name`` for display; storage names are chosen by the workspace."""
    return re.sub(r"[^\w.\- ]", "_", Path(str(file)).name)[:200]


def register_version(conn, ws: Workspace, prov: Provider, suffix: str,
                     original_name: str | None, sha: str, size: int, origin: str) -> tuple[int, str, dt.datetime]:
    """The row of version N+1 (in the caller's transaction); returns (N+1, stored name,
    time). The stored name is the workspace's choice: ``vNNNN`` plus ``suffix`` (it is
    also the shown name when ``original_name`` is None)."""
    last = conn.execute(select(func.max(db.file_version.c.version))
                        .where(db.file_version.c.provider == prov.name)).scalar() or 0
    version = last + 1
    stored = f"v{version:04d}{suffix}"
    now = dt.datetime.now().replace(microsecond=0)
    conn.execute(insert(db.file_version).values(
        provider=prov.name, version=version, stored_name=stored,
        original_name=original_name or stored,
        sha256=sha, size=size, created=now, user=ws.user, origin=origin))
    return version, stored, now


def store_version(ws: Workspace, prov: Provider, file: Path, *, origin: str,
                  write_definition: bool = False) -> FileVersion:
    """Copy ``file`` in as version N+1 (row and file together; ``write_definition``: and
    the provider's YAML)."""
    sha, size = file_digest(file)
    return publish_version(ws, prov, prov.extension, clean_original_name(file), sha, size,
                           origin, lambda tmp: shutil.copyfile(file, tmp),
                           write_definition=write_definition)


def publish_version(ws: Workspace, prov: Provider, extension: str, shown: str, sha: str,
                    size: int, origin: str, write: Callable[[Path], Any], *,
                    write_definition: bool = False) -> FileVersion:
    """Register version N+1 and put its content in place, together: ``write(tmp)`` makes
    the file (or folder) under a temporary name, renamed into place last, just before the
    commit, so a failure before it leaves neither a row nor a file behind."""
    folder = ws.path("files", prov.name)
    folder.mkdir(parents=True, exist_ok=True)
    target = tmp = None
    try:
        with ws.transaction() as conn:
            version, stored, now = register_version(conn, ws, prov, extension, shown, sha,
                                                    size, origin)
            tmp = folder / f".{stored}.tmp"
            _remove(tmp)  # left by a run that was killed
            write(tmp)
            target = folder / stored
            os.replace(tmp, target)
            if write_definition:
                save_provider(ws, prov)
    except BaseException:
        for path in (target, tmp):
            if path is not None:
                _remove(path)
        raise
    return FileVersion(prov.name, version, target, shown, sha, size, now, ws.user, origin)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def discard_new_provider(ws: Workspace, name: str) -> None:
    """Remove a provider created a moment ago whose use was refused (a simplified scenario
    that does not check): its definition, its file versions and their rows."""
    from sqlalchemy import delete

    with ws.transaction() as conn:
        conn.execute(delete(db.file_version).where(db.file_version.c.provider == name))
    shutil.rmtree(ws.path("files", check_name(name)), ignore_errors=True)
    provider_path(ws, name).unlink(missing_ok=True)


def store_written_version(ws: Workspace, prov: Provider, tmp: Path, conn) -> FileVersion:
    """Register a file an export wrote (``tmp``, in the provider's folder) as version N+1.

    Runs on the caller's connection so the version and the rows' Processed flags commit
    together; the file is renamed into place after the row is inserted (so a concurrent
    writer of the same version number fails on the row before either file is replaced) and
    before the commit.
    """
    sha, size = file_digest(tmp)
    version, stored, now = register_version(conn, ws, prov, prov.extension,
                                            prov.original_name,
                                            sha, size, "export")
    target = ws.path("files", prov.name, stored)
    os.replace(tmp, target)
    return FileVersion(prov.name, version, target, prov.original_name or stored, sha, size,
                       now, ws.user, "export")


def versions(ws: Workspace, name: str) -> list[FileVersion]:
    load_provider(ws, name)
    with ws.connect() as conn:
        rows = conn.execute(select(db.file_version).where(db.file_version.c.provider == name)
                            .order_by(db.file_version.c.version)).mappings().all()
    return [FileVersion(r["provider"], r["version"], ws.path("files", name, r["stored_name"]),
                        r["original_name"], r["sha256"], r["size"], r["created"], r["user"],
                        r["origin"]) for r in rows]


def latest_version(ws: Workspace, name: str) -> FileVersion:
    vs = versions(ws, name)
    if not vs:
        raise NotFoundError(f"provider {name!r} has no file version")
    return vs[-1]


def get_version(ws: Workspace, name: str, version: int | None = None) -> FileVersion:
    if version is None:
        return latest_version(ws, name)
    for v in versions(ws, name):
        if v.version == version:
            return v
    raise NotFoundError(f"provider {name!r} has no version {version}")


def copy_version(fv: FileVersion, output: str | Path) -> None:
    """Copy a stored file version to ``output`` (its folder must exist)."""
    out = Path(output)
    if not out.parent.is_dir():
        raise BadInputError(f"{out}: no folder {out.parent} to copy the file into")
    try:
        shutil.copyfile(fv.path, out)
    except OSError as e:
        raise BadInputError(f"{out}: cannot write the file: {e.strerror}") from None
