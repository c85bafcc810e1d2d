"""Every public function of ``migration_kit.api`` checks the acting user's right: a user with
no rights is refused by each (exit 3 on the CLI), and nothing changes. The list of calls is
built from ``api.__all__``: a new function without an entry here fails this test, so it
cannot ship without its check."""

from __future__ import annotations

import inspect

import pytest

from migration_kit import api
from migration_kit.cli import main as cli_main
from migration_kit.errors import PermissionDeniedError

from ..helpers import SAMPLES
from .helpers import dump_files, dump_tables, invoice_scenario, make_invoices, master_workspace

USERS = """\
roles:
  administrator: {default: edit}
  nobody: {default: none}
users:
  admin: {roles: [administrator]}
  nina: {roles: [nobody]}
"""

# Functions that run before there is an acting user in a workspace.
NO_USER_YET = {"init_workspace", "open_workspace"}


def calls(ws, admin_sc, tmp_path):
    """One call per public function, as a user would make it."""
    window = admin_sc["window"]
    sc = admin_sc["scenario"]
    return {
        "columns": lambda: api.columns(ws, "inv"),
        "error_records": lambda: api.error_records(ws, "inv"),
        "not_imported": lambda: api.not_imported(ws, "inv"),
        "clear_active_until_error": lambda: api.clear_active_until_error(ws, "inv"),
        "clear_errors": lambda: api.clear_errors(ws, "inv"),
        "prepare_and_import": lambda: api.prepare_and_import(ws, "inv", progress=False),
        "replace": lambda: api.replace(ws, "inv", "Customer", "C001", "C002"),
        "set_active_lines": lambda: api.set_active_lines(ws, "inv", [1], False),
        "toggle_active": lambda: api.toggle_active(ws, "inv", [1]),
        "toggle_processed": lambda: api.toggle_processed(ws, "inv", [1]),
        "add_provider": lambda: api.add_provider(ws, "new", SAMPLES / "customers.csv"),
        "check_scenario": lambda: api.check_scenario(ws, sc),
        "convert_to_manual": lambda: api.convert_to_manual(ws, "inv"),
        "counts": lambda: api.counts(ws, "inv"),
        "create_simplified": lambda: api.create_simplified(
            ws, "s2", SAMPLES / "sales_invoices.csv", "AR301000",
            [("InvoiceNbr", "Document.ReferenceNbr")], ["Document.ReferenceNbr"]),
        "export": lambda: api.export(ws, "inv"),
        "get_version": lambda: api.get_version(ws, "inv"),
        "history_of": lambda: api.history_of(ws, "inv"),
        "import_": lambda: api.import_(ws, "inv", progress=False),
        "join_import": lambda: api.join_import(ws, "inv"),
        "latest_version": lambda: api.latest_version(ws, "inv"),
        "lines": lambda: api.lines(ws, "inv"),
        "new_scenario": lambda: api.new_scenario(ws, "s3", "inv", window.id),
        "preview_formula": lambda: api.preview_formula(ws, "=1", [{}]),
        "suggest_mapping_for_file": lambda: api.suggest_mapping_for_file(
            ws, tmp_path / "inv.csv", window.id),
        "list_documents": lambda: list(api.list_documents(ws, "AR303000")),
        "list_providers": lambda: _refuse_if_empty(api.list_providers(ws)),
        "list_scenarios": lambda: _refuse_if_empty(api.list_scenarios(ws)),
        "load_provider": lambda: api.load_provider(ws, "inv"),
        "load_scenario": lambda: api.load_scenario(ws, "inv"),
        "prepare": lambda: api.prepare(ws, "inv", progress=False),
        "prepare_export": lambda: api.prepare_export(ws, "inv"),
        "rollback": lambda: api.rollback(ws, "inv"),
        "reconcile": lambda: api.reconcile(ws, "inv"),
        "undo": lambda: api.undo(ws, "inv", dry_run=True),
        "save_document": lambda: api.save_document(ws, "AR303000", {"Customer": {}}),
        "save_scenario": lambda: api.save_scenario(ws, sc),
        "set_active": lambda: api.set_active(ws, "inv", 1, False),
        "set_field_type": lambda: api.set_field_type(ws, "inv", "Qty", "string"),
        "set_value": lambda: api.set_value(ws, "inv", 1, "Customer", "C002"),
        "show_scenario": lambda: api.show_scenario(ws, "inv"),
        "status": lambda: api.status(ws, "inv"),
        "suggest_mapping": lambda: api.suggest_mapping(ws, window, ["Customer"]),
        "update_schema": lambda: api.update_schema(ws, "inv", tmp_path / "inv.csv"),
        "update_simplified": lambda: api.update_simplified(ws, "inv", {}),
        "upload_version": lambda: api.upload_version(ws, "inv", tmp_path / "inv.csv"),
        "versions": lambda: api.versions(ws, "inv"),
        "valuemaps.list_valuemaps": lambda: api.valuemaps.list_valuemaps(ws),
        "valuemaps.load_valuemap": lambda: api.valuemaps.load_valuemap(ws, "uom"),
        "valuemaps.set_value": lambda: api.valuemaps.set_value(ws, "uom", "x", "PCS"),
        "valuemaps.remove_value": lambda: api.valuemaps.remove_value(ws, "uom", "x"),
        "valuemaps.set_default": lambda: api.valuemaps.set_default(ws, "uom", "PCS"),
        "valuemaps.save_valuemap": lambda: api.valuemaps.save_valuemap(ws, "uom", {}),
    }


