"""The command line: a thin front over :mod:`migration_kit.api`.

Exit codes: 0 done; 1 a run stopped on a record error; 2 bad input or usage (nothing
changed); 3 permission denied.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from . import api
from .errors import MigrationError, ScenarioError
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
_LAST_WORKSPACE: list[str | None] = [None]  # for the crash report of an internal error
# Numbers the database can hold (a bigger one is a usage error, not a database error).
MAX_INT = 2**63 - 1
LINE = click.IntRange(1, MAX_INT)  # a line or version number
COUNT = click.IntRange(0, MAX_INT)


class Workers(click.ParamType):
    """``--workers``: a whole number from 1 to 64, or ``auto``."""

    name = "1-64|auto"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | str:
        v = value
        if isinstance(value, str) and value != "auto":
            try:
                v = int(value)
            except ValueError:
                pass
        if not api.is_workers(v):  # the scenario option's own rule and words
            self.fail(f"{value!r} {api.NOT_WORKERS}", param, ctx)
        return v


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
    _LAST_WORKSPACE[0] = workspace


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
    except UnicodeDecodeError as e:  # e.g. a workbook given instead of a JSON file
        raise click.BadParameter(f"not JSON: not UTF-8 text ({e.reason} at byte "
                                 f"{e.start})") from None
    key = api.save_document(c.ws, window, doc, mode="upsert" if upsert else "insert")
    c.out({"saved": key}, "saved " + ", ".join(f"{k}={v}" for k, v in key.items()))


# -- providers ---------------------------------------------------------------------------
def _params(items: tuple[str, ...]) -> dict[str, Any]:
    """--param KEY=VALUE pairs; values are read as YAML (numbers, lists, true/false). A
    value that is not YAML (``[``, ``|``, ``#``) is taken as the text it is."""
    out = {}
    for item in items:
        k, v = _pair(item)
        out[k] = _yaml_value(v)
    return out


def _yaml_value(v: str) -> Any:
    import yaml

    if not v.strip():
        return v
    try:
        value = yaml.safe_load(v)
    except yaml.YAMLError:
        return v
    if value in (None, "") and v.strip() not in ("null", "Null", "NULL", "~", "''", '""'):
        return v  # '|', '>', '#...': YAML syntax that reads as nothing
    return value


@cli.group()
def provider() -> None:
    """Data providers and their file versions."""


@provider.command("add")
@click.argument("name")
@click.argument("file", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--type", "type_name", type=click.Choice(api.provider_types()),
              help="Provider type (default: from the file extension).")
@click.option("--param", "-p", multiple=True, help="KEY=VALUE parameter (repeatable).")
@pass_ctx
def provider_add(c: Ctx, name: str, file: tuple[str, ...], type_name: str | None,
                 param: tuple[str, ...]) -> None:
    """Create a provider from FILE; the file becomes version 1. Several files: one object
    per file, named after it (`-p sheets=all` on a workbook: one object per sheet)."""
    prov = api.add_provider(c.ws, name, list(file), type_name=type_name,
                            params=_params(param))
    objects = [o.name for o in prov.schema.objects]
    warnings = _settled(prov.schema)
    c.out({"provider": prov.name, "type": prov.type, "version": 1,
           "columns": prov.schema.columns(), "objects": objects, "warnings": warnings},
          "\n".join([f"provider {prov.name} ({prov.type}) created with version 1; "
                     f"{len(prov.schema.columns())} field(s)"
                     + (f" in {len(objects)} objects: {', '.join(objects)}"
                        if prov.parts else "")] +
                     [f"  settled: {w}" for w in warnings]))


def _settled(schema) -> list[str]:
    """What was settled reading the file(s) (header, names, skipped rows), per object when
    the provider has several."""
    return [f"{obj}: {w}" if obj else w for obj, lay in schema.layouts()
            for w in lay.warnings()]


@provider.command("upload")
@click.argument("name")
@click.argument("file", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--object", "object_name",
              help="The object FILE is a new version of (default: from its name).")
@pass_ctx
def provider_upload(c: Ctx, name: str, file: tuple[str, ...], object_name: str | None) -> None:
    """Add FILE as the next version (refused when its structure differs)."""
    fv = api.upload_version(c.ws, name, list(file), object_name=object_name)
    c.out(fv.to_dict(), f"provider {name}: version {fv.version} stored ({fv.size} bytes, "
          f"sha256 {fv.sha256[:12]})")


@provider.command("update-schema")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_ctx
def provider_update_schema(c: Ctx, name: str, file: str) -> None:
    """Take FILE's structure as the provider's schema (and add it as a version)."""
    diff, broken = api.update_schema(c.ws, name, file)
    c.out({"diff": diff, "broken_scenarios": broken},
          "\n".join(["schema updated:"] + ["  " + d for d in diff or ["(no change)"]] +
                     ([f"scenarios that no longer fit: {', '.join(broken)}"] if broken else [])))


@provider.command("set-type")
@click.argument("name")
@click.argument("field_name", metavar="FIELD")
@click.argument("type_name", metavar="TYPE",
                type=click.Choice(api.FIELD_TYPES))
@pass_ctx
def provider_set_type(c: Ctx, name: str, field_name: str, type_name: str) -> None:
    """Override the inferred type of a field."""
    api.set_field_type(c.ws, name, field_name, type_name)
    c.out({"provider": name, "field": field_name, "type": type_name},
          f"{name}.{field_name} is now {type_name}")


@provider.command("list")
@pass_ctx
def provider_list(c: Ctx) -> None:
    """List the providers."""
    for p in api.list_providers(c.ws):
        c.out({"name": p.name, "type": p.type, "simplified": p.simplified},
              f"{p.name:<24} {p.type:<6}{' (simplified)' if p.simplified else ''}")


@provider.command("show")
@click.argument("name")
@pass_ctx
def provider_show(c: Ctx, name: str) -> None:
    """Show a provider's parameters, schema and file versions."""
    p = api.load_provider(c.ws, name)
    vs = api.versions(c.ws, name)
    if c.as_json:
        c.out({**p.to_dict(), "versions": [v.to_dict() for v in vs]})
        return
    click.echo(f"provider {p.name} ({p.type}){' simplified' if p.simplified else ''}")
    click.echo("parameters:")
    for k, v in p.params.items():
        click.echo(f"  {k}: {v!r}")
    click.echo("schema:")
    for o in p.schema.objects:
        click.echo(f"  object {o.name}" + (f" ({o.path})" if o.path else ""))
        for f in o.fields:
            ml = f"({f.max_length})" if f.max_length else ""
            over = " (set by user)" if f.type_overridden else ""
            click.echo(f"    {f.name:<28} {f.type}{ml}{over}  e.g. {', '.join(f.samples)}")
    for obj, lay in p.schema.layouts():
        click.echo("layout" + (f" of object {obj}" if obj else "") +
                   " (of the file the schema was read from):")
        click.echo(f"  header: row {lay.header_row}" + (f" (line {lay.header_line})" if
                   lay.header_line != lay.header_row else "") +
                   (f", {lay.header_rows} rows" if lay.header_rows > 1 else "") +
                   (" (found by header_row: auto)" if lay.detected else "") +
                   (f"; {lay.rows} data row(s)" if lay.rows is not None else ""))
        for pre in lay.preamble:
            click.echo(f"  preamble line {pre['line']}: {' | '.join(pre['cells'])}")
        for w in lay.warnings():
            click.echo(f"  settled: {w}")
    click.echo("versions:")
    for v in vs:
        click.echo(f"  {v.version:>3}  {v.created:%Y-%m-%d %H:%M}  {v.user:<10} {v.size:>10} B "
                   f" {v.sha256[:12]}  {v.origin}: {v.original_name}")


@cli.command("latest")
@click.argument("provider_name", metavar="PROVIDER")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Copy it here.")
@pass_ctx
def latest_cmd(c: Ctx, provider_name: str, output: str | None) -> None:
    """Get the latest file version of a provider."""
    fv = api.latest_version(c.ws, provider_name, output)
    c.out({**fv.to_dict(), "output": output},
          f"version {fv.version}: {output or fv.path}")


# -- scenarios ---------------------------------------------------------------------------
@cli.group()
def scenario() -> None:
    """Import and export scenarios."""


@scenario.command("simplified")
@click.argument("name")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False))
@click.option("--window", required=True)
@click.option("--map", "maps", multiple=True,
              help="SOURCE=Object.Field (repeatable; a source may feed several fields).")
