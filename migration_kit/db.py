"""The workspace database: bookkeeping tables (prepared data, history, file versions, ledger).

ERP tables are built from the window definitions (see ``erp/store.py``) on the same
database, so that saving a document and marking its record Processed commit together.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    any_,
    bindparam,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Engine

from . import jsonio
from .errors import BadInputError

SCHEMA_VERSION = 3

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
    # Schema version 2: rows with equal keys form one record wherever they stand in the file.
    Column("group_key", Text, nullable=True),  # the document key as text; None: no key
    Column("line_count", Integer, nullable=True),
    Column("source_line", Integer, nullable=True),  # the file line of the record's first line
    Column("note", Text, nullable=True),  # why a record was marked Processed without import
    Column("error_stage", String(10), nullable=True),  # prepare | import (who set `error`)
    Index("ix_mk_prepared_record_group", "scenario", "group_key"),
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
    # Schema version 2: where the imported record came from, and a digest of its rows, so a
    # re-dropped key is reported as unchanged or changed.
    Column("file_version", Integer, nullable=True),
    Column("source_line", Integer, nullable=True),
    Column("digest", String(64), nullable=True),
    # Schema version 3: the import run (mk_history.id) that created the document (None: it
    # existed before and the import updated it), and a checksum of the document as the
    # import saved it, so undo and reconcile see a document changed in the ERP since.
    Column("run_id", Integer, nullable=True),
    Column("doc_digest", String(64), nullable=True),
    Index("ix_mk_import_ledger_run", "scenario", "run_id"),
)

# Who holds a scenario's lock on PostgreSQL (the advisory lock itself names no one): written
# by the holder when it takes the lock, read by a refused second run for its message.
lock_holder = Table(
    "mk_lock_holder", metadata,
    Column("scenario", String(100), primary_key=True),
    Column("holder", Text, nullable=False),
)

# Scratch space of a prepare: old -> new record numbers when rows of one key are gathered
# from places that are not adjacent (emptied in the same transaction).
regroup = Table(
    "mk_regroup", metadata,
    Column("scenario", String(100), primary_key=True),
    Column("old_no", Integer, primary_key=True),
    Column("new_no", Integer, nullable=False),
)

# Scratch space of a prepare from two objects (summary rows + detail rows), joined in SQL.
stage_row = Table(
    "mk_stage_row", metadata,
    Column("scenario", String(100), primary_key=True),
    Column("object", String(100), primary_key=True),
    Column("row_no", Integer, primary_key=True),
    Column("link", Text, nullable=True),  # the link fields' values as JSON text
    Column("source_line", Integer, nullable=True),
    Column("data", Text, nullable=False),
    Index("ix_mk_stage_row_link", "scenario", "object", "link"),
)

# Parallel import (PostgreSQL, engine/workers.py): a run's plan of batches, claimed by
# workers with FOR UPDATE SKIP LOCKED and committed in batch order; the rows go when the
# run ends (a dead run's rows when the scenario's next parallel run starts).
parallel_run = Table(
    "mk_parallel_run", metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=False),
    Column("scenario", String(100), nullable=False, index=True),
    Column("options", Text, nullable=False),  # the import's options as JSON
    Column("workers", Integer, nullable=False),
)

import_batch = Table(
    "mk_import_batch", metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=False),
    Column("batch_no", Integer, primary_key=True, autoincrement=False),
    Column("scenario", String(100), nullable=False),
    Column("first_record", Integer, nullable=False),
    Column("last_record", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("state", String(10), nullable=False),  # open | done | stopped
    Column("worker", String(255), nullable=True),  # who committed it
    Column("imported", Integer, nullable=True),
    Column("updated", Integer, nullable=True),
    Column("failed", Integer, nullable=True),
    Column("skipped", Integer, nullable=True),
    Column("stop_record", Integer, nullable=True),  # the record that stopped the run
)

# Columns added after schema version 1, added to an existing database by create_schema.
_ADDED = {
    2: [("mk_prepared_record", "group_key", "TEXT"), ("mk_prepared_record", "line_count",
                                                      "INTEGER"),
        ("mk_prepared_record", "source_line", "INTEGER"), ("mk_prepared_record", "note", "TEXT"),
        ("mk_prepared_record", "error_stage", "VARCHAR(10)"),
        ("mk_import_ledger", "file_version", "INTEGER"),
        ("mk_import_ledger", "source_line", "INTEGER"),
        ("mk_import_ledger", "digest", "VARCHAR(64)")],
    3: [("mk_import_ledger", "run_id", "INTEGER"),
        ("mk_import_ledger", "doc_digest", "VARCHAR(64)")],
}



def make_engine(url: str) -> Engine:
    """An engine with the settings the toolkit relies on (WAL and foreign keys on SQLite)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30},
                               json_serializer=jsonio.dumps_default)

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
    return create_engine(url, pool_pre_ping=True, json_serializer=jsonio.dumps_default)


ANALYZE_AFTER = 1_000  # PostgreSQL: analyse a table when it grew this much and doubled


def among(column: Column, name: str, dialect_name: str) -> Any:
    """``column IN`` the list bound as ``name``: ``= ANY(array)`` on PostgreSQL (one
    parameter; SQLAlchemy renders and the driver adapts an expanding IN value by value),
    an expanding ``IN`` elsewhere."""
    if dialect_name == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


class Growth:
    """PostgreSQL plans a batch's key look-ups from table statistics. A table filled by
    this run has none until autovacuum gets to it, and the planner then reads the whole
    table per batch (quadratic). ``added(conn, table, n)`` after writing ``n`` rows:
    ANALYZE the table (in the caller's transaction) whenever it has doubled, at least
    ``ANALYZE_AFTER`` rows: a handful of times per run. Other databases: nothing."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, int]] = {}  # table: (rows added, rows at ANALYZE)

    def added(self, conn, table: Table, n: int) -> None:
        if conn.dialect.name != "postgresql" or not n:
            return
        added, base = self._seen.get(table.name, (0, 0))
        added += n
        if added >= max(ANALYZE_AFTER, base):
            conn.execute(text(f"ANALYZE {conn.dialect.identifier_preparer.format_table(table)}"))
            added, base = 0, base + added
        self._seen[table.name] = (added, base)


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
    with engine.connect() as conn:
        has_meta = engine.dialect.has_table(conn, "mk_meta")
        found = (conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))
                 .scalar() if has_meta else None)
    if found is not None and int(found) > SCHEMA_VERSION:
        raise BadInputError(
            f"workspace database has schema version {found}; this release knows up to "
            f"{SCHEMA_VERSION}: upgrade migration_kit")
    with engine.begin() as conn:
        if found is not None and int(found) < SCHEMA_VERSION:
            _upgrade(conn, int(found))
        metadata.create_all(conn)
        if found is None:
            conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))


def _upgrade(conn, found: int) -> None:
    """Bring a database of an older schema version up to this one, in one transaction."""
    for version in range(found + 1, SCHEMA_VERSION + 1):
        for table, column, sql_type in _ADDED.get(version, []):
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
    for index in (*prepared_record.indexes, *import_ledger.indexes):
        index.create(conn, checkfirst=True)  # create_all skips indexes of existing tables
    conn.execute(meta.update().where(meta.c.key == "schema_version")
                 .values(value=str(SCHEMA_VERSION)))


def schema_version(engine: Engine) -> int | None:
    with engine.connect() as conn:
        v = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    return int(v) if v is not None else None
