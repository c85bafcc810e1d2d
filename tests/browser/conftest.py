"""JupyterLab on localhost (token off) with a prepared workspace, for the browser test.
Follows /work/shared/RECIPES-browser-tests.md: settings written before the start, tmp
HOME/JUPYTER_* folders, a copy of the notebook served, status polled, SIGTERM at the end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from ..notebooks.helpers import NOTEBOOKS, jupyter_env, run

CHROMIUM = "/usr/bin/chromium"
NOTEBOOK = "05_prepare_and_import.ipynb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, browser_home):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} not found (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"],
            "env": {**os.environ, "HOME": str(browser_home)}}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


@pytest.fixture(scope="session")
def lab_env(browser_home, tmp_path_factory) -> dict[str, str]:
    return {**os.environ, **jupyter_env(tmp_path_factory.mktemp("jupyter")),
            "HOME": str(browser_home)}


@pytest.fixture(scope="session")
def prepared_workspace(tmp_path_factory, lab_env) -> dict[str, Path]:
    """Notebooks 01-04 run headless with the bad invoice file; the server's root holds a
    copy of the prepare-and-import notebook with parameters for that workspace."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    tmp = tmp_path_factory.mktemp("prepared")
    saved = {k: os.environ.get(k) for k in lab_env}
    os.environ.update(lab_env)
    try:
        out = run(tmp, ["01_workspace.ipynb", "02_providers.ipynb",
                        "03_simplified_scenario.ipynb", "04_manual_scenarios.ipynb"],
                  invoices_file="sales_invoices_bad.csv")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    root = tmp / "root"
    root.mkdir()
    nb = parameterize_notebook(load_notebook_node(str(NOTEBOOKS / NOTEBOOK)),
                               {"workspace": str(out["workspace"]), "interactive": True})
    nbformat.write(nb, root / NOTEBOOK)
    return {"workspace": out["workspace"], "root": root}


@pytest.fixture(scope="session")
def lab_server(prepared_workspace, lab_env, tmp_path_factory):
    state = tmp_path_factory.mktemp("lab")
    settings = state / "settings"
    for rel, value in {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
            {"autoStartDefaultKernel": True},
    }.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))
    port = _free_port()
    log = open(state / "server.log", "wb")  # noqa: SIM115 (closed at teardown)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--IdentityProvider.token=", "--ServerApp.password=",
         f"--ServerApp.root_dir={prepared_workspace['root']}",
         f"--LabApp.user_settings_dir={settings}",
         f"--LabApp.workspaces_dir={state / 'workspaces'}"],
        stdout=log, stderr=subprocess.STDOUT, env=lab_env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            log.close()
            pytest.fail("JupyterLab exited:\n" + (state / "server.log").read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"{base}/api/status", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("JupyterLab did not answer in 60 s:\n"
                            + (state / "server.log").read_text()[-3000:])
            time.sleep(0.2)
    yield {"base": base, **prepared_workspace}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    log.close()