@click.option("--key", "keys", multiple=True, help="Object.Field of the summary (repeatable).")
@click.option("--suggest", is_flag=True, help="Map every source field to its suggestion.")
@click.option("--param", "-p", multiple=True, help="Provider KEY=VALUE parameter.")
@pass_ctx
def scenario_simplified(c: Ctx, name: str, file: str, window: str, maps: tuple[str, ...],
                        keys: tuple[str, ...], suggest: bool, param: tuple[str, ...]) -> None:
    """Create a provider and a simplified import scenario from FILE in one step."""
    mapping = [_pair(m) for m in maps]  # (source, target) lines: a source may repeat
    if suggest and not mapping:
        mapping = _suggested(c, file, window, _params(param))
    sc = api.create_simplified(c.ws, name, file, window, mapping, list(keys),
                               params=_params(param))
    c.out(sc.to_dict(), f"simplified scenario {sc.name} created for {sc.window} "
          f"({len(mapping)} field(s) mapped; keys: {', '.join(sc.keys) or 'none'})")


def _suggested(c: Ctx, file: str, window: str, params: dict[str, Any]
               ) -> list[tuple[str, str]]:
    sug = api.suggest_mapping_for_file(c.ws, file, window, params)
    return [(s, t) for s, t in sug.items() if t]


