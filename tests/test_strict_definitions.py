"""Strict definitions: scenario, provider, window and users YAML are read into typed models
that refuse unknown keys (with a "did you mean") and wrong types (with the key's path); the
CLI's `scenario check`, a run and the notebooks' install step show the same lines, exit 2,
and a refused definition changes nothing."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from migration_kit import api, runbook
from migration_kit.catalog.versions import Provider
from migration_kit.definitions import load_yaml_text
from migration_kit.erp.windows import WindowRegistry
from migration_kit.errors import BadInputError, DefinitionError, ScenarioError
from migration_kit.scenarios.model import Scenario, definition_problems, load_scenario
from migration_kit.workspace import Workspace

from .helpers import ROOT, SAMPLES, SCENARIOS, install
from .reliability.helpers import dump_files, dump_tables

TEMPLATES = ROOT / "templates"

ENV = {**os.environ, "MIGRATION_KIT_PROGRESS": "0"}
MISSPELT = "options: unknown option `brake_on_error`; did you mean `break_on_error`?"
NOT_AN_INTEGER = "options.batch_size: 'abc' is not an integer"
BASE = {"name": "s", "kind": "import", "window": "AR303000", "provider": "customers",
        "mapping": [{"target": "Customer.CustomerID", "source": "CustomerID"}]}


def mk(ws, *args):
    return subprocess.run([sys.executable, "-m", "migration_kit.cli", "-w", str(ws),
                           *[str(a) for a in args]], capture_output=True, text=True,
                          env=ENV, timeout=120, cwd=ROOT)


def test_every_shipped_definition_loads():
    """The templates (and the scenario files of the tests' corpus) pass the strict models."""
    for p in sorted(SCENARIOS.glob("*.yaml")) + sorted((ROOT / "tests" / "data" / "bad")
                                                       .glob("*.scenario.yaml")):
        assert definition_problems(yaml.safe_load(p.read_text(encoding="utf-8"))) == [], p
    reg = WindowRegistry([TEMPLATES])
    assert len(reg.windows) == 7 and set(reg.lists) == {"countries", "currencies", "units"}


@pytest.mark.parametrize("change, problem", [
    ({"options": {"brake_on_error": False}}, MISSPELT),
    ({"options": {"batch_size": "abc"}}, NOT_AN_INTEGER),
    ({"options": {"batch_size": 0}}, "options.batch_size: 0 must be more than 0"),
    ({"options": {"batch_size": True}}, "options.batch_size: True is not an integer"),
    ({"options": {"mode": "upsrt"}},
     "options.mode: 'upsrt' is not one of insert, upsert; did you mean `upsert`?"),
    ({"options": {"break_on_error": "no"}},
     "options.break_on_error: 'no' is not true or false"),
    ({"options": {"locale": "nb_NO"}}, "did you mean `nb-NO`?"),
    ({"options": {"today": "31.12.2024"}},
     "options.today: '31.12.2024' is not a date (yyyy-mm-dd)"),
    ({"options": {"grouping": "consecutiv"}}, "did you mean `consecutive`?"),
    ({"options": {"workers": "two"}},
     "options.workers: 'two' is not a whole number from 1 to 64, or auto"),
    ({"options": {"workers": 0}}, "options.workers: 0 is not a whole number from 1 to 64"),
    ({"options": {"workers": True}}, "options.workers: True is not a whole number"),
    ({"options": {"sync": "incremantal"}}, "did you mean `incremental`?"),
    ({"options": {"foo": 1}}, "options: unknown option `foo` (known: break_on_error,"),
    ({"windw": "AR303000"}, "unknown key `windw`; did you mean `window`?"),
    ({"kind": "imprt"}, "kind: 'imprt' is not one of import, export; did you mean `import`?"),
    ({"keys": "Customer.CustomerID"}, "keys: 'Customer.CustomerID' is not a list"),
    ({"mapping": [{"target": "Customer.CustomerID", "sourc": "CustomerID"}]},
     "mapping line 1: unknown key `sourc`; did you mean `source`?"),
    ({"mapping": [{"target": "Customer.CustomerID", "source": "CustomerID",
                   "active": "yes"}]}, "mapping line 1, active: 'yes' is not true or false"),
    ({"restrictions": [{"field": "Status", "condition": "equals", "vaule": "A"}]},
     "restriction 1: unknown key `vaule`; did you mean `value`?"),
    ({"objects": {"summary": "a", "detail": "b", "link": {"a": 1}, "extra": 1}},
     "objects: unknown key `extra`"),
    ({"name": None}, "name: None is not text"),
])
def test_unknown_keys_and_wrong_types_are_named(change, problem):
    d = {**copy.deepcopy(BASE), **change}
    with pytest.raises(ScenarioError) as ei:
        Scenario.from_dict(d, file="scenarios/s.yaml")
    err = ei.value
    assert isinstance(err, BadInputError) and err.exit_code == 2
    assert any(problem in p for p in err.problems), err.problems
    assert problem in str(err) and "scenarios/s.yaml" in str(err)


def test_known_options_all_load():
    options = {"break_on_error": False, "break_on_incorrect_target": True, "mode": "upsert",
               "locale": "de-DE", "batch_size": 7, "sync": "incremental",
               "discard_previous": False, "save_only_if_valid": True, "grouping": "consecutive",
               "continuation_rows": False, "today": "2024-03-01", "neutralise_formulas": True,
               "workers": 3}
    sc = Scenario.from_dict({**BASE, "options": options})
    assert sc.workers == 3 and Scenario.from_dict(BASE).workers == "auto"
    assert Scenario.from_dict({**BASE, "options": {"workers": "auto"}}).workers == "auto"
    assert (sc.break_on_error, sc.mode, sc.batch_size, sc.grouping) == (False, "upsert", 7,
                                                                         "consecutive")
    assert sc.options == options
    import datetime as dt

    assert Scenario.from_dict({**BASE, "options": {"today": dt.date(2024, 3, 1)}})


@pytest.fixture
def ws(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    install(ws, "customers")
    yield ws
    ws.dispose()


def _snapshot(ws):
    return dump_tables(ws), dump_files(ws.root)


def test_api_checks_a_scenario_built_in_python_the_same_way(ws):
    """save_scenario and create_simplified refuse an unknown option too, and change nothing
    (no provider or file version is left behind)."""
    sc = api.load_scenario(ws, "customers")
    sc.options["brake_on_error"] = False
    before = _snapshot(ws)
    with pytest.raises(ScenarioError) as ei:
        api.save_scenario(ws, sc)
    assert ei.value.problems == [MISSPELT]
    assert api.check_scenario(ws, sc) == [MISSPELT]
    with pytest.raises(ScenarioError) as ei:
        api.create_simplified(ws, "inv", SAMPLES / "sales_invoices.csv", "AR301000",
                              {"InvoiceNbr": "Document.ReferenceNbr"},
                              ["Document.ReferenceNbr"], options={"batch_size": "abc"})
    assert ei.value.problems == [NOT_AN_INTEGER]
    # a problem found only once the provider exists (a source that is not a field)
    with pytest.raises(ScenarioError) as ei:
        api.create_simplified(ws, "inv", SAMPLES / "sales_invoices.csv", "AR301000",
                              {"Nope": "Document.ReferenceNbr"}, ["Document.ReferenceNbr"])
    assert "source 'Nope' is not a field" in str(ei.value)
    assert _snapshot(ws) == before


def test_cli_check_run_and_notebook_show_the_same_lines(ws, tmp_path):
    text = (SCENARIOS / "customers.yaml").read_text(encoding="utf-8").replace(
        "options: {break_on_error: true, mode: upsert}",
        "options: {brake_on_error: false, mode: upsert, batch_size: abc}")
    ws.path("scenarios", "customers.yaml").write_text(text, encoding="utf-8")
    lines = [NOT_AN_INTEGER, MISSPELT]
    before = _snapshot(ws)
    ws.dispose()
    r = mk(ws.root, "scenario", "check", "customers")
    assert r.returncode == 2 and r.stdout.splitlines() == lines, r.stdout + r.stderr
    for args in (["import", "customers", "--prepare"], ["prepare", "customers"],
                 ["scenario", "show", "customers"], ["scenario", "list"]):
        r = mk(ws.root, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "scenarios/customers.yaml: scenario 'customers' has 2 problem(s)" in r.stderr
        assert all(f"  {ln}" in r.stderr.splitlines() for ln in lines), r.stderr
        assert "Traceback" not in r.stderr + r.stdout
    # the notebooks' install step (04_manual_scenarios) lists the same lines
    folder = tmp_path / "templates" / "scenarios"
    folder.mkdir(parents=True)
    shutil.copy(ws.path("scenarios", "customers.yaml"), folder)
    problems = runbook.install_scenarios(ws, ["customers"], folder)
    assert problems == {"customers": lines}
    with pytest.raises(ScenarioError) as ei:
        runbook.raise_for_problems(problems)
    assert ei.value.problems == [f"customers: {ln}" for ln in lines]
    assert _snapshot(ws) == before


def test_provider_parameters_are_strict(ws):
    before = _snapshot(ws)
    with pytest.raises(DefinitionError) as ei:
        api.add_provider(ws, "other", SAMPLES / "customers.csv",
                         params={"header_row": "abc", "delimeter": ";"})
    assert ei.value.problems == ["params.header_row: 'abc' is not a row number (1 or more) "
                                 "or auto",
                                 "params: unknown key `delimeter`; did you mean `delimiter`?"]
    with pytest.raises(DefinitionError, match="params.quotechar: '' is not one character"):
        api.add_provider(ws, "other", SAMPLES / "customers.csv", params={"quotechar": ""})
    with pytest.raises(DefinitionError, match="unknown key `sheat`; did you mean `sheet`"):
        api.add_provider(ws, "other", SAMPLES / "stock_items.xlsx", params={"sheat": "x"})
    with pytest.raises(BadInputError, match="params.sheets: 'first' is not all"):
        api.add_provider(ws, "other", SAMPLES / "stock_items.xlsx", params={"sheets": "first"})
    with pytest.raises(DefinitionError, match="params.max_depth: 0 must be more than 0"):
        api.add_provider(ws, "other", SAMPLES / "sales_invoices.xml", params={"max_depth": 0})
    assert _snapshot(ws) == before


def test_provider_yaml_is_strict(ws):
    path = ws.path("providers", "customers.yaml")
    good = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert Provider.from_dict(good).params == good["params"]
    for change, problem in [
        ({"paramz": {}}, "unknown key `paramz`; did you mean `params`?"),
        ({"params": {**good["params"], "skip_rows": "2"}},
         "params.skip_rows: '2' is not an integer"),
        ({"type": "cvs"}, "type: 'cvs' is not one of csv, excel, xml; did you mean `csv`?"),
        ({"schema": {"objects": [{"name": "Row", "fields": [{"name": "A", "typ": "x"}]}]}},
         "schema.object 1, field 1: unknown key `typ`; did you mean `type`?"),
    ]:
        path.write_text(yaml.safe_dump({**good, **change}), encoding="utf-8")
        with pytest.raises(DefinitionError) as ei:
            api.load_provider(ws, "customers")
        assert problem in ei.value.problems, ei.value.problems
        assert str(ei.value).startswith("providers/customers.yaml: provider 'customers' has")


def test_users_yaml_is_strict(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    ws.dispose()
    (ws.root / "users.yaml").write_text(
        "roles:\n  administrator: {default: edt, window: {AR301000: view}}\n"
        "users:\n  admin: {role: [administrator]}\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as ei:
        Workspace(ws.root)
    assert ei.value.problems == [
        "roles.administrator.default: 'edt' is not one of none, view, edit; did you mean "
        "`edit`?",
        "roles.administrator: unknown key `window`; did you mean `windows`?",
        "users.admin: unknown key `role`; did you mean `roles`?"]
    r = mk(ws.root, "erp", "windows")
    assert r.returncode == 2 and "did you mean `windows`?" in r.stderr


def test_window_yaml_is_strict(tmp_path):
    (tmp_path / "windows").mkdir()
    d = yaml.safe_load((TEMPLATES / "windows" / "GL301000.yaml").read_text(encoding="utf-8"))
    d["objects"]["Batch"]["fields"]["Description"]["maxlength"] = 10
    d["objects"]["Line"]["detial"] = True
    d["objects"]["Line"]["fields"]["DebitAmount"]["scale"] = "2"
    d["rules"][2] = {"rule": "balanced", "object": "Line"}
    (tmp_path / "windows" / "GL301000.yaml").write_text(yaml.safe_dump(d), encoding="utf-8")
    with pytest.raises(DefinitionError) as ei:
        WindowRegistry([TEMPLATES, tmp_path])
    assert sorted(ei.value.problems) == [
        "objects.Batch.fields.Description: unknown key `maxlength`; did you mean "
        "`max_length`?",
        "objects.Line.fields.DebitAmount.scale: '2' is not an integer",
        "objects.Line: unknown key `detial`; did you mean `detail`?",
        "rule 3: rule balanced needs debit, credit"]
    assert "GL301000.yaml" in str(ei.value)


def test_cli_parameters_that_are_not_yaml_are_text(ws, tmp_path):
    """`-p x=[` used to end in a YAML traceback; now the value is the text and the unknown
    parameter is refused (exit 2)."""
    ws.dispose()
    r = mk(ws.root, "provider", "add", "other", SAMPLES / "customers.csv", "-p", "x=[")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "params: unknown key `x`" in r.stderr
    piped = tmp_path / "piped.csv"
    piped.write_text("A|B\n1|2\n", encoding="utf-8")
    # '|' is a YAML block indicator: taken as the text it is
    r = mk(ws.root, "--json", "provider", "add", "piped", piped, "-p", "delimiter=|")
    assert r.returncode == 0, r.stderr
    assert '"columns": ["A", "B"]' in r.stdout



def test_definitions_read_by_libyaml_as_by_pyyaml(tmp_path):
    """Every shipped YAML file reads the same by ``load_yaml_text`` (libyaml, when PyYAML
    has it) as by ``yaml.safe_load``; a file that does not parse names its line with a
    caret under the place, as PyYAML's own loader words it."""
    files = sorted(TEMPLATES.rglob("*.yaml")) + sorted(SCENARIOS.glob("*.yaml"))
    assert len(files) > 10
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert load_yaml_text(text) == yaml.safe_load(text), f
    ws = Workspace.init(tmp_path / "ws")
    bad = ws.path("scenarios", "broken.yaml")
    bad.write_text("name: broken\nkind: import\noptions: [1, 2\nmode: insert\n",
                   encoding="utf-8")
    with pytest.raises(BadInputError) as e:
        load_scenario(ws, "broken")
    assert "not valid YAML" in str(e.value) and "line 4, column 5:" in str(e.value)
    assert "    mode: insert\n        ^" in str(e.value)
