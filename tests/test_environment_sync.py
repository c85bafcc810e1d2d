"""environment.yml stays in sync with pyproject.toml: the same packages, no more, no less."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_ONLY = {"python", "pip"}  # what conda itself needs to build the environment


def _names(reqs):
    return {re.split(r"[<>=\[ ]", r, maxsplit=1)[0].lower() for r in reqs}


def test_environment_yml_has_every_dependency_and_no_other():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(py["dependencies"]) | _names(py["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    have = _names(d for d in env["dependencies"] if isinstance(d, str))
    assert wanted - have == set()
    assert have - wanted - CONDA_ONLY == set()
