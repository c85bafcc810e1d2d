from __future__ import annotations

import pytest

from ..helpers import load_master


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    """No progress bars in test output."""
    monkeypatch.setenv("MIGRATION_KIT_PROGRESS", "0")


@pytest.fixture
def master(workspace):
    """A workspace with the sample accounts, customers and stock items imported."""
    load_master(workspace)
    return workspace