@scenario.command("new")
@click.argument("name")
@click.option("--provider", required=True)
@click.option("--window", required=True)
@click.option("--kind", type=click.Choice(["import", "export"]), default="import",
              show_default=True)
@pass_ctx
def scenario_new(c: Ctx, name: str, provider: str, window: str, kind: str) -> None:
    """Write a manual scenario with suggested mapping lines, to edit as YAML."""
    sc = api.new_scenario(c.ws, name, provider, window, kind)
    problems = api.check_scenario(c.ws, sc)
    c.out({"scenario": sc.to_dict(), "problems": problems},
          f"wrote scenarios/{name}.yaml ({len(sc.mapping)} mapping line(s)); edit it, then "
          f"`migration-kit scenario check {name}`" +
          "".join(f"\n  {p}" for p in problems))


@scenario.command("suggest")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False))
@click.option("--window", required=True)
@pass_ctx
def scenario_suggest(c: Ctx, file: str, window: str) -> None:
    """Suggest target fields for the columns of FILE."""
    sug = api.suggest_mapping_for_file(c.ws, file, window)
    for src, target in sug.items():
        c.out({"source": src, "target": target}, f"{src:<30} -> {target or '(none)'}")


@scenario.command("list")
@click.option("--kind", type=click.Choice(["import", "export"]))
@pass_ctx
def scenario_list(c: Ctx, kind: str | None) -> None:
    """Scenarios you may run (of windows you have access to)."""
    for sc in api.list_scenarios(c.ws, kind):
        st = api.status(c.ws, sc.name)
        c.out({"name": sc.name, "kind": sc.kind, "window": sc.window, "provider": sc.provider,
               "simplified": sc.simplified, "status": st},
              f"{sc.name:<24} {sc.kind:<6} {sc.window}  {sc.provider:<20} {st}"
              f"{'  (simplified)' if sc.simplified else ''}")


@scenario.command("show")
@click.argument("name")
@pass_ctx
def scenario_show(c: Ctx, name: str) -> None:
    """Show a scenario as YAML."""
    import yaml

    sc = api.show_scenario(c.ws, name)
    d = sc.to_dict()
    d["status"] = api.status(c.ws, name)
    c.out(d, yaml.safe_dump(d, sort_keys=False, allow_unicode=True).rstrip())


