"""Import: Active, unprocessed prepared records go through the mapping into the window and
are saved, in line order.

A batch of records is one transaction: the ERP documents, their Processed flags and the
exactly-once ledger commit together, so a run killed at any instant and run again imports
nothing twice and loses nothing. On an error the record keeps its message and the run
stops on it (``break_on_error``, the spec's default) or goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from itertools import compress
from operator import ne
from typing import Any

from sqlalchemy import Text, and_, bindparam, cast, func, select, update

from .. import db
from ..erp.digest import DocumentDigest
from ..erp.store import BoundLines, bulk_execute, bulk_insert, bulk_update, fetch_rows
from ..erp.validation_columns import ColumnChecker
from ..errors import FieldError, RecordError
from ..scenarios.conditions import compile_restrictions
from ..scenarios.model import Scenario
from ..workspace import Workspace
from . import grouping, history
from .columns import ColumnEngine
from .mapping import ImportMapping, MappingError
from .prepare import prepared_state
from .progress import progress_bar

PR = db.prepared_record
PL = db.prepared_line
_L = db.import_ledger
# a batch's keys in the ledger (built once per kind of database; the keys bound as a list)
_LEDGER_OF = {d: select(_L.c.doc_key, _L.c.file_version, _L.c.source_line).where(and_(
    _L.c.scenario == bindparam("s"), db.among(_L.c.doc_key, "k", d)))
    for d in ("postgresql", "sqlite")}

# a batch's marks on its records (built once)
_RECORD = and_(PR.c.scenario == bindparam("s"), PR.c.record_no == bindparam("r"))
_DONE = {"processed": True, "error": None, "error_field": None, "error_stage": None}
_MARK_ERROR = update(PR).where(_RECORD).values(
    error=bindparam("e"), error_field=bindparam("f"), error_stage=bindparam("st"))


@dataclass
class ImportSummary:
    scenario: str
    imported: int = 0
    updated: int = 0
    failed: int = 0
    skipped: int = 0
    remaining: int = 0
    validate_only: bool = False
    stopped: RecordError | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Every prepared record not imported, by reason (after the run): skipped at prepare or
    # here (the note), inactive, in error, not yet processed.
    not_imported: dict[str, int] = field(default_factory=dict)
    # parallel import: workers that died or failed (their batches were taken over)
    worker_notes: list[str] = field(default_factory=list)
    # The engine that ran (the scenario's option engine): "columns" checks a batch column
    # by column and sends only the records with a flagged cell through the row path
    # (``row_checked`` counts them; in a parallel run, those of this process's batches);
    # "rows" is the reference, record by record.
    engine: str = "rows"
    row_checked: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["stopped"] = self.stopped.to_dict() if self.stopped else None
        return d

    def __str__(self) -> str:
        verb = "would import" if self.validate_only else "imported"
        text = (f"{self.scenario}: {verb} {self.imported}, updated {self.updated}, failed "
                f"{self.failed}, skipped {self.skipped} (already imported), remaining "
                f"{self.remaining}")
        if self.not_imported:
            text += "\nnot imported: " + "; ".join(
                f"{n} {reason}" for reason, n in self.not_imported.items())
        for note in self.worker_notes:
            text += f"\n{note}"
        if self.stopped:
            text += f"\n{self.stopped}"
        return text

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.stopped is None

    def raise_for_errors(self) -> None:
        """Raise the record error that stopped the run (fails a papermill run)."""
        if self.stopped is not None:
            raise self.stopped
        if self.failed:
            first = self.errors[0] if self.errors else {}
            raise RecordError(first.get("message", f"{self.failed} record(s) failed"),
                              scenario=self.scenario, line=first.get("line", 0),
                              record=first.get("record", 0), key=first.get("key"),
                              field_name=first.get("field"))


class Importer:
    def __init__(self, ws: Workspace, sc: Scenario, continue_on_error: bool | None,
                 validate_only: bool, batch_size: int | None, progress: bool):
        self.ws, self.sc = ws, sc
        self.window = ws.windows.get(sc.window)
        self.stop_on_error = (not continue_on_error if continue_on_error is not None
                              else sc.break_on_error)
        if validate_only:
            self.stop_on_error = False
        self.validate_only = validate_only
        self.batch_size = batch_size or sc.batch_size
        self.progress = progress
        self.mapping = ImportMapping(ws, sc, self.window)
        self.target_ok = compile_restrictions(sc.target_restrictions,
                                              today=self.mapping.ctx.today, locale=sc.locale)
        self.summary = ImportSummary(sc.name, validate_only=validate_only)
        self.doc_digest = DocumentDigest(self.window)  # of each saved document (ledger)
        self.run_id: int | None = None
        self.precheck = False  # parallel workers: the window's rules checked in step 1
        self.column_engine: ColumnEngine | None = None  # set with the run's lookup
        self.growth = db.Growth()  # the ledger this run fills (statistics on PostgreSQL)
        self.bound_lines: BoundLines | None = None  # the mapped batch's (parallel workers)

    def read_state(self, conn) -> None:
        """What the last prepare wrote down: the lines' columns and the file version."""
        state = prepared_state(conn, self.sc.name)
        self.columns = state["columns"]
        self.version = state["file_version"]

    def start(self, conn) -> int:
        """Read what the last prepare wrote down and write the run into the history."""
        self.read_state(conn)
        self.run_id = history.start(conn, self.sc.name,
                                    "validate" if self.validate_only else "import",
                                    self.ws.user, self.version)
        return self.run_id

    def run(self) -> ImportSummary:
        ws, sc = self.ws, self.sc
        with ws.transaction() as conn:
            total = conn.execute(select(func.count()).select_from(PR).where(
                pending(sc.name))).scalar_one()
            self.start(conn)
        bar = progress_bar(self.progress, total=total, desc=f"import {sc.name}",
                           unit="records")
        after = 0
        lookup = None
        try:
            while True:
                with ws.transaction() as conn:
                    recs = pending_records(conn, sc.name, after + 1, limit=self.batch_size)
                    if not recs:
                        break
                    self.resume_after = recs[-1]["record_no"]
                    if lookup is None:
                        lookup = self.new_lookup(conn)
                    lookup.conn = conn
                    stop = self._batch(conn, recs, lookup)
                    after = self.resume_after
                bar.update(len(recs))
                if stop:
                    break
        except BaseException as e:
            self.failed(e)
            raise
        finally:
            bar.close()
        return self.finish()

    def new_lookup(self, conn):
        """The run's cache of selector rows, and the window's validator over it."""
        lookup = self.ws.store.lookup(conn)
        self.validator = self.ws.store.validator(self.sc.window, lookup)
        checker = ColumnChecker(self.validator)
        # the columns engine where its answers equal the row way's (README: Import engines)
        if self.sc.engine == "columns" and checker.supported and not self.sc.target_restrictions:
            self.column_engine = ColumnEngine(self.mapping, self.columns, checker)
            self.summary.engine = "columns"
        return lookup

    def failed(self, e: BaseException) -> None:
        """The run ends here, not in silence: history says failed (or interrupted), with
        the reason; every batch before this one is committed."""
        try:
            with self.ws.transaction() as conn:
                history.finish(conn, self.run_id, status="interrupted" if isinstance(
                    e, KeyboardInterrupt) else "failed", counts=self._counts(),
                    first_error=f"{type(e).__name__}: {e}"[:2000])
        except Exception:  # noqa: BLE001 - the database itself is gone: the next
            pass  # run marks this one interrupted; the original error goes on

    def _counts(self) -> dict[str, int]:
        return {k: v for k, v in self.summary.to_dict().items() if isinstance(v, int)}

    def finish(self, conn=None) -> ImportSummary:
        """What is left, by reason; the run's end in the history (in ``conn``'s
        transaction when given)."""
        if conn is None:
            with self.ws.transaction() as conn:
                return self.finish(conn)
        sc = self.sc
        self.summary.remaining = conn.execute(
            select(func.count()).select_from(PR).where(pending(sc.name))).scalar_one()
        self.summary.not_imported = not_imported(conn, sc.name)
        first = self.summary.stopped or (self.summary.errors[0]["message"]
                                         if self.summary.errors else None)
        history.finish(conn, self.run_id, status="stopped" if self.summary.stopped else "done",
                       counts=self._counts(), first_error=str(first) if first else None)
        if not self.validate_only and self.summary.remaining == 0:
            conn.execute(db.scenario_state.update()
                         .where(db.scenario_state.c.scenario == sc.name)
                         .values(last_imported_version=self.version))
        return self.summary

    def _batch(self, conn, recs, lookup) -> bool:
        """Map, save and mark one batch in the caller's transaction; True = stop here."""
        stop, rest = self.commit_batch(conn, self.map_batch(conn, recs), lookup)
        if rest:  # the same document twice (upsert): the second one goes in the next batch
            self.resume_after = rest[0].rec["record_no"] - 1
        return stop

    def map_batch(self, conn, recs, *, eager: bool = False) -> list[_Item]:
        """Step 1 of a batch, reading only: each record's rows. ``eager`` (parallel
        workers): also its document, the target restrictions and, where the window's rules
        allow it (``ERPStore.prechecks``), the window's rules, so that all of that runs
        while the batches before this one are still being saved."""
        sc = self.sc
        # The line range (a record's lines are first_line..last_line) lets the database read
        # just this batch's lines through the primary key instead of every line per batch;
        # records gathered from a shuffled file span the whole file, and then the record
        # numbers (their own index) are the narrower way in.
        first = min(r["first_line"] for r in recs)
        last = max(r["last_line"] for r in recs)
        records = and_(PL.c.record_no >= recs[0]["record_no"],
                       PL.c.record_no <= recs[-1]["record_no"])
        if last - first < 4 * sum(r["line_count"] or 1 for r in recs):
            by_records = and_(PL.c.scenario == sc.name, records,
                              PL.c.line_no >= first, PL.c.line_no <= last)
        else:  # scenario || '': SQLite would take the primary key (scenario) and sort less
            by_records = and_(PL.c.scenario.concat("") == sc.name, records)
        lines = fetch_rows(conn, select(PL.c.record_no, PL.c.data, PL.c.source_line)
                           .where(by_records).order_by(PL.c.line_no))
        rec_nos, texts, sources = (list(c) for c in zip(*lines)) if lines else ([], [], [])
        decoded = _decode_each(texts)
        of = _by_record(rec_nos, decoded, texts, sources)
        items = [_Item(rec, *(of.get(rec["record_no"]) or ([], [], []))) for rec in recs]
        if eager:
            if self.column_engine is not None:
                if not self.precheck:  # the window's rules in record order: commit_batch
                    return items
                self._check_columns(items, {})  # the flagged ones are mapped below
            for it in items:
                self._map(it)
            if self.precheck:
                ok = [it for it in items if it.doc is not None and it.failure is None]
                for it, checked in zip(ok, self.ws.store.precheck(
                        self.validator, [it.doc for it in ok])):
                    it.checked = checked
                self._digest_early(items)
                # the lines bound now, while the batches before are saved (the saves run
                # one after another): the save only adds the documents' ids. Validate
                # only writes nothing.
                if not self.validate_only:
                    self.bound_lines = self.ws.store.bind_lines(
                        conn.dialect, sc.window, [it.checked[0] for it in items
                                                  if it.checked is not None
                                                  and it.checked[0] is not None])
        return items

    def _digest_early(self, items: list[_Item]) -> None:
        """The ledger's checksums of the checked documents and of their prepared lines,
        while the batches before this one are being saved (parallel workers): a document
        whose save gives it an automatic number gets its checksum at the save."""
        w, store = self.window, self.ws.store
        ready = [it for it in items if it.checked is not None and it.checked[0] is not None]
        docs = [it.checked[0] for it in ready]
        store.number_lines(w, docs)  # what the save would do to them
        final = [(it, d) for it, d in zip(ready, docs) if not store.numbers_pending(w, d)]
        for (it, _), dd in zip(final, self.doc_digest.many([d for _, d in final])):
            it.digest = dd
        for it in items:
            it.data_digest = grouping.rows_digest(it.data)

    def _map(self, it: _Item) -> None:
        """The record's document, or the reason it has none (once per item)."""
        if it.mapped:
            return
        it.mapped = True
        rec = it.rec
        if rec["error_stage"] == "prepare":  # e.g. a contradicting continuation row
            it.failure = MappingError(rec["error_field"] or "", rec["error"])
            return
        cols = self.columns
        try:
            it.doc = self.mapping.document([dict(zip(cols, v)) for v in it.values], it.lines)
        except MappingError as e:
            it.failure = e
            return
        sc, w = self.sc, self.window
        if sc.target_restrictions:
            flat = {f"{w.summary}.{k}": v for k, v in it.doc[w.summary].items()}
            if not self.target_ok(flat):
                it.failure = MappingError(sc.target_restrictions[0].field,
                                          "the record does not meet the target restrictions")
                it.target_failure = True

    def commit_batch(self, conn, items: list[_Item], lookup) -> tuple[bool, list[_Item]]:
        """Step 2 of a batch: the ledger, the window's rules, save and mark, in the caller's
        transaction, in record order. Returns (stop here, the items left for the next
        batch: a document seen twice in an upsert)."""
        sc = self.sc
        bound, self.bound_lines = self.bound_lines, None  # one batch's, at most once
        ledger = self._ledger_of(conn, [it.rec for it in items])
        if self.column_engine is not None:
            self._check_columns(items, ledger)
        to_save: list[_Item] = []
        marks: list[tuple[Any, str, Any]] = []  # (record, outcome, detail)
        stop_at: tuple[Any, list[FieldError] | MappingError] | None = None
        seen_now: dict[str, Any] = {}  # document key -> the record saved in this batch
        upsert = sc.mode == "upsert"
        digests: dict[int, str] = {}  # record -> checksum of its saved document
        rest: list[_Item] = []
        for pos, it in enumerate(items):
            rec = it.rec
            dk = rec["group_key"]
            failure: MappingError | None = None
            if rec["error_stage"] == "prepare":
                self._map(it)
                failure = it.failure
            elif dk is not None and not upsert and dk in seen_now:
                failure = _second_record(rec, seen_now[dk]["source_line"], self.version)
            elif dk is not None and not upsert and dk in ledger:
                led = ledger[dk]
                if led.file_version == self.version and led.source_line != rec["source_line"]:
                    failure = _second_record(rec, led.source_line, self.version)
                else:
                    marks.append((rec, "skipped", grouping.note_for(
                        led.file_version, self.version, None)))
                    continue
            elif dk is not None and upsert and dk in seen_now:
                rest = items[pos:]
                break
            if failure is None:
                self._map(it)
                failure = it.failure
            if failure is not None:
                marks.append((rec, "failed", failure))
                if self.stop_on_error and (not it.target_failure or sc.break_on_target):
                    stop_at = (rec, failure)
                    break
                continue
            if dk is not None:
                seen_now[dk] = rec
            to_save.append(it)
        if to_save:
            prechecked = [it.checked for it in to_save]
            results = self.ws.store.save_many(
                conn, sc.window, [it.doc for it in to_save], mode=sc.mode,
                stop_on_error=self.stop_on_error, lookup=lookup, validator=self.validator,
                dry_run=self.validate_only,
                checked=prechecked if any(c is not None for c in prechecked) else None,
                bound=bound)
            saved = []
            for it, res in zip(to_save, results):
                rec = it.rec
                if res.ok:
                    marks.append((rec, res.action, res.key))
                    if self.validate_only or res.doc is None:
                        continue
                    if (it.digest is not None and it.checked is not None
                            and res.doc is it.checked[0]):  # taken early, and still so
                        digests[rec["record_no"]] = it.digest
                    else:
                        saved.append((rec["record_no"], res.doc))
                elif res.action == "failed":
                    marks.append((rec, "failed", res.errors))
                    if self.stop_on_error and stop_at is None:
                        stop_at = (rec, res.errors)
            digests.update(zip((r for r, _ in saved),
                               self.doc_digest.many([doc for _, doc in saved])))
        data_of = {it.rec["record_no"]: it for it in items}
        self._write_marks(conn, marks, ledger, data_of, digests)
        if stop_at is not None:
            self.summary.stopped = self._record_error(*stop_at)
            return True, []
        return False, rest

    def _check_columns(self, items: list[_Item], ledger: dict[str, Any]) -> None:
        """The columns engine over the batch's records that will be mapped: the clean ones
        leave here mapped and checked; the flagged ones go the row way (``_map``, then the
        window's rules in ``save_many``), which words their errors."""
        upsert = self.sc.mode == "upsert"
        todo = [it for it in items if not it.mapped and it.rec["error_stage"] != "prepare"
                and (upsert or it.rec["group_key"] is None
                     or it.rec["group_key"] not in ledger)]
        if not todo:
            return
        docs = self.column_engine.documents([it.values for it in todo])
        for it, doc in zip(todo, docs):
            if doc is None:
                self.summary.row_checked += 1
            else:
                it.mapped = True
                it.checked = (doc, [])

    def _ledger_of(self, conn, recs) -> dict[str, Any]:
        keys = sorted({r["group_key"] for r in recs if r["group_key"] is not None})
        if not keys:
            return {}
        stmt = _LEDGER_OF["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
        return {r.doc_key: r for r in conn.execute(stmt, {"s": self.sc.name, "k": keys})}

    def _write_marks(self, conn, marks, ledger, data_of, digests) -> None:
        sc = self.sc
        done, errs, new_keys, old_keys = [], [], [], []
        run_of_new = []  # ledger entries of documents saved before whose run becomes this one
        for rec, outcome, detail in marks:
            if outcome in ("inserted", "updated"):
                if outcome == "inserted":
                    self.summary.imported += 1
                else:
                    self.summary.updated += 1
                if self.validate_only:
                    continue
                result = _jsonable(detail)
                done.append((rec["record_no"], result, None))
                dk = rec["group_key"]
                if dk is not None:
                    # run: the run that created the document (an update keeps the creator;
                    # a document that existed before the scenario saved it has none)
                    entry = {"s": sc.name, "k": dk, "res": result, "v": self.version,
                             "l": rec["source_line"],
                             "d": _data_digest(data_of.get(rec["record_no"])),
                             "dd": digests.get(rec["record_no"]),
                             "run": self.run_id if outcome == "inserted" else None}
                    (old_keys if dk in ledger else new_keys).append(entry)
                    if dk in ledger and outcome == "inserted":
                        run_of_new.append({"s": sc.name, "k": dk, "run": self.run_id})
            elif outcome == "skipped":
                self.summary.skipped += 1
                if not self.validate_only:
                    done.append((rec["record_no"], None, detail))
            else:
                self.summary.failed += 1
                message, fld = _message(detail)
                errs.append({"s": sc.name, "r": rec["record_no"], "e": message, "f": fld,
                             "st": rec["error_stage"] if rec["error_stage"] == "prepare"
                             else "import"})
                if len(self.summary.errors) < 1000:
                    self.summary.errors.append({
                        "line": rec["first_line"], "record": rec["record_no"],
                        "key": rec["key"], "field": fld, "message": message})
        if done:
            bulk_update(conn, PR, ["scenario", "record_no"], [
                "scenario", "record_no", "result", "note"], [[sc.name] * len(done), *(
                    list(c) for c in zip(*done))], _DONE)
        if errs:
            bulk_execute(conn, _MARK_ERROR, errs)
        L = db.import_ledger
        if new_keys:  # one bulk write, like the documents' own rows
            bulk_insert(conn, L, [
                {"scenario": e["s"], "doc_key": e["k"], "result": e["res"],
                 "file_version": e["v"], "source_line": e["l"], "digest": e["d"],
                 "doc_digest": e["dd"], "run_id": e["run"]} for e in new_keys])
            self.growth.added(conn, L, len(new_keys))  # the next batch's ledger look-up
        if old_keys:  # upsert of a document imported before: the ledger follows
            conn.execute(update(L).where(and_(L.c.scenario == bindparam("s"),
                                              L.c.doc_key == bindparam("k")))
                         .values(result=bindparam("res"), file_version=bindparam("v"),
                                 source_line=bindparam("l"), digest=bindparam("d"),
                                 doc_digest=bindparam("dd")), old_keys)
        if run_of_new:  # in the ledger, but not in the ERP any more: this run created it
            conn.execute(update(L).where(and_(L.c.scenario == bindparam("s"),
                                              L.c.doc_key == bindparam("k")))
                         .values(run_id=bindparam("run")), run_of_new)

    def _record_error(self, rec, detail) -> RecordError:
        message, fld = _message(detail)
        return RecordError(message, scenario=self.sc.name, line=rec["first_line"],
                           record=rec["record_no"], key=rec["key"], field_name=fld)


@dataclass(slots=True)
class _Item:
    """One prepared record on its way through a batch."""
    rec: Any
    values: list[list[Any]]  # the lines' values, in the order of the prepared columns
    data: list[str]  # the lines as stored (their digest goes in the ledger)
    lines: list[int]  # the lines' places in the source file (named in errors)
    mapped: bool = False
    doc: dict[str, Any] | None = None
    failure: MappingError | None = None
    target_failure: bool = False  # the failure is the target restrictions
    checked: tuple[Any, list[FieldError]] | None = None  # the window's rules, checked early
    digest: str | None = None  # the checked document's checksum, taken early
    data_digest: str | None = None  # the stored lines' checksum, taken early


def _data_digest(it: _Item | None) -> str:
    if it is None:
        return grouping.rows_digest([])
    return it.data_digest if it.data_digest is not None else grouping.rows_digest(it.data)


def _by_record(rec_nos: list[int], decoded: list[Any], texts: list[str], sources: list[int]
               ) -> dict[int, tuple[list[list[Any]], list[str], list[int]]]:
    """Each record's (values, stored texts, source lines) of its lines, given in line order:
    slices where each record's lines are adjacent (the usual case), else line by line."""
    n = len(rec_nos)
    starts = [0, *compress(range(1, n), map(ne, rec_nos[1:], rec_nos[:-1]))] if n else []
    of: dict[int, tuple[list[list[Any]], list[str], list[int]]] = {}
    for s, e in zip(starts, [*starts[1:], n]):
        r = rec_nos[s]
        if r in of:  # a record's lines apart (gathered from a shuffled file)
            break
        of[r] = (decoded[s:e], texts[s:e], sources[s:e])
    else:
        return of
    of = {}
    for rec_no, values, data, line in zip(rec_nos, decoded, texts, sources):
        got = of.get(rec_no)
        if got is None:
            got = of[rec_no] = ([], [], [])
        got[0].append(values)
        got[1].append(data)
        got[2].append(line)
    return of


def _second_record(rec, first_line: int | None, version: int | None) -> MappingError:
    key = grouping.key_text(rec["key"])
    return MappingError("key", (
        f"the key {key} was imported already from line {first_line} of this file version "
        f"({version}); a second document with the same key cannot be inserted (mode insert, "
        "grouping consecutive): correct the key, clear Active, or use mode upsert"))


def not_imported(conn, scenario: str) -> dict[str, int]:
    """The prepared records not imported, counted by reason."""
    out: dict[str, int] = {}
    for note, n in conn.execute(
            select(PR.c.note, func.count()).where(and_(
                PR.c.scenario == scenario, PR.c.processed.is_(True), PR.c.note.is_not(None)))
            .group_by(PR.c.note).order_by(PR.c.note)):
        out[note] = n
    for label, cond in (
            ("inactive", and_(PR.c.active.is_(False), PR.c.processed.is_(False))),
            ("in error", and_(PR.c.active.is_(True), PR.c.processed.is_(False),
                              PR.c.error.is_not(None))),
            ("not yet processed", and_(PR.c.active.is_(True), PR.c.processed.is_(False),
                                       PR.c.error.is_(None)))):
        n = conn.execute(select(func.count()).select_from(PR).where(and_(
            PR.c.scenario == scenario, cond))).scalar_one()
        if n:
            out[label] = n
    return out


def pending(scenario: str):
    return and_(PR.c.scenario == scenario, PR.c.active.is_(True), PR.c.processed.is_(False))


# what an import reads of a record: its key as text (decoded below, a batch at a time)
_REC_COLUMNS = (PR.c.record_no, PR.c.first_line, PR.c.last_line, PR.c.line_count,
                PR.c.source_line, PR.c.group_key, PR.c.error, PR.c.error_field,
                PR.c.error_stage, cast(PR.c.key, Text).label("key"))
_REC_NAMES = tuple(c.name for c in _REC_COLUMNS)


def pending_records(conn, scenario: str, first: int, last: int | None = None,
                    limit: int | None = None) -> list[dict[str, Any]]:
    """The Active, unprocessed records numbered ``first``..``last``, in record order (at
    most ``limit``): dicts of the columns an import reads. The driver's own rows with one
    JSON decode for the batch's keys, instead of SQLAlchemy's row and JSON decode per
    record."""
    where = [pending(scenario), PR.c.record_no >= first]
    if last is not None:
        where.append(PR.c.record_no <= last)
    stmt = select(*_REC_COLUMNS).where(and_(*where)).order_by(PR.c.record_no)
    rows = fetch_rows(conn, stmt if limit is None else stmt.limit(limit))
    if not rows:
        return []
    keys = _decode_each(r[-1] for r in rows)
    names = _REC_NAMES
    return [dict(zip(names, (*r[:-1], k))) for r, k in zip(rows, keys)]


def _decode_each(texts: Iterable[str | None]) -> list[Any]:
    """Each JSON text decoded (None, SQL's NULL, as None): one decoder call for them all,
    as one JSON list, instead of one per text."""
    return json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")


def _message(detail) -> tuple[str, str | None]:
    if isinstance(detail, MappingError):
        return detail.message, detail.target
    errors: list[FieldError] = detail or []
    if not errors:
        return "not saved", None
    first = errors[0]
    fld = f"{first.object}.{first.field}" if first.field else first.object
    return "; ".join(str(e) for e in errors), fld


def _jsonable(key: dict[str, Any] | None) -> dict[str, Any] | None:
    if key is None:
        return None
    return {k: (v if v is None or isinstance(v, str | int | bool) else str(v))
            for k, v in key.items()}
