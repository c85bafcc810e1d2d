"""The two import engines give the same results: differential property tests.

``engine: rows`` is the reference (record by record: ``ImportMapping.document`` and
``DocumentValidator.check``); ``engine: columns`` checks a batch column by column and sends
only the records with a flagged cell through the row path. Each example writes a random
flat invoice file (tests/engine/engines_data.py) with bad cells in it, imports it into two
fresh workspaces that differ only in the scenario's ``engine`` option, under options drawn
at random, and compares everything either run leaves behind: the ERP's tables, the
prepared data, the import ledger, the history, the summaries and the error that stopped
the run. Only ``ImportSummary.engine`` and ``row_checked`` (and the history's copy of
``row_checked``) may differ.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import select

from migration_kit import api, db
from migration_kit.errors import MigrationError
from migration_kit.workspace import Workspace

from ..helpers import load_master
from .engines_data import HEADER, MAP, PARAMS, InvoiceFile, invoice_files

SCENARIO = "invoices"
WINDOW = "AR301000"
ENGINES = ("rows", "columns")
# function_scoped_fixture: the only one is conftest's autouse ``quiet`` (an environment
# variable), the same for every example; each example makes its own workspaces.
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A workspace with the sample accounts, customers and stock items imported, copied for
    every run (so each example starts from the same ERP without importing them again)."""
    root = tmp_path_factory.mktemp("engines") / "template"
    ws = Workspace.init(root)
    try:
        load_master(ws)
    finally:
        ws.dispose()
    return root


# -- running one engine --------------------------------------------------------------------
def outcome(call) -> dict[str, Any]:
    """What an API call gave: its summary as a dict (without what may differ between the
    engines), or the error it raised."""
    try:
        s = call()
    except MigrationError as e:
        return {"raised": type(e).__name__, "message": str(e)}
    if s is None:
        return {"result": None}
    d = s.to_dict()
    if "engine" in d:  # an ImportSummary
        d.pop("engine")
        d.pop("row_checked")
        stopped = s.stopped
        d["stopped_error"] = None if stopped is None else {
            "text": str(stopped), "line": stopped.line, "record": stopped.record,
            "key": stopped.key, "field": stopped.field_name}
    return d


def run_engine(template: Path, base: Path, engine: str, file: Path, opts: dict[str, Any]
               ) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
    """Copy the template, create the simplified scenario with ``engine``, and run
    ``opts["steps"]``; returns (the outcome of every step, the state after each step, the
    engines each import reported)."""
    root = base / engine
    shutil.copytree(template, root)
    ws = api.open_workspace(root)
    try:
        options = {"engine": engine, "break_on_error": opts["break_on_error"],
                   "mode": opts["mode"], "batch_size": opts["batch_size"],
                   "save_only_if_valid": opts["save_only_if_valid"],
                   "grouping": opts["grouping"]}
        if opts["locale"]:
            options["locale"] = opts["locale"]
        api.create_simplified(ws, SCENARIO, file, WINDOW, MAP, ["Document.ReferenceNbr"],
                              params=PARAMS, options=options)
        outcomes, states, engines = [], [], []
        for step in opts["steps"]:
            if step == "prepare":
                outcomes.append(outcome(lambda: api.prepare(ws, SCENARIO, progress=False)))
            elif step == "new_version":
                # the nightly re-drop: the same rows in reverse order as version 2 (the
                # records' lines in another order: changed, for mode upsert)
                v = api.upload_version(ws, SCENARIO, file.with_name("invoices_v2.csv"))
                outcomes.append({"version": v.version})
            elif step == "drain":
                # clear Active on the records in error and import what is left, until a
                # run stops on nothing: the runs that go on after a stop
                runs = []
                for _ in range(10):
                    bad = [ln.line for ln in api.lines(ws, SCENARIO, errors_only=True,
                                                       limit=None)]
                    for line in bad:
                        api.set_active(ws, SCENARIO, line, False)
                    got = imports(ws, opts, engines)
                    runs.append({"deactivated": bad, "import": got})
                    if got.get("stopped") is None:
                        break
                outcomes.append(runs)
            else:  # import
                outcomes.append(imports(ws, opts, engines))
            states.append(state(ws))
        return outcomes, states, engines
    finally:
        ws.dispose()