@scenario.command("check")
@click.argument("name")
@pass_ctx
def scenario_check(c: Ctx, name: str) -> None:
    """Check a scenario against its window and provider; every problem with its line."""
    try:
        sc = api.show_scenario(c.ws, name)
    except ScenarioError as e:  # unknown keys, wrong types: listed the same way
        problems = e.problems
    else:
        problems = api.check_scenario(c.ws, sc)
    c.out({"scenario": name, "problems": problems},
          "\n".join(problems) if problems else f"{name}: no problems")
    if problems:
        raise click.exceptions.Exit(2)


@scenario.command("convert")
@click.argument("name")
@pass_ctx
def scenario_convert(c: Ctx, name: str) -> None:
    """Convert a simplified scenario to a manual one (one-way)."""
    api.convert_to_manual(c.ws, name)
    c.out({"scenario": name, "simplified": False},
          f"{name} is now a manual scenario; edit scenarios/{name}.yaml")


# -- processes ---------------------------------------------------------------------------
@cli.command("prepare")
@click.argument("name")
@click.option("--version", type=LINE, help="File version (default: the latest).")
@pass_ctx
def prepare_cmd(c: Ctx, name: str, version: int | None) -> None:
    """Prepare the data of an import or export scenario."""
    sc = api.show_scenario(c.ws, name)
    if sc.kind == "export":
        s = api.prepare_export(c.ws, name, progress=not c.as_json)
    else:
        s = api.prepare(c.ws, name, version=version, progress=not c.as_json)
    c.out(s.to_dict(), str(s))


@cli.command("import")
@click.argument("name")
@click.option("--continue-on-error", is_flag=True, help="Go on after a record fails.")
@click.option("--validate-only", is_flag=True, help="Check every record; save nothing.")
@click.option("--save-only-if-valid", is_flag=True,
              help="Save nothing unless every record is valid.")
@click.option("--prepare", "prepare_first", is_flag=True, help="Prepare & Import in one step.")
@click.option("--sync", type=click.Choice(["full", "incremental"]),
              help="With --prepare: incremental imports only a newer file version.")
@click.option("--reuse", is_flag=True,
              help="With --prepare: re-use unfinished prepared data instead of discarding it.")
@click.option("--discard", is_flag=True,
              help="With --prepare: discard unfinished prepared data and prepare afresh.")
@click.option("--batch-size", type=click.IntRange(1, MAX_INT), help="Records per transaction.")
@click.option("--workers", type=Workers(),
              help="Import processes (on SQLite: of this machine; default: the scenario's "
                   "option workers, auto: 2 from 100,000 prepared lines). More may join "
                   "with `migration-kit worker NAME`.")
@pass_ctx
def import_cmd(c: Ctx, name: str, continue_on_error: bool, validate_only: bool,
               save_only_if_valid: bool, prepare_first: bool, sync: str | None, reuse: bool,
               discard: bool, batch_size: int | None, workers: int | str | None) -> None:
    """Import the prepared records (exit 1 when a record stops the run).

    With --prepare, unfinished prepared data of the same file version is discarded or
    re-used as the scenario's option discard_previous says (default: discarded), unless
    --reuse or --discard is given."""
    if reuse and discard:
        raise click.UsageError("give --reuse or --discard, not both")
    opts = {"continue_on_error": continue_on_error or None, "validate_only": validate_only,
            "save_only_if_valid": save_only_if_valid or None, "batch_size": batch_size,
            "workers": workers}
    if prepare_first:
        # None: the scenario's own option discard_previous decides
        discard_previous = False if reuse else True if discard else None
        r = api.prepare_and_import(c.ws, name, sync=sync, discard_previous=discard_previous,
                                   progress=not c.as_json, **opts)
        c.out(r.to_dict(), str(r))
        s = r.imported
        if s is None:
            return
    else:
        s = api.import_(c.ws, name, progress=not c.as_json, **opts)
        c.out(s.to_dict(), str(s))
    if s.stopped is not None or s.failed:
        if not c.as_json and s.failed and not s.stopped:
            for e in s.errors[:20]:
                click.echo(f"  line {e['line']} (record {e['record']}): {e['field']}: "
                           f"{e['message']}", err=True)
        raise click.exceptions.Exit(1)


