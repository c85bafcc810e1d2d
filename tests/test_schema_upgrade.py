"""A workspace database of schema version 1 is brought up to the current version in place."""

from __future__ import annotations

import sqlite3

from migration_kit import db
from migration_kit.workspace import Workspace

from .helpers import install, run


def test_version_1_database_is_upgraded_and_keeps_its_ledger(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    install(ws, "accounts")
    run(ws, "accounts")
    ws.dispose()
    con = sqlite3.connect(tmp_path / "ws" / "state.sqlite")
    for table, column, _ in db._ADDED[2]:
        if column == "group_key":
            con.execute("DROP INDEX ix_mk_prepared_record_group")
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("DROP TABLE mk_regroup")
    con.execute("DROP TABLE mk_stage_row")
    con.execute("UPDATE mk_meta SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.close()

    ws = Workspace(tmp_path / "ws")
    assert db.schema_version(ws.engine) == db.SCHEMA_VERSION == 2
    # the old ledger rows (no version, no digest) still keep their keys from a second import
    from migration_kit import api

    p = api.prepare(ws, "accounts", progress=False)
    assert p.already_processed == 8
    s = api.import_(ws, "accounts", progress=False)
    assert s.imported == 0 and s.not_imported == {"already imported by an earlier run": 8}
    ws.dispose()
