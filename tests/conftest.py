"""Shared fixtures: a real PostgreSQL server (started here), workspaces on SQLite and PG."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from migration_kit.workspace import Workspace
from tests.pgserver import PostgresServer, find_pg_bin

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
DATA = Path(__file__).resolve().parent / "data"


PG_SERVERS: list[PostgresServer] = []  # the session's server, for tests that need a 2nd DB


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server on a free local port, for the whole test session."""
    if find_pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries not found (apt-get install postgresql)")
        pytest.skip("PostgreSQL server binaries not installed")
    server = PostgresServer()
    server.start()
    PG_SERVERS.append(server)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A fresh, empty database URL: a SQLite file, or a new database on the PG server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    server = request.getfixturevalue("pg_server")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def workspace(tmp_path, db_url):
    ws = Workspace.init(tmp_path / "ws", db_url=db_url)
    yield ws
    ws.dispose()


@pytest.fixture
def sqlite_workspace(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    yield ws
    ws.dispose()
