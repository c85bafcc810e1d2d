"""Prepare: read the current file version, apply restrictions, group rows into records by
the key fields, and store the prepared data in the workspace database. Nothing reaches the
ERP. The old prepared data is replaced in the same transaction, so a failed prepare (a bad
file) leaves everything as it was.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import delete, func, insert, select

from .. import db
from ..catalog.versions import get_version, load_provider
from ..erp.store import bulk_insert
from ..errors import BadInputError, Location, MappingError, SourceError
from ..jsonio import dump_row
from ..scenarios.conditions import compile_restrictions
from ..scenarios.model import Scenario, load_scenario
from ..workspace import Workspace
from . import grouping, history, prepare_columns
from .collection import fewer_collections
from .continuation import CONTINUATION_BEFORE_KEY, Continuation
from .grouping import doc_key
from .lock import scenario_lock
from .mapping import ImportMapping
from .progress import progress_bar
from .sources import row_source

CHUNK = 5000


@dataclass
class PrepareSummary:
    scenario: str
    file_version: int | None
    lines: int
    records: int
    filtered_out: int
    already_processed: int
    errors: int
    gathered: int = 0  # records gathered from rows that were not adjacent in the file
    grouping: str = "key"
    to_update: int = 0  # upsert: imported before from another version, rows changed
    changed: int = 0  # imported before from another version, rows differ now
    skipped_keys: list[dict[str, Any]] = field(default_factory=list)  # the first 1000

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        text = (f"prepared {self.records} record(s) from {self.lines} line(s) of version "
                f"{self.file_version}; {self.filtered_out} line(s) left out by restrictions; "
                f"{self.already_processed} already imported; {self.errors} with errors")
        if self.gathered:
            text += (f"\n{self.gathered} record(s) gathered from rows that were not adjacent "
                     "in the file (grouping: key)")
        if self.to_update:
            text += f"\n{self.to_update} record(s) imported before and changed: to update"
        if self.skipped_keys:
            text += "\nnot imported again:"
            for k in self.skipped_keys[:20]:
                text += (f"\n  record {k['record']} {grouping.key_text(k['key'], '(no key)')}: "
                         f"{k['note']}")
            more = self.already_processed + self.to_update - min(20, len(self.skipped_keys))
            if more > 0:
                text += (f"\n  ... and {more} more (`prepared list NAME --skipped` lists "
                         "them)")
        return text


@fewer_collections()
def prepare(ws: Workspace, name: str, *, version: int | None = None,
            progress: bool = True) -> PrepareSummary:
    """Prepare an import scenario (see the module doc)."""
    sc = load_scenario(ws, name)
    ws.require(sc.window, "edit")
    with scenario_lock(ws, sc.name, "prepare"):
        return _prepare(ws, sc, version, progress)


def _prepare(ws: Workspace, sc: Scenario, version: int | None, progress: bool
             ) -> PrepareSummary:
    window = ws.windows.get(sc.window)
    prov = load_provider(ws, sc.provider)
    fv = get_version(ws, prov.name, version)
    mapping = ImportMapping(ws, sc, window)
    keep = compile_restrictions(sc.restrictions, today=mapping.ctx.today, locale=sc.locale)
    source = row_source(ws, sc, prov, fv)
    columns = source.columns
    follow = Continuation(mapping, columns) if sc.continuation_rows else None
    one_per_key = sc.grouping == "key" and bool(mapping.key_targets)
    with ws.transaction() as conn:
        run = history.start(conn, sc.name, "prepare", ws.user, fv.version)
        clear_prepared(conn, sc.name)
        bar = progress_bar(progress, desc=f"prepare {sc.name}", unit="rows")
        try:
            if sc.engine == "rows":
                lines, filtered = _rows(conn, sc, source, mapping, keep, follow, bar)
            else:
                lines, filtered = prepare_columns.write(conn, sc, source, mapping, keep,
                                                        follow, bar)
        except SourceError as e:
            # Name the provider, its version and the file as uploaded, not the stored copy;
            # the transaction rolls back: the old prepared data stays as it was.
            loc = e.location or Location()
            if not (loc.file or "").endswith(f"of provider {prov.name!r}"):
                e.location = replace(loc, file=f"{fv.original_name} of provider {prov.name!r}",
                                     version=fv.version)
            e.facts["provider"] = prov.name
            e.args = (str(e),)
            raise
        finally:
            bar.close()
        gathered = 0
        if one_per_key:
            gathered = grouping.gather(conn, sc.name)
            if sc.engine != "rows":  # records were gathered within each batch already
                gathered = grouping.count_gathered(conn, sc.name)
        match = grouping.match_ledger(conn, sc.name, fv.version,
                                      one_record_per_key=one_per_key, mode=sc.mode)
        save_prepared_state(conn, sc, columns, fv.version)
        n_records, n_errors = conn.execute(
            select(func.count(), func.count(db.prepared_record.c.error))
            .where(db.prepared_record.c.scenario == sc.name)).one()
        summary = PrepareSummary(sc.name, fv.version, lines, n_records, filtered,
                                 match.skipped, n_errors, gathered, sc.grouping,
                                 match.to_update, match.changed, match.keys)
        history.finish(conn, run, status="done",
                       counts={k: v for k, v in summary.to_dict().items()
                               if isinstance(v, int)})
    return summary


def _rows(conn, sc: Scenario, source, mapping: ImportMapping, keep, follow: Continuation | None,
          bar) -> tuple[int, int]:
    """The row path (``engine: rows``, the reference): one row at a time, one run of adjacent
    rows with equal keys per record (gathered after, in SQL). Returns (lines, filtered)."""
    columns = source.columns
    lines = records = filtered = 0
    rec_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    last_key: tuple | None = None
    for batch in source.batches(conn):
        for values, line in zip(batch.rows, batch.lines):
            row = dict(zip(columns, values))
            if not keep(row):
                filtered += 1
                continue
            lines += 1
            err: MappingError | None = None
            if follow is not None:
                values, err = follow.line(row, values, line)
            if err is None or err.target != CONTINUATION_BEFORE_KEY:
                try:
                    key, ident = mapping.key_and_identity(row)
                except MappingError as e:
                    key, ident, err = ("\0error", lines), None, e
            else:
                key, ident = ("\0error", lines), None
            if current is None or key is None or key != last_key:
                records += 1
                current = {"scenario": sc.name, "record_no": records,
                           "first_line": lines, "last_line": lines,
                           "key": ident, "active": True, "processed": False,
                           "error": None, "error_field": None, "error_stage": None,
                           "result": None, "group_key": doc_key(ident),
                           "line_count": 0, "source_line": line, "note": None}
                rec_rows.append(current)
                last_key = key
            current["last_line"] = lines
            current["line_count"] += 1
            if err is not None and current["error"] is None:
                current["error"], current["error_field"] = err.message, err.target
                current["error_stage"] = "prepare"
            line_rows.append({"scenario": sc.name, "line_no": lines,
                              "record_no": records, "source_line": line,
                              "data": dump_row(values)})
            if len(line_rows) >= CHUNK:
                _flush(conn, rec_rows, line_rows, keep_last=True)
        bar.update(len(batch.rows))
    _flush(conn, rec_rows, line_rows, keep_last=False)
    return lines, filtered


def _flush(conn, rec_rows: list, line_rows: list, *, keep_last: bool) -> None:
    # The last record may still grow, so it is written with the next chunk.
    done = rec_rows[:-1] if keep_last else rec_rows[:]
    if done:
        conn.execute(insert(db.prepared_record), done)
    bulk_insert(conn, db.prepared_line, line_rows)
    del rec_rows[:len(done)]
    line_rows.clear()


def clear_prepared(conn, scenario: str) -> None:
    """Remove a scenario's prepared records and lines (before a new prepare writes them)."""
    conn.execute(delete(db.prepared_line).where(db.prepared_line.c.scenario == scenario))
    conn.execute(delete(db.prepared_record).where(db.prepared_record.c.scenario == scenario))


def prepared_state(conn, scenario: str, *, then: str = "prepare"):
    """What the last prepare wrote down (columns, file version, ...); a scenario never
    prepared is bad input: "run prepare first"."""
    st = db.scenario_state
    state = conn.execute(select(st).where(st.c.scenario == scenario)).mappings().first()
    if state is None:
        raise BadInputError(f"scenario {scenario!r} has no prepared data: run {then} first",
                            scenario=scenario)
    return state


def save_prepared_state(conn, sc: Scenario, columns: list[str], version: int | None) -> None:
    """Write down what a prepare wrote (read back by :func:`prepared_state`)."""
    st = db.scenario_state
    prev = conn.execute(select(st).where(st.c.scenario == sc.name)).mappings().first()
    values = {"kind": sc.kind, "columns": columns, "file_version": version,
              "prepared_at": history.now()}
    if prev is None:
        conn.execute(insert(st).values(scenario=sc.name, **values))
    else:
        conn.execute(st.update().where(st.c.scenario == sc.name).values(**values))
