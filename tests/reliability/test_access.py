"""Access rights: a user without ``edit`` on a window does not see its import scenarios and
cannot prepare, import or roll them back, nor read their prepared data, through the API
or the CLI (exit code 3); and nothing changes when they try."""

from __future__ import annotations

import pytest

from migration_kit import api
from migration_kit.cli import main as cli_main
from migration_kit.errors import PermissionDeniedError
from migration_kit.workspace import Workspace

from ..helpers import SAMPLES, simplified_invoices
from .helpers import dump_files, dump_tables, invoice_scenario, make_invoices, master_workspace
from .helpers import run_cli as run_child

USERS = """\
roles:
  administrator: {default: edit}
  clerk:                       # everything but sales invoices
    default: edit
    windows: {AR301000: none}
  viewer:                      # may look at sales invoices, not enter them
    default: edit
    windows: {AR301000: view}
  nobody: {default: none}
users:
  admin: {roles: [administrator]}
  bob: {roles: [clerk]}
  vera: {roles: [viewer]}
  nina: {roles: [nobody]}
"""
DENIED = ["bob", "vera", "nina"]


@pytest.fixture
def ws(tmp_path, db_url):
    file = tmp_path / "invoices.csv"
    make_invoices(file, 60)
    ws = master_workspace(tmp_path / "ws", db_url)
    invoice_scenario(ws, "inv", file)
    api.prepare(ws, "inv", progress=False)
    api.import_(ws, "inv", progress=False, batch_size=5)  # some history and Processed flags
    ws.path("users.yaml").write_text(USERS, encoding="utf-8")
    ws.dispose()
    yield ws
    ws.dispose()


def _state(ws):
    state = (dump_tables(ws), dump_files(ws.root))
    ws.dispose()
    return state


@pytest.mark.parametrize("user", DENIED)
def test_api_refuses_without_edit(ws, user):
    before = _state(ws)
    mine = api.open_workspace(ws.root, user=user)
    try:
        names = [sc.name for sc in api.list_scenarios(mine)]
        assert "inv" not in names
        if user != "nina":
            assert "customers" in names  # they do have edit on AR303000
        calls = {
            "prepare": lambda: api.prepare(mine, "inv", progress=False),
            "import": lambda: api.import_(mine, "inv", progress=False),
            "prepare and import": lambda: api.prepare_and_import(mine, "inv", progress=False),
            "roll back": lambda: api.rollback(mine, "inv"),
            "prepared data": lambda: api.lines(mine, "inv"),
            "set value": lambda: api.set_value(mine, "inv", 1, "Qty", "2"),
            "set active": lambda: api.set_active(mine, "inv", 1, False),
            "show": lambda: api.show_scenario(mine, "inv"),
            "history": lambda: api.history_of(mine, "inv"),
            "replace": lambda: api.replace(mine, "inv", "Qty", "1", "2"),
            "toggle active": lambda: api.toggle_active(mine, "inv"),
            "toggle processed": lambda: api.toggle_processed(mine, "inv", [1]),
            "clear errors": lambda: api.clear_errors(mine, "inv"),
            "clear active until error": lambda: api.clear_active_until_error(mine, "inv"),
            "reconcile": lambda: api.reconcile(mine, "inv"),
            "undo": lambda: api.undo(mine, "inv"),
            "undo dry run": lambda: api.undo(mine, "inv", dry_run=True),
        }
        for what, call in calls.items():
            with pytest.raises(PermissionDeniedError, match="AR301000") as ei:
                call()
            assert ei.value.exit_code == 3, what
            assert f"user {user!r}" in str(ei.value), what
    finally:
        mine.dispose()
    assert _state(ws) == before, "a refused call changed the workspace"


def test_cli_refuses_without_edit(ws, monkeypatch, capsys):
    before = _state(ws)
    for user in DENIED:
        assert cli_main(["-w", str(ws.root), "--user", user, "scenario", "list"]) == 0
        listed = capsys.readouterr().out
        assert "inv " not in listed and "AR301000" not in listed
        for args in (["prepare", "inv"], ["import", "inv"], ["import", "--prepare", "inv"],
                     ["rollback", "inv"], ["prepared", "list", "inv"],
                     ["prepared", "deactivate", "inv", "1"], ["history", "inv"],
                     ["reconcile", "inv"], ["undo", "inv"], ["undo", "inv", "--dry-run"]):
            assert cli_main(["-w", str(ws.root), "--user", user, *args]) == 3, (user, args)
            err = capsys.readouterr().err
            assert f"user {user!r} has" in err and "AR301000" in err, err
    # the acting user from the environment
    monkeypatch.setenv("MIGRATION_KIT_USER", "bob")
    assert cli_main(["-w", str(ws.root), "prepared", "list", "inv"]) == 3
    assert "user 'bob'" in capsys.readouterr().err
    monkeypatch.delenv("MIGRATION_KIT_USER")
    ws.dispose()
    assert _state(ws) == before
    # a real process, with the user from the environment: exit code 3
    res = run_child(ws.root, "import", "inv", user="vera")
    assert res.returncode == 3 and "user 'vera' has 'view' access" in res.stderr, res.stderr
    res = run_child(ws.root, "--user", "bob", "prepare", "inv")
    assert res.returncode == 3 and "user 'bob' has 'none' access" in res.stderr, res.stderr
    assert _state(ws) == before
    # and the administrator still can
    assert cli_main(["-w", str(ws.root), "--user", "admin", "prepared", "list", "inv"]) == 0
    assert "INV-" in capsys.readouterr().out


def test_latest_version_needs_a_right_on_a_scenario_of_the_provider(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    simplified_invoices(ws)
    (ws.root / "users.yaml").write_text(
        "roles:\n  administrator: {default: edit}\n  clerk: {default: view}\n"
        "users:\n  admin: {roles: [administrator]}\n  vera: {roles: [clerk]}\n")
    assert api.latest_version(ws, "sales_invoices").version == 1
    vera = Workspace(ws.root, user="vera")
    with pytest.raises(PermissionDeniedError):
        api.latest_version(vera, "sales_invoices")
    api.add_provider(ws, "loose", SAMPLES / "accounts.csv")
    assert api.latest_version(vera, "loose").version == 1
    vera.dispose()
    ws.dispose()