@cli.command("worker")
@click.argument("name")
@click.option("--run", "run_id", type=LINE, help="Join this run (default: the running one).")
@click.option("--wait", type=click.FloatRange(0, 86400), default=0,
              help="Seconds to wait for a parallel import to start (default: do not wait).")
@click.option("--parent", type=LINE, hidden=True,
              help="Stop when this process is gone (the workers an import starts).")
@pass_ctx
def worker_cmd(c: Ctx, name: str, run_id: int | None, wait: float, parent: int | None) -> None:
    """Join a running parallel import of scenario NAME, from this or (PostgreSQL) another
    machine with the workspace's definitions and database; leave when no batch is left."""
    def waiting() -> None:  # on stderr: stdout holds the result (JSON with --json)
        click.echo(f"{name}: waiting up to {wait:g} s for a parallel import to start",
                   err=True)

    r = api.join_import(c.ws, name, run=run_id, parent=parent, wait=wait, on_wait=waiting)
    if r is None:
        c.out({"scenario": name, "run": None, "batches": 0},
              f"{name}: no parallel import is running; nothing to join")
    else:
        c.out({"scenario": name, "run": r.run_id, "batches": r.batches},
              f"{name}: worked on import run {r.run_id}: {r.batches} batch(es)")


@cli.command("export")
@click.argument("name")
@click.option("--prepare-only", is_flag=True, help="Only prepare the rows.")
@click.option("--no-prepare", is_flag=True, help="Export the rows prepared earlier.")
@pass_ctx
def export_cmd(c: Ctx, name: str, prepare_only: bool, no_prepare: bool) -> None:
    """Prepare and export: writes a new file version of the provider."""
    if prepare_only:
        s = api.prepare_export(c.ws, name, progress=not c.as_json)
        c.out(s.to_dict(), str(s))
        return
    s = api.export(c.ws, name, prepare_first=not no_prepare, progress=not c.as_json)
    c.out(s.to_dict(), str(s))
    if s.failed:
        raise click.exceptions.Exit(1)


@cli.command("status")
@click.argument("name")
@pass_ctx
def status_cmd(c: Ctx, name: str) -> None:
    """A scenario's status, prepared-data counts, what is not imported and why, and the
    first records in error."""
    st = api.status(c.ws, name)
    n = api.counts(c.ws, name)
    why = api.not_imported(c.ws, name)
    errs = api.error_records(c.ws, name)
    text = f"{name}: {st}; " + ", ".join(f"{k} {v}" for k, v in n.items())
    if why:
        text += "\nnot imported: " + "; ".join(f"{v} {k}" for k, v in why.items())
    for e in errs:
        text += (f"\n  line {e['line']} (record {e['record']}, {e['lines']} line(s)): "
                 f"{e['field']}: {e['message']}")
    c.out({"scenario": name, "status": st, **n, "not_imported": why,
           "errors_first": [{k: v for k, v in e.items()} for e in errs]}, text)


@cli.group()
def prepared() -> None:
    """Prepared data: look, correct, exclude."""


@prepared.command("list")
@click.argument("name")
@click.option("--errors", "errors_only", is_flag=True, help="Only records with errors.")
@click.option("--skipped", "skipped_only", is_flag=True,
              help="Only records marked Processed without an import (with the reason).")
@click.option("--offset", default=0, show_default=True, type=COUNT)
@click.option("--limit", default=50, show_default=True, type=COUNT)
@pass_ctx
def prepared_list(c: Ctx, name: str, errors_only: bool, skipped_only: bool, offset: int,
                  limit: int) -> None:
    """Prepared lines with Active, Processed, the record's line count and error message."""
    for ln in api.lines(c.ws, name, errors_only=errors_only, skipped_only=skipped_only,
                        offset=offset, limit=limit):
        flags = ("A" if ln.active else "-") + ("P" if ln.processed else "-")
        text = f"{ln.line:>6} rec {ln.record:<5} ({ln.record_lines or 1} ln) {flags}"
        if ln.error:
            text += f" ERROR {ln.error_field}: {ln.error}\n       "
        elif ln.note:
            text += f" ({ln.note})\n       "
        c.out(ln.to_dict(), text + " " + dumps(ln.values))


