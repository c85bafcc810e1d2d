"""``jsonio.fast_encoder`` (json's C encoder built once) writes the very text of
``json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=...).encode``, and
``dump_row`` the text prepared data has always stored (dates and decimals as text)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migration_kit.jsonio import (
    dump_row,
    dumps_default,
    encode,
    fast_encoder,
    value_text,
)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(),
                    st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.text(max_size=4), inner, max_size=4)), max_leaves=12)
PLAIN = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@settings(max_examples=200, deadline=None)
@given(values)
def test_fast_encoder_writes_json_encoders_text(v):
    assert fast_encoder()(v) == PLAIN(v)


def test_fast_encoder_calls_default_and_refuses_what_json_cannot_write():
    enc = fast_encoder(lambda o: f"<{o}>" if isinstance(o, Decimal) else encode(o))
    assert enc([Decimal("1.50"), dt.date(2024, 2, 29)]) == '["<1.50>","2024-02-29"]'
    with pytest.raises(TypeError, match="not JSON serializable"):
        fast_encoder()([object()])


row_values = st.one_of(scalars, st.decimals(allow_nan=False, allow_infinity=False),
                       st.dates(), st.datetimes())


@settings(max_examples=200, deadline=None)
@given(st.lists(row_values, max_size=8))
def test_dump_row_is_each_value_encoded_then_json(row):
    assert dump_row(row) == PLAIN([encode(v) for v in row])


@settings(max_examples=200, deadline=None)
@given(row_values)
def test_value_text_is_the_values_text_in_a_row(v):
    assert dump_row([v, v]) == f"[{value_text(v)},{value_text(v)}]"


@settings(max_examples=200, deadline=None)
@given(values)
def test_dumps_default_writes_json_dumps_text(v):
    assert dumps_default(v) == json.dumps(v)


def test_the_databases_json_columns_are_written_by_dumps_default(tmp_path):
    from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, select, text

    from migration_kit.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'j.sqlite'}")
    t = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("j", JSON))
    t.metadata.create_all(engine)
    value = {"Key": "Ærlig \u2028", "n": [1, 2.5, None]}
    with engine.begin() as conn:
        conn.execute(insert(t), [{"id": 1, "j": value}])
        assert conn.execute(text("SELECT j FROM t")).scalar_one() == json.dumps(value)
        assert conn.execute(select(t.c.j)).scalar_one() == value
    engine.dispose()
