"""The command line: a thin front over :mod:`migration_kit.api`.

Exit codes: 0 done; 1 a run stopped on a record error; 2 bad input or usage (nothing
changed); 3 permission denied.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from . import api
from .errors import MigrationError
from .jsonio import dumps
from .workspace import Workspace


class Ctx:
    def __init__(self, workspace: str, user: str | None, as_json: bool):
        self.workspace_dir = workspace
        self.user = user
        self.as_json = as_json
        self._ws: Workspace | None = None

    @property
    def ws(self) -> Workspace:
        if self._ws is None:
            self._ws = api.open_workspace(self.workspace_dir, user=self.user)
        return self._ws

    def out(self, obj: Any, text: str | None = None) -> None:
        """Print ``obj`` as one JSON line with --json, else ``text`` (or a readable form)."""
        if self.as_json:
            click.echo(dumps(obj))
        else:
            click.echo(text if text is not None else _readable(obj))


def _readable(obj: Any) -> str:
    if isinstance(obj, dict):
        return "\n".join(f"{k}: {v}" for k, v in obj.items())
    return str(obj)


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--workspace", "-w", default=".", envvar="MIGRATION_KIT_WORKSPACE",
              show_default=True, help="The workspace folder (env MIGRATION_KIT_WORKSPACE).")
@click.option("--user", "-u", default=None, envvar="MIGRATION_KIT_USER",
              help="Acting user (env MIGRATION_KIT_USER; default admin).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON lines.")
@click.version_option(package_name="migration_kit")
@click.pass_context
def cli(ctx: click.Context, workspace: str, user: str | None, as_json: bool) -> None:
    """Import and export ERP records by scenarios."""
    ctx.obj = Ctx(workspace, user, as_json)


@cli.command()
@click.option("--db", "db_url", default=None,
              help="Database URL (default: state.sqlite in the workspace; or postgresql://...).")
@pass_ctx
def init(c: Ctx, db_url: str | None) -> None:
    """Create a workspace (or check an existing one)."""
    ws = api.init_workspace(c.workspace_dir, db_url=db_url, user=c.user)
    c._ws = ws
    c.out({"workspace": str(ws.root), "database": _safe_url(ws.db_url)},
          f"workspace ready: {ws.root}\ndatabase: {_safe_url(ws.db_url)}")


def _safe_url(url: str) -> str:
    """A URL without its password, for printing."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        return f"{scheme}://{cred.split(':', 1)[0]}@{host}"
    return url


# -- erp ---------------------------------------------------------------------------------
@cli.group()
def erp() -> None:
    """The embedded ERP: windows and their records."""


@erp.command("windows")
@pass_ctx
def erp_windows(c: Ctx) -> None:
    """List the windows and your access to each."""
    for w in c.ws.windows:
        c.out({"id": w.id, "name": w.name, "access": c.ws.rights.level(w.id)},
              f"{w.id}  {w.name:<22} {c.ws.rights.level(w.id)}")


@erp.command("show")
@click.argument("window")
@pass_ctx
def erp_show(c: Ctx, window: str) -> None:
    """Show a window's objects and fields."""
    w = c.ws.windows.get(window)
    if c.as_json:
        c.out({"id": w.id, "name": w.name, "summary": w.summary,
               "objects": {o.name: {f.name: f.describe() for f in o.fields.values()}
                           for o in w.objects.values()}})
        return
    click.echo(f"{w.id} {w.name}")
    for o in w.objects.values():
        click.echo(f"  {o.name} ({'detail' if o.detail else 'summary'})")
        for f in o.fields.values():
            click.echo(f"    {f.name:<18} {f.describe()}")


@erp.command("list")
@click.argument("window")
@click.option("--where", "where", multiple=True, help="FIELD=VALUE on the summary (repeatable).")
@pass_ctx
def erp_list(c: Ctx, window: str, where: tuple[str, ...]) -> None:
    """Print the window's records, summary with details (JSON lines with --json)."""
    cond = dict(_pair(w) for w in where)
    for doc in api.list_documents(c.ws, window, cond or None):
        if c.as_json:
            click.echo(dumps(doc))
        else:
            click.echo(dumps(doc, indent=None))


@erp.command("save")
@click.argument("window")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--upsert", is_flag=True, help="Update the record when its key exists.")
@pass_ctx
def erp_save(c: Ctx, window: str, file, upsert: bool) -> None:
    """Save a document given as JSON ({Object: {...}, DetailObject: [...]}); '-' reads stdin."""
    try:
        doc = json.load(file)
    except json.JSONDecodeError as e:
        raise click.BadParameter(f"not JSON: {e}") from None
    key = api.save_document(c.ws, window, doc, mode="upsert" if upsert else "insert")
    c.out({"saved": key}, "saved " + ", ".join(f"{k}={v}" for k, v in key.items()))


def _pair(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise click.BadParameter(f"{text!r}: expected NAME=VALUE")
    k, v = text.split("=", 1)
    return k.strip(), v


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map errors to exit codes; returns the exit code."""
    as_json = "--json" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, standalone_mode=False, prog_name="migration-kit")
        return 0
    except MigrationError as e:
        if as_json:
            click.echo(dumps(e.to_dict()), err=True)
        else:
            click.echo(f"error: {e}", err=True)
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 2
    except click.ClickException as e:
        e.show()
        return 2
    except click.exceptions.Exit as e:
        return e.exit_code
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
