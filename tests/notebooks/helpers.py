"""Shared by the notebook and browser tests: Jupyter kept out of the real home, and the
runbook run on the samples."""

from __future__ import annotations

from pathlib import Path

from migration_kit import runbook

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SAMPLES = ROOT / "templates" / "samples"


def jupyter_env(tmp: Path) -> dict[str, str]:
    """Environment for kernels and servers: Jupyter's and IPython's folders under ``tmp``.

    With an empty user data folder, the ``python3`` kernel is the one installed in this
    environment (sys.prefix), which runs this interpreter."""
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime", "IPYTHONDIR": "ipython"}
    env = {}
    for var, sub in dirs.items():
        (tmp / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(tmp / sub)
    env["MIGRATION_KIT_PROGRESS"] = "0"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


def run(tmp: Path, notebooks: list[str] | None = None, **parameters) -> dict[str, Path]:
    """Run the runbook (or the named notebooks only) headless into ``tmp``."""
    src = NOTEBOOKS
    if notebooks is not None:
        src = tmp / "source"
        src.mkdir(parents=True, exist_ok=True)
        for name in notebooks:
            (src / name).write_bytes((NOTEBOOKS / name).read_bytes())
    params = {"workspace": str(tmp / "ws"), "interactive": False, **parameters}
    executed = runbook.run_runbook(src, tmp / "executed", params, progress=False, timeout=120)
    return {"workspace": tmp / "ws", "executed": tmp / "executed", "notebooks": executed}
