from __future__ import annotations

import pytest

from .helpers import jupyter_env, run


@pytest.fixture(scope="module")
def isolated_jupyter(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        for k, v in jupyter_env(tmp_path_factory.mktemp("jupyter")).items():
            mp.setenv(k, v)
        yield


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, isolated_jupyter):
    """The whole runbook, headless, on the sample files (once per module)."""
    return run(tmp_path_factory.mktemp("runbook"))