def imports(ws: Workspace, opts: dict[str, Any], engines: list) -> dict[str, Any]:
    got = {}

    def call():
        got["summary"] = api.import_(ws, SCENARIO, validate_only=opts["validate_only"],
                                     progress=False)
        return got["summary"]

    out = outcome(call)
    if "summary" in got:
        engines.append((got["summary"].engine, got["summary"].row_checked))
    return out


# -- what a workspace holds ----------------------------------------------------------------
def erp_tables(ws: Workspace) -> dict[str, Any]:
    """Every ERP table's rows without their autoincrement ids: documents by key (the
    window's key fields), their lines in order; windows without a key as sorted rows."""
    out: dict[str, Any] = {}
    with ws.connect() as conn:
        for w in ws.windows:
            st_ = ws.store.summary_table(w.id)
            heads = conn.execute(select(st_).order_by(st_.c._id)).mappings().all()
            key_of = {}
            docs: dict[Any, dict[str, Any]] = {}
            for n, h in enumerate(heads):
                key = tuple(h[k] for k in w.key_fields) if w.key_fields else n
                key_of[h["_id"]] = key
                docs[key] = {w.summary: {k: v for k, v in h.items() if k != "_id"}}
            for obj in w.detail_objects:
                t = ws.store.tables[(w.id, obj.name)]
                for d in docs.values():
                    d[obj.name] = []
                for r in conn.execute(select(t).order_by(t.c._id)).mappings():
                    docs[key_of[r["_doc_id"]]][obj.name].append(
                        {k: v for k, v in r.items() if k not in ("_id", "_doc_id")})
            if not w.key_fields:  # no identity: the same rows in any order
                out[w.id] = sorted(docs.values(), key=repr)
            else:
                out[w.id] = docs
    return out


def state(ws: Workspace) -> dict[str, Any]:
    """The ERP and the workspace's bookkeeping, without ids and times."""
    with ws.connect() as conn:
        runs = [r.id for r in conn.execute(select(db.history.c.id).order_by(db.history.c.id))]
        rank = {run: i for i, run in enumerate(runs)}

        def rows(t, order, drop=()):
            return [{k: v for k, v in r.items() if k not in drop}
                    for r in conn.execute(select(t).order_by(*order)).mappings()]

        PR, PL, L, H = db.prepared_record, db.prepared_line, db.import_ledger, db.history
        ledger = rows(L, [L.c.scenario, L.c.doc_key])
        for e in ledger:  # the run that created the document, as its place in the history
            e["run_id"] = rank.get(e["run_id"], e["run_id"])
        history = rows(H, [H.c.id], drop=("id", "started", "ended"))
        for h in history:
            if isinstance(h["counts"], dict):
                h["counts"] = {k: v for k, v in h["counts"].items() if k != "row_checked"}
        out = {
            "erp": erp_tables(ws),
            "numbering": rows(db.numbering, [db.numbering.c.name]),
            "prepared_record": rows(PR, [PR.c.scenario, PR.c.record_no]),
            "prepared_line": rows(PL, [PL.c.scenario, PL.c.line_no]),
            "ledger": ledger,
            "history": history,
            "scenario_state": rows(db.scenario_state, [db.scenario_state.c.scenario],
                                   drop=("prepared_at",)),
            "regroup": rows(db.regroup, [db.regroup.c.scenario, db.regroup.c.old_no]),
            "locks": rows(db.lock_holder, [db.lock_holder.c.scenario]),
        }
    return out


def compare(file: InvoiceFile, opts: dict[str, Any], template: Path) -> dict[str, Any]:
    """Run ``file`` through both engines; assert they agree; the rows engine's results."""
    if currently_in_test_context():  # a hypothesis example: printed when it fails
        note(f"options: {opts}")
        note(repr(file))
    base = Path(tempfile.mkdtemp(dir=template.parent, prefix="case-"))
    try:
        path = base / "invoices.csv"
        path.write_text(file.csv_text(), encoding="utf-8")
        path.with_name("invoices_v2.csv").write_text(file.reversed().csv_text(),
                                                     encoding="utf-8")
        got = {e: run_engine(template, base, e, path, opts) for e in ENGINES}
    finally:
        shutil.rmtree(base, ignore_errors=True)
    (r_out, r_states, r_eng), (c_out, c_states, c_eng) = got["rows"], got["columns"]
    assert all(e == ("rows", 0) for e in r_eng), r_eng
    assert all(e in ENGINES and n >= 0 for e, n in c_eng), c_eng
    for i, step in enumerate(opts["steps"]):
        assert c_out[i] == r_out[i], f"step {i + 1} ({step}): the outcomes differ"
        for part in r_states[i]:
            assert c_states[i][part] == r_states[i][part], (
                f"step {i + 1} ({step}): {part} differs")
    if currently_in_test_context():
        describe(file, r_out)
    return {"outcomes": r_out, "states": r_states}


