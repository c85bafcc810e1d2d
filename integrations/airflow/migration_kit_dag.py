"""The runbook as an Airflow DAG: the numbered notebooks of ``notebooks/`` run by the papermill
provider's ``PapermillOperator``, one task per notebook, once per data drop.

Trigger it with the folders of the data drops (each holds the source files the notebooks
load, named as in ``templates/samples/``)::

    airflow dags trigger migration_kit_runbook -c '{"drops": ["/data/drop1", "/data/drop2"]}'
    airflow dags test migration_kit_runbook -c '{"drops": ["/data/drop1"]}'   # once, no scheduler

Each drop gets its own workspace, ``<workspaces>/<drop>`` (the drop's folder name), and runs
the whole runbook in it, in dependency order: workspace, providers, scenarios, then the
imports (accounts; customers, stock items and suppliers; journal and invoices), export,
history and reconcile (its reports in the workspace's ``reports/``). Drops are mapped tasks
of one task group: they run side by side (each on its own database) and a drop that fails
stops only its own tasks. The workspace is kept between runs: the runbook's steps are
idempotent, so a re-run (or a retry) stores a file again only when it changed and imports
only what was not imported. Delete the folder for a fresh rehearsal, or create it beforehand
with ``migration-kit -w WS init --db postgresql://...`` to import into PostgreSQL.

The executed notebooks are the run's record: ``<records>/<run_id>/<drop>/<task>.ipynb``. A
notebook that raises (a record the ERP refuses, a scenario that does not fit, a document
that does not reconcile) fails its task at once, without retries, with the error the
notebook raised: for an import, the scenario, line, key values, field and message of the
record. Other failures (the kernel died, a lock held by another run) are retried.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from airflow.providers.papermill.operators.papermill import PapermillOperator
from airflow.sdk import DAG, Param, task, task_group
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from migration_kit import runbook

DAG_ID = "migration_kit_runbook"
_HOME = Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "migration_kit"
WORKSPACES = os.environ.get("MIGRATION_KIT_AIRFLOW_WORKSPACES", str(_HOME / "workspaces"))
RECORDS = os.environ.get("MIGRATION_KIT_AIRFLOW_RECORDS", str(_HOME / "records"))

# One task per notebook run, in order: task id -> (notebook, its own parameters). The import
# notebook runs once per level of the dependencies between the scenarios.
STEPS: dict[str, tuple[str, dict]] = {
    "01_workspace": ("01_workspace.ipynb", {}),
    "02_providers": ("02_providers.ipynb", {}),
    "03_simplified_scenario": ("03_simplified_scenario.ipynb", {}),
    "04_manual_scenarios": ("04_manual_scenarios.ipynb", {}),
    "05_import_accounts": ("05_prepare_and_import.ipynb",
                           {"import_scenarios": ["accounts"]}),
    "05_import_customers_items": ("05_prepare_and_import.ipynb",
                                  {"import_scenarios": ["customers", "stock_items",
                                                        "suppliers"]}),
    "05_import_invoices": ("05_prepare_and_import.ipynb",
                           {"import_scenarios": ["journal", "supplier_invoices",
                                                 "sales_invoices"]}),
    "06_export": ("06_export.ipynb", {}),
    "07_history": ("07_history.ipynb", {}),
    "08_reconcile": ("08_reconcile.ipynb", {}),
}
# Errors a retry can cure; any other error raised in a notebook fails its task at once.
RETRIED_ERRORS = {"LockedError"}


class RunbookNotebook(PapermillOperator):
    """``PapermillOperator`` on one notebook of the runbook for one drop: the drop's workspace,
    source folder and user as parameters (those the notebook declares), the executed copy
    in the drop's record folder, and an error raised in the notebook reported in one line."""

    template_fields = (*PapermillOperator.template_fields, "drop")

    def __init__(self, *, notebook: str, drop, parameters: dict | None = None, **kwargs):
        super().__init__(input_nb=str(runbook.NOTEBOOKS / notebook),
                         parameters=dict(parameters or {}), **kwargs)
        self.drop = drop  # {"name", "samples", "workspace", "record", "user"}, from plan()

    def execute(self, context):
        import papermill as pm
        from papermill.exceptions import PapermillExecutionError

        declared = set(pm.inspect_notebook(self.input_nb))
        if set(self.parameters) - declared:
            raise AirflowFailException(f"{self.input_nb} has no parameter(s) "
                                       f"{sorted(set(self.parameters) - declared)}")
        common = {"workspace": self.drop["workspace"], "samples": self.drop["samples"],
                  "user": self.drop["user"], "interactive": False}
        self.parameters = {**{k: v for k, v in common.items() if k in declared},
                           **self.parameters}
        record = Path(self.drop["record"])
        record.mkdir(parents=True, exist_ok=True)
        step, notebook = self.task_id.rsplit(".", 1)[-1], Path(self.input_nb).name
        output = str(record / f"{step}.ipynb")
        self.output_nb = output  # (the papermill operator replaces both paths by NoteBooks)
        try:
            super().execute(context)
        except PapermillExecutionError as e:
            text = (f"{step} ({notebook}) failed on drop {self.drop['name']!r}: {e.ename}: "
                    f"{e.evalue} (executed notebook: {output})")
            if e.ename in RETRIED_ERRORS:
                raise AirflowException(text) from e
            raise AirflowFailException(text) from e
        return output


with DAG(
    dag_id=DAG_ID,
    description="migration_kit runbook notebooks on each data drop (papermill)",
    schedule=None,
    catchup=False,
    max_active_runs=1,  # two runs on the same workspaces would wait on each other's locks
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1),
                  "execution_timeout": timedelta(hours=6)},
    params={
        "drops": Param([str(runbook.SAMPLES)], type="array", items={"type": "string"},
                       minItems=1, description="Folders of source files, one per data drop"),
        "workspaces": Param(WORKSPACES, type="string",
                            description="Folder of the workspaces, one per drop"),
        "records": Param(RECORDS, type="string",
                         description="Folder of the executed notebooks, per run and drop"),
        "user": Param("admin", type="string", description="Acting user of the workspaces"),
    },
    tags=["migration_kit"],
) as dag:

    @task
    def plan(params=None, run_id=None) -> list[dict]:
        """One entry per drop: its name, source folder, workspace and record folder."""
        drops = [Path(d).expanduser().resolve() for d in params["drops"]]
        missing = [str(d) for d in drops if not d.is_dir()]
        if missing:
            raise AirflowFailException(f"no such drop folder(s): {', '.join(missing)}")
        names = [d.name for d in drops]
        if len(set(names)) != len(names):
            raise AirflowFailException(f"drop folders need different names: {names}")
        workspaces = Path(params["workspaces"]).expanduser().resolve()
        records = Path(params["records"]).expanduser().resolve() / run_id
        return [{"name": d.name, "samples": str(d), "workspace": str(workspaces / d.name),
                 "record": str(records / d.name), "user": params["user"]} for d in drops]

    @task_group
    def runbook_on_drop(drop):
        previous = None
        for task_id, (notebook, parameters) in STEPS.items():
            step = RunbookNotebook(task_id=task_id, notebook=notebook, drop=drop,
                                   parameters=parameters)
            if previous is not None:
                previous >> step
            previous = step

    runbook_on_drop.expand(drop=plan())
