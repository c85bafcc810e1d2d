"""Fuzzing the front door: hypothesis makes scenario YAML, provider parameters, command
lines and CSV bytes, and runs the CLI on them. Every run ends with an exit code (0 done,
1 a run stopped on a record, 2 refused, 3 denied; 4 would be an internal error, which bad
input must never cause), prints no traceback, and a refused run (2, 3) leaves the workspace
byte for byte as it was: every table, every file.

Most runs call ``migration_kit.cli.main`` in this process (a subprocess costs seconds): an
internal error there is exit 4 with a crash report, and an exception escaping ``main`` would
be a traceback; both fail the test. A few run the real entry point in
a child process. SQLite only. ``MK_FUZZ_EXAMPLES`` scales the number of examples.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from migration_kit import api
from migration_kit.cli import main
from migration_kit.workspace import Workspace

from .helpers import (
    BAD,
    INVOICE_COLUMNS,
    ROOT,
    TEMPLATES,
    child_env,
    dump_files,
    dump_tables,
    invoice_scenario,
    master_workspace,
)

SCALE = float(os.environ.get("MK_FUZZ_EXAMPLES", "1"))
FUZZ = settings(deadline=None, derandomize=False, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def examples(n: int) -> settings:
    return settings(FUZZ, max_examples=max(1, int(n * SCALE)))


# -- the workspace every example starts from ------------------------------------------------
@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Iterator[Path]:
    """Master data, the simplified invoice scenario ``inv`` (prepared, not imported) and the
    manual ``customers`` scenario (imported); inputs next to it."""
    root = tmp_path_factory.mktemp("fuzz")
    old = {k: os.environ.pop(k, None) for k in ("MIGRATION_KIT_USER", "MIGRATION_KIT_DB",
                                                "MIGRATION_KIT_WORKSPACE")}
    os.environ["MIGRATION_KIT_PROGRESS"] = "0"
    ws = master_workspace(root / "ws", None)  # state.sqlite inside: copies are independent
    assert "database" not in ws.settings
    invoice_scenario(ws, "inv", BAD / "good.csv")
    api.prepare(ws, "inv", progress=False)
    _BASE_TABLES["tables"] = dump_tables(ws)
    ws.dispose()
    inputs = root / "in"
    inputs.mkdir()
    for f in ("customers.csv", "stock_items.xlsx", "sales_invoices.xml", "accounts.csv"):
        shutil.copy(TEMPLATES / "samples" / f, inputs)
    shutil.copy(BAD / "good.csv", inputs / "invoices.csv")
    shutil.copy(BAD / "zip_renamed.csv", inputs / "zip.csv")
    (inputs / "empty.csv").write_bytes(b"")
    (inputs / "doc.json").write_text('{"Customer": {"CustomerID": "Z1"}}', encoding="utf-8")
    for name, text in JSON_DOCS.items():
        (inputs / name).write_text(text, encoding="utf-8")
    (inputs / "folder").mkdir()
    yield root
    for k, v in old.items():
        if v is not None:
            os.environ[k] = v


JSON_DOCS = {"bad.json": '{"Customer": [1, 2]', "list.json": "[1]", "text.json": '"x"',
             "lines.json": '{"Document": {"ReferenceNbr": "X"}, "Line": {"a": 1}}',
             "line.json": '{"Document": {"ReferenceNbr": "X"}, "Line": [1, null]}',
             "key.json": '{"Customer": {"CustomerID": [1], "CustomerName": {"a": 1}}}'}


@contextlib.contextmanager
def copy_of(base: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        ws = Path(tmp) / "ws"
        shutil.copytree(base / "ws", ws)
        yield ws


_BASE_TABLES: dict[str, dict] = {}  # the tables of the base workspace, dumped once


def snapshot(ws: Path, *, fresh_copy: bool = False):
    """Every table and file of the workspace. ``fresh_copy``: the database is still the
    base's (an untouched copy), whose tables were dumped once."""
    files = dump_files(ws)
    if fresh_copy and "tables" in _BASE_TABLES:
        return _BASE_TABLES["tables"], files
    w = Workspace(ws)
    try:
        return dump_tables(w), files
    finally:
        w.dispose()


