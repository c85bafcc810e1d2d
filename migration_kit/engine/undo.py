"""Undo an import run: delete the documents the run created, mark their prepared records
not processed and remove their ledger entries, all in one transaction.

Before anything is deleted each document is compared with the checksum stored when the
import saved it: a document changed in the ERP since is not deleted (the undo is refused,
listing them, unless ``force``). Documents that other documents refer to (a customer that
invoices use: the fields with a ``selector`` on the window in ``templates/windows``) are
never deleted: the undo is refused, listing the references. A refused undo, and a dry run,
change nothing (the transaction is rolled back); a killed undo leaves everything as before
or as after, never half.

Undo is not Roll back: roll back keeps its meaning (history and prepared data cleared,
imported records stay). Documents the run did not create (an upsert updating a document that
existed before it) are left as they are: their earlier values are not kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, select, update

from .. import db
from ..erp.digest import DocumentDigest
from ..erp.store import norm_key
from ..erp.windows import WindowDef
from ..errors import BadInputError, MigrationError, NotFoundError
from ..scenarios.model import load_scenario
from ..workspace import Workspace
from . import history
from .lock import scenario_lock

PR = db.prepared_record
LEDGER = db.import_ledger
PAGE = 1000  # ledger entries per read
LISTED = 1000  # documents listed one by one; the rest are counted


class UndoRefusedError(MigrationError):
    """The undo was refused and nothing changed: ``references`` lists documents that other
    documents refer to, ``changed`` documents changed in the ERP after the import."""

    exit_code = 2

    def __init__(self, message: str, *, scenario: str, run: int,
                 references: list[dict[str, Any]], changed: list[dict[str, Any]],
                 **kw: Any):
        self.scenario = scenario
        self.run = run
        self.references = references
        self.changed = changed
        super().__init__(message, scenario=scenario, run=run, references=references,
                         changed=changed, **kw)


@dataclass
class UndoResult:
    scenario: str
    window: str
    run: int
    dry_run: bool = False
    force: bool = False
    deleted: int = 0  # documents deleted (dry run: that would be deleted)
    already_gone: int = 0  # created by the run, not in the ERP any more
    records_unmarked: int = 0  # prepared records marked not processed again
    ledger_removed: int = 0
    updated_kept: int | None = None  # documents the run updated but did not create
    documents: list[str] = field(default_factory=list)  # the first LISTED deleted
    changed: list[dict[str, Any]] = field(default_factory=list)
    n_changed: int = 0
    references: list[dict[str, Any]] = field(default_factory=list)
    n_references: int = 0

    @property
    def refused(self) -> bool:
        return bool(self.n_references or (self.n_changed and not self.force))

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["refused"] = self.refused
        return d

    def reasons(self) -> str:
        parts = []
        if self.n_references:
            parts.append(f"{self.n_references} reference(s) from other documents: " + "; ".join(
                f"{r['document']} {r['field']} = {r['refers_to']}"
                for r in self.references[:10]))
        if self.n_changed and not self.force:
            parts.append(f"{self.n_changed} document(s) changed in the ERP after the import "
                         "(--force deletes them anyway): "
                         + ", ".join(c["document"] for c in self.changed[:10]))
        return "; ".join(parts)

    def __str__(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        text = (f"{self.scenario}: undo of import run {self.run}: {verb} {self.deleted} "
                f"document(s) of {self.window}")
        if self.documents:
            more = self.deleted - len(self.documents[:10])
            text += " (" + ", ".join(self.documents[:10]) + (f", ... {more} more" if more > 0
                                                             else "") + ")"
        text += (f"; {self.records_unmarked} prepared record(s) "
                 f"{'would be ' if self.dry_run else ''}marked not processed, "
                 f"{self.ledger_removed} ledger entr{'y' if self.ledger_removed == 1 else 'ies'}"
                 f" {'would be ' if self.dry_run else ''}removed")
        if self.already_gone:
            text += f"\n{self.already_gone} document(s) of the run were not in the ERP any more"
        if self.n_changed and self.force:
            text += f"\n{self.n_changed} document(s) changed after the import, deleted (--force)"
        if self.updated_kept:
            text += (f"\nthe run also updated {self.updated_kept} document(s) it did not create; "
                     "undo leaves them as they are (their earlier values are not kept)")
        if self.refused:
            text += f"\n{'would be ' if self.dry_run else ''}REFUSED: {self.reasons()}"
        return text


def _label(w: WindowDef, key: dict[str, Any] | None) -> str:
    return f"{w.id} " + " ".join(str(v) for v in (key or {}).values())


def undo(ws: Workspace, name: str, run: int | None = None, *, force: bool = False,
         dry_run: bool = False) -> UndoResult:
    """Undo import run ``run`` of scenario ``name`` (default: its last run that created
    documents); see the module doc. Raises :class:`UndoRefusedError` (nothing changed) when
    refused; ``dry_run`` returns what it would do, refusals included, and changes nothing."""
    sc = load_scenario(ws, name, check=False)
    ws.require(sc.window, "edit")
    if sc.kind != "import":
        raise BadInputError(f"scenario {name!r} is an export scenario; undo reverses an "
                            "import run", scenario=name)
    w = ws.windows.get(sc.window)
    if "Delete" not in w.actions:
        raise BadInputError(f"window {w.id} ({w.name}) has no Delete action: its documents "
                            "cannot be deleted, so an import into it cannot be undone",
                            scenario=name)
    with scenario_lock(ws, sc.name, "undo"):
        conn = ws.db_engine.connect()
        try:
            trans = conn.begin()
            try:
                res = _Undo(ws, sc.name, w, conn, force, dry_run).run(run)
            except BaseException:
                trans.rollback()
                raise
            if res.refused or dry_run:
                trans.rollback()
            else:
                trans.commit()
        finally:
            conn.close()
    if res.refused and not dry_run:
        raise UndoRefusedError(
            f"undo of import run {res.run} of scenario {name!r} refused, nothing changed: "
            f"{res.reasons()}", scenario=name, run=res.run, references=res.references[:100],
            changed=res.changed[:100])
    return res


class _Undo:
    def __init__(self, ws: Workspace, scenario: str, w: WindowDef, conn, force: bool,
                 dry_run: bool):
        self.ws, self.s, self.w, self.conn = ws, scenario, w, conn
        self.force, self.dry_run = force, dry_run
        self.digest = DocumentDigest(w)

    def _run_of(self, run: int | None) -> tuple[int, dict[str, Any] | None]:
        conn, s = self.conn, self.s
        h = db.history
        if run is None:
            run = conn.execute(select(func.max(LEDGER.c.run_id)).where(
                LEDGER.c.scenario == s)).scalar()
            if run is None:
                raise BadInputError(
                    f"nothing to undo: no import run of scenario {s!r} created documents "
                    "that are still recorded (documents imported before schema version 3 "
                    "carry no run)", scenario=s)
        entry = conn.execute(select(h).where(and_(h.c.id == run, h.c.scenario == s))
                             ).mappings().first()
        n = conn.execute(select(func.count()).select_from(LEDGER).where(and_(
            LEDGER.c.scenario == s, LEDGER.c.run_id == run))).scalar_one()
        if n == 0:
            if entry is None or entry["action"] != "import":
                runs = [r for (r,) in conn.execute(
                    select(LEDGER.c.run_id).where(and_(LEDGER.c.scenario == s,
                                                       LEDGER.c.run_id.is_not(None)))
                    .group_by(LEDGER.c.run_id).order_by(LEDGER.c.run_id))]
                raise NotFoundError(
                    f"scenario {s!r} has no import run {run}"
                    + (f"; runs that can be undone: {', '.join(map(str, runs))}" if runs
                       else ""), scenario=s, run=run)
            raise BadInputError(f"nothing to undo: import run {run} of scenario {s!r} "
                                "created no documents that are still recorded", scenario=s,
                                run=run)
        return run, (dict(entry) if entry else None)

    def _entries(self, run: int):
        """The run's ledger entries, a page at a time."""
        after = ""
        while True:
            page = self.conn.execute(
                select(LEDGER.c.doc_key, LEDGER.c.result, LEDGER.c.doc_digest)
                .where(and_(LEDGER.c.scenario == self.s, LEDGER.c.run_id == run,
                            LEDGER.c.doc_key > after))
                .order_by(LEDGER.c.doc_key).limit(PAGE)).all()
            if not page:
                return
            after = page[-1].doc_key
            yield page

    def run(self, run: int | None) -> UndoResult:
        conn, s, w = self.conn, self.s, self.w
        run, entry = self._run_of(run)
        res = UndoResult(s, w.id, run, self.dry_run, self.force)
        if entry is not None and entry.get("counts"):
            res.updated_kept = int(entry["counts"].get("updated") or 0) or None
        hist = history.start(conn, s, "undo", self.ws.user,
                             entry["file_version"] if entry else None)
        # 1. the documents: checked against their checksum, then deleted
        for page in self._entries(run):
            keys = [p.result for p in page if p.result]
            found = self.ws.store.documents_by_keys(conn, w.id, keys)
            ids = []
            for p in page:
                hit = found.get(norm_key(w, p.result)) if p.result else None
                if hit is None:
                    res.already_gone += 1
                    continue
                doc_id, doc = hit
                label = _label(w, p.result)
                if p.doc_digest is not None and self.digest(doc) != p.doc_digest:
                    res.n_changed += 1
                    if len(res.changed) < LISTED:
                        res.changed.append({"document": label, "key": p.result})
                    if not self.force:
                        continue
                ids.append(doc_id)
                if len(res.documents) < LISTED:
                    res.documents.append(label)
            res.deleted += self.ws.store.delete_documents(conn, w.id, ids)
        # 2. references from the documents that stay (the run's own are deleted by now)
        self._references(run, res)
        if res.refused and not self.dry_run:
            return res  # rolled back by the caller
        # 3. the bookkeeping: records not processed, ledger entries gone
        of_run = select(LEDGER.c.doc_key).where(and_(LEDGER.c.scenario == s,
                                                     LEDGER.c.run_id == run))
        res.records_unmarked = conn.execute(
            update(PR).where(and_(PR.c.scenario == s, PR.c.processed.is_(True),
                                  PR.c.group_key.in_(of_run.scalar_subquery())))
            .values(processed=False, result=None, note=None)).rowcount
        res.ledger_removed = conn.execute(delete(LEDGER).where(and_(
            LEDGER.c.scenario == s, LEDGER.c.run_id == run))).rowcount
        conn.execute(update(db.scenario_state).where(db.scenario_state.c.scenario == s)
                     .values(last_imported_version=None))
        history.finish(conn, hist, status="done", counts={
            "run": run, "deleted": res.deleted, "already_gone": res.already_gone,
            "changed_deleted": res.n_changed if self.force else 0,
            "records_unmarked": res.records_unmarked, "ledger_removed": res.ledger_removed})
        return res

    def _references(self, run: int, res: UndoResult) -> None:
        w, store, conn = self.w, self.ws.store, self.conn
        if len(w.key_fields) != 1:
            return  # a selector refers to a window by its one key field
        (kf,) = w.key_fields
        refs = [(w2, obj, f) for w2 in self.ws.windows for obj, f in w2.all_fields()
                if f.selector and f.selector.window == w.id]
        if not refs:
            return
        for page in self._entries(run):
            values = sorted({p.result[kf] for p in page if p.result
                             and p.result.get(kf) is not None}, key=str)
            if not values:
                continue
            for w2, obj, f in refs:
                t = store.tables[(w2.id, obj)]
                st2 = store.summary_table(w2.id)
                detail = obj != w2.summary
                cond = t.c[f.name].in_(values)
                res.n_references += conn.execute(
                    select(func.count()).select_from(t).where(cond)).scalar_one()
                room = LISTED - len(res.references)
                if room <= 0:
                    continue
                cols = [st2.c[k] for k in w2.key_fields] or [st2.c._id]
                q = select(*cols, t.c[f.name]).where(cond).limit(room)
                if detail:
                    q = q.select_from(t.join(st2, st2.c._id == t.c._doc_id))
                for r in conn.execute(q):
                    res.references.append({
                        "document": f"{w2.id} " + " ".join(str(v) for v in r[:-1]),
                        "field": f"{obj}.{f.name}", "refers_to": str(r[-1])})
