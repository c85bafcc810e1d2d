"""The workspace database: bookkeeping tables (prepared data, history, file versions, ledger).

ERP tables are built from the window definitions (see ``erp/store.py``) on the same
database, so that saving a document and marking its record Processed commit together.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine

from .errors import BadInputError

SCHEMA_VERSION = 1

# SQLite stores Numeric as REAL; values are quantized to the field's scale on the way in and
# out, so the warning about native Decimal support is noise for us.
warnings.filterwarnings("ignore", message=".*does \\*not\\* support Decimal.*")

metadata = MetaData()

meta = Table(
    "mk_meta", metadata,
    Column("key", String(50), primary_key=True),
    Column("value", Text, nullable=False),
)

numbering = Table(
    "mk_numbering", metadata,
    Column("name", String(100), primary_key=True),
    Column("last", Integer, nullable=False),
)

file_version = Table(
    "mk_file_version", metadata,
    Column("provider", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("stored_name", String(255), nullable=False),
    Column("original_name", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("created", DateTime, nullable=False),
    Column("user", String(100), nullable=False),
    Column("origin", String(20), nullable=False, default="upload"),  # upload | export
)

# One row per prepared record (a document: one or more source lines sharing key values).
prepared_record = Table(
    "mk_prepared_record", metadata,
    Column("scenario", String(100), primary_key=True),
    Column("record_no", Integer, primary_key=True),
    Column("first_line", Integer, nullable=False),
    Column("last_line", Integer, nullable=False),
    Column("key", JSON, nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("processed", Boolean, nullable=False, default=False),
    Column("error", Text, nullable=True),
    Column("error_field", String(200), nullable=True),
    Column("result", JSON, nullable=True),  # the ERP key the record was saved under
)

# One row per prepared source line (import) or per output row (export).
prepared_line = Table(
    "mk_prepared_line", metadata,
    Column("scenario", String(100), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("record_no", Integer, nullable=False, index=True),
    Column("source_line", Integer, nullable=True),
    Column("data", Text, nullable=False),  # JSON list aligned to the prepared columns
)

# What a prepare wrote down: columns, file version, counts. Read by import and the tools.
scenario_state = Table(
    "mk_scenario_state", metadata,
    Column("scenario", String(100), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("columns", JSON, nullable=False),
    Column("file_version", Integer, nullable=True),
    Column("prepared_at", DateTime, nullable=True),
    Column("last_imported_version", Integer, nullable=True),
    Column("exported_version", Integer, nullable=True),
)

history = Table(
    "mk_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scenario", String(100), nullable=False, index=True),
    Column("action", String(20), nullable=False),
    Column("started", DateTime, nullable=False),
    Column("ended", DateTime, nullable=True),
    Column("user", String(100), nullable=False),
    Column("file_version", Integer, nullable=True),
    Column("counts", JSON, nullable=True),
    Column("first_error", Text, nullable=True),
    Column("status", String(20), nullable=False, default="running"),
)

# Exactly once across prepares and roll backs: a document key imported by a scenario.
import_ledger = Table(
    "mk_import_ledger", metadata,
    Column("scenario", String(100), primary_key=True),
    Column("doc_key", String(500), primary_key=True),
    Column("result", JSON, nullable=True),
)



def make_engine(url: str) -> Engine:
    """An engine with the settings the toolkit relies on (WAL and foreign keys on SQLite)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def resolve_url(root: Path, explicit: str | None, configured: str | None) -> str:
    """Explicit > MIGRATION_KIT_DB > the workspace setting > state.sqlite in the workspace."""
    url = explicit or os.environ.get("MIGRATION_KIT_DB") or configured
    if not url:
        return sqlite_url(root / "state.sqlite")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url[len("sqlite:///"):]
        if rel and not Path(rel).is_absolute():
            return sqlite_url(root / rel)
    return url


def create_schema(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        found = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        if found is None:
            conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        elif int(found) > SCHEMA_VERSION:
            raise BadInputError(
                f"workspace database has schema version {found}; this release knows up to "
                f"{SCHEMA_VERSION}: upgrade migration_kit")


def schema_version(engine: Engine) -> int | None:
    with engine.connect() as conn:
        v = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    return int(v) if v is not None else None