def _refuse_if_empty(items):
    """A listing refuses by showing nothing the user may not see."""
    if items:
        raise AssertionError(f"a user with no rights sees {items}")
    raise PermissionDeniedError("nothing visible")


def public_functions() -> list[str]:
    out = []
    for name in api.__all__:
        obj = getattr(api, name)
        if inspect.isclass(obj) or name in NO_USER_YET:
            continue
        if callable(obj):
            out.append(name)
        else:  # a namespace of functions (value maps)
            out += [f"{name}.{m}" for m in dir(obj) if not m.startswith("_")
                    and callable(getattr(obj, m))]
    return sorted(out)


@pytest.fixture
def ws(tmp_path, db_url):
    file = tmp_path / "inv.csv"
    make_invoices(file, 20)
    ws = master_workspace(tmp_path / "ws", db_url)
    invoice_scenario(ws, "inv", file)
    api.prepare(ws, "inv", progress=False)
    api.valuemaps.save_valuemap(ws, "uom", {"stk": "PCS"})
    ws.path("users.yaml").write_text(USERS, encoding="utf-8")
    ws.dispose()
    yield ws
    ws.dispose()


def test_every_api_function_refuses_a_user_without_rights(ws, tmp_path):
    admin = api.open_workspace(ws.root, user="admin")
    info = {"window": admin.windows.get("AR301000"),
            "scenario": api.load_scenario(admin, "inv")}
    admin.dispose()
    before = (dump_tables(ws), dump_files(ws.root))
    ws.dispose()
    nina = api.open_workspace(ws.root, user="nina")
    table = calls(nina, info, tmp_path)
    missing = sorted(set(public_functions()) - set(table))
    assert not missing, f"api functions without a rights test (and check?): {missing}"
    allowed = []
    for name in public_functions():
        try:
            table[name]()
        except PermissionDeniedError:
            continue
        allowed.append(name)
    nina.dispose()
    assert allowed == [], f"a user with no rights was let through: {allowed}"
    assert (dump_tables(ws), dump_files(ws.root)) == before
    ws.dispose()


@pytest.mark.parametrize("args", [
    ["provider", "show", "inv"], ["provider", "list"], ["prepared", "set", "inv", "1",
                                                         "Customer", "C002"],
    ["valuemap", "show", "uom"], ["history", "inv"], ["status", "inv"]])
def test_the_cli_refuses_with_exit_3(ws, args, capsys):
    rc = cli_main(["-w", str(ws.root), "--user", "nina", *args])
    out = capsys.readouterr()
    if args == ["provider", "list"]:
        assert rc == 0 and "inv" not in out.out  # a listing shows nothing
    else:
        assert rc == 3, out.out + out.err
        assert "nina" in out.err and "Traceback" not in out.err
