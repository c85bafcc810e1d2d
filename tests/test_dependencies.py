"""Every package that pyproject.toml declares is used: imported by the toolkit, its tests or
its benchmarks, or run as a program (the few listed in RUN_NOT_IMPORTED, with the reason)."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ("migration_kit", "tests", "bench")
RUN_NOT_IMPORTED = {
    "jupyterlab": "the notebook front end; the browser test runs `python -m jupyterlab`",
    "ipykernel": "the python3 kernel that papermill and nbval run the notebooks in",
    "nbval": "a pytest plugin: the notebook test runs `pytest --nbval-lax` on the notebooks",
    "pytest-timeout": "a pytest plugin: @pytest.mark.timeout in the notebook and browser tests",
    "pytest-playwright": "a pytest plugin: the `page` fixture of the browser test",
    "ruff": "the linter `make test` runs",
}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for extra in project["optional-dependencies"].values()
                                      for r in extra]
    return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in reqs}


def _imported() -> set[str]:
    """Top-level modules imported anywhere in the code (also inside functions)."""
    out: set[str] = set()
    for folder in CODE:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    out |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    out.add(node.module.split(".")[0])
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_declared_package_is_used():
    by_dist: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for d in dists:
            by_dist.setdefault(_norm(d), set()).add(module)
    imported = _imported()
    unused = {name for name in _declared() if name not in RUN_NOT_IMPORTED
              and not by_dist.get(_norm(name), set()) & imported}
    assert unused == set(), f"declared but never imported: {sorted(unused)}"
    assert set(RUN_NOT_IMPORTED) <= _declared()  # the list names only declared packages
