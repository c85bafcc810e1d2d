"""A workspace: one migration, kept in git as a runbook.

Definitions are readable YAML files that diff well (``migration.yaml`` settings,
``users.yaml``, ``providers/*.yaml``, ``scenarios/*.yaml``, ``valuemaps/*.yaml``);
uploaded file versions live under ``files/``; all state (ERP data, prepared data, history)
is in one SQL database: ``state.sqlite`` by default, or a PostgreSQL URL.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection

from . import db, resources
from .definitions import load_yaml_text
from .erp.access import DEFAULT_USERS, Rights, load_rights
from .erp.store import ERPStore
from .erp.windows import WindowRegistry
from .errors import BadInputError, NotFoundError

SETTINGS = "migration.yaml"
DEFAULT_SETTINGS: dict[str, Any] = {
    "name": "migration",
    "max_file_bytes": 2 * 1024**3,
}
FOLDERS = ("providers", "scenarios", "valuemaps", "files")


def dump_yaml(path: Path, data: Any) -> None:
    """Write YAML atomically (temp file + rename), keys in the order given."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, path)


def load_yaml(path: Path) -> Any:
    try:
        return load_yaml_text(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise BadInputError(f"{path}: not valid YAML: {e}") from None


class Workspace:
    """An open workspace for one acting user."""

    def __init__(self, root: str | Path, *, user: str | None = None, db_url: str | None = None):
        self.root = Path(root).resolve()
        if not (self.root / SETTINGS).exists():
            raise NotFoundError(f"{self.root} is not a workspace (no {SETTINGS}); "
                                f"create one with `migration-kit --workspace {root} init`")
        self.settings: dict[str, Any] = {**DEFAULT_SETTINGS, **(load_yaml(self.root / SETTINGS)
                                                               or {})}
        self.user = user or os.environ.get("MIGRATION_KIT_USER") or "admin"
        self.rights: Rights = load_rights(self.root / "users.yaml", self.user)
        self.windows = WindowRegistry([resources.templates(), self.root])
        self.db_url = db.resolve_url(self.root, db_url, self.settings.get("database"))
        self.db_engine = db.make_engine(self.db_url)  # SQLAlchemy; not the engine/ package
        self.store = ERPStore(self.windows)
        found = db.schema_version(self.db_engine) if _has_schema(self.db_engine) else None
        if found is None or found < db.SCHEMA_VERSION:
            # A fresh database (e.g. a new PostgreSQL URL for an existing workspace), or one
            # of an older schema version, upgraded in place.
            db.create_schema(self.db_engine)
        elif found > db.SCHEMA_VERSION:
            raise BadInputError(f"workspace schema version {found} is newer than this "
                                f"release ({db.SCHEMA_VERSION}); upgrade migration_kit")
        self.store.create_all(self.db_engine)

    @classmethod
    def init(cls, root: str | Path, *, db_url: str | None = None, user: str | None = None,
             name: str | None = None) -> Workspace:
        """Create (or re-open) a workspace folder with its database."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        for sub in FOLDERS:
            (root / sub).mkdir(exist_ok=True)
        if not (root / SETTINGS).exists():
            settings = {**DEFAULT_SETTINGS, "name": name or root.resolve().name}
            if db_url:
                settings["database"] = db_url
            dump_yaml(root / SETTINGS, settings)
        if not (root / "users.yaml").exists():
            dump_yaml(root / "users.yaml", DEFAULT_USERS)
        gitignore = root / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("state.sqlite*\n.locks/\ncrash-reports/\n", encoding="utf-8")
        ws = cls(root, user=user, db_url=db_url)
        return ws

    # -- paths -------------------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    # -- database ----------------------------------------------------------------------
    @contextmanager
    def transaction(self):
        with self.db_engine.begin() as conn:
            yield conn

    def connect(self) -> Connection:
        return self.db_engine.connect()

    def require(self, window_id: str, right: str) -> None:
        self.windows.get(window_id)
        self.rights.require(window_id, right)

    def dispose(self) -> None:
        self.db_engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r}, user={self.user!r})"


def _has_schema(engine) -> bool:
    from sqlalchemy import inspect

    return inspect(engine).has_table("mk_meta")