class Run:
    def __init__(self, argv: list[str], rc: int | None, out: str, err: str, crash: str):
        self.argv, self.rc, self.out, self.err, self.crash = argv, rc, out, err, crash

    def __str__(self) -> str:
        return (f"migration-kit {' '.join(map(repr, self.argv))} -> exit {self.rc}\n"
                f"stdout: {self.out[-2000:]}\nstderr: {self.err[-2000:]}\n{self.crash}")


def cli(ws: Path, argv: list[str]) -> Run:
    """``migration_kit.cli.main`` in this process; its workspaces are closed afterwards."""
    opened: list[Workspace] = []
    real = api.open_workspace

    def tracked(*a, **kw):
        w = real(*a, **kw)
        opened.append(w)
        return w

    out, err = io.StringIO(), io.StringIO()
    rc, crash = None, ""
    api.open_workspace = tracked
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["-w", str(ws), *argv])
    except SystemExit as e:  # click may still exit on --help / --version
        rc = e.code if isinstance(e.code, int) else 2
    except BaseException:  # noqa: BLE001 - what would be a traceback
        crash = traceback.format_exc()
    finally:
        api.open_workspace = real
        for w in opened:
            w.dispose()
    return Run(argv, rc, out.getvalue(), err.getvalue(), crash)


def check(run: Run, before, ws: Path) -> None:
    """The promises of the front door for one run."""
    command = next((a for a in run.argv if not a.startswith("-")), "")
    if currently_in_test_context():
        event(f"{command}: exit {run.rc}")  # seen with --hypothesis-show-statistics
    assert not run.crash, f"an exception escaped the CLI (a traceback):\n{run}"
    assert run.rc in range(0, 5), f"exit code out of 0..4:\n{run}"
    assert run.rc != 4, f"an internal error on bad input (should be refused, exit 2):\n{run}"
    assert "Traceback" not in run.out + run.err, f"a traceback was printed:\n{run}"
    if run.rc in (2, 3):
        assert snapshot(ws) == before, f"a refused run changed the workspace:\n{run}"


def run_and_check(ws: Path, *argvs: list[str]) -> list[Run]:
    """Run each command line on the (fresh) copy ``ws`` and check it."""
    runs = []
    untouched = True  # the database is the base's until a run succeeds or stops
    for argv in argvs:
        before = snapshot(ws, fresh_copy=untouched)
        r = cli(ws, argv)
        check(r, before, ws)
        untouched = untouched and r.rc in (2, 3)
        runs.append(r)
    return runs


# -- strategies -----------------------------------------------------------------------------
def _edits(word: str) -> st.SearchStrategy[str]:
    """Near misses of a key: one letter dropped, doubled or swapped."""
    forms = {word[:i] + word[i + 1:] for i in range(len(word))}
    forms |= {word[:i] + word[i] + word[i:] for i in range(len(word))}
    forms |= {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)}
    return st.sampled_from(sorted(forms - {word}))


OPTIONS = ["break_on_error", "break_on_incorrect_target", "mode", "locale", "batch_size",
           "sync", "discard_previous", "save_only_if_valid", "grouping", "continuation_rows",
           "today", "neutralise_formulas"]
TOP = ["name", "kind", "simplified", "description", "window", "provider", "options", "keys",
       "objects", "mapping", "restrictions", "target_restrictions"]
GOOD = {"mode": ["insert", "upsert"], "locale": ["de-DE", "nb-NO", "invariant"],
        "batch_size": [1, 2, 500], "sync": ["full", "incremental"],
        "grouping": ["key", "consecutive"], "today": ["2024-03-01"],
        "kind": ["import", "export"], "window": ["AR301000", "AR303000", "GL301000"],
        "provider": ["inv", "customers", "nope"]}
