"""SQLite: the ids of documents saved in bulk are the run up to the last rowid inserted, not
read back by their keys. Each document keeps its own lines when ids have gaps, when the
greatest id was deleted (SQLite gives it again), and when the table holds the greatest
possible id (SQLite then picks ids at random, and the save reads them back by the key)."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from migration_kit import api

from .conftest import seed
from .test_windows import invoice

W = "AR301000"


def _save(ws, customers: list[str], descriptions: list[str]) -> list[str]:
    docs = []
    for c, d in zip(customers, descriptions):
        doc = invoice(CustomerID=c)
        doc["Line"][1]["Description"] = d
        docs.append(doc)
    with ws.transaction() as conn:
        results = ws.store.save_many(conn, W, docs)
    assert all(r.ok for r in results)
    return [r.key["ReferenceNbr"] for r in results]


def _lines_of(ws) -> dict[str, tuple[str, list[str]]]:
    return {d["Document"]["ReferenceNbr"]: (d["Document"]["CustomerID"],
                                            [ln["Description"] for ln in d["Line"]])
            for d in api.list_documents(ws, W)}


def _check(ws, refs, customers, descriptions):
    got = _lines_of(ws)
    assert [got[r] for r in refs] == [(c, [None, d]) for c, d in zip(customers,
                                                                       descriptions)]


def test_each_document_keeps_its_lines(sqlite_workspace):
    ws = sqlite_workspace
    seed(ws)
    st = ws.store.summary_table(W)
    first = _save(ws, ["C001", "C002", "C001"], ["a1", "a2", "a3"])
    with ws.transaction() as conn:  # a gap, and the greatest id gone (SQLite gives it again)
        ids = conn.execute(select(st.c._id).order_by(st.c._id)).scalars().all()
        conn.execute(delete(st).where(st.c._id.in_([ids[1], ids[2]])))
        for t in (ws.store.tables[(W, "Line")],):
            conn.execute(delete(t).where(t.c._doc_id.in_([ids[1], ids[2]])))
    refs = _save(ws, ["C002", "C001"], ["b1", "b2"])
    with ws.connect() as conn:
        assert conn.execute(select(st.c._id).order_by(st.c._id)).scalars().all() == [
            ids[0], ids[1], ids[2]]  # the ids after the greatest stored one, again
    _check(ws, [first[0], *refs], ["C001", "C002", "C001"], ["a1", "b1", "b2"])


def test_ids_sqlite_picks_at_random_are_read_back(sqlite_workspace):
    ws = sqlite_workspace
    seed(ws)
    st = ws.store.summary_table(W)
    refs = _save(ws, ["C001"], ["a1"])
    top = 2**63 - 1
    with ws.transaction() as conn:
        conn.execute(insert(st).values(_id=top, DocType="Invoice", ReferenceNbr="TOP",
                                       CustomerID="C001", Date=None))
    refs += _save(ws, ["C002", "C001", "C002"], ["b1", "b2", "b3"])
    with ws.connect() as conn:
        got = conn.execute(select(st.c._id).where(st.c.ReferenceNbr.in_(refs[1:]))
                           ).scalars().all()
    assert len(got) == 3 and max(got) < top and sorted(got) != list(range(min(got),
                                                                       min(got) + 3))
    _check(ws, refs, ["C001", "C002", "C001", "C002"], ["a1", "b1", "b2", "b3"])
