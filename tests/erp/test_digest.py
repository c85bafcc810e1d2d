"""``DocumentDigest.many`` (the import's way: a batch of documents, one column at a time) gives
each document the very checksum ``DocumentDigest.__call__`` gives it alone (the way
reconcile and roll back read a stored document back), and any changed value changes it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from migration_kit.erp.digest import DocumentDigest
from migration_kit.erp.windows import WindowRegistry

WINDOW = WindowRegistry().get("AR301000")  # a summary (Document) with details (Line)
DIGEST = DocumentDigest(WINDOW)
SUMMARY, DETAIL = WINDOW.summary, WINDOW.detail_objects[0].name

texts = st.one_of(st.none(), st.text(max_size=8))
decimals = st.one_of(st.none(), st.decimals(min_value=-10**6, max_value=10**6, places=6,
                                              allow_nan=False, allow_infinity=False))
dates = st.one_of(st.none(), st.dates(min_value=dt.date(1990, 1, 1)))
# values a stored document's field may hold besides its type's (orjson writes some of them
# otherwise than json: 1e-7 against 1e-07; it refuses whole numbers past 64 bits)
strays = st.one_of(st.floats(allow_nan=False), st.integers(2**63, 2**70),
                   st.sampled_from([1e-07, 1e16, -0.0, 2**64]))


def _row(obj, draw) -> dict:
    row = {}
    for f in obj.fields.values():
        kind = f.value_type
        strategy = (decimals if kind == "decimal" else dates if kind == "date"
                    else st.one_of(st.none(), st.integers(-5, 5)) if kind == "integer"
                    else st.one_of(st.none(), st.booleans()) if kind == "boolean" else texts)
        row[f.name] = draw(st.one_of(strategy, strays) if draw(st.integers(0, 9)) == 0
                           else strategy)
    return row


@st.composite
def documents(draw) -> dict:
    head = _row(WINDOW.objects[SUMMARY], draw)
    lines = [_row(WINDOW.objects[DETAIL], draw) for _ in range(draw(st.integers(0, 4)))]
    return {SUMMARY: head, DETAIL: lines}


@settings(max_examples=150, deadline=None)
@given(st.lists(documents(), max_size=6))
def test_many_is_the_digest_of_each_document(docs):
    assert DIGEST.many(docs) == [DIGEST(d) for d in docs]


def test_a_changed_value_or_line_changes_the_digest():
    doc = {SUMMARY: {"ReferenceNbr": "INV1", "Date": dt.date(2024, 1, 31)},
           DETAIL: [{"Quantity": Decimal("2"), "Description": "a"},
                    {"Quantity": Decimal("1.5"), "Description": "b"}]}
    base = DIGEST(doc)
    assert DIGEST({SUMMARY: dict(doc[SUMMARY]), DETAIL: [dict(r) for r in doc[DETAIL]]}) == base
    changed = [
        {SUMMARY: {**doc[SUMMARY], "ReferenceNbr": "INV2"}, DETAIL: doc[DETAIL]},
        {SUMMARY: doc[SUMMARY], DETAIL: [doc[DETAIL][0], {**doc[DETAIL][1], "Quantity":
                                                          Decimal("1.6")}]},
        {SUMMARY: doc[SUMMARY], DETAIL: doc[DETAIL][:1]},
        {SUMMARY: doc[SUMMARY], DETAIL: doc[DETAIL][::-1]},
    ]
    got = DIGEST.many(changed)
    assert base not in got and len(set(got)) == len(got)
    # a decimal written with another exponent is the same stored value
    same = {SUMMARY: doc[SUMMARY], DETAIL: [{**doc[DETAIL][0], "Quantity": Decimal("2.000")},
                                            doc[DETAIL][1]]}
    assert DIGEST.many([same]) == [base]