FORMULAS = st.one_of(
    st.text(max_size=25).map(lambda t: "=" + t),
    st.sampled_from(["=[", "=Left([InvoiceNbr]", "=1/0", "=CDate('x')", "=Map('nope', [Qty])",
                     "=" + "(" * 400 + "1" + ")" * 400, "=IIf([Qty] > 1, 'a')",
                     "=[Qty] * [UnitPrice]", "=Today()", "=''", "=[InvoiceNbr] & 'x'",
                     "=__import__('os')", "=[Qty].__class__", "=Round([Qty], 99999999)",
                     "=PadLeft([Qty], 100000000, '0')", "=DateAdd('d', 1e308, Today())"]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**12), st.text(max_size=12),
                    st.floats(allow_nan=True), st.dates(), FORMULAS)
VALUES = st.recursive(SCALARS, lambda c: st.one_of(
    st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c, max_size=3)),
    max_leaves=6)
RESTRICTION = st.fixed_dictionaries(
    {"field": st.sampled_from(["Customer", "Qty", "InvoiceDate", "Nope", "Document.Date"]),
     "condition": st.sampled_from(["equals", "between", "in", "greater", "is_empty",
                                   "contains", "bogus"])},
    optional={"value": SCALARS, "values": st.lists(SCALARS, max_size=3),
              "op": st.sampled_from(["and", "or", "xor"]), "open": st.integers(0, 3),
              "close": st.integers(0, 3), "active": st.booleans()})


@st.composite
def mutated(draw, d: dict) -> str:
    """The YAML text of a working scenario ``d`` after a few random changes."""
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["option", "option", "top", "unknown", "delete", "mapping",
                                     "restriction"]))
        if kind == "option":
            key = draw(st.sampled_from(OPTIONS))
            value = draw(st.one_of(st.sampled_from(GOOD.get(key, [True, False])), VALUES))
            d.setdefault("options", {})
            if isinstance(d["options"], dict):
                d["options"][key] = value
        elif kind == "top":
            key = draw(st.sampled_from(TOP))
            d[key] = draw(st.one_of(st.sampled_from(GOOD.get(key, [None])), VALUES))
        elif kind == "unknown":
            where = draw(st.sampled_from(["top", "options", "mapping"]))
            if where == "top":
                d[draw(_edits(draw(st.sampled_from(TOP))))] = draw(SCALARS)
            elif where == "options" and isinstance(d.get("options"), dict):
                d["options"][draw(_edits(draw(st.sampled_from(OPTIONS))))] = draw(SCALARS)
            elif isinstance(d.get("mapping"), list) and d["mapping"]:
                line = d["mapping"][draw(st.integers(0, len(d["mapping"]) - 1))]
                if isinstance(line, dict):
                    line[draw(_edits(draw(st.sampled_from(["source", "target", "active"]))))] = 1
        elif kind == "delete":
            d.pop(draw(st.sampled_from(TOP)), None)
        elif kind == "mapping" and isinstance(d.get("mapping"), list) and d["mapping"]:
            i = draw(st.integers(0, len(d["mapping"]) - 1))
            target = d["mapping"][i].get("target") if isinstance(d["mapping"][i], dict) else None
            d["mapping"][i] = draw(st.one_of(
                st.fixed_dictionaries({"target": st.just(target), "source": FORMULAS}),
                st.fixed_dictionaries({"target": st.sampled_from(["Document.Date", "Line.X",
                                                                  "Nope"])},
                                      optional={"source": SCALARS, "constant": SCALARS,
                                                "ignore_error": st.booleans(),
                                                "action": st.sampled_from(["Save", "Boom"])}),
                VALUES))
        elif kind == "restriction":
            d[draw(st.sampled_from(["restrictions", "target_restrictions"]))] = draw(
                st.lists(st.one_of(RESTRICTION, VALUES), max_size=3))
    text = yaml.safe_dump(d, sort_keys=False, allow_unicode=True)
    if draw(st.integers(0, 9)) == 0:  # sometimes the text itself is broken
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.text(max_size=10)) + text[cut:]
    return text