@prepared.command("set")
@click.argument("name")
@click.argument("line", type=LINE)
@click.argument("field_name", metavar="FIELD")
@click.argument("value")
@pass_ctx
def prepared_set(c: Ctx, name: str, line: int, field_name: str, value: str) -> None:
    """Correct a prepared value (the record's error is cleared)."""
    api.set_value(c.ws, name, line, field_name, value)
    c.out({"scenario": name, "line": line, "field": field_name, "value": value},
          f"line {line}: {field_name} = {value!r}")


@prepared.command("deactivate")
@click.argument("name")
@click.argument("line", type=LINE)
@pass_ctx
def prepared_deactivate(c: Ctx, name: str, line: int) -> None:
    """Clear Active on the record of LINE (it will not be imported)."""
    rec = api.set_active(c.ws, name, line, False)
    c.out({"scenario": name, "line": line, "record": rec, "active": False},
          f"record {rec} (line {line}) is no longer active")


@prepared.command("activate")
@click.argument("name")
@click.argument("line", type=LINE)
@pass_ctx
def prepared_activate(c: Ctx, name: str, line: int) -> None:
    """Set Active on the record of LINE."""
    rec = api.set_active(c.ws, name, line, True)
    c.out({"scenario": name, "line": line, "record": rec, "active": True},
          f"record {rec} (line {line}) is active")


@prepared.command("replace")
@click.argument("name")
@click.argument("column")
@click.argument("find")
@click.argument("replacement")
@click.option("--match-case", is_flag=True)
@click.option("--whole", is_flag=True, help="Match the whole value only.")
@click.option("--line", "lines", type=LINE, multiple=True, help="Only these lines.")
@pass_ctx
def prepared_replace(c: Ctx, name: str, column: str, find: str, replacement: str,
                     match_case: bool, whole: bool, lines: tuple[int, ...]) -> None:
    """Find and replace a value in one column of the prepared data."""
    n = api.replace(c.ws, name, column, find, replacement, match_case=match_case,
                    whole_value=whole, lines=list(lines) or None)
    c.out({"scenario": name, "column": column, "changed": n}, f"{n} value(s) changed")


@prepared.command("toggle-active")
@click.argument("name")
@click.option("--line", "lines", type=LINE, multiple=True, help="Lines (default: all).")
@pass_ctx
def prepared_toggle_active(c: Ctx, name: str, lines: tuple[int, ...]) -> None:
    """Flip Active on the records of the given lines."""
    n = api.toggle_active(c.ws, name, list(lines) or None)
    c.out({"scenario": name, "records": n}, f"Active flipped on {n} record(s)")


@prepared.command("clear-active-until-error")
@click.argument("name")
@pass_ctx
def prepared_clear_until_error(c: Ctx, name: str) -> None:
    """Clear Active on the records before the first record with an error."""
    n = api.clear_active_until_error(c.ws, name)
    c.out({"scenario": name, "records": n}, f"Active cleared on {n} record(s)")


@prepared.command("toggle-processed")
@click.argument("name")
@click.option("--line", "lines", type=LINE, multiple=True, required=True)
@pass_ctx
def prepared_toggle_processed(c: Ctx, name: str, lines: tuple[int, ...]) -> None:
    """Flip Processed on the records of the given lines (may cause a second import)."""
    n, warning = api.toggle_processed(c.ws, name, list(lines))
    click.echo(warning, err=True)
    c.out({"scenario": name, "records": n, "warning": warning},
          f"Processed flipped on {n} record(s)")


