"""In the checkout (the editable install that make does) the shipped files are the
checkout's own top-level templates/ and notebooks/: one copy, edited in place.
tests/test_wheel.py checks the same lookups in an installed wheel."""

from __future__ import annotations

from pathlib import Path

from migration_kit import resources, runbook
from migration_kit.erp.windows import WindowRegistry

ROOT = Path(__file__).resolve().parent.parent


def test_the_checkout_serves_its_own_folders():
    assert resources.root() == ROOT
    assert not (ROOT / "migration_kit" / resources.DATA).exists()  # no second copy
    assert resources.windows() == ROOT / "templates" / "windows"
    assert resources.notebooks() == ROOT / "notebooks"
    for folder in (resources.reference(), resources.valuemaps(), resources.samples(),
                   resources.scenarios()):
        assert folder.is_dir() and folder.parent == ROOT / "templates"
    assert [p.name for p in resources.notebook_files()] == sorted(
        p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert runbook.NOTEBOOKS == resources.notebooks()
    assert runbook.SAMPLES == resources.samples()


def test_the_default_registry_holds_the_shipped_windows_and_lists():
    reg = WindowRegistry()
    assert sorted(w.id for w in reg) == sorted(
        p.stem for p in resources.windows().glob("*.yaml"))
    assert {"countries", "currencies", "units"} <= set(reg.lists)