@examples(30)
@given(data=st.data(), name=st.sampled_from(["inv", "customers"]),
       extra=st.lists(st.sampled_from(["--continue-on-error", "--validate-only",
                                       "--save-only-if-valid", "--reuse", "--discard",
                                       "--sync=incremental", "--batch-size=1"]), max_size=2))
def test_scenario_yaml(base, data, name, extra):
    path = base / "ws" / "scenarios" / f"{name}.yaml"
    text = data.draw(mutated(yaml.safe_load(path.read_text(encoding="utf-8"))), label="yaml")
    with copy_of(base) as ws:
        (ws / "scenarios" / f"{name}.yaml").write_text(text, encoding="utf-8")
        checked, _ = run_and_check(ws, ["scenario", "check", name],
                                   ["import", name, "--prepare", *extra])
        if checked.rc == 2:  # refused: the problems are printed
            assert (checked.out + checked.err).strip(), str(checked)


# -- provider parameters ----------------------------------------------------------------------
PARAMS = ["encoding", "delimiter", "quotechar", "header_row", "skip_rows", "null_values",
          "decimal_separator", "date_format", "tolerate_ragged", "line_terminator",
          "max_bytes", "sheet", "date1904", "sheets", "record_path", "detail_paths",
          "namespaces", "max_depth"]
PARAM_TEXT = st.one_of(
    st.sampled_from(["auto", "abc", "0", "-1", "1", "2", "99999999999999999999", "true",
                     "null", "[]", "[NA, '']", "{a: b}", ";", "|", "\\t", "utf-16", "cp1252",
                     "nope-codec", "rot13", "utf-7", "%d.%m.%Y", "%Q", ",", "", "[", "all",
                     "/Invoices/Invoice", "//", "Sheet1", "Items", "1e3", "1.5", "0x10"]),
    st.text(max_size=8))
PARAM_PAIR = st.tuples(st.one_of(st.sampled_from(PARAMS),
                                 st.sampled_from(PARAMS).flatmap(_edits),
                                 st.text(min_size=1, max_size=6)),
                       PARAM_TEXT).map(lambda kv: f"{kv[0]}={kv[1]}")


@examples(25)
@given(file=st.sampled_from(["customers.csv", "stock_items.xlsx", "sales_invoices.xml",
                             "invoices.csv"]),
       pairs=st.lists(PARAM_PAIR, min_size=1, max_size=3),
       how=st.sampled_from(["add", "simplified"]))
def test_provider_parameters(base, file, pairs, how):
    params = [a for p in pairs for a in ("-p", p)]
    path = str(base / "in" / file)
    with copy_of(base) as ws:
        if how == "add":
            argv = ["provider", "add", "fuzzed", path, *params]
        else:
            argv = ["scenario", "simplified", "fuzzed", "--file", path, "--window", "AR301000",
                    "--suggest", *params]
        (run,) = run_and_check(ws, argv)
        assert run.rc in (0, 2), str(run)


# -- command lines ----------------------------------------------------------------------------
def _args(*parts) -> st.SearchStrategy[list[str]]:
    """A command line: each part a word, a strategy of words, of lists of words (flags),
    or of None (no flag)."""
    def flat(t: tuple) -> list[str]:
        out: list[str] = []
        for x in t:
            if isinstance(x, list):
                out += x
            elif x is not None:
                out.append(str(x))
        return out

    return st.tuples(*[p if isinstance(p, st.SearchStrategy) else st.just(p)
                       for p in parts]).map(flat)


VALID_NAMES = st.sampled_from(["inv", "customers", "accounts", "stock_items"])
NAMES = st.one_of(VALID_NAMES, VALID_NAMES,
                  st.sampled_from(["nope", "../x", "a/b", ".", "..", "", " ", "x" * 120, "ÆØÅ",
                                   "CON", "inv.yaml", "-x"]), st.text(max_size=8))
WINDOWS = st.one_of(st.sampled_from(["AR301000", "AR303000", "GL202500", "XX", ""]),
                    st.text(max_size=6))
INTS = st.one_of(st.integers(-3, 12).map(str),
                 st.sampled_from(["x", "", "1.5", "9" * 30, str(2**63), str(2**63 - 1)]))
