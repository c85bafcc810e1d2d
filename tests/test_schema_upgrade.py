"""A workspace database of schema version 1 is brought up to the current version in place."""

from __future__ import annotations

import sqlite3

import pytest

from migration_kit import api, db
from migration_kit.errors import BadInputError
from migration_kit.workspace import Workspace

from .helpers import install, run, simplified_invoices


def test_version_1_database_is_upgraded_and_keeps_its_ledger(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    install(ws, "accounts")
    run(ws, "accounts")
    ws.dispose()
    con = sqlite3.connect(tmp_path / "ws" / "state.sqlite")
    con.execute("DROP INDEX ix_mk_import_ledger_run")
    for table, column, _ in db._ADDED[2] + db._ADDED[3]:
        if column == "group_key":
            con.execute("DROP INDEX ix_mk_prepared_record_group")
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("DROP TABLE mk_regroup")
    con.execute("DROP TABLE mk_stage_row")
    con.execute("UPDATE mk_meta SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.close()

    ws = Workspace(tmp_path / "ws")
    assert db.schema_version(ws.db_engine) == db.SCHEMA_VERSION == 3
    # the old ledger rows (no version, no digest) still keep their keys from a second import
    p = api.prepare(ws, "accounts", progress=False)
    assert p.already_processed == 8
    s = api.import_(ws, "accounts", progress=False)
    assert s.imported == 0 and s.not_imported == {"already imported by an earlier run": 8}
    ws.dispose()


def test_version_2_database_gets_run_and_checksum_columns(tmp_path):
    """Schema 2 -> 3: the ledger gains the import run and the document checksum. Documents
    imported before carry neither: reconcile still compares their values, undo has no run
    to take them back by; the next import fills both."""
    ws = Workspace.init(tmp_path / "ws")
    for name in ("accounts", "customers", "stock_items"):
        install(ws, name)
        run(ws, name)
    simplified_invoices(ws)
    run(ws, "sales_invoices")
    ws.dispose()
    con = sqlite3.connect(tmp_path / "ws" / "state.sqlite")
    con.execute("DROP INDEX ix_mk_import_ledger_run")
    for table, column, _ in db._ADDED[3]:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("UPDATE mk_meta SET value = '2' WHERE key = 'schema_version'")
    con.commit()
    con.close()

    ws = Workspace(tmp_path / "ws")
    assert db.schema_version(ws.db_engine) == 3
    with ws.connect() as conn:
        rows = conn.execute(db.import_ledger.select().where(
            db.import_ledger.c.scenario == "sales_invoices")).mappings().all()
    assert len(rows) == 5 and {(r["run_id"], r["doc_digest"]) for r in rows} == {(None, None)}
    assert api.reconcile(ws, "sales_invoices").ok
    with pytest.raises(BadInputError, match="before schema version 3"):
        api.undo(ws, "sales_invoices")
    ws.dispose()
