"""`pytest --nbval-lax --nbval-current-env notebooks/NN_*.ipynb` passes (interactive
defaults), in a temporary workspace given by MIGRATION_KIT_WORKSPACE."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from migration_kit import api

from .helpers import NOTEBOOKS, ROOT, jupyter_env


@pytest.mark.timeout(300)
def test_nbval_runs_the_notebooks(tmp_path):
    notebooks = sorted(str(p.relative_to(ROOT)) for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    env = {**os.environ, **jupyter_env(tmp_path / "jupyter"),
           "MIGRATION_KIT_WORKSPACE": str(tmp_path / "ws")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval-lax",
         "--nbval-current-env", *notebooks],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
    with api.open_workspace(tmp_path / "ws") as ws:
        assert len(list(api.list_documents(ws, "AR301000"))) == 5
        assert api.latest_version(ws, "sales_invoices_out").origin == "export"
    assert not list(NOTEBOOKS.glob("downloads"))  # nothing written beside the notebooks