TEXT = st.one_of(st.sampled_from(["C004", "Customer", "Qty", "", "=1/0", "\x00"]),
                 st.text(max_size=10))
FIELDS = st.one_of(st.sampled_from(["Customer", "Qty", "InvoiceDate", "Document.Date",
                                    "Row.Customer", "Nope"]), st.text(max_size=6))
FILES = st.sampled_from(["customers.csv", "stock_items.xlsx", "sales_invoices.xml",
                         "invoices.csv", "zip.csv", "empty.csv", "doc.json", "folder",
                         "missing.csv", *JSON_DOCS])
WHERE = st.tuples(st.sampled_from(["CustomerID", "ReferenceNbr", "Date", "CreditLimit",
                                   "Status", "Nope", ""]), TEXT).map("=".join)


FILE = "\x00file:"  # marks a file of the inputs folder in a generated command line


def _file(base: Path, name: str) -> str:
    return str(base / "in" / name)


COMMANDS = st.one_of(
    _args("erp", "windows"), _args("erp", "show", WINDOWS),
    _args("erp", "list", WINDOWS, "--where", WHERE),
    _args("erp", "save", WINDOWS, FILES.map(lambda f: FILE + f), st.sampled_from([None, "--upsert"])),
    _args("provider", "list"), _args("provider", "show", NAMES),
    _args("provider", "add", NAMES, FILES.map(lambda f: FILE + f)),
    _args("provider", "upload", NAMES, FILES.map(lambda f: FILE + f)),
    _args("provider", "update-schema", NAMES, FILES.map(lambda f: FILE + f)),
    _args("provider", "set-type", NAMES, FIELDS,
          st.sampled_from(["string", "integer", "decimal", "date", "boolean", "blob"])),
    _args("latest", NAMES),
    _args("latest", NAMES, "--output", st.sampled_from(
        ["out.csv", "nodir/out.csv", "folder", "folder/out.csv"]).map(lambda f: FILE + f)),
    _args("scenario", "list"), _args("scenario", "show", NAMES),
    _args("scenario", "check", NAMES), _args("scenario", "convert", NAMES),
    _args("scenario", "new", NAMES, "--provider", NAMES, "--window", WINDOWS,
          st.sampled_from(["--kind=import", "--kind=export", "--kind=other"])),
    _args("scenario", "suggest", "--file", FILES.map(lambda f: FILE + f), "--window", WINDOWS),
    _args("scenario", "simplified", NAMES, "--file", FILES.map(lambda f: FILE + f), "--window",
          WINDOWS, "--key", FIELDS, "--map", st.tuples(FIELDS, FIELDS).map("=".join)),
    _args("prepare", NAMES, st.sampled_from([None, "--version=1", "--version=0", "--version=9"])),
    _args("import", NAMES, st.lists(st.sampled_from(
        ["--continue-on-error", "--validate-only", "--save-only-if-valid", "--prepare",
         "--reuse", "--discard", "--sync=full", "--sync=incremental", "--sync=bogus",
         "--batch-size=0", "--batch-size=2", "--batch-size=x"]), max_size=3)),
    _args("export", NAMES, st.sampled_from([None, "--prepare-only", "--no-prepare"])),
    _args("status", NAMES), _args("history", NAMES), _args("rollback", NAMES),
    _args("prepared", "list", NAMES, "--offset", INTS, "--limit", INTS,
          st.sampled_from([None, "--errors", "--skipped"])),
    _args("prepared", "set", NAMES, INTS, FIELDS, TEXT),
    _args("prepared", st.sampled_from(["activate", "deactivate"]), NAMES, INTS),
    _args("prepared", "replace", NAMES, FIELDS, TEXT, TEXT,
          st.sampled_from([None, "--whole", "--match-case"])),
    _args("prepared", st.sampled_from(["toggle-active", "toggle-processed", "clear-errors"]),
          NAMES, "--line", INTS),
    _args("prepared", "clear-active-until-error", NAMES),
    _args("valuemap", "list"), _args("valuemap", "show", NAMES),
    _args("valuemap", "set", NAMES, TEXT, TEXT), _args("valuemap", "remove", NAMES, TEXT),
    _args("valuemap", "default", NAMES, TEXT),
)
GLOBAL = st.lists(st.sampled_from(["--json", "--user=admin", "--user=nobody", "--user="]),
                  max_size=2)


