"""Property: for random files (random key order, random line counts, some bad cells), the ERP
after the import plus the records in error account for every row of the file exactly once.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migration_kit import api

from ..helpers import INVOICE_MAP, documents, load_master
from .shapes import invoice_rows, write_csv

_names = itertools.count()


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n_orders=st.integers(1, 25),
       bad=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(["Qty", "Customer"])),
                    max_size=4),
       grouping=st.sampled_from(["key", "consecutive"]))
def test_every_row_ends_in_exactly_one_document_or_error(sqlite_workspace, tmp_path, seed,
                                                         n_orders, bad, grouping):
    ws = sqlite_workspace  # one workspace for all examples: each has its own scenario
    if not list(api.list_documents(ws, "AR303000")):
        load_master(ws)
    n = next(_names)
    rng = random.Random(seed)
    rows = invoice_rows(n_orders, rng, prefix=f"P{n}")
    rng.shuffle(rows)
    for pos, column in bad:
        r = rows[pos % len(rows)]
        if column == "Qty":
            r[7] = "not a number"
        else:
            r[1] = "C999"
    file = write_csv(tmp_path / f"p{n}.csv", rows)
    name = f"prop{n}"
    api.create_simplified(ws, name, file, "AR301000", INVOICE_MAP, ["Document.ReferenceNbr"],
                          options={"grouping": grouping})
    api.prepare(ws, name, progress=False)
    s = api.import_(ws, name, progress=False, continue_on_error=True)
    assert s.remaining == s.failed  # the records in error stay to be corrected
    # each row: its line description in one ERP document, or on a record in error
    in_erp = [ln["Description"] for d in documents(ws, "AR301000")
              if d["Document"]["Description"].startswith(f"order P{n}-") for ln in d["Line"]]
    in_error = [ln.values["LineDescription"]
                for ln in api.lines(ws, name, errors_only=True, limit=None)]
    assert sorted(in_erp + in_error) == sorted(r[6] for r in rows)
    assert len(set(in_erp + in_error)) == len(rows)
    records = {ln.record for ln in api.lines(ws, name, limit=None)}
    assert s.imported + s.failed == len(records)
    if grouping == "key":
        assert len(records) == n_orders
