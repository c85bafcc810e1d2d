"""Restrictions: conditions, typing, brackets with and/or, relative dates, checks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from migration_kit.errors import BadInputError
from migration_kit.scenarios.conditions import (
    CONDITIONS,
    Restriction,
    check_restrictions,
    compile_restrictions,
    resolve_relative_date,
)

R = Restriction
TODAY = date(2024, 2, 15)


def passes(rs, row, **kw) -> bool:
    kw.setdefault("today", TODAY)
    return compile_restrictions(rs, **kw)(row)


def one(field, condition, *values, **kw) -> list[Restriction]:
    return [R(field, condition, list(values), **kw)]


# --------------------------------------------------------------------------- each condition


@pytest.mark.parametrize("condition, values, value, expected", [
    ("equals", ["Open"], "Open", True),
    ("equals", ["Open"], "open", False),  # text is case-sensitive
    ("equals", [10], "10.0", True),  # numbers when both read as numbers
    ("equals", ["10"], Decimal("10.00"), True),
    ("equals", ["010"], "10", True),
    ("equals", ["A-1"], "A-1", True),
    ("equals", [""], "", True),
    ("equals", [""], None, True),
    ("equals", ["x"], None, False),
    ("not_equals", ["Open"], "Closed", True),
    ("not_equals", ["Open"], "Open", False),
    ("not_equals", [5], None, True),
    ("greater", [100], "150", True),
    ("greater", [100], "99.5", False),
    ("greater", [100], 100, False),
    ("greater", ["9"], "10", True),  # numbers, not text
    ("greater", ["b"], "c", True),
    ("greater", [100], None, False),
    ("greater", [100], "", False),
    ("greater_or_equal", [100], 100, True),
    ("greater_or_equal", [100], Decimal("99.99"), False),
    ("less", [100], "99", True),
    ("less", [100], "", False),
    ("less", ["b"], "B", True),  # "B" < "b" by code point
    ("less_or_equal", [100], "100", True),
    ("less_or_equal", [100], "100.01", False),
    ("between", [10, 20], "10", True),
    ("between", [10, 20], "20", True),
    ("between", [10, 20], "15.5", True),
    ("between", [10, 20], "21", False),
    ("between", [10, 20], None, False),
    ("between", ["b", "d"], "c", True),
    ("contains", ["ACME"], "Acme Holding", True),
    ("contains", ["acme"], "Other", False),
    ("contains", ["x"], None, False),
    ("not_contains", ["ACME"], "Acme Holding", False),
    ("not_contains", ["acme"], "Other", True),
    ("not_contains", ["x"], None, True),
    ("starts_with", ["ab"], "ABC", True),
    ("starts_with", ["bc"], "ABC", False),
    ("ends_with", ["BC"], "abc", True),
    ("ends_with", ["ab"], "abc", False),
    ("ends_with", ["5"], 12345, True),
    ("is_empty", [], None, True),
    ("is_empty", [], "", True),
    ("is_empty", [], "  ", True),
    ("is_empty", [], "x", False),
    ("is_empty", [], 0, False),
    ("is_not_empty", [], "x", True),
    ("is_not_empty", [], " ", False),
    ("is_not_empty", [], None, False),
    ("in", ["NO", "SE"], "SE", True),
    ("in", ["NO", "SE"], "DK", False),
    ("in", [1, 2, 3], "2.0", True),
    ("in", ["NO"], None, False),
])
def test_condition(condition, values, value, expected):
    assert passes(one("F", condition, *values), {"F": value}) is expected


def test_every_condition_is_tested():
    mark = next(m for m in test_condition.pytestmark if m.name == "parametrize")
    assert {case[0] for case in mark.args[1]} == set(CONDITIONS)


def test_empty_list_passes_everything():
    assert compile_restrictions([])({"anything": 1}) is True


def test_missing_field_reads_as_empty():
    assert passes(one("Nope", "is_empty"), {}) is True


# --------------------------------------------------------------------------- typing


def test_dates_when_value_is_a_date():
    rs = one("D", "greater", date(2024, 1, 31))
    assert passes(rs, {"D": "2024-02-01"}) is True
    assert passes(rs, {"D": date(2024, 1, 31)}) is False
    assert passes(rs, {"D": datetime(2024, 3, 1, 10, 0)}) is True
    assert passes(rs, {"D": "not a date"}) is False
    assert passes(one("D", "not_equals", date(2024, 1, 31)), {"D": "garbage"}) is True


def test_dates_from_text_values_in_locale():
    assert passes(one("D", "less", "2024-01-31"), {"D": "2024-01-30"}) is True
    assert passes(one("D", "less", "31.01.2024"), {"D": "30.01.2024"}, locale="nb-NO") is True
    # 30.01.2024 < 01.02.2024 as dates (as text it would be the other way round)
    assert passes(one("D", "less", "01.02.2024"), {"D": "30.01.2024"}, locale="de-DE") is True
    assert passes(one("D", "equals", "01/31/2024"), {"D": date(2024, 1, 31)},
                  locale="en-US") is True


def test_locale_numbers():
    assert passes(one("A", "greater", "1 000,50"), {"A": "1 000,75"}, locale="nb-NO") is True
    assert passes(one("A", "equals", 1234.5), {"A": "1.234,50"}, locale="de-DE") is True
    assert passes(one("A", "equals", 1234.5), {"A": "1,234.50"}, locale="en-US") is True
    assert passes(one("A", "between", "1,5", "2,5"), {"A": "2"}, locale="nb-NO") is True
    # in en-US "1,5" is not a number: compared as text
    assert passes(one("A", "equals", "1,5"), {"A": "1,5"}, locale="en-US") is True
    assert passes(one("A", "equals", 15), {"A": "1,5"}, locale="en-US") is False


def test_unknown_locale():
    with pytest.raises(BadInputError, match="unknown locale"):
        compile_restrictions(one("A", "equals", 1), locale="xx")


def test_number_value_against_text_field_compares_as_text():
    assert passes(one("A", "greater", 100), {"A": "abc"}) is True  # "abc" > "100"
    assert passes(one("A", "equals", 100), {"A": "abc"}) is False


# --------------------------------------------------------------------------- relative dates


@pytest.mark.parametrize("text, expected", [
    ("@Today", date(2024, 2, 15)), ("@today", date(2024, 2, 15)),
    ("@Today-30", date(2024, 1, 16)), ("@Today+1", date(2024, 2, 16)),
    ("@Today - 15", date(2024, 1, 31)),
    ("@MonthStart", date(2024, 2, 1)), ("@MonthStart+1", date(2024, 2, 2)),
    ("@MonthEnd", date(2024, 2, 29)), ("@MonthEnd+1", date(2024, 3, 1)),
    ("@YearStart", date(2024, 1, 1)), ("@YearStart-1", date(2023, 12, 31)),
    ("@YearEnd", date(2024, 12, 31)), ("@YEAREND-365", date(2024, 1, 1)),
    ("@Yesterday", None), ("Today", None),
])
def test_relative_dates(text, expected):
    assert resolve_relative_date(text, TODAY) == expected


def test_relative_dates_in_restrictions():
    rs = one("Due", "less", "@Today-30")
    assert passes(rs, {"Due": "2024-01-15"}) is True
    assert passes(rs, {"Due": "2024-01-16"}) is False
    assert passes(rs, {"Due": "2024-01-16"}, today=date(2024, 2, 16)) is True
    rs = one("D", "between", "@MonthStart", "@MonthEnd")
    assert passes(rs, {"D": date(2024, 2, 29)}) is True
    assert passes(rs, {"D": date(2024, 3, 1)}) is False
    assert passes(one("D", "equals", "@Today"), {"D": datetime(2024, 2, 15, 23, 59)}) is True


def test_bad_relative_date():
    with pytest.raises(BadInputError, match=r"line 1: '@Tomorrow' is not a relative date"):
        compile_restrictions(one("D", "less", "@Tomorrow"))


# --------------------------------------------------------------------------- and / or / brackets


def _lines(*specs) -> list[Restriction]:
    """Lines from (op, open, field, close) tuples; each field must equal 'y'."""
    return [R(f, "equals", ["y"], op=op, open_brackets=o, close_brackets=c)
            for op, o, f, c in specs]


def _truth(**flags) -> dict[str, str]:
    return {k: "y" if v else "n" for k, v in flags.items()}


@given(a=st.booleans(), b=st.booleans(), c=st.booleans())
def test_and_binds_tighter_than_or(a, b, c):
    rs = _lines(("and", 0, "A", 0), ("or", 0, "B", 0), ("and", 0, "C", 0))
    assert passes(rs, _truth(A=a, B=b, C=c)) is (a or (b and c))
    rs = _lines(("and", 0, "A", 0), ("and", 0, "B", 0), ("or", 0, "C", 0))
    assert passes(rs, _truth(A=a, B=b, C=c)) is ((a and b) or c)


@given(a=st.booleans(), b=st.booleans(), c=st.booleans(), d=st.booleans())
def test_brackets(a, b, c, d):
    rs = _lines(("and", 1, "A", 0), ("or", 0, "B", 1), ("and", 0, "C", 0))
    assert passes(rs, _truth(A=a, B=b, C=c)) is ((a or b) and c)
    rs = _lines(("and", 0, "A", 0), ("and", 1, "B", 0), ("or", 0, "C", 1))
    assert passes(rs, _truth(A=a, B=b, C=c)) is (a and (b or c))
    rs = _lines(("and", 2, "A", 0), ("or", 0, "B", 1), ("and", 0, "C", 1), ("or", 0, "D", 0))
    assert passes(rs, _truth(A=a, B=b, C=c, D=d)) is (((a or b) and c) or d)
    rs = _lines(("and", 1, "A", 0), ("or", 0, "B", 1), ("and", 1, "C", 0), ("or", 0, "D", 1))
    assert passes(rs, _truth(A=a, B=b, C=c, D=d)) is ((a or b) and (c or d))
    rs = _lines(("and", 1, "A", 1), ("or", 1, "B", 1))
    assert passes(rs, _truth(A=a, B=b)) is (a or b)


def test_first_line_op_is_ignored():
    rs = _lines(("or", 0, "A", 0), ("and", 0, "B", 0))
    assert passes(rs, _truth(A=True, B=False)) is False


@given(a=st.booleans(), b=st.booleans(), c=st.booleans())
def test_inactive_lines_are_left_out(a, b, c):
    rs = _lines(("and", 0, "A", 0), ("or", 0, "B", 0), ("and", 0, "C", 0))
    rs[1].active = False
    assert passes(rs, _truth(A=a, B=b, C=c)) is (a and c)
    # an inactive line keeps its brackets: A and (B or C) without B is A and (C)
    rs = _lines(("and", 0, "A", 0), ("and", 1, "B", 0), ("or", 0, "C", 1))
    rs[1].active = False
    assert passes(rs, _truth(A=a, B=b, C=c)) is (a and c)
    # a group whose lines are all inactive drops out with its operator
    rs = _lines(("and", 0, "A", 0), ("or", 1, "B", 0), ("and", 0, "C", 1))
    rs[1].active = rs[2].active = False
    assert passes(rs, _truth(A=a, B=b, C=c)) is a
    # the first line inactive
    rs = _lines(("and", 0, "A", 0), ("or", 0, "B", 0))
    rs[0].active = False
    assert passes(rs, _truth(A=a, B=b)) is b


def test_all_inactive_passes_everything():
    rs = _lines(("and", 1, "A", 0), ("or", 0, "B", 1))
    for r in rs:
        r.active = False
    assert passes(rs, _truth(A=False, B=False)) is True


@pytest.mark.parametrize("specs, words", [
    ([("and", 1, "A", 0), ("and", 0, "B", 0)], "line 1: opens a bracket that is never closed"),
    ([("and", 0, "A", 0), ("and", 0, "B", 1)], "line 2: closes a bracket that is not open"),
    ([("and", 0, "A", 1), ("and", 1, "B", 0)], "line 1: closes a bracket that is not open"),
    ([("and", 1, "A", 0), ("and", 2, "B", 1), ("and", 0, "C", 1)],
     "line 1: opens a bracket that is never closed"),
])
def test_unbalanced_brackets(specs, words):
    with pytest.raises(BadInputError) as e:
        compile_restrictions(_lines(*specs))
    assert words in e.value.message


def test_negative_brackets():
    rs = _lines(("and", -1, "A", 0))
    assert "negative" in check_restrictions(rs, ["A"])[0]
    with pytest.raises(BadInputError, match="negative"):
        compile_restrictions(rs)


# --------------------------------------------------------------------------- compile errors


@pytest.mark.parametrize("r, words", [
    (R("A", "like", ["x"]), "line 1: unknown condition 'like'"),
    (R("A", "between", [1]), "line 1: between takes 2 values, got 1"),
    (R("A", "equals", []), "line 1: equals takes 1 value, got 0"),
    (R("A", "is_empty", ["x"]), "line 1: is_empty takes no value, got 1"),
    (R("A", "in", []), "line 1: in takes at least 1 value, got 0"),
])
def test_compile_rejects_bad_lines(r, words):
    with pytest.raises(BadInputError) as e:
        compile_restrictions([r])
    assert words in e.value.message


# --------------------------------------------------------------------------- check


def test_check_restrictions_lists_every_problem():
    rs = [
        R("Status", "equals", ["Open"]),
        R("Amount", "between", [1], op="or", open_brackets=1),
        R("Typo", "like", ["x"], op="xor"),
        R("Due", "less", ["@Tomorrow"]),
        R("Status", "is_empty", ["x"], close_brackets=2),
    ]
    assert check_restrictions(rs, ["Status", "Amount", "Due"]) == [
        "line 2: between takes 2 values, got 1",
        "line 3: unknown field 'Typo'",
        "line 3: unknown condition 'like'",
        "line 3: op must be 'and' or 'or', not 'xor'",
        "line 4: '@Tomorrow' is not a relative date (expected @Today, @MonthStart, @MonthEnd, "
        "@YearStart or @YearEnd, optionally +n or -n days)",
        "line 5: is_empty takes no value, got 1",
        "line 5: closes a bracket that is not open",
    ]


def test_check_restrictions_fine():
    assert check_restrictions(_lines(("and", 1, "A", 0), ("or", 0, "B", 1)), ["A", "B"]) == []


def test_check_counts_inactive_lines():
    rs = [R("A", "equals", ["x"], active=False), R("Nope", "equals", ["x"])]
    assert check_restrictions(rs, ["A"]) == ["line 2: unknown field 'Nope'"]


# --------------------------------------------------------------------------- YAML form


def test_from_dict_and_to_dict():
    d = {"field": "Amount", "condition": "between", "values": [1, 10], "op": "OR", "open": 1,
         "close": 1, "active": False}
    r = Restriction.from_dict(d)
    assert r == R("Amount", "between", [1, 10], op="or", open_brackets=1, close_brackets=1,
                  active=False)
    assert r.to_dict() == {**d, "op": "or"}
    r = Restriction.from_dict({"field": "S", "condition": "equals", "value": "Open"})
    assert r == R("S", "equals", ["Open"])
    assert r.to_dict() == {"field": "S", "condition": "equals", "value": "Open"}
    assert Restriction.from_dict({"field": "S", "condition": "is_empty"}).values == []
    assert Restriction.from_dict({"field": "S", "condition": "in", "values": "NO"}).values == ["NO"]
    assert R("S", "in", ["NO"]).to_dict()["values"] == ["NO"]
    assert Restriction.from_dict({"field": "S", "condition": "is_empty", "values": None}).values == []


@given(st.builds(
    Restriction,
    field=st.text(min_size=1, max_size=8),
    condition=st.sampled_from(CONDITIONS),
    values=st.lists(st.one_of(st.text(max_size=5), st.integers(), st.dates()), max_size=3),
    op=st.sampled_from(["and", "or"]),
    open_brackets=st.integers(0, 3), close_brackets=st.integers(0, 3), active=st.booleans()))
def test_dict_round_trip(r):
    assert Restriction.from_dict(r.to_dict()) == r


@pytest.mark.parametrize("d, words", [
    ({"condition": "equals"}, "needs a field and a condition"),
    ({"field": "A"}, "needs a field and a condition"),
    ({"field": "A", "condition": "equals", "value": 1, "op": "xor"}, "op must be 'and' or 'or'"),
    ({"field": "A", "condition": "equals", "value": 1, "open": "x"}, "brackets must be whole"),
    ("not a dict", "needs a field and a condition"),
])
def test_from_dict_rejects(d, words):
    with pytest.raises(BadInputError, match=words):
        Restriction.from_dict(d)
