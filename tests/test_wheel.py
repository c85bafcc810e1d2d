"""The wheel is the whole toolkit: built from this checkout, installed into a fresh virtual
environment outside it, and run from a folder outside it, ``migration-kit`` finds its
windows, reference lists, samples, scenario templates and notebooks inside the installed
package (nothing from the checkout)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .notebooks.helpers import jupyter_env

ROOT = Path(__file__).resolve().parent.parent
WINDOWS = sorted(p.stem for p in (ROOT / "templates" / "windows").glob("*.yaml"))
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

pytestmark = [pytest.mark.wheel, pytest.mark.timeout(1500)]


def _run(cmd: list, *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600,
         check: int | None = 0) -> subprocess.CompletedProcess:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check is not None:
        assert res.returncode == check, f"{cmd}\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    return res


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel, a fresh venv with it installed, and an environment that knows nothing of
    the checkout (no PYTHONPATH, the venv first on PATH, Jupyter's folders in the temp)."""
    base = tmp_path_factory.mktemp("wheel")
    assert not base.resolve().is_relative_to(ROOT)
    started = time.monotonic()
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", base / "dist",
          ROOT], cwd=base)
    wheels = list((base / "dist").glob("migration_kit-*.whl"))
    assert len(wheels) == 1, wheels
    built = time.monotonic()
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=base)  # fresh: no system site-packages
    _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet",
          "--disable-pip-version-check", wheels[0]], cwd=base, timeout=1200)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
           and not k.startswith("MIGRATION_KIT_")}
    env.update(jupyter_env(base / "jupyter"))
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    team = base / "team"  # the working folder of every command: outside the checkout
    team.mkdir()
    print(f"wheel built in {built - started:.1f} s, installed in "
          f"{time.monotonic() - built:.1f} s")
    return {"wheel": wheels[0], "venv": venv, "env": env, "cwd": team,
            "mk": str(venv / "bin" / "migration-kit"), "python": str(venv / "bin" / "python")}


def _mk(installed, *args, check: int | None = 0, timeout: float = 600):
    return _run([installed["mk"], *args], cwd=installed["cwd"], env=installed["env"],
                timeout=timeout, check=check)


def test_the_wheel_holds_the_data_files(installed):
    import zipfile

    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    data = "migration_kit/_data/"
    for w in WINDOWS:
        assert f"{data}templates/windows/{w}.yaml" in names
    for nb in NOTEBOOKS:
        assert f"{data}notebooks/{nb}" in names
    for folder in ("reference", "valuemaps", "samples", "scenarios"):
        expected = {f"{data}templates/{folder}/{p.name}"
                    for p in (ROOT / "templates" / folder).iterdir() if p.suffix != ".py"}
        assert expected and expected <= names, folder
    # nothing outside the package: no top-level templates/ or notebooks/ in site-packages
    assert {n.split("/")[0] for n in names} == {"migration_kit",
                                                 "migration_kit-0.1.0.dist-info"}


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    res = _run([installed["python"], "-c",
                "import json, migration_kit, migration_kit.resources as r; print(json.dumps("
                "[migration_kit.__file__, str(r.root()), str(r.windows()), str(r.notebooks())]))"],
               cwd=installed["cwd"], env=installed["env"])
    paths = [Path(p) for p in json.loads(res.stdout)]
    site = installed["venv"] / "lib"
    for p in paths:
        assert p.is_relative_to(site) and not p.is_relative_to(ROOT), p
    assert paths[1].parts[-2:] == ("migration_kit", "_data")


