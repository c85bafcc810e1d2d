"""A record's group key is the JSON text of its document key (``grouping.doc_key``): the
fast path for one text key gives json.dumps's very text, so keys written by an earlier
version of the toolkit (in the ledger) are the same keys now."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from migration_kit.engine.grouping import doc_key, rows_digest

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@given(st.dictionaries(TEXT, st.one_of(TEXT, st.integers(), st.booleans()), max_size=3))
def test_doc_key_is_the_json_text_of_the_key(key):
    want = json.dumps(key, sort_keys=True, ensure_ascii=False) if key else None
    assert doc_key(key) == want


def test_doc_key_of_one_text_key():
    assert doc_key({"Document.ReferenceNbr": 'SO-1 "ø"\n'}) == (
        '{"Document.ReferenceNbr": "SO-1 \\"ø\\"\\n"}')
    assert doc_key(None) is None and doc_key({}) is None


@given(st.lists(TEXT, max_size=8))
def test_rows_digest_is_the_checksum_of_each_line_and_its_line_break(lines):
    """The ledger keeps this checksum of a record's stored lines: the same as the line by
    line hash of earlier versions, so documents imported before compare equal."""
    import hashlib

    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    assert rows_digest(lines) == rows_digest(iter(lines)) == h.hexdigest()
    assert rows_digest([*lines, ""]) != rows_digest(lines)


@given(st.lists(st.integers(1, 6), max_size=30))
def test_lines_by_record_adjacent_or_apart(rec_nos):
    """``import_._by_record``: each record's lines in line order, whether its lines are
    adjacent (slices) or apart (a record gathered from a shuffled file)."""
    from migration_kit.engine.import_ import _by_record

    n = len(rec_nos)
    decoded = [[i] for i in range(n)]
    texts = [f"[{i}]" for i in range(n)]
    sources = [i + 2 for i in range(n)]
    want: dict = {}
    for r, d, t, s in zip(rec_nos, decoded, texts, sources):
        got = want.setdefault(r, ([], [], []))
        got[0].append(d)
        got[1].append(t)
        got[2].append(s)
    assert _by_record(rec_nos, decoded, texts, sources) == want
