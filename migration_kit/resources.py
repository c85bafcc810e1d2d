"""The files the toolkit ships and reads at run time: window definitions, reference lists,
value maps, sample files, scenario templates and the runbook notebooks.

The repository keeps them in ``templates/`` and ``notebooks/`` at its top level, one copy of
each file. They are found in one of two places, and this module is the only code that knows
which:

- an installed wheel: the build maps the two folders into the package, as
  ``migration_kit/_data/templates`` and ``migration_kit/_data/notebooks`` (see
  ``[tool.hatch.build.targets.wheel.sources]`` in ``pyproject.toml``);
- a checkout (the editable install that ``make`` does, or ``python -m migration_kit.cli``
  run from the source tree): there is no ``_data`` folder, the package sits in the checkout
  and the folders are its siblings.

The package's own ``_data`` is looked at first: a wheel has it, a checkout never does (the
build writes it only into the wheel, and ``.gitignore`` keeps it out of git). The checkout is
taken only when it is one: its top level has ``pyproject.toml`` and ``templates/windows``,
so a stray ``templates/`` folder in site-packages is never mistaken for ours.

Everything is reached through :mod:`importlib.resources`. The functions return real folders
(:class:`pathlib.Path`): papermill, the providers and ``shutil`` need paths. A package that
is imported from a zip archive has its data copied out once into a temporary folder.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import NotFoundError

DATA = "_data"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


@cache
def root() -> Path:
    """The folder that holds ``templates/`` and ``notebooks/``."""
    package = files(__package__)
    data = package / DATA
    if data.is_dir():
        return _as_folder(data)
    if isinstance(package, Path):
        checkout = package.parent
        if (checkout / "pyproject.toml").is_file() \
                and (checkout / "templates" / "windows").is_dir():
            return checkout
    raise NotFoundError(f"the toolkit's data files are missing: no {DATA}/ in the package "
                        f"{package} and no checkout around it; reinstall migration_kit")


def templates() -> Path:
    """``templates/``: ``windows/``, ``reference/``, ``valuemaps/``, ``samples/``,
    ``scenarios/``."""
    return root() / "templates"


def windows() -> Path:
    """The ERP's window definitions (``AR301000.yaml``, ...)."""
    return templates() / "windows"


def reference() -> Path:
    """The reference lists the windows' selectors name (countries, currencies, units)."""
    return templates() / "reference"


def valuemaps() -> Path:
    """The substitution lists the scenario templates' formulas use."""
    return templates() / "valuemaps"


def samples() -> Path:
    """The sample source files the demo and the walk-through load."""
    return templates() / "samples"


def scenarios() -> Path:
    """The manual scenario templates (``NAME.yaml``)."""
    return templates() / "scenarios"


def notebooks() -> Path:
    """The folder of the numbered runbook notebooks."""
    return root() / "notebooks"


def notebook_files() -> list[Path]:
    """The numbered runbook notebooks, in order."""
    return sorted(notebooks().glob(NOTEBOOK_GLOB))


def _as_folder(t: Traversable) -> Path:
    """``t`` as a real folder: itself on a file system, else a temporary copy (zip import)."""
    if isinstance(t, Path):
        return t
    tmp = Path(tempfile.mkdtemp(prefix="migration_kit-data-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    _copy_tree(t, tmp)
    return tmp


def _copy_tree(src: Traversable, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_dir():
            _copy_tree(item, dst / item.name)
        else:
            (dst / item.name).write_bytes(item.read_bytes())
