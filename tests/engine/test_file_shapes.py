"""Real customer file shapes (issue 13): every row lands in its document, or in an error the
user sees; nothing is skipped in silence. On SQLite and PostgreSQL, through the API."""

from __future__ import annotations

import random

import pytest
import yaml

from migration_kit import api
from migration_kit.errors import ScenarioError

from ..helpers import INVOICE_MAP, documents
from .shapes import (
    erp_documents,
    expected_documents,
    invoice_rows,
    write_csv,
)

KEY = ["Document.ReferenceNbr"]


def _scenario(ws, name: str, file, **options):
    return api.create_simplified(ws, name, file, "AR301000", INVOICE_MAP, KEY,
                                 options=options or None)


def _set_options(ws, name: str, **options) -> None:
    """Options of a simplified scenario are kept in its YAML (tests set them directly)."""
    p = ws.path("scenarios", f"{name}.yaml")
    d = yaml.safe_load(p.read_text())
    d.setdefault("options", {}).update(options)
    p.write_text(yaml.safe_dump(d, sort_keys=False))


def _import(ws, name: str, **kw):
    api.prepare(ws, name, progress=False)
    return api.import_(ws, name, progress=False, **kw)


def test_shuffled_order_lines_form_one_document_each(master, tmp_path):
    rng = random.Random(13)
    rows = invoice_rows(137, rng)
    assert len(rows) > 300
    shuffled = rows[:]
    rng.shuffle(shuffled)
    file = write_csv(tmp_path / "superstore.csv", shuffled)
    _scenario(master, "orders", file)
    p = api.prepare(master, "orders", progress=False)
    assert (p.lines, p.records, p.grouping) == (len(rows), 137, "key")
    assert p.gathered > 100 and "gathered from rows that were not adjacent" in str(p)
    # records numbered in the order of their key's first appearance, lines in file order
    first_seen = list(dict.fromkeys(r[0] for r in shuffled))
    lines = api.lines(master, "orders", limit=None, by_record=True)
    by_record: dict[int, list] = {}
    for ln in lines:
        by_record.setdefault(ln.record, []).append(ln)
    assert [recs[0].values["InvoiceNbr"] for _, recs in sorted(by_record.items())] == first_seen
    for recs in by_record.values():
        assert [x.line for x in recs] == sorted(x.line for x in recs)
        assert recs[0].record_lines == len(recs)
    s = api.import_(master, "orders", progress=False)
    s.raise_for_errors()
    assert (s.imported, s.skipped, s.remaining, s.not_imported) == (137, 0, 0, {})
    want = {nbr: lines_ for nbr, lines_ in expected_documents(shuffled).items()}
    assert erp_documents(documents(master, "AR301000")) == want
    # a second prepare and import of the same version imports nothing again, and says why
    p2 = api.prepare(master, "orders", progress=False)
    assert p2.already_processed == 137
    s2 = api.import_(master, "orders", progress=False)
    assert s2.imported == 0
    assert s2.not_imported == {"already imported from this file version (1)": 137}
    assert len(documents(master, "AR301000")) == 137


def test_consecutive_grouping_keeps_repeats_apart_and_refuses_a_second_insert(master,
                                                                              tmp_path):
    rng = random.Random(1)
    a, b = invoice_rows(2, rng, max_lines=2)[:2], invoice_rows(1, rng, prefix="SB")
    again = [r[:6] + [r[6] + "-again"] + r[7:] for r in a]
    file = write_csv(tmp_path / "repeats.csv", a + b + again)
    _scenario(master, "rep", file)
    _set_options(master, "rep", grouping="consecutive")
    p = api.prepare(master, "rep", progress=False)
    assert p.grouping == "consecutive" and p.gathered == 0
    n_a = len({r[0] for r in a})
    assert p.records == n_a + 1 + n_a
    s = api.import_(master, "rep", progress=False, continue_on_error=True)
    assert s.imported == n_a + 1 and s.failed == n_a and s.skipped == 0
    first_line = 2  # line 1 is the header
    msg = s.errors[0]["message"]
    assert f"ReferenceNbr={a[0][0]}" in msg and f"from line {first_line}" in msg
    assert "cannot be inserted" in msg
    # nothing is marked Processed in silence: the failed records keep their message
    errs = api.error_records(master, "rep")
    assert len(errs) == n_a and "imported already" in errs[0]["message"]
    assert api.not_imported(master, "rep") == {"in error": n_a}
    # the default grouping makes the same file one document per key
    _set_options(master, "rep", grouping="key")
    assert api.prepare(master, "rep", progress=False).records == n_a + 1