@prepared.command("clear-errors")
@click.argument("name")
@click.option("--line", "lines", type=LINE, multiple=True, help="Lines (default: all).")
@pass_ctx
def prepared_clear_errors(c: Ctx, name: str, lines: tuple[int, ...]) -> None:
    """Clear the error messages of the prepared records."""
    n = api.clear_errors(c.ws, name, list(lines) or None)
    c.out({"scenario": name, "records": n}, f"errors cleared on {n} record(s)")


@cli.group()
def valuemap() -> None:
    """Substitution lists used by formulas: =Map('NAME', [Field])."""


@valuemap.command("list")
@pass_ctx
def valuemap_list(c: Ctx) -> None:
    for name in api.valuemaps.list_valuemaps(c.ws):
        c.out({"name": name}, name)


@valuemap.command("show")
@click.argument("name")
@pass_ctx
def valuemap_show(c: Ctx, name: str) -> None:
    vm = api.valuemaps.load_valuemap(c.ws, name)
    lines = [f"{k} -> {v}" for k, v in vm["values"].items()]
    if vm["default"] is not None:
        lines.append(f"(default) -> {vm['default']}")
    c.out(vm, "\n".join(lines) or "(empty)")


@valuemap.command("set")
@click.argument("name")
@click.argument("legacy")
@click.argument("value")
@pass_ctx
def valuemap_set(c: Ctx, name: str, legacy: str, value: str) -> None:
    """Add or change LEGACY -> VALUE in the list NAME (created when missing)."""
    api.valuemaps.set_value(c.ws, name, legacy, value)
    c.out({"name": name, "legacy": legacy, "value": value}, f"{name}: {legacy} -> {value}")


@valuemap.command("remove")
@click.argument("name")
@click.argument("legacy")
@pass_ctx
def valuemap_remove(c: Ctx, name: str, legacy: str) -> None:
    api.valuemaps.remove_value(c.ws, name, legacy)
    c.out({"name": name, "removed": legacy}, f"{name}: {legacy} removed")


@valuemap.command("default")
@click.argument("name")
@click.argument("value")
@pass_ctx
def valuemap_default(c: Ctx, name: str, value: str) -> None:
    """The value used for legacy values missing from the list."""
    api.valuemaps.set_default(c.ws, name, value)
    c.out({"name": name, "default": value}, f"{name}: default -> {value}")


@cli.command("history")
@click.argument("name")
@pass_ctx
def history_cmd(c: Ctx, name: str) -> None:
    """The runs of a scenario: prepare, import, export, roll back."""
    for h in api.history_of(c.ws, name):
        c.out(h, f"{h['started']:%Y-%m-%d %H:%M:%S}  {h['action']:<9} {h['status']:<8} "
              f"{h['user']:<10} v{h['file_version'] or '-'}  {dumps(h['counts'])}"
              + (f"\n    first error: {h['first_error']}" if h["first_error"] else ""))


@cli.command("rollback")
@click.argument("name")
@pass_ctx
def rollback_cmd(c: Ctx, name: str) -> None:
    """Clear the history and prepared data (imported records are NOT reversed)."""
    r = api.rollback(c.ws, name)
    c.out(r, f"{name}: cleared {r['records_cleared']} prepared record(s) and "
          f"{r['history_cleared']} history entries. {r['note']}")


@cli.command("reconcile")
@click.argument("name")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="The HTML report (CSV and JSON beside it; default: "
                   "reports/NAME-reconcile.html in the workspace).")
@pass_ctx
def reconcile_cmd(c: Ctx, name: str, output: str | None) -> None:
    """Reconcile the import with the ERP: counts, control totals, documents that differ
    (exit 1 when a total or a document differs, naming the first documents)."""
    r = api.reconcile(c.ws, name, output=output)
    c.out(r.to_dict(), str(r))
    if not r.ok:
        click.echo(f"error: {r.message()}", err=True)
        raise click.exceptions.Exit(1)


@cli.command("undo")
@click.argument("name")
@click.option("--run", "run", type=int, default=None,
              help="The import run (its history id; default: the last run that created "
                   "documents).")
@click.option("--force", is_flag=True,
              help="Delete documents changed in the ERP after the import too.")
