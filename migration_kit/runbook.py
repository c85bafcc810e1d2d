"""The runbook: the numbered notebooks in ``notebooks/``, run headless with papermill, and
the few steps they share (load a source file, install scenario templates, prepare and
import a list of scenarios). Notebooks stay a few lines per cell; loops live here. The
notebooks, samples and templates ship with the package (:mod:`migration_kit.resources`);
:func:`init_notebooks` copies the notebooks into a team's own runbook folder.

Every step is idempotent, so running the runbook twice on one workspace with the same
parameters gives the same ERP records: a file already stored as the provider's latest
upload is not stored again, a template already installed is not copied again, and prepare
marks records imported earlier as processed.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from . import api, resources
from .catalog.versions import FileVersion, file_digest
from .errors import BadInputError, MigrationError, NotFoundError, RecordError, ScenarioError
from .providers.registry import read_file_schema
from .workspace import Workspace

SAMPLES = resources.samples()
SCENARIO_TEMPLATES = resources.scenarios()
NOTEBOOKS = resources.notebooks()
NOTEBOOK_GLOB = resources.NOTEBOOK_GLOB
# Parameters that name folders: relative ones are taken from the caller's working folder.
PATH_PARAMETERS = ("workspace", "samples", "templates", "download_dir", "report_dir")
# The IPython kernel's own warnings ("running over TCP without encryption") are noise here;
# errors in cells still fail the run and are kept in the executed notebook.
QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]

# The demo's source files, in load order: provider (= scenario) name -> sample file.
DEMO_SOURCES: dict[str, str] = {
    "accounts": "accounts.csv",
    "customers": "customers.csv",
    "stock_items": "stock_items.xlsx",
    "suppliers": "suppliers.csv",
    "journal": "journal.csv",
    "supplier_invoices": "supplier_invoices.xml",
    "sales_invoices_out": "sales_invoices.csv",  # the structure of the export file
}
# The simplified sales-invoice scenario's mapping: sample column -> window field.
SALES_INVOICE_MAP = {
    "InvoiceNbr": "Document.ReferenceNbr", "Customer": "Document.CustomerID",
    "InvoiceDate": "Document.Date", "DueDate": "Document.DueDate",
    "Description": "Document.Description", "ItemCode": "Line.InventoryID",
    "LineDescription": "Line.Description", "Qty": "Line.Quantity",
    "UnitPrice": "Line.UnitPrice", "Discount": "Line.DiscountPercent",
    "Account": "Line.AccountID",
}
DEMO_IMPORTS = ["accounts", "customers", "stock_items", "suppliers", "journal",
                "supplier_invoices", "sales_invoices"]


class RunbookError(MigrationError):
    """A notebook of the runbook failed; ``notebook``, ``ename`` and ``evalue`` say where
    and why (``evalue`` holds the message of the error raised in the notebook)."""

    exit_code = 1

    def __init__(self, notebook: str, ename: str, evalue: str, *, output: str | None = None):
        self.notebook = notebook
        self.ename = ename
        self.evalue = evalue
        self.output = output
        text = f"notebook {notebook} failed: {ename}: {evalue}"
        if output:
            text += f" (executed copy: {output})"
        super().__init__(text, notebook=notebook, ename=ename, evalue=evalue, output=output)


# -- paths -------------------------------------------------------------------------------
def workspace_dir(workspace: str | Path | None = None) -> Path:
    """The workspace folder: the given one, else $MIGRATION_KIT_WORKSPACE, else
    ``runs/workspace`` in the current folder (a notebook's own folder in Jupyter)."""
    chosen = workspace or os.environ.get("MIGRATION_KIT_WORKSPACE")
    return Path(chosen) if chosen else Path("runs", "workspace").resolve()


def samples_dir(samples: str | Path | None = None) -> Path:
    return Path(samples) if samples else SAMPLES


# -- steps the notebooks share ---------------------------------------------------------------
def ensure_provider(ws: Workspace, name: str, file: str | Path,
                    params: dict[str, Any] | None = None) -> FileVersion:
    """Create provider ``name`` from ``file``, or store ``file`` as its next version unless it
    is already the latest uploaded version. Returns the version that holds the file."""
    file = Path(file)
    try:
        api.load_provider(ws, name)
    except NotFoundError:
        api.add_provider(ws, name, file, params=params)
        return api.versions(ws, name)[-1]
    uploads = [v for v in api.versions(ws, name) if v.origin == "upload"]
    if uploads and uploads[-1].sha256 == file_digest(file)[0]:
        return uploads[-1]
    return api.upload_version(ws, name, file)


def load_sources(ws: Workspace, sources: dict[str, str], samples: str | Path | None = None,
                 params: dict[str, dict[str, Any]] | None = None) -> list[FileVersion]:
    """:func:`ensure_provider` for each ``{provider: file}`` (files relative to ``samples``)."""
    folder = samples_dir(samples)
    return [ensure_provider(ws, name, folder / file, (params or {}).get(name))
            for name, file in sources.items()]


def install_scenarios(ws: Workspace, names: list[str],
                      templates: str | Path | None = None) -> dict[str, list[str]]:
    """Copy ``NAME.yaml`` from the templates into the workspace's ``scenarios/`` (unless the
    same text is there) and check each; returns {name: problems} (empty lists: all fine)."""
    folder = Path(templates) if templates else SCENARIO_TEMPLATES
    # The substitution lists the scenarios' formulas use (valuemaps/ beside scenarios/).
    maps = folder.parent / "valuemaps" if templates else resources.valuemaps()
    for src in sorted(maps.glob("*.yaml")):
        _copy_if_changed(src, ws.path("valuemaps", src.name))
    out: dict[str, list[str]] = {}
    for name in names:
        src = folder / f"{name}.yaml"
        if not src.is_file():
            raise NotFoundError(f"no scenario template {src}")
        _copy_if_changed(src, ws.path("scenarios", src.name))
        try:
            out[name] = api.check_scenario(ws, api.show_scenario(ws, name))
        except ScenarioError as e:  # unknown keys, wrong types: the same problem lines
            out[name] = list(e.problems)
    return out


def _copy_if_changed(src: Path, dst: Path) -> None:
    if not dst.exists() or dst.read_bytes() != src.read_bytes():
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def raise_for_problems(problems: dict[str, list[str]]) -> None:
    """Stop a headless run when an installed scenario does not fit its window or provider."""
    bad = [f"{name}: {p}" for name, ps in problems.items() for p in ps]
    if bad:
        raise ScenarioError("installed scenarios have problems", problems=bad)


def source_fields(file: str | Path, params: dict[str, Any] | None = None) -> list[str]:
    """The column names of a source file (for a simplified scenario's mapping)."""
    return read_head(file, 0, params)[0]


def read_head(file: str | Path, n: int = 5, params: dict[str, Any] | None = None
              ) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and the first ``n`` rows of a file, read as a simplified scenario's
    provider would read it."""
    file = Path(file)
    pt, full, schema = read_file_schema(file, params, simplified=True)
    columns = schema.columns()
    rows: list[dict[str, Any]] = []
    if n > 0:
        for batch in pt.read_batches(file, full, schema, batch_size=n):
            rows += [dict(zip(columns, r)) for r in batch.rows[:n - len(rows)]]
            if len(rows) >= n:
                break
    return columns, rows


def read_layout(file: str | Path, params: dict[str, Any] | None = None):
    """How a file reads as a simplified scenario's provider would read it: its header,
    preamble, settled names and skipped rows (a :class:`~migration_kit.providers.base.Layout`,
    ``None`` for XML)."""
    return read_file_schema(file, params, simplified=True)[2].layout


def ensure_simplified(ws: Workspace, name: str, file: str | Path, window: str,
                      mapping: list[tuple[str, str]] | dict[str, str],
                      keys: list[str]) -> api.Scenario:
    """Create the simplified scenario (and its provider) from ``file``; when it exists,
    save the mapping and store ``file`` as the provider's next version if it changed."""
    try:
        api.load_scenario(ws, name, check=False)
    except NotFoundError:
        return api.create_simplified(ws, name, file, window, mapping, keys)
    sc = api.update_simplified(ws, name, mapping, keys)
    ensure_provider(ws, sc.provider, file)
    return sc


def prepare_and_import(ws: Workspace, names: list[str], *, raise_errors: bool = True,
                       progress: bool = True) -> dict[str, api.ImportSummary]:
    """Prepare and import each scenario in order; stop at the first that does not import
    cleanly. With ``raise_errors`` its :class:`RecordError` is raised (a headless run fails);
    otherwise the summaries so far are returned, the failed one last."""
    out: dict[str, api.ImportSummary] = {}
    for name in names:
        prepared = api.prepare(ws, name, progress=progress)
        print(f"{name}: {prepared}")
        summary = api.import_(ws, name, progress=progress)
        print(summary)
        out[name] = summary
        if not summary.ok:
            if raise_errors:
                summary.raise_for_errors()
            break
    return out


def raise_for_export(summary: api.ExportSummary) -> None:
    """Stop a headless run when rows could not be exported: a :class:`RecordError` naming
    the first failed row."""
    if summary.failed:
        first = summary.errors[0] if summary.errors else {}
        raise RecordError(f"{first.get('message', 'not exported')} ({summary.failed} row(s) "
                          "not exported)", scenario=summary.scenario,
                          line=first.get("line", 0), record=first.get("record", 0),
                          field_name=first.get("field"))


def first_failed(summaries: dict[str, api.ImportSummary], default: str | None = None
                 ) -> str | None:
    """The scenario whose import stopped (to open in the correction grid), else ``default``."""
    return next((n for n, s in summaries.items() if not s.ok), default)


def reconcile(ws: Workspace, names: list[str], report_dir: str | Path | None = None
              ) -> dict[str, Any]:
    """Reconcile each import scenario with the ERP, writing its reports (HTML, CSV, JSON)
    to ``report_dir`` (default: ``reports/`` in the workspace); prints one line each and
    returns {name: ReconcileReport}."""
    folder = Path(report_dir) if report_dir else ws.path("reports")
    out = {}
    for name in names:
        report = api.reconcile(ws, name, output=folder / f"{name}-reconcile.html")
        c = report.counts
        print(f"{name}: {'reconciled' if report.ok else 'DIFFERS'}: "
              f"{c['documents_found']} of {c['documents_expected']} document(s) in the ERP, "
              f"{report.n_differences} differ(s); {report.html_path}")
        out[name] = report
    return out


def raise_for_differences(reports: dict[str, Any]) -> None:
    """Stop a headless run when a scenario does not reconcile: the
    :class:`~migration_kit.engine.reconcile.ReconcileError` of the first one, naming its
    documents that differ."""
    for report in reports.values():
        report.raise_for_differences()


# -- running the notebooks ---------------------------------------------------------------
def notebooks(notebooks_dir: Path) -> list[Path]:
    return sorted(Path(notebooks_dir).glob(NOTEBOOK_GLOB))


def init_notebooks(folder: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the numbered runbook notebooks that ship with the package into ``folder`` (made
    if missing), for a team to keep and edit in its own runbook; returns their paths there.

    A notebook already in ``folder`` is not overwritten unless ``force``: then nothing is
    written and :class:`BadInputError` names the files that are in the way."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise BadInputError(f"{folder} is not a folder")
    sources = resources.notebook_files()
    if not sources:
        raise NotFoundError(f"no notebooks {NOTEBOOK_GLOB} in {resources.notebooks()}")
    targets = [folder / src.name for src in sources]
    taken = [t for t in targets if t.exists()]
    if taken and not force:
        raise BadInputError(f"{len(taken)} notebook(s) already in {folder}, not overwritten "
                            f"(use --force): {', '.join(t.name for t in taken)}",
                            existing=[str(t) for t in taken])
    folder.mkdir(parents=True, exist_ok=True)
    for src, dst in zip(sources, targets):
        _copy_if_changed(src, dst)
    return targets


def run_runbook(notebooks_dir: Path, output_dir: Path, parameters: dict[str, Any], *,
                kernel_name: str | None = None, progress: bool = True,
                timeout: float | None = None) -> list[Path]:
    """Run the numbered notebooks with papermill into ``output_dir`` (executed copies, same
    names), in order, stopping at the first failure with a :class:`RunbookError`.

    Each notebook gets the parameters its ``parameters`` cell declares; a parameter that no
    notebook declares is refused (a typo would otherwise be ignored). The notebooks run in
    ``output_dir`` (so relative downloads land beside the executed copies); relative
    folders in :data:`PATH_PARAMETERS` are made absolute from the caller's folder first.
    ``timeout`` (seconds) bounds each cell: a cell running longer fails the run.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    paths = notebooks(notebooks_dir)
    if not paths:
        raise NotFoundError(f"no notebooks {NOTEBOOK_GLOB} in {notebooks_dir}")
    declared = {p: set(pm.inspect_notebook(str(p))) for p in paths}
    unknown = set(parameters) - set().union(*declared.values())
    if unknown:
        raise BadInputError(f"no notebook in {notebooks_dir} has the parameter(s) "
                            f"{', '.join(sorted(unknown))}", parameters=sorted(unknown))
    parameters = {k: (str(Path(v).resolve()) if k in PATH_PARAMETERS and isinstance(v, str)
                      and v and not Path(v).is_absolute() else v)
                  for k, v in parameters.items()}
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    done: list[Path] = []
    for path in paths:
        out = output_dir / path.name
        own = {k: v for k, v in parameters.items() if k in declared[path]}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Kernel is running over TCP without encryption"
                pm.execute_notebook(str(path), str(out), parameters=own,
                                    kernel_name=kernel_name, progress_bar=progress,
                                    cwd=str(output_dir), execution_timeout=timeout,
                                    extra_arguments=QUIET_KERNEL)
        except PapermillExecutionError as e:
            raise RunbookError(path.name, e.ename, e.evalue, output=str(out)) from None
        except Exception as e:  # the kernel died, did not start, or the notebook is broken
            raise RunbookError(path.name, type(e).__name__, str(e), output=str(out)) from e
        done.append(out)
    return done