def test_a_re_dropped_version_skips_imported_keys_by_version_and_says_what_changed(
        master, tmp_path):
    rng = random.Random(7)
    v1 = invoice_rows(20, rng)
    file1 = write_csv(tmp_path / "drop1.csv", v1)
    _scenario(master, "drop", file1)
    assert _import(master, "drop").imported == 20
    v2 = [r[:] for r in v1] + invoice_rows(5, random.Random(8), prefix="SN")
    changed = "SO-0005"
    for r in v2:
        if r[0] == changed:
            r[7] = "99"
    new = {r[0] for r in v2} - {r[0] for r in v1}
    api.upload_version(master, "drop", write_csv(tmp_path / "drop2.csv", v2))
    p = api.prepare(master, "drop", progress=False)
    old = len({r[0] for r in v2} - new)
    assert p.file_version == 2 and p.already_processed == old and p.changed == 1
    notes = {k["key"]["Document.ReferenceNbr"]: k["note"] for k in p.skipped_keys}
    assert notes[changed] == ("already imported from version 1; its rows differ now (mode "
                              "upsert would update it)")
    assert notes["SO-0001"] == "already imported from version 1"
    assert "not imported again" in str(p)
    s = api.import_(master, "drop", progress=False)
    assert s.imported == len(new) and s.failed == 0
    assert s.not_imported == {
        "already imported from version 1": old - 1,
        "already imported from version 1; its rows differ now (mode upsert would update "
        "it)": 1}
    skipped = api.lines(master, "drop", skipped_only=True, limit=None)
    assert {ln.values["InvoiceNbr"] for ln in skipped} == {r[0] for r in v2} - new
    # mode upsert updates the changed one, and only that one
    _set_options(master, "drop", mode="upsert")
    p = api.prepare(master, "drop", progress=False)
    assert p.to_update == 1
    s = api.import_(master, "drop", progress=False)
    assert (s.imported, s.updated) == (0, 1)
    doc = {d["Document"]["ReferenceNbr"]: d for d in documents(master, "AR301000")}[changed]
    assert {ln["Quantity"] for ln in doc["Line"]} == {99}


def _continuation_rows(rows: list[list[str]]) -> list[list[str]]:
    """Header columns only on each document's first line (Odoo's one2many export)."""
    out, last = [], None
    for r in rows:
        out.append(r[:] if r[0] != last else [""] * 5 + r[5:])
        last = r[0]
    return out


def test_continuation_rows_continue_the_record_above(master, tmp_path):
    rows = invoice_rows(30, random.Random(3))
    file = write_csv(tmp_path / "odoo.csv", _continuation_rows(rows))
    _scenario(master, "odoo", file, continuation_rows=True)
    p = api.prepare(master, "odoo", progress=False)
    assert (p.records, p.errors) == (30, 0)
    line2 = api.lines(master, "odoo", limit=2)[1]
    assert line2.values["Customer"] == rows[1][1]  # filled from the record's first line
    s = api.import_(master, "odoo", progress=False)
    s.raise_for_errors()
    assert erp_documents(documents(master, "AR301000")) == expected_documents(rows)


def test_bad_continuation_rows_are_errors_naming_their_line(
        master, tmp_path):
    rows = invoice_rows(3, random.Random(4), max_lines=3)
    while len(expected_documents(rows)[rows[0][0]]) < 2:
        rows = invoice_rows(3, random.Random(len(rows) + 9), max_lines=3)
    cont = _continuation_rows(rows)
    # a continuation line on top, and one that contradicts its record's customer
    bad = [[""] * 5 + cont[0][5:6] + ["orphan"] + cont[0][7:]] + cont
    bad[2][1] = "C004" if rows[0][1] != "C004" else "C001"
    file = write_csv(tmp_path / "odoo_bad.csv", bad)
    _scenario(master, "odoo_bad", file, continuation_rows=True)
    p = api.prepare(master, "odoo_bad", progress=False)
    assert p.errors == 2
    errs = api.error_records(master, "odoo_bad")
    assert errs[0]["source_line"] == 2 and "no line with a key above it" in errs[0]["message"]
    assert "line 4: Customer is" in errs[1]["message"]
    assert "on the first line of its record" in errs[1]["message"]
    s = api.import_(master, "odoo_bad", progress=False, continue_on_error=True)
    assert s.failed == 2 and s.imported == 2
    assert api.not_imported(master, "odoo_bad") == {"in error": 2}
    imported = erp_documents(documents(master, "AR301000"))
    assert rows[0][0] not in imported  # the contradicting record is not imported
    # correcting the contradiction lets the record through; the orphan line is left out
    api.set_value(master, "odoo_bad", 3, "Customer", rows[0][1])
    api.set_active(master, "odoo_bad", 1, False)
    s = api.import_(master, "odoo_bad", progress=False)
    assert s.imported == 1 and s.not_imported == {"inactive": 1}
    assert erp_documents(documents(master, "AR301000"))[rows[0][0]] == \
        expected_documents(rows)[rows[0][0]]


def test_continuation_rows_need_keys(master, tmp_path):
    file = write_csv(tmp_path / "k.csv", invoice_rows(2, random.Random(5)))
    with pytest.raises(ScenarioError) as e:
        api.create_simplified(master, "nokeys", file, "AR301000", INVOICE_MAP, [],
                              options={"continuation_rows": True})
    assert any("continuation_rows needs key fields" in p for p in e.value.problems)