@click.option("--dry-run", is_flag=True, help="List what would be done; change nothing.")
@pass_ctx
def undo_cmd(c: Ctx, name: str, run: int | None, force: bool, dry_run: bool) -> None:
    """Delete the documents an import run created and mark their records not processed
    (refused, nothing changed, when other documents use them or one was changed after the
    import). Not the same as rollback."""
    r = api.undo(c.ws, name, run, force=force, dry_run=dry_run)
    c.out(r.to_dict(), str(r))
    if r.refused:  # only a dry run gets here refused: the real one raised
        raise click.exceptions.Exit(2)


# -- runbook -----------------------------------------------------------------------------
@cli.command("demo")
@click.option("--output", "-o", default="runs/demo", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the workspace and notebooks.")
@pass_ctx
def demo_cmd(c: Ctx, output: str) -> None:
    """Run the notebooks headless on the sample files in a fresh workspace."""
    from pathlib import Path

    from .demo import run_demo

    result = run_demo(Path(output), progress=not c.as_json)
    if c.as_json:
        c.out(result)


@cli.command("runbook")
@click.option("--notebooks", "notebooks_dir", default=None, type=click.Path(file_okay=False),
              help="Folder of NN_*.ipynb notebooks (default: the package's notebooks/).")
@click.option("--output", "-o", default="runs/runbook", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the executed notebooks.")
@click.option("--param", "-p", multiple=True,
              help="KEY=VALUE notebook parameter, value read as YAML (repeatable).")
@click.option("--kernel", "kernel_name", default=None, help="Kernel name (default: python3).")
@click.option("--timeout", type=float, default=None,
              help="Seconds a cell may run (default: no limit).")
@pass_ctx
def runbook_cmd(c: Ctx, notebooks_dir: str | None, output: str, param: tuple[str, ...],
                kernel_name: str | None, timeout: float | None) -> None:
    """Run the numbered notebooks with papermill (exit 1 when one fails)."""
    from pathlib import Path

    from . import runbook

    params = {"interactive": False, **_params(param)}
    done = runbook.run_runbook(Path(notebooks_dir) if notebooks_dir else runbook.NOTEBOOKS,
                               Path(output), params, kernel_name=kernel_name,
                               progress=not c.as_json, timeout=timeout)
    c.out({"notebooks": [str(p) for p in done]},
          "\n".join(f"executed: {p}" for p in done))


@cli.group("notebooks")
def notebooks_group() -> None:
    """The runbook notebooks that ship with the package."""


@notebooks_group.command("init")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite notebooks already in FOLDER.")
@pass_ctx
def notebooks_init(c: Ctx, folder: str, force: bool) -> None:
    """Copy the numbered runbook notebooks into FOLDER (a team's runbook; exit 2, nothing
    written, when one is already there, unless --force)."""
    from . import runbook

    written = runbook.init_notebooks(folder, force=force)
    c.out({"notebooks": [str(p) for p in written]},
          "\n".join(f"wrote: {p}" for p in written))


def _pair(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise click.BadParameter(f"{text!r}: expected NAME=VALUE")
    k, v = text.split("=", 1)
    return k.strip(), v


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map errors to exit codes; returns the exit code."""
    as_json = "--json" in (argv if argv is not None else sys.argv[1:])
    try:
        # Without standalone mode click returns the code of a click Exit instead of raising.
        rc = cli.main(args=argv, standalone_mode=False, prog_name="migration-kit")
        return rc if isinstance(rc, int) else 0
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
    except Exception as e:  # noqa: BLE001 - the exit-code contract: 4, a report, no traceback
        from .crash import write_report

        args = list(argv if argv is not None else sys.argv[1:])
        ws_dir = _LAST_WORKSPACE[0] or os.environ.get("MIGRATION_KIT_WORKSPACE") or "."
        report = write_report(e, args, ws_dir)
        line = f"internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if as_json:
            click.echo(dumps({"error": "InternalError", "message": line,
                              "crash_report": str(report)}), err=True)
        else:
            click.echo(f"{line} (crash report: {report})", err=True)
        return 4


if __name__ == "__main__":
    sys.exit(main())
