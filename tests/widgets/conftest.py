from __future__ import annotations

from pathlib import Path

import pytest

from migration_kit import api, runbook

SAMPLES = Path(__file__).resolve().parents[2] / "templates" / "samples"
MASTER = ["accounts", "customers", "stock_items"]


@pytest.fixture(autouse=True)
def _no_progress(monkeypatch):
    monkeypatch.setenv("MIGRATION_KIT_PROGRESS", "0")


@pytest.fixture
def ws(tmp_path):
    w = api.init_workspace(tmp_path / "ws")
    yield w
    w.dispose()


@pytest.fixture
def master_ws(ws):
    """Accounts, customers and stock items imported (what the invoices refer to)."""
    runbook.load_sources(ws, {n: runbook.DEMO_SOURCES[n] for n in MASTER})
    assert not any(runbook.install_scenarios(ws, MASTER).values())
    runbook.prepare_and_import(ws, MASTER, progress=False)
    return ws


@pytest.fixture
def stopped_ws(master_ws):
    """The simplified invoice scenario from the bad file, imported up to INV-1003."""
    ws = master_ws
    f = SAMPLES / "sales_invoices_bad.csv"
    mapping = {s: t for s, t in api.suggest_mapping(
        ws, ws.windows.get("AR301000"), runbook.source_fields(f)).items() if t}
    runbook.ensure_simplified(ws, "sales_invoices", f, "AR301000", mapping,
                              ["Document.ReferenceNbr"])
    out = runbook.prepare_and_import(ws, ["sales_invoices"], raise_errors=False,
                                     progress=False)
    assert out["sales_invoices"].stopped is not None
    return ws
