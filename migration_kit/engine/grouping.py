"""Records from rows, in the workspace database.

Prepare writes one *run* per stretch of adjacent rows with equal key values. With the
default ``grouping: key`` the runs of one key are then gathered into one record (its lines
in file order), and records are numbered in the order of their key's first appearance. It
is done in SQL, so memory stays bounded however the file is sorted. ``grouping:
consecutive`` keeps every run as its own record.

Then the exactly-once ledger is matched: a record whose key was imported before is marked
Processed with a note saying why (the user reads it in ``prepared list`` and ``status``),
unless it is to be imported again (``mode: upsert`` and its rows changed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import and_, bindparam, func, select, text, update

from .. import db

PR = db.prepared_record
PL = db.prepared_line
LEDGER = db.import_ledger

PAGE = 5000
LISTED = 1000  # keys listed one by one in a summary; the rest are counted


def key_text(key: dict[str, Any] | None, empty: str = "") -> str:
    """A document key for people: ``ReferenceNbr=INV-1, DocType=Invoice``."""
    if not key:
        return empty
    return ", ".join(f"{k.split('.', 1)[-1]}={v}" for k, v in key.items())


def doc_key(identity: dict[str, Any] | None) -> str | None:
    """A record's group key: its document key as text (None: no key, never gathered)."""
    if not identity:
        return None
    if len(identity) == 1:  # the usual one text key: json.dumps's very text, in one step
        ((k, v),) = identity.items()
        if type(k) is str and type(v) is str:
            return "{" + encode_basestring(k) + ": " + encode_basestring(v) + "}"
    return json.dumps(identity, sort_keys=True, ensure_ascii=False)


def rows_digest(data: Iterable[str]) -> str:
    """A record's rows as stored in prepared data (JSON text per line, in line order)."""
    lines = list(data)
    # each line's text and a line break, hashed as one text (the same bytes line by line)
    text = "\n".join(lines) + "\n" if lines else ""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def gather(conn, scenario: str) -> int:
    """Gather the runs of each key into one record; returns how many records were gathered
    from rows that were not adjacent."""
    s = scenario
    gathered = conn.execute(select(func.count()).select_from(
        select(PR.c.group_key).where(and_(PR.c.scenario == s, PR.c.group_key.is_not(None)))
        .group_by(PR.c.group_key).having(func.count() > 1).subquery())).scalar_one()
    if not gathered:
        return 0
    params = {"s": s}
    # old run number -> new record number: the rank of the key's first run
    conn.execute(text(
        "INSERT INTO mk_regroup (scenario, old_no, new_no) "
        "SELECT :s, record_no, DENSE_RANK() OVER (ORDER BY first_no) FROM ("
        " SELECT record_no, CASE WHEN group_key IS NULL THEN record_no"
        "  ELSE MIN(record_no) OVER (PARTITION BY group_key) END AS first_no"
        " FROM mk_prepared_record WHERE scenario = :s) AS runs"), params)
    # the first run of a key takes the counts (and the first error) of all its runs.
    # "record_no + 0" everywhere below: SQLite would answer MIN(record_no) and ORDER BY
    # record_no of one key by walking the primary key (every run of the scenario, for
    # each run: hours on a shuffled file) instead of the key's index.
    same_key = ("FROM mk_prepared_record p WHERE p.scenario = mk_prepared_record.scenario "
                "AND p.group_key = mk_prepared_record.group_key")
    first_error = (f"(SELECT p.{{c}} {same_key} AND p.error IS NOT NULL "
                   "ORDER BY p.record_no + 0 LIMIT 1)")
    conn.execute(text(
        "UPDATE mk_prepared_record SET "
        f"last_line = (SELECT MAX(p.last_line) {same_key}), "
        f"line_count = (SELECT SUM(p.line_count) {same_key}), "
        f"error = COALESCE(error, {first_error.format(c='error')}), "
        f"error_field = COALESCE(error_field, {first_error.format(c='error_field')}), "
        f"error_stage = COALESCE(error_stage, {first_error.format(c='error_stage')}) "
        "WHERE scenario = :s AND group_key IN (SELECT group_key FROM mk_prepared_record "
        " WHERE scenario = :s AND group_key IS NOT NULL GROUP BY group_key"
        " HAVING COUNT(*) > 1) "
        f"AND record_no = (SELECT MIN(p.record_no + 0) {same_key})"), params)
    conn.execute(text(
        "DELETE FROM mk_prepared_record WHERE scenario = :s AND group_key IS NOT NULL "
        "AND record_no > (SELECT MIN(p.record_no + 0) FROM mk_prepared_record p "
        " WHERE p.scenario = :s AND p.group_key = mk_prepared_record.group_key)"), params)
    moved = ("SELECT old_no FROM mk_regroup WHERE scenario = :s AND old_no <> new_no")
    conn.execute(text(
        "UPDATE mk_prepared_line SET record_no = (SELECT g.new_no FROM mk_regroup g "
        " WHERE g.scenario = mk_prepared_line.scenario AND g.old_no = mk_prepared_line.record_no)"
        f" WHERE scenario = :s AND record_no IN ({moved})"), params)
    # two steps, so no record number is taken twice in between (primary key)
    conn.execute(text(
        "UPDATE mk_prepared_record SET record_no = -(SELECT g.new_no FROM mk_regroup g "
        " WHERE g.scenario = mk_prepared_record.scenario"
        "  AND g.old_no = mk_prepared_record.record_no)"
        f" WHERE scenario = :s AND record_no IN ({moved})"), params)
    conn.execute(text("UPDATE mk_prepared_record SET record_no = -record_no "
                      "WHERE scenario = :s AND record_no < 0"), params)
    conn.execute(text("DELETE FROM mk_regroup WHERE scenario = :s"), params)
    return gathered


