"""``ERPStore.bind_lines``: a batch's detail lines bound before its save (parallel workers do
it while the batches before are being saved). The save writes what it would have written
unbound, and binds anew where the documents are not the ones bound or their lines changed
since. On a real database of each kind."""

from __future__ import annotations

import copy

from sqlalchemy.dialects import postgresql, sqlite

from migration_kit import api

from .conftest import seed
from .test_windows import invoice

W = "AR301000"


def _checked(ws, docs):
    """Pass 1 as a worker runs it before its turn, and the line numbers the save gives."""
    store = ws.store
    with ws.connect() as conn:
        checked = store.precheck(store.validator(W, store.lookup(conn)), docs)
    assert all(not errors for _, errors in checked)
    store.number_lines(ws.windows.get(W), [c for c, _ in checked])
    return checked


def _save(ws, docs, checked, bound):
    with ws.transaction() as conn:
        results = ws.store.save_many(conn, W, docs, checked=checked, bound=bound)
    assert [r.action for r in results] == ["inserted"] * len(docs)
    return [r.key["ReferenceNbr"] for r in results]


def _lines(ws, refs):
    by_ref = {d["Document"]["ReferenceNbr"]: d["Line"] for d in api.list_documents(ws, W)}
    return [by_ref[r] for r in refs]


def _batch(n):
    docs = [invoice(CustomerID="C001" if i % 2 else "C002") for i in range(n)]
    docs[1]["Line"].append({"Description": "Extra", "Quantity": "3", "UnitPrice": "1.25",
                            "AccountID": "3000"})
    return docs


def test_bound_lines_are_saved_as_unbound_ones(seeded):
    docs = _batch(5)
    plain = _checked(seeded, copy.deepcopy(docs))
    early = _checked(seeded, copy.deepcopy(docs))
    with seeded.connect() as conn:
        bound = seeded.store.bind_lines(conn.dialect, W, [c for c, _ in early])
    assert bound is not None and bound.objects["Line"][2] == [2, 3, 2, 2, 2]
    unbound_refs = _save(seeded, docs, plain, None)
    bound_refs = _save(seeded, docs, early, bound)
    assert _lines(seeded, bound_refs) == _lines(seeded, unbound_refs)
    assert [len(ls) for ls in _lines(seeded, bound_refs)] == [2, 3, 2, 2, 2]


def test_changed_or_other_documents_are_bound_anew(seeded):
    docs = _batch(3)
    checked = _checked(seeded, copy.deepcopy(docs))
    cleans = [c for c, _ in checked]
    with seeded.connect() as conn:
        bound = seeded.store.bind_lines(conn.dialect, W, cleans)
    # a line added after the binding: the save writes the document as it is now
    cleans[0]["Line"].append(dict(cleans[0]["Line"][0], LineNbr=3, Description="Added later"))
    refs = _save(seeded, docs, checked, bound)
    assert [len(ls) for ls in _lines(seeded, refs)] == [3, 3, 2]
    assert _lines(seeded, refs)[0][2]["Description"] == "Added later"
    # lines bound for other documents with as many lines: not used
    checked = _checked(seeded, copy.deepcopy(docs))
    others = copy.deepcopy([c for c, _ in checked])
    others[1]["Line"][0]["Description"] = "Only in the other documents"
    with seeded.connect() as conn:
        bound = seeded.store.bind_lines(conn.dialect, W, others)
    refs = _save(seeded, docs, checked, bound)
    assert [ln["Description"] for ls in _lines(seeded, refs) for ln in ls] == [
        ln["Description"] for c, _ in checked for ln in c["Line"]]
    assert "Only in the other documents" not in str(_lines(seeded, refs))


def test_no_lines_bound_where_sqlalchemy_would_bind_them_again(sqlite_workspace):
    """Only SQLite's executemany and psycopg 3's COPY take bound columns as they are;
    elsewhere ``bulk_insert_columns`` hands the rows to SQLAlchemy, which binds them."""
    ws = sqlite_workspace
    seed(ws)
    docs = [c for c, _ in _checked(ws, _batch(2))]
    store = ws.store
    assert store.bind_lines(postgresql.psycopg2.dialect(), W, docs) is None
    assert store.bind_lines(postgresql.psycopg.dialect(), W, docs) is not None
    assert store.bind_lines(sqlite.pysqlite.dialect(), W, docs) is not None