def test_init_and_erp_windows(installed):
    _mk(installed, "-w", "ws", "init")
    res = _mk(installed, "--json", "-w", "ws", "erp", "windows")
    windows = {w["id"]: w for w in map(json.loads, res.stdout.splitlines())}
    assert sorted(windows) == WINDOWS and "AR301000" in windows
    assert windows["AR301000"]["name"] == "Sales invoices"
    # the reference lists came along: a window field's selector names one of them
    res = _mk(installed, "-w", "ws", "erp", "show", "AR301000")
    assert "CurrencyID" in res.stdout
    # a workspace may still override a window with its own YAML
    ws = installed["cwd"] / "ws"
    (ws / "windows").mkdir()
    text = (ROOT / "templates" / "windows" / "AR301000.yaml").read_text(encoding="utf-8")
    (ws / "windows" / "AR301000.yaml").write_text(
        text.replace("name: Sales invoices", "name: Our sales invoices"), encoding="utf-8")
    res = _mk(installed, "--json", "-w", "ws", "erp", "windows")
    names = {w["id"]: w["name"] for w in map(json.loads, res.stdout.splitlines())}
    assert names["AR301000"] == "Our sales invoices" and len(names) == len(WINDOWS)


def test_demo_runs_from_the_installed_wheel(installed):
    # the python3 kernel the notebooks run in is the fresh venv's, not this checkout's
    res = _run([installed["python"], "-m", "jupyter", "kernelspec", "list", "--json"],
               cwd=installed["cwd"], env=installed["env"])
    spec = json.loads(res.stdout)["kernelspecs"]["python3"]
    assert Path(spec["resource_dir"]).is_relative_to(installed["venv"]), spec
    started = time.monotonic()
    res = _mk(installed, "demo", timeout=900)
    print(f"demo from the wheel: {time.monotonic() - started:.1f} s")
    out = installed["cwd"] / "runs" / "demo"
    exported = out / "workspace" / "files" / "sales_invoices_out" / "v0002.csv"
    assert f"exported file:      {exported} (version 2)" in res.stdout
    assert sorted(p.name for p in (out / "notebooks").glob("*.ipynb")) == NOTEBOOKS
    with open(exported, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and rows[0].keys() >= {"InvoiceNbr", "Customer", "Qty", "UnitPrice"}
    assert len({r["InvoiceNbr"] for r in rows}) == 5  # the demo's five sales invoices
    download = out / "workspace" / "downloads" / "sales_invoices_out.csv"
    assert download.read_bytes() == exported.read_bytes()


def test_notebooks_init_copies_the_runbook(installed):
    res = _mk(installed, "notebooks", "init", "runbook")
    folder = installed["cwd"] / "runbook"
    assert sorted(p.name for p in folder.iterdir()) == NOTEBOOKS
    assert res.stdout.splitlines() == [f"wrote: {Path('runbook') / n}" for n in NOTEBOOKS]
    for n in NOTEBOOKS:
        assert (folder / n).read_bytes() == (ROOT / "notebooks" / n).read_bytes()
    # a second time: refused, exit 2, nothing overwritten
    edited = folder / NOTEBOOKS[0]
    edited.write_text("{}", encoding="utf-8")
    res = _mk(installed, "notebooks", "init", "runbook", check=2)
    assert "not overwritten (use --force)" in res.stderr and NOTEBOOKS[0] in res.stderr
    assert edited.read_text(encoding="utf-8") == "{}"
    res = _mk(installed, "--json", "notebooks", "init", "runbook", "--force")
    assert json.loads(res.stdout)["notebooks"] == [str(Path("runbook") / n) for n in NOTEBOOKS]
    assert edited.read_bytes() == (ROOT / "notebooks" / NOTEBOOKS[0]).read_bytes()


def test_data_files_are_found_when_the_package_is_imported_from_the_zip(installed):
    """importlib.resources also serves a zip import (the wheel itself on sys.path): the
    data are copied out to a temporary folder and the windows load from there."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
            "import migration_kit.resources as r; from migration_kit.erp.windows import "
            "WindowRegistry; print(json.dumps([r.__file__, str(r.root()), "
            "sorted(w.id for w in WindowRegistry()), [p.name for p in r.notebook_files()]]))")
    res = _run([installed["python"], "-c", code, installed["wheel"]], cwd=installed["cwd"],
               env=installed["env"])
    module, root, windows, notebooks = json.loads(res.stdout)
    assert module.startswith(str(installed["wheel"]))  # imported from the zip
    assert "migration_kit-data-" in root and not Path(root).exists()  # removed at exit
    assert windows == WINDOWS and notebooks == NOTEBOOKS