def describe(file: InvoiceFile, outcomes: list[Any]) -> None:
    """What the examples covered (pytest --hypothesis-show-statistics)."""
    for _, kind, _, _ in file.spoilt:
        event(f"spoilt: {kind}")
    flat = [o for out in outcomes for o in (
        [r["import"] for r in out] if isinstance(out, list) else [out])]
    imports = [o for o in flat if "imported" in o and "failed" in o and "stopped" in o]
    event(f"imported any: {any(o['imported'] or o['updated'] for o in imports)}")
    event(f"failed any: {any(o['failed'] for o in imports)}")
    event(f"stopped: {any(o['stopped'] for o in imports)}")
    event(f"skipped any: {any(o['skipped'] for o in imports)}")
    event("imported before (at prepare): "
          f"{any(o.get('already_processed') for o in flat)}")
    if any("raised" in o for o in flat):
        event("an API call raised")


# -- the options of a case -----------------------------------------------------------------
@st.composite
def run_options(draw, locale: str | None) -> dict[str, Any]:
    second = draw(st.sampled_from(["none", "import", "prepare_import", "drain",
                                   "new_version"]))
    steps = ["prepare", "import"] + {
        "none": [], "import": ["import"], "prepare_import": ["prepare", "import"],
        "drain": ["drain"], "new_version": ["new_version", "prepare", "import"]}[second]
    rarely = st.sampled_from([False, False, True])  # most runs save (and may stop)
    return {"break_on_error": draw(st.booleans()), "validate_only": draw(rarely),
            "mode": draw(st.sampled_from(["insert", "upsert"])),
            "save_only_if_valid": draw(rarely),
            "batch_size": draw(st.integers(1, 7)),
            "grouping": draw(st.sampled_from(["key", "key", "consecutive"])),
            "locale": locale, "steps": steps}


@st.composite
def cases(draw):
    file = draw(invoice_files())
    return file, draw(run_options(file.locale))


# -- the tests -------------------------------------------------------------------------------
@SETTINGS
@given(case=cases())
def test_engines_agree(template, case):
    """Random files, random options: both engines leave everything the same."""
    file, opts = case
    compare(file, opts, template)


@settings(SETTINGS, max_examples=20)
@given(file=invoice_files(max_invoices=6), batch_size=st.integers(1, 7),
       mode=st.sampled_from(["insert", "upsert"]))
def test_engines_agree_stopping_and_continuing(template, file, batch_size, mode):
    """The run that stops on the first record in error, then the runs that go on after
    each stop once the record is put aside (Active cleared), a run over nothing left, and
    the same rows dropped again as version 2 (in reverse order): the record that stopped
    each run (message, line, record, field) and what each run saved are the same."""
    opts = {"break_on_error": True, "validate_only": False, "mode": mode,
            "save_only_if_valid": False, "batch_size": batch_size, "grouping": "key",
            "locale": file.locale,
            "steps": ["prepare", "import", "drain", "import", "new_version", "prepare",
                      "import"]}
    compare(file, opts, template)


