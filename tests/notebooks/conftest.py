from __future__ import annotations

from pathlib import Path

import pytest

from migration_kit.demo import run_demo

from .helpers import jupyter_env


@pytest.fixture(scope="module")
def isolated_jupyter(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        for k, v in jupyter_env(tmp_path_factory.mktemp("jupyter")).items():
            mp.setenv(k, v)
        yield


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, isolated_jupyter):
    """The demo: the whole runbook, headless, on the sample files (once per module)."""
    result = run_demo(tmp_path_factory.mktemp("demo"), progress=False)
    return {**result, "workspace": Path(result["workspace"]),
            "notebooks": [Path(p) for p in result["notebooks"]]}