def count_gathered(conn, scenario: str) -> int:
    """How many records were gathered from rows that were not adjacent, after
    :func:`gather`: a record's lines are numbered in file order, so its lines stood
    together exactly when they fill the stretch from its first line to its last. (The
    column engine gathers the rows of a key within each batch before :func:`gather`, whose
    own count sees only the records it merged.)"""
    return conn.execute(select(func.count()).where(and_(
        PR.c.scenario == scenario, PR.c.group_key.is_not(None),
        PR.c.last_line - PR.c.first_line + 1 != PR.c.line_count))).scalar_one()


@dataclass
class LedgerMatch:
    """What the ledger said about the prepared records."""

    skipped: int = 0  # marked Processed: imported before
    changed: int = 0  # of those (or to update), whose rows differ from what was imported
    to_update: int = 0  # upsert: imported before, rows changed: imported again
    keys: list[dict[str, Any]] = field(default_factory=list)  # the first LISTED, by key

    def to_dict(self) -> dict[str, Any]:
        return {"skipped": self.skipped, "changed": self.changed, "to_update": self.to_update,
                "keys": self.keys}


def note_for(ledger_version: int | None, version: int | None, changed: bool | None) -> str:
    if ledger_version is None:
        return "already imported by an earlier run"
    if ledger_version == version:
        return f"already imported from this file version ({version})"
    text_ = f"already imported from version {ledger_version}"
    if changed:
        text_ += "; its rows differ now (mode upsert would update it)"
    return text_


def match_ledger(conn, scenario: str, version: int | None, *, one_record_per_key: bool,
                 mode: str) -> LedgerMatch:
    """Mark the records whose key the scenario imported before (see the module doc)."""
    out = LedgerMatch()
    after = 0
    while True:
        page = conn.execute(
            select(PR.c.record_no, PR.c.source_line, PR.c.key, LEDGER.c.file_version,
                   LEDGER.c.source_line.label("ledger_line"), LEDGER.c.digest,
                   LEDGER.c.result)
            .join(LEDGER, and_(LEDGER.c.scenario == PR.c.scenario,
                               LEDGER.c.doc_key == PR.c.group_key))
            .where(and_(PR.c.scenario == scenario, PR.c.record_no > after))
            .order_by(PR.c.record_no).limit(PAGE)).all()
        if not page:
            return out
        after = page[-1].record_no
        need_digest = [r.record_no for r in page
                       if r.file_version is not None and r.file_version != version
                       and r.digest is not None]
        digests = _digests(conn, scenario, need_digest)
        marks = []
        for r in page:
            same_version = r.file_version is not None and r.file_version == version
            if same_version and not one_record_per_key and r.ledger_line != r.source_line:
                continue  # another record of the same key: the import says why it fails
            changed = (digests[r.record_no] != r.digest) if r.record_no in digests else None
            if mode == "upsert" and not same_version and changed:
                out.to_update += 1
                out.changed += 1
                _listed(out, r, "to update: its rows differ from what was imported")
                continue
            if mode == "upsert" and changed is False:
                note = f"unchanged since version {r.file_version}"
            else:
                note = note_for(r.file_version, version, changed)
            out.skipped += 1
            out.changed += bool(changed)
            _listed(out, r, note)
            marks.append({"s": scenario, "r": r.record_no, "n": note, "res": r.result})
        if marks:
            conn.execute(update(PR).where(and_(PR.c.scenario == bindparam("s"),
                                               PR.c.record_no == bindparam("r")))
                         .values(processed=True, note=bindparam("n"),
                                 result=bindparam("res")), marks)


def _listed(out: LedgerMatch, r, note: str) -> None:
    if len(out.keys) < LISTED:
        out.keys.append({"record": r.record_no, "key": r.key, "version": r.file_version,
                         "note": note})


def _digests(conn, scenario: str, records: list[int]) -> dict[int, str]:
    if not records:
        return {}
    data: dict[int, list[str]] = {}
    for rec, d in conn.execute(select(PL.c.record_no, PL.c.data).where(and_(
            PL.c.scenario == scenario, PL.c.record_no.in_(records)))
            .order_by(PL.c.record_no, PL.c.line_no)):
        data.setdefault(rec, []).append(d)
    return {rec: rows_digest(ds) for rec, ds in data.items()}