# -- which engine ran ------------------------------------------------------------------------
CLEAN = [
    "INV-001,C001,2024-03-01,2024-03-31,March,FISH-01,Salmon,10,189.00,0,3000,1890.00",
    "INV-001,C001,2024-03-01,2024-03-31,March,,Freight,1,250.00,0,3000,",
    "INV-002,C002,2024-03-03,,Bread,BREAD-01,Rye bread,40,45.00,5,3100,1710.00",
]
BAD = [  # three records, each with a bad cell (an unknown customer, a bad number, Qty 0)
    "INV-003,C999,2024-03-05,,x,FISH-01,Salmon,1,189.00,0,3000,",
    "INV-004,C001,2024-03-05,,x,FISH-01,Salmon,abc,189.00,0,3000,",
    "INV-005,C001,2024-03-05,,x,FISH-01,Salmon,0,189.00,0,3000,",
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text(",".join(HEADER) + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_columns_engine_runs(template, tmp_path):
    """``engine: columns`` runs the columns engine, which sends no record of a clean batch
    through the row path, and at least every record in error (and no more records than
    there are). Fails until the columns engine lands (both options run the row path)."""
    got = {}
    for engine in ENGINES:
        root = tmp_path / engine
        shutil.copytree(template, root)
        ws = api.open_workspace(root)
        try:
            api.create_simplified(ws, "clean", _write(tmp_path / "clean.csv", CLEAN), WINDOW,
                                  MAP, ["Document.ReferenceNbr"], params=PARAMS,
                                  options={"engine": engine})
            api.prepare(ws, "clean", progress=False)
            clean = api.import_(ws, "clean", progress=False)
            api.create_simplified(ws, "mixed", _write(tmp_path / "mixed.csv", CLEAN + BAD),
                                  WINDOW, MAP, ["Document.ReferenceNbr"], params=PARAMS,
                                  options={"engine": engine, "break_on_error": False,
                                           "mode": "upsert"})
            api.prepare(ws, "mixed", progress=False)
            mixed = api.import_(ws, "mixed", progress=False)
            got[engine] = (clean, mixed)
        finally:
            ws.dispose()
    clean, mixed = got["rows"]
    assert (clean.engine, clean.row_checked, mixed.engine, mixed.row_checked) == (
        "rows", 0, "rows", 0)
    assert (clean.imported, mixed.updated, mixed.failed) == (2, 2, 3)
    clean, mixed = got["columns"]
    assert (clean.engine, mixed.engine) == ("columns", "columns")
    assert clean.row_checked == 0, "a clean batch has no flagged cell"
    assert 3 <= mixed.row_checked <= 5, "records in error go through the row path"


# -- a known mix of bad cells ----------------------------------------------------------------
KNOWN = [  # data line: row (the errors expected are in EXPECTED, by record)
    "INV-001,C001,2024-03-01,2024-03-31,March,FISH-01,Salmon,10,189.00,0,3000,1890.00",  # 1
    "INV-001,C001,2024-03-01,2024-03-31,March,,Freight,1,250.00,0,3000,",  # 2
    "INV-002,C999,2024-03-02,,Unknown customer,FISH-01,Salmon,1,189.00,0,3000,",  # 3
    "INV-003,C002,2024-03-03,,Item,BREAD-01,Rye,2,45.00,0,3100,",  # 4
    "INV-003,C002,2024-03-03,,Item,FISH-99,No such item,1,10.00,0,3100,",  # 5
    "INV-004,C003,2024-03-04,,Number,FISH-02,Cod,\"12,5\",159.50,0,3000,",  # 6
    "INV-005,C004,2024-02-30,,Date,FISH-02,Cod,1,159.50,0,3000,",  # 7
    "INV-006,C006,2024-03-06,,Zero,SERV-01,Hours,3,1250.00,0,3000,",  # 8
    "INV-006,C006,2024-03-06,,Zero,SERV-01,Hours,0,1250.00,0,3000,",  # 9
    "INV-007,C001,2024-03-07,,Amount,FISH-01,Salmon,1,189.00,0,3000,100.00",  # 10
    "INV-008,C001,2024-03-08,,\"" + "Ø" * 256 + "\",FISH-01,Salmon,1,189.00,0,3000,",  # 11
    "INV-009,C001,2024-03-09,,No lines,,,,,,,",  # 12
    "INV-010,,2024-03-10,,No customer,FISH-01,Salmon,1,189.00,0,3000,",  # 13
    "INV-011,C002,2024-03-11,,Old account,FISH-01,Salmon,1,189.00,0,3900,",  # 14
    "INV-012,C005,2024-03-12,2024-03-01,Three at once,FISH-01,Salmon,1,189.00,101,3000,",  # 15
    "INV-011,C002,2024-03-11,,Old account,FISH-01,Salmon,-2,189.00,0,3000,",  # 16
    "INV-013,C001,2024-03-13,,Line 2 number,FISH-01,Salmon,1,189.00,0,3000,",  # 17
    "INV-013,C001,2024-03-13,,Line 2 number,FISH-01,Salmon,1.2.3,189.00,0,3000,",  # 18
    # other digits than 0-9 (Arabic-Indic, fullwidth): read as numbers, so imported
    "INV-014,C001,2024-03-14,,Digits,FISH-01,Salmon,١٢,１８９.００,0,3000,２２６８.00",  # 19
]
EXPECTED = {  # key: (first line, field, what the message says, the value it names)
    "INV-002": (3, "Document.CustomerID", "does not exist", "C999"),
    "INV-003": (4, "Line.InventoryID", "does not exist", "FISH-99"),
    "INV-004": (6, "Line.Quantity", "is not a number", "12,5"),
    "INV-005": (7, "Document.Date", "is not a date", "2024-02-30"),
    "INV-006": (8, "Line.Quantity", "must not be 0", "0"),
    "INV-007": (10, "Line.Amount", "differs from the computed 189.00", "100.00"),
    "INV-008": (11, "Document.Description", "is 256 characters long", "ØØØ"),
    "INV-009": (12, "Line", "at least 1 Line line(s) required", None),
    "INV-010": (13, "Document.CustomerID", "CustomerID is required", None),
    "INV-011": (14, "Line.AccountID", "has Active False", "3900"),
    "INV-012": (15, "Document.CustomerID", "has Status 'OnHold'", "C005"),
    "INV-013": (17, "Line.Quantity", "is not a number", "1.2.3"),
}


def test_known_bad_cells_same_messages_naming_line_field_and_value(template):
    """A known mix of bad cells: both engines give the same messages, word for word, and
    each names the record's line, the field and the value."""
    file = InvoiceFile(None, [dict(zip(HEADER, r)) for r in csv.reader(KNOWN)])
    opts = {"break_on_error": False, "validate_only": False, "mode": "insert",
            "save_only_if_valid": False, "batch_size": 3, "grouping": "key",
            "locale": None, "steps": ["prepare", "import", "import"]}
    got = compare(file, opts, template)  # asserts the engines agree
    first = got["outcomes"][1]
    assert (first["imported"], first["failed"], first["stopped"]) == (2, 12, None)
    errors = {e["key"]["Document.ReferenceNbr"]: e for e in first["errors"]}
    assert sorted(errors) == sorted(EXPECTED)
    for key, (line, fld, says, value) in EXPECTED.items():
        e = errors[key]
        assert (e["line"], e["field"]) == (line, fld), (key, e)
        assert says in e["message"], (key, e["message"])
        if value is not None:
            assert value in e["message"], (key, e["message"])
    # several errors of one record are reported at once, each with its field and value
    three = errors["INV-012"]["message"]
    assert "DueDate 2024-03-01 is before Date 2024-03-12" in three
    assert "Line line 1.DiscountPercent: DiscountPercent must be at most 100" in three
    # a bad detail line names its place in the document
    assert errors["INV-006"]["message"].startswith("Line line 2.Quantity:")
    # its second line (Quantity -2: a credit line, allowed) is not in error
    assert errors["INV-011"]["message"] == (
        "Line line 1.AccountID: Account '3900' has Active False; True is required")

    # the second run has nothing left to do, and the prepared data keep every message
    assert got["outcomes"][2]["failed"] == 12 and got["outcomes"][2]["imported"] == 0
    recs = {r["key"]["Document.ReferenceNbr"]: r
            for r in got["states"][-1]["prepared_record"] if r["scenario"] == SCENARIO}
    assert [k for k, r in recs.items() if r["processed"]] == ["INV-001", "INV-014"]
    digits = got["states"][-1]["erp"][WINDOW][("Invoice", "INV-014")]["Line"][0]
    assert (digits["Quantity"], digits["UnitPrice"], digits["Amount"]) == (
        Decimal(12), Decimal(189), Decimal("2268.00"))
    for key, e in errors.items():
        assert (recs[key]["error"], recs[key]["error_field"], recs[key]["error_stage"]) == (
            e["message"], e["field"], "import")
    assert errors["INV-002"]["message"] == "Document.CustomerID: Customer 'C999' does not exist"
    assert errors["INV-009"]["message"] == "Line: at least 1 Line line(s) required"
