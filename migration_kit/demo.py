"""The demo: a fresh workspace, the runbook run headless on the sample files, and where
the executed notebooks and the exported file are."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from . import api, runbook


def run_demo(output_dir: Path, *, progress: bool = True) -> dict[str, Any]:
    """Run the notebooks on the samples into ``output_dir`` (``workspace/`` with its
    ``downloads/`` and ``reports/``, and ``notebooks/``); returns and prints the paths. A workspace left there by an
    earlier demo is replaced, so every demo starts from the same state."""
    output_dir = Path(output_dir).resolve()
    ws_dir = output_dir / "workspace"
    if ws_dir.exists():
        shutil.rmtree(ws_dir)
    nb_dir = output_dir / "notebooks"
    downloads = ws_dir / "downloads"
    executed = runbook.run_runbook(
        runbook.NOTEBOOKS, nb_dir,
        {"workspace": str(ws_dir), "interactive": False},
        progress=progress, timeout=600)
    with api.open_workspace(ws_dir) as ws:
        exported = api.latest_version(ws, "sales_invoices_out")
    result = {"workspace": str(ws_dir), "notebooks": [str(p) for p in executed],
              "exported": str(exported.path), "exported_version": exported.version,
              "downloads": sorted(str(p) for p in downloads.glob("*")),
              "reports": sorted(str(p) for p in (ws_dir / "reports").glob("*.html"))}
    print(f"workspace:          {result['workspace']}")
    print("executed notebooks: " + "\n                    ".join(result["notebooks"]))
    print(f"exported file:      {result['exported']} (version {exported.version})")
    for d in result["downloads"]:
        print(f"download copy:      {d}")
    for r in result["reports"]:
        print(f"reconcile report:   {r}")
    return result