def _argv(base: Path, glob: list[str], cmd: list[str], junk: list[str]) -> list[str]:
    return [*glob, *(_file(base, a[len(FILE):]) if a.startswith(FILE) else a for a in cmd),
            *junk]


@examples(45)
@given(glob=GLOBAL, cmd=COMMANDS,
       junk=st.one_of(st.just([]), st.just([]), st.just([]),
                      st.lists(st.one_of(st.text(max_size=6), st.just("--bogus")),
                               min_size=1, max_size=1)))
def test_command_lines(base, glob, cmd, junk):
    with copy_of(base) as ws:
        run_and_check(ws, _argv(base, glob, cmd, junk))


# -- CSV bytes ---------------------------------------------------------------------------------
CELLS = st.one_of(st.text(max_size=10),
                  st.sampled_from(["", "C001", "C999", "INV-2001", "2024-03-01", "01.03.2024",
                                   "1,5", "1.5", "-1", "1e400", "NaN", "=1+1", '"', '""',
                                   "a\nb", "\r", "\x00", "\ufeff", "😀", "3000", "FISH-01"]))


# a row of INVOICE_COLUMNS that is often right and sometimes wrong in one cell or another
PLAUSIBLE = st.tuples(
    st.sampled_from(["INV-3001", "INV-3002", "INV-3003", ""]),
    st.sampled_from(["C001", "C002", "C004", "C005", "C999", ""]),
    st.sampled_from(["2024-03-01", "2024-03-05", "2024-13-01", "01.03.2024", ""]),
    st.sampled_from(["2024-04-30", "2024-02-01", ""]), CELLS,
    st.sampled_from(["FISH-01", "BREAD-01", "NOPE-9", ""]), CELLS,
    st.sampled_from(["1", "2", "0", "-1", "abc", "1e400", "1,5"]),
    st.sampled_from(["10.00", "99999999999999999999.99", "1,5", "-3", ""]),
    st.sampled_from(["0", "5", "150", ""]), st.sampled_from(["3000", "3100", "9999", ""]),
).map(list)


@st.composite
def csv_bytes(draw) -> bytes:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=400))
    header = list(INVOICE_COLUMNS)
    if draw(st.integers(0, 5)) == 0:
        header[draw(st.integers(0, len(header) - 1))] = draw(st.text(max_size=6))
    width = st.one_of(st.just(len(header)), st.integers(len(header) - 1, len(header) + 1))
    rows = draw(st.lists(st.one_of(
        PLAUSIBLE, PLAUSIBLE, width.flatmap(lambda n: st.lists(CELLS, min_size=n, max_size=n))),
        max_size=6))
    ids = itertools.cycle(["INV-3001", "INV-3002", ""])
    for r in rows:
        if r and draw(st.booleans()):
            r[0] = next(ids)
    delim = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(delim.join(_quote(c, delim) for c in r) for r in [header, *rows]) + end
    enc = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    return text.encode(enc, errors="replace")


def _quote(v: str, delim: str) -> str:
    if any(ch in v for ch in (delim, '"', "\n", "\r")):
        return '"' + v.replace('"', '""') + '"'
    return v


@examples(30)
@given(data=csv_bytes(), how=st.sampled_from(["upload", "add", "simplified"]))
def test_csv_bytes(base, data, how):
    with copy_of(base) as ws:
        f = ws.parent / "fuzzed.csv"
        f.write_bytes(data)
        if how == "upload":
            (up,) = run_and_check(ws, ["provider", "upload", "inv", str(f)])
            if up.rc == 0:
                run_and_check(ws, ["import", "inv", "--prepare"], ["status", "inv"])
        elif how == "add":
            run_and_check(ws, ["provider", "add", "fuzzed", str(f)])
        else:
            maps = ["--map", "InvoiceNbr=Document.ReferenceNbr", "--map",
                    "Customer=Document.CustomerID"]
            (sc,) = run_and_check(ws, ["scenario", "simplified", "fuzzed", "--file", str(f),
                                       "--window", "AR301000", "--key",
                                       "Document.ReferenceNbr", *maps])
            if sc.rc == 0:
                run_and_check(ws, ["import", "fuzzed", "--prepare", "--continue-on-error"])


