"""values: locale-aware conversion of text to typed values and back."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from migration_kit.errors import BadInputError
from migration_kit.values import (
    LOCALES,
    convert,
    dotnet_to_strptime,
    format_number,
    format_value,
    get_locale,
    to_bool,
    to_date,
    to_decimal,
    to_int,
    to_str,
)

D = Decimal


# --------------------------------------------------------------------------- locales


def test_locales_defined():
    assert {"en-US", "en-GB", "nb-NO", "de-DE", "sv-SE", "invariant"} <= set(LOCALES)
    assert get_locale(None).name == "invariant"
    assert get_locale("nb-NO").decimal_sep == ","
    assert {" ", "\xa0", "."} <= set(get_locale("nb-NO").thousands_seps)


def test_unknown_locale_is_bad_input():
    with pytest.raises(BadInputError, match="unknown locale 'xx-XX'"):
        get_locale("xx-XX")


# --------------------------------------------------------------------------- to_str


@pytest.mark.parametrize("value, text", [
    (None, None), ("abc", "abc"), (12, "12"), (D("12.50"), "12.50"), (D("1E+3"), "1000"),
    (D("-0.001"), "-0.001"), (3.0, "3"), (2.5, "2.5"), (True, "true"), (False, "false"),
    (date(2024, 1, 31), "2024-01-31"), (datetime(2024, 1, 31), "2024-01-31"),
    (datetime(2024, 1, 31, 10, 5), "2024-01-31T10:05:00"),
])
def test_to_str(value, text):
    assert to_str(value) == text


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("locale, text, expected", [
    ("en-US", "1,234.56", D("1234.56")),
    ("en-US", "1,234,567", D("1234567")),
    ("en-US", "-1,234.5", D("-1234.5")),
    ("en-US", "1234.56", D("1234.56")),
    ("en-GB", "1,234.56", D("1234.56")),
    ("nb-NO", "1 234,56", D("1234.56")),
    ("nb-NO", "1\xa0234,56", D("1234.56")),
    ("nb-NO", "1.234,56", D("1234.56")),
    ("nb-NO", "1234,56", D("1234.56")),
    ("nb-NO", "1234.56", D("1234.56")),  # ISO always
    ("nb-NO", ",5", D("0.5")),
    ("de-DE", "1.234,56", D("1234.56")),
    ("de-DE", "1.234", D("1234")),  # the locale's reading first
    ("de-DE", "-12,5", D("-12.5")),
    ("sv-SE", "1 234,56", D("1234.56")),
    ("invariant", "1234.56", D("1234.56")),
    (None, "  42  ", D("42")),
    (None, "+7", D("7")),
    (None, ".25", D("0.25")),
])
def test_to_decimal_locales(locale, text, expected):
    got = to_decimal(text, locale)
    assert got == expected
    assert isinstance(got, Decimal)


@pytest.mark.parametrize("locale, text", [
    ("en-US", "1,23"),  # groups must be 3 digits
    ("en-US", "12,34.5"),
    ("en-US", "1 234.56"),  # space is not en-US's separator
    ("invariant", "1,234.56"),  # invariant has no thousands separator
    ("de-DE", "1,234.56"),
    ("nb-NO", "1 23,4"),
    ("sv-SE", "1.234,56"),
    ("en-US", "abc"),
    ("en-US", "1e5"),
    ("en-US", "NaN"),
    ("en-US", "12-"),
])
def test_to_decimal_rejects(locale, text):
    with pytest.raises(ValueError, match="is not a number"):
        to_decimal(text, locale)


def test_to_decimal_message_names_value_and_form():
    with pytest.raises(ValueError) as e:
        to_decimal("1,23", "en-US")
    assert str(e.value) == "'1,23' is not a number (expected 1,234.56 or 1234.56)"
    with pytest.raises(ValueError) as e:
        to_decimal("x", "de-DE")
    assert "expected 1.234,56 or 1234.56" in str(e.value)


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None), ("   ", None), (12, D(12)), (D("1.5"), D("1.5")),
    (0.1, D("0.1")), (1.0, D("1.0")),
])
def test_to_decimal_types(value, expected):
    assert to_decimal(value) == expected


def test_to_decimal_float_goes_via_repr():
    assert str(to_decimal(0.1)) == "0.1"


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), D("NaN"), object(), [1]])
def test_to_decimal_rejects_odd_types(value):
    with pytest.raises(ValueError):
        to_decimal(value)


def test_to_decimal_scale_rounds_half_up():
    assert to_decimal("2.345", scale=2) == D("2.35")
    assert str(to_decimal("2.5", scale=0)) == "3"
    assert str(to_decimal("-2.5", scale=0)) == "-3"
    assert str(to_decimal("1", scale=2)) == "1.00"
    assert str(to_decimal("1 234,5", "nb-NO", scale=2)) == "1234.50"


@pytest.mark.parametrize("value, expected", [
    ("12", 12), (12, 12), (12.0, 12), (D("12"), 12), (D("12.00"), 12), ("", None), (None, None),
    ("1,234", 1234), ("-3", -3),
])
def test_to_int(value, expected):
    assert to_int(value, "en-US") == expected


@pytest.mark.parametrize("value", ["12.5", 12.5, D("0.1"), "abc", True])
def test_to_int_rejects(value):
    with pytest.raises(ValueError, match="not a (whole )?number"):
        to_int(value)


def test_to_int_message():
    with pytest.raises(ValueError, match=r"^'12.5' is not a whole number$"):
        to_int("12.5")


def test_to_int_locale():
    assert to_int("1 234", "nb-NO") == 1234
    assert to_int("1.234", "de-DE") == 1234


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize("locale, text, expected", [
    ("en-US", "01/31/2024", date(2024, 1, 31)),
    ("en-US", "1/5/2024", date(2024, 1, 5)),
    ("en-GB", "31/01/2024", date(2024, 1, 31)),
    ("nb-NO", "31.01.2024", date(2024, 1, 31)),
    ("de-DE", "1.2.2024", date(2024, 2, 1)),
    ("sv-SE", "2024-01-31", date(2024, 1, 31)),
    ("invariant", "2024-01-31", date(2024, 1, 31)),
    ("nb-NO", "2024-01-31", date(2024, 1, 31)),  # ISO always
    ("en-US", "2024-01-31T10:20:30", date(2024, 1, 31)),
    (None, " 2024-02-29 ", date(2024, 2, 29)),
])
def test_to_date_locales(locale, text, expected):
    assert to_date(text, locale) == expected


def test_to_date_passthrough():
    assert to_date(date(2024, 1, 31)) == date(2024, 1, 31)
    got = to_date(datetime(2024, 1, 31, 10, 0))
    assert got == date(2024, 1, 31) and type(got) is date
    assert to_date(None) is None and to_date("") is None


def test_to_date_explicit_format():
    assert to_date("20240131", fmt="%Y%m%d") == date(2024, 1, 31)
    assert to_date("31.01.2024", fmt="dd.MM.yyyy") == date(2024, 1, 31)
    assert to_date("1/2/24", fmt="M/d/yy") == date(2024, 1, 2)
    assert to_date("1/2/85", fmt="M/d/yy") == date(1985, 1, 2)
    assert to_date("2024-01-31", fmt="dd.MM.yyyy") == date(2024, 1, 31)  # ISO still read
    with pytest.raises(ValueError, match=r"expected dd\.mm\.yyyy or yyyy-mm-dd"):
        to_date("01/31/2024", fmt="dd.MM.yyyy")


def test_to_date_message():
    with pytest.raises(ValueError) as e:
        to_date("31/02/2024", "nb-NO")
    assert str(e.value) == "'31/02/2024' is not a date (expected dd.mm.yyyy or yyyy-mm-dd)"
    with pytest.raises(ValueError, match=r"expected mm/dd/yyyy or yyyy-mm-dd"):
        to_date("31/01/2024", "en-US")


@pytest.mark.parametrize("value", ["31.02.2024", "2024-13-01", "31.01.24", "yesterday",
                                   "2024-1-5x"])
def test_to_date_rejects(value):
    with pytest.raises(ValueError, match="is not a date"):
        to_date(value, "nb-NO")


@pytest.mark.parametrize("value", [45000, 45000.5, D("45000")])
def test_to_date_no_excel_serials(value):
    with pytest.raises(ValueError, match="is not a date"):
        to_date(value)


def test_dotnet_formats():
    assert dotnet_to_strptime("dd.MM.yyyy") == "%d.%m.%Y"
    assert dotnet_to_strptime("yyyy-MM-dd") == "%Y-%m-%d"
    assert dotnet_to_strptime("MM/dd/yyyy") == "%m/%d/%Y"
    assert dotnet_to_strptime("%d.%m.%Y") == "%d.%m.%Y"


def test_unknown_directive():
    with pytest.raises(ValueError, match="unknown date format directive"):
        to_date("x", fmt="%Q")


# --------------------------------------------------------------------------- booleans


@pytest.mark.parametrize("value, expected", [
    ("true", True), ("TRUE", True), ("Yes", True), ("1", True), ("ja", True), ("Ja", True),
    ("false", False), ("No", False), ("0", False), ("NEI", False), (" yes ", True),
    (True, True), (False, False), (1, True), (0, False), (None, None), ("", None),
])
def test_to_bool(value, expected):
    assert to_bool(value) is expected


@pytest.mark.parametrize("value", ["maybe", "2", 2, "y"])
def test_to_bool_rejects(value):
    with pytest.raises(ValueError, match="is not a yes/no value"):
        to_bool(value)


# --------------------------------------------------------------------------- convert / format


def test_convert_dispatch():
    assert convert("12", "integer") == 12
    assert convert("1 234,5", "decimal", "nb-NO", scale=2) == D("1234.50")
    assert convert("31.01.2024", "date", "de-DE") == date(2024, 1, 31)
    assert convert("20240131", "date", fmt="yyyyMMdd") == date(2024, 1, 31)
    assert convert("ja", "boolean") is True
    assert convert(D("1.50"), "string") == "1.50"
    with pytest.raises(BadInputError, match="unknown type 'money'"):
        convert("1", "money")


@pytest.mark.parametrize("value, type_name, locale, fmt, text", [
    (D("1234.5"), "decimal", "nb-NO", None, "1234,5"),
    (D("1234.5"), "decimal", "en-US", None, "1234.5"),
    (D("1234.5"), "decimal", "nb-NO", "#,##0.00", "1 234,50"),
    (D("1234.5"), "decimal", "de-DE", "#,##0.00", "1.234,50"),
    (D("1234567.891"), "decimal", "en-US", "#,##0.00", "1,234,567.89"),
    (D("-1234.5"), "decimal", None, "0", "-1235"),
    (12, "integer", None, None, "12"),
    (date(2024, 1, 5), "date", "nb-NO", None, "05.01.2024"),
    (date(2024, 1, 5), "date", "en-US", None, "01/05/2024"),
    (date(2024, 1, 5), "date", None, None, "2024-01-05"),
    (date(2024, 1, 5), "date", None, "d.M.yyyy", "5.1.2024"),
    (True, "boolean", None, None, "true"),
    (None, "decimal", None, None, ""),
    ("abc", "string", None, None, "abc"),
])
def test_format_value(value, type_name, locale, fmt, text):
    assert format_value(value, type_name, locale, fmt) == text


@pytest.mark.parametrize("value, fmt, text", [
    (D("0.005"), "0.00", "0.01"), (D("-0.001"), "0.00", "0.00"), (D("1.5"), "0.0#", "1.5"),
    (D("1.555"), "0.0#", "1.56"), (D("7"), "000", "007"), (D("999.995"), "#,##0.00", "1,000.00"),
    (D("12"), "0.00 kr", "12.00 kr"),
])
def test_format_number(value, fmt, text):
    assert format_number(value, fmt) == text


def test_format_number_bad_format():
    with pytest.raises(ValueError, match="unknown number format"):
        format_number(1, "abc")


# --------------------------------------------------------------------------- round trips

_decimals = st.decimals(min_value=D("-1e12"), max_value=D("1e12"), allow_nan=False,
                        allow_infinity=False, places=4)


@pytest.mark.parametrize("locale", sorted(LOCALES))
@given(value=_decimals)
def test_decimal_round_trip(locale, value):
    text = format_value(value, "decimal", locale)
    assert convert(text, "decimal", locale) == value


@pytest.mark.parametrize("locale", sorted(set(LOCALES) - {"invariant"}))
@given(value=_decimals)
def test_grouped_decimal_round_trip(locale, value):
    # invariant writes "#,##0" groups with "," (like .NET) but reads no grouping at all
    text = format_value(value, "decimal", locale, "#,##0.0000")
    assert convert(text, "decimal", locale) == value


@pytest.mark.parametrize("locale", sorted(LOCALES))
@given(value=st.dates(min_value=date(1000, 1, 1)))
def test_date_round_trip(locale, value):
    text = format_value(value, "date", locale)
    assert convert(text, "date", locale) == value


@given(value=st.dates(min_value=date(1000, 1, 1)),
       fmt=st.sampled_from(["dd.MM.yyyy", "yyyy-MM-dd", "MM/dd/yyyy", "d.M.yyyy", "yyyyMMdd"]))
def test_date_round_trip_formats(value, fmt):
    assert convert(format_value(value, "date", fmt=fmt), "date", fmt=fmt) == value


@given(value=st.integers(min_value=-10**15, max_value=10**15))
def test_integer_round_trip(value):
    assert convert(format_value(value, "integer"), "integer") == value


def test_invariant_grouping_writes_commas():
    assert format_number(D("1234.5"), "#,##0.00") == "1,234.50"