# -- the real entry point ----------------------------------------------------------------------
@examples(5)
@given(glob=GLOBAL, cmd=COMMANDS)
def test_real_entry_point_prints_no_traceback(base, glob, cmd):
    """A few command lines through ``python -m migration_kit.cli`` in a child process."""
    argv = _argv(base, glob, cmd, [])
    assume(not any("\x00" in a for a in argv))  # not passable to a child process
    with copy_of(base) as ws:
        before = snapshot(ws, fresh_copy=True)
        p = subprocess.run([sys.executable, "-m", "migration_kit.cli", "-w", str(ws), *argv],
                           cwd=ROOT, env=child_env(), capture_output=True, text=True,
                           timeout=120)
        run = Run(argv, p.returncode, p.stdout, p.stderr, "")
        check(run, before, ws)


# -- what fuzzing found, kept as plain cases ------------------------------------------------------
FOUND = [  # (command line, exit code); each was a traceback or a refusal that changed things
    (["provider", "add", "x", "@customers.csv", "-p", "x=["], 2),  # YAML error in -p
    (["provider", "add", "x", "@customers.csv", "-p", "header_row=abc"], 2),  # ValueError
    (["provider", "add", "x", "@customers.csv", "-p", "max_bytes=auto"], 2),  # int('auto')
    (["erp", "save", "AR301000", "@stock_items.xlsx"], 2),  # UnicodeDecodeError
    (["erp", "save", "AR303000", "@list.json"], 1),  # AttributeError: not a mapping
    (["erp", "save", "AR303000", "@text.json", "--upsert"], 1),
    (["erp", "save", "AR301000", "@lines.json"], 1),  # TypeError: lines not a list
    (["erp", "save", "AR301000", "@line.json"], 1),  # TypeError: a line not a record
    (["erp", "save", "AR303000", "@key.json", "--upsert"], 1),
    (["erp", "list", "AR301000", "--where", "Nope=1"], 2),  # KeyError
    (["erp", "list", "AR301000", "--where", "Date=x"], 2),  # a DataError on PostgreSQL
    (["prepared", "list", "inv", "--limit", "9" * 20], 2),  # OverflowError (SQLite)
    (["prepared", "list", "inv", "--limit", "-1"], 2),  # LIMIT -1: an error on PostgreSQL
    (["prepared", "set", "inv", str(2**63), "Customer", "x"], 2),
    (["import", "inv", "--batch-size", "0"], 2),
    (["latest", "inv", "--output", "@nodir/x.csv"], 2),  # FileNotFoundError
    (["scenario", "simplified", "s", "--file", "@invoices.csv", "--window", "AR301000",
      "--map", "Nope=Document.ReferenceNbr", "--key", "Document.ReferenceNbr"], 2),  # left
    # provider s and its file version behind
    (["scenario", "simplified", "s", "--file", "@invoices.csv", "--window", "AR301000",
      "--suggest", "--key", "Document.ReferenceNbr", "-p", "delimeter=;"], 2),
    (["scenario", "suggest", "--file", "@missing.csv", "--window", "AR301000"], 2),
]


@pytest.mark.parametrize("argv, rc", FOUND, ids=[" ".join(a[:3]) + f" {i}"
                                                 for i, (a, _) in enumerate(FOUND)])
def test_found_by_fuzzing(base, argv, rc):
    with copy_of(base) as ws:
        (run,) = run_and_check(ws, [_file(base, a[1:]) if a.startswith("@") else a
                                    for a in argv])
        assert run.rc == rc, str(run)
        assert run.err.startswith(("error:", "Usage:")), str(run)
