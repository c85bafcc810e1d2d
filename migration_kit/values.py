"""Typed values: text in a locale's form to Python values and back.

One place for how ``"1 234,50"`` becomes ``Decimal("1234.50")`` and ``"31.01.2024"`` becomes
``date(2024, 1, 31)``. The ERP, import mappings, restrictions and exports all go through here,
so a value reads the same way wherever it is read.

Rules worth knowing:

* ``None`` and ``""`` (after strip) read as ``None`` for every type except ``string``.
* Numbers in invariant form (``1234.56``, no exponent) are always accepted; the locale's own
  form is tried first, so ``"1.234"`` is 1234 in de-DE and 1.234 in en-US. A thousands separator is accepted only when the locale defines it and every group
  after the first has exactly three digits, so ``"1,23"`` is an error in en-US, not 123.
* Dates: ISO ``yyyy-mm-dd`` (optionally with a time) is always accepted; otherwise the given
  format, or the locale's formats. Years are four digits. Excel serial numbers are not dates
  here: a provider that reads Excel converts them itself.
* Date formats may be strptime-style (``%d.%m.%Y``) or .NET-style (``dd.MM.yyyy``).

Errors are :class:`ValueError` with a message that names the value and the expected form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from itertools import repeat
from operator import is_, methodcaller
from typing import Any

import babel

from migration_kit.errors import BadInputError

TYPES = ("string", "integer", "decimal", "date", "boolean")


@dataclass(frozen=True)
class Locale:
    """How one locale writes numbers and dates. ``date_formats`` are strptime-style."""

    name: str
    decimal_sep: str
    thousands_seps: tuple[str, ...]
    date_formats: tuple[str, ...]


def get_locale(name: str | Locale | None) -> Locale:
    """The locale called ``name``; ``None`` is the invariant locale."""
    if name is None:
        return LOCALES["invariant"]
    if isinstance(name, Locale):
        return name
    try:
        return LOCALES[name]
    except KeyError:
        known = ", ".join(sorted(LOCALES))
        raise BadInputError(f"unknown locale {name!r} (known: {known})", locale=name) from None


def _show(v: Any) -> str:
    """A value as quoted in messages: ``'12,5'``, ``'1.5'`` (not ``Decimal('1.5')``)."""
    return repr(v if isinstance(v, str) else to_str(v))


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


# --------------------------------------------------------------------------- text


def has_none(values: Iterable[Any]) -> bool:
    """``None in values`` without comparing every value with None: a Decimal's ``==``
    with None goes through the numbers ABCs, slow on a column of a million."""
    return any(map(is_, values, repeat(None)))


def to_str(v: Any) -> str | None:
    """Text for any value: Decimal without exponent, dates ISO, integral floats as ints."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, float):
        if v.is_integer():
            return str(int(v))
        return repr(v)
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time() else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


class FileText:
    """Values back to the text a file holds: the one writer of every provider type that writes
    text (CSV fields, XML elements and attributes).

    Dates in ``date_format`` (strptime-style; ISO by default), numbers with
    ``decimal_separator``, booleans ``true``/``false``, text as is. A datetime at midnight
    (no time zone) is a date; any other datetime is ISO 8601 (``2024-01-31T10:05:00``), as
    :func:`to_str` writes it and every reader here accepts it.
    """

    def __init__(self, date_format: str | None = None, decimal_separator: str | None = "."):
        self.date_format = date_format or "%Y-%m-%d"
        self.sep = decimal_separator or "."
        self._dates: dict[date, str] = {}  # strftime once per distinct date

    def _date(self, v: date) -> str:
        text = self._dates.get(v)
        if text is None:
            text = v.strftime(self.date_format)
            if len(self._dates) < 10_000:
                self._dates[v] = text
        return text

    def __call__(self, v: Any) -> str:
        if type(v) is date:
            return self._date(v)
        if type(v) is Decimal:  # the usual value: what the branch below returns
            s = str(v)
            return s.replace(".", self.sep) if self.sep != "." else s
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float | Decimal):
            s = repr(v) if isinstance(v, float) else str(v)
            return s.replace(".", self.sep) if self.sep != "." else s
        if isinstance(v, datetime):
            if v.time() == time() and v.tzinfo is None:
                return v.strftime(self.date_format)
            return v.isoformat()
        if isinstance(v, date):
            return v.strftime(self.date_format)
        return str(v)


# --------------------------------------------------------------------------- numbers

_ISO_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)")


@lru_cache(maxsize=64)
def _number_pattern(loc: Locale) -> re.Pattern[str] | None:
    """The locale's own number form, thousands groups of exactly three digits."""
    if loc.name == "invariant":
        return None
    dec = re.escape(loc.decimal_sep)
    alts = [r"\d+"]  # no grouping at all
    for sep in loc.thousands_seps:
        alts.append(r"\d{1,3}(?:" + re.escape(sep) + r"\d{3})+")
    integer = "(?:" + "|".join(alts) + ")"
    return re.compile(r"(?P<sign>[+-]?)(?P<int>" + integer + r")?(?:" + dec + r"(?P<frac>\d+))?")


def _number_example(loc: Locale) -> str:
    if loc.name == "invariant":
        return "1234.56"
    sep = loc.thousands_seps[0] if loc.thousands_seps else ""
    shown = "1" + sep + "234" + loc.decimal_sep + "56"
    return f"{shown} or 1234.56".replace("\xa0", " ").replace("\u202f", " ")


def _parse_decimal(s: str, loc: Locale) -> Decimal:
    text = s.strip()
    if text.isdigit() and text.isascii():  # the common case, the same in every locale
        return Decimal(text)
    pattern = _number_pattern(loc)
    if pattern is not None:
        m = pattern.fullmatch(text)
        if m and (m["int"] or m["frac"]):
            digits = "".join(ch for ch in (m["int"] or "0") if ch.isdigit())
            return Decimal(f"{m['sign']}{digits}.{m['frac']}" if m["frac"] else m["sign"] + digits)
    if _ISO_NUMBER.fullmatch(text):
        return Decimal(text)
    raise ValueError(f"{_show(s)} is not a number (expected {_number_example(loc)})")


def to_decimal(v: Any, locale: str | Locale | None = None, scale: int | None = None) -> Decimal | None:
    """A Decimal from a number or text in ``locale``'s form; ``scale`` rounds half up."""
    if _blank(v):
        return None
    if isinstance(v, bool):
        raise ValueError(f"{_show(v)} is not a number")
    if isinstance(v, Decimal):
        d = v
    elif isinstance(v, int):
        d = Decimal(v)
    elif isinstance(v, float):
        d = Decimal(repr(v))
    elif isinstance(v, str):
        d = _parse_decimal(v, get_locale(locale))
    else:
        raise ValueError(f"{_show(v)} is not a number")
    if not d.is_finite():
        raise ValueError(f"{_show(v)} is not a number")
    if scale is not None:
        try:
            d = d.quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP)
        except InvalidOperation:
            raise ValueError(f"{_show(v)} is too large for {scale} decimals") from None
    return d


_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def plain_decimals(texts: Iterable[str], locale: str | Locale | None = None,
                   scale: int | None = None) -> dict[str, Decimal]:
    """``to_decimal`` of those ``texts`` written plainly (ASCII digits, ``.`` before the
    decimals) in a locale that reads ``.`` as its decimal separator: the same values as
    :func:`to_decimal`, without its general parser. Texts not in the result go through
    :func:`to_decimal` (one column's distinct texts, converted at once)."""
    loc = get_locale(locale)
    if loc.name != "invariant" and loc.decimal_sep != ".":
        return {}
    q = Decimal(1).scaleb(-scale) if scale is not None else None
    plain = list(filter(_PLAIN_NUMBER.fullmatch, texts))
    values = list(map(Decimal, plain))
    if q is not None:
        try:  # the whole column at once (the loops in C); one too large: value by value
            values = list(map(methodcaller("quantize", q, ROUND_HALF_UP), values))
        except InvalidOperation:
            out = {}
            for t, d in zip(plain, values):
                try:
                    out[t] = d.quantize(q, ROUND_HALF_UP)
                except InvalidOperation:
                    continue  # too large: to_decimal words it
            return out
    return dict(zip(plain, values))


def to_int(v: Any, locale: str | Locale | None = None) -> int | None:
    """A whole number; ``"12.5"`` is an error, ``"12"``, ``12.0`` and ``Decimal(12)`` are 12."""
    if _blank(v):
        return None
    if isinstance(v, bool):
        raise ValueError(f"{_show(v)} is not a whole number")
    if isinstance(v, int):
        return v
    d = to_decimal(v, locale)
    assert d is not None
    if d != d.to_integral_value():
        raise ValueError(f"{_show(v)} is not a whole number")
    return int(d)


# --------------------------------------------------------------------------- dates

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")

# .NET-style tokens, longest first; each maps to (strptime directive, kind, width).
_NET_TOKENS = (
    ("yyyy", "%Y"), ("yy", "%y"), ("MM", "%m"), ("M", "%-m"), ("dd", "%d"), ("d", "%-d"),
    ("HH", "%H"), ("H", "%-H"), ("mm", "%M"), ("ss", "%S"),
)
_DIRECTIVES = {
    # directive: (regex, field, zero-padded width or 0, human form)
    "%Y": (r"(\d{4})", "year", 4, "yyyy"),
    "%y": (r"(\d{2})", "year2", 2, "yy"),
    "%m": (r"(\d{1,2})", "month", 2, "mm"),
    "%-m": (r"(\d{1,2})", "month", 0, "m"),
    "%d": (r"(\d{1,2})", "day", 2, "dd"),
    "%-d": (r"(\d{1,2})", "day", 0, "d"),
    "%H": (r"(\d{1,2})", "hour", 2, "hh"),
    "%-H": (r"(\d{1,2})", "hour", 0, "h"),
    "%M": (r"(\d{2})", "minute", 2, "mi"),
    "%S": (r"(\d{2})", "second", 2, "ss"),
}


def dotnet_to_strptime(fmt: str) -> str:
    """``"dd.MM.yyyy"`` -> ``"%d.%m.%Y"``; strptime-style input is returned unchanged.

    Unpadded ``d``/``M``/``H`` become ``%-d``/``%-m``/``%-H``, which this module (not
    ``time.strptime``) understands for both reading and writing.
    """
    if "%" in fmt:
        return fmt
    out, i = [], 0
    while i < len(fmt):
        for token, directive in _NET_TOKENS:
            if fmt.startswith(token, i):
                out.append(directive)
                i += len(token)
                break
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


# --------------------------------------------------------------------------- locales

# The locales files are read and written in. Their separators and date form come from CLDR
# (babel): the decimal and group symbols, and the short date pattern with a four-digit year
# and two-digit day and month (this module's rule for dates).
SUPPORTED_LOCALES = ("en-US", "en-GB", "nb-NO", "de-DE", "sv-SE")
# A group of thousands written with a space may use any of these, whichever CLDR names.
_SPACES = (" ", "\xa0", "\u202f")
# Group separators files of a locale carry beyond CLDR's: Norwegian ledgers group with '.'.
_ALSO_GROUPED = {"nb-NO": (".",)}


def _cldr_locale(name: str) -> Locale:
    cldr = babel.Locale.parse(name, sep="-")
    symbols = cldr.number_symbols["latn"]
    group = symbols["group"]
    seps = (_SPACES if group in _SPACES else (group,)) + _ALSO_GROUPED.get(name, ())
    short = cldr.date_formats["short"].pattern
    short = re.sub(r"y+", "yyyy", short)
    short = re.sub(r"(?<!d)d(?!d)", "dd", re.sub(r"(?<!M)M(?!M)", "MM", short))
    return Locale(name, symbols["decimal"], seps, (dotnet_to_strptime(short),))


LOCALES: dict[str, Locale] = {
    "invariant": Locale("invariant", ".", (), ("%Y-%m-%d",)),
    **{name: _cldr_locale(name) for name in SUPPORTED_LOCALES},
}


@dataclass(frozen=True)
class _DatePattern:
    parts: tuple[str | tuple[str, int], ...]  # literal text or (field, width)
    regex: re.Pattern[str]
    fields: tuple[str, ...]
    human: str

    def parse(self, text: str) -> date | None:
        m = self.regex.fullmatch(text)
        if not m:
            return None
        got = dict(zip(self.fields, (int(g) for g in m.groups())))
        year = got.get("year")
        if year is None and "year2" in got:
            year = got["year2"] + (2000 if got["year2"] < 69 else 1900)
        try:
            return date(year or 1900, got.get("month", 1), got.get("day", 1))
        except ValueError:
            return None

    def format(self, d: date) -> str:
        values = {"year": d.year, "year2": d.year % 100, "month": d.month, "day": d.day,
                  "hour": getattr(d, "hour", 0), "minute": getattr(d, "minute", 0),
                  "second": getattr(d, "second", 0)}
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                name, width = part
                out.append(str(values[name]).zfill(width))
        return "".join(out)


@lru_cache(maxsize=256)
def date_pattern(fmt: str) -> _DatePattern:
    """A compiled date format (strptime- or .NET-style); ValueError for unknown directives."""
    fmt = dotnet_to_strptime(fmt)
    parts: list[str | tuple[str, int]] = []
    regex, fields, human = [], [], []
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            directive = fmt[i:i + 3] if fmt[i + 1:i + 2] == "-" else fmt[i:i + 2]
            if directive == "%%":
                parts.append("%")
                regex.append("%")
                human.append("%")
            elif directive in _DIRECTIVES:
                rx, name, width, shown = _DIRECTIVES[directive]
                parts.append((name, width))
                regex.append(rx)
                fields.append(name)
                human.append(shown)
            else:
                raise ValueError(f"unknown date format directive {directive!r} in {fmt!r}")
            i += len(directive)
        else:
            parts.append(fmt[i])
            regex.append(re.escape(fmt[i]))
            human.append(fmt[i])
            i += 1
    return _DatePattern(tuple(parts), re.compile("".join(regex)), tuple(fields), "".join(human))


def _iso_date(text: str) -> date | None:
    m = _ISO_DATE.fullmatch(text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def to_date(v: Any, locale: str | Locale | None = None, fmt: str | None = None) -> date | None:
    """A date from a date, datetime or text (``fmt``, else ISO, then the locale's formats)."""
    if _blank(v):
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    if not isinstance(v, str):
        raise ValueError(f"{_show(v)} is not a date (expected a date or text such as 2024-01-31)")
    text = v.strip()
    patterns = [date_pattern(fmt)] if fmt else [date_pattern(f) for f in get_locale(locale).date_formats]
    for pattern in patterns:
        parsed = pattern.parse(text)
        if parsed is not None:
            return parsed
    parsed = _iso_date(text)
    if parsed is not None:
        return parsed
    forms = list(dict.fromkeys([p.human for p in patterns] + ["yyyy-mm-dd"]))
    raise ValueError(f"{_show(v)} is not a date (expected {' or '.join(forms)})")


# --------------------------------------------------------------------------- booleans

_TRUE = frozenset({"true", "yes", "1", "ja"})
_FALSE = frozenset({"false", "no", "0", "nei"})


def to_bool(v: Any) -> bool | None:
    """true/false, yes/no, ja/nei, 1/0 (any case); bools and 0/1 numbers pass."""
    if _blank(v):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | Decimal | float) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        word = v.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"{_show(v)} is not a yes/no value (expected true/false, yes/no, ja/nei or 1/0)")


# --------------------------------------------------------------------------- dispatch


def convert(v: Any, type_name: str, locale: str | Locale | None = None, fmt: str | None = None,
            scale: int | None = None) -> Any:
    """Convert ``v`` to ``type_name`` (one of :data:`TYPES`)."""
    if isinstance(v, list | tuple | dict | set):  # e.g. a JSON list given to `erp save`
        raise ValueError(f"{v!r} is not a single value")
    if type_name == "string":
        return to_str(v)
    if type_name == "integer":
        return to_int(v, locale)
    if type_name == "decimal":
        return to_decimal(v, locale, scale)
    if type_name == "date":
        return to_date(v, locale, fmt)
    if type_name == "boolean":
        return to_bool(v)
    raise BadInputError(f"unknown type {type_name!r} (known: {', '.join(TYPES)})", type=type_name)


_NUMBER_FORMAT = re.compile(r"(?P<pre>[^0#,.]*)(?P<int>[0#,]*0|[0#,]*#)(?:\.(?P<frac>[0#]+))?(?P<post>[^0#,.]*)")


def is_number_format(fmt: str) -> bool:
    """Whether ``fmt`` is a number format (``"0.00"``, ``"#,##0"``) rather than a date format."""
    return bool(_NUMBER_FORMAT.fullmatch(fmt))


def format_number(v: Any, fmt: str | None = None, locale: str | Locale | None = None) -> str:
    """A number as text: ``fmt`` like ``"0"``, ``"0.00"``, ``"#,##0.00"``, ``"0.0#"``.

    Without ``fmt`` the number is written as is (no grouping) with the locale's decimal
    separator, so :func:`to_decimal` reads it back to the same value.
    """
    loc = get_locale(locale)
    d = to_decimal(v)
    if d is None:
        return ""
    if not fmt:
        return format(d, "f").replace(".", loc.decimal_sep)
    m = _NUMBER_FORMAT.fullmatch(fmt)
    if not m:
        raise ValueError(f"unknown number format {fmt!r} (expected e.g. 0, 0.00 or #,##0.00)")
    frac = m["frac"] or ""
    min_frac, max_frac = frac.count("0"), len(frac)
    d = d.quantize(Decimal(1).scaleb(-max_frac), rounding=ROUND_HALF_UP)
    sign = "-" if d < 0 else ""  # a quantized -0.00 is not < 0: no "-0.00"
    whole, _, decimals = format(abs(d), "f").partition(".")
    decimals = decimals.ljust(max_frac, "0")[:max_frac]
    while len(decimals) > min_frac and decimals.endswith("0"):
        decimals = decimals[:-1]
    whole = whole.zfill(m["int"].count("0"))
    if whole == "0" and m["int"].count("0") == 0:
        whole = ""
    if "," in m["int"]:
        sep = loc.thousands_seps[0] if loc.thousands_seps else ","
        groups = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        whole = sep.join([whole, *groups]) if groups else whole
    text = whole + (loc.decimal_sep + decimals if decimals else "")
    return f"{m['pre']}{sign}{text}{m['post']}"


def format_date(v: Any, fmt: str | None = None, locale: str | Locale | None = None) -> str:
    """A date as text in ``fmt`` (strptime- or .NET-style), else the locale's first format."""
    d = to_date(v, locale)
    if d is None:
        return ""
    return date_pattern(fmt or get_locale(locale).date_formats[0]).format(d)


def format_value(v: Any, type_name: str, locale: str | Locale | None = None,
                 fmt: str | None = None) -> str:
    """Text for writing ``v`` back to a file; the inverse of :func:`convert`. ``None`` -> ``""``."""
    if v is None:
        return ""
    if type_name == "string":
        return to_str(v) or ""
    if type_name == "integer":
        value = to_int(v, locale)
        return format_number(value, fmt, locale) if fmt else str(value)
    if type_name == "decimal":
        return format_number(v, fmt, locale)
    if type_name == "date":
        return format_date(v, fmt, locale)
    if type_name == "boolean":
        return "true" if to_bool(v) else "false"
    raise BadInputError(f"unknown type {type_name!r} (known: {', '.join(TYPES)})", type=type_name)


__all__ = [
    "LOCALES", "TYPES", "FileText", "Locale", "convert", "date_pattern", "dotnet_to_strptime",
    "format_date", "format_number", "format_value", "get_locale", "is_number_format", "to_bool", "to_date",
    "to_decimal", "to_int", "to_str",
]


# --------------------------------------------------------------------------- type inference
# What a column of file text most narrowly is (a provider's schema). Stricter than the
# conversions above on purpose: a code with leading zeros (00123) or an exponent (12E4)
# stays text, and a file's dates are ISO or its provider's ``date_format`` (strptime).

_INT = re.compile(r"[+-]?(?:0|[1-9]\d{0,17})")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?")
_BOOL = {"true", "false"}


def _decimal_re(sep: str) -> re.Pattern[str]:
    s = re.escape(sep or ".")
    return re.compile(rf"[+-]?(?:(?:0|[1-9]\d{{0,17}})(?:{s}\d*)?|{s}\d+)")


def is_date(value: str, date_format: str | None = None) -> bool:
    """True if ``value`` is an ISO date (optionally with a time) or matches ``date_format``."""
    if date_format:
        try:
            datetime.strptime(value, date_format)
            return True
        except ValueError:
            pass
    if _ISO_DATETIME.fullmatch(value):
        try:
            datetime.fromisoformat(value)
            return True
        except ValueError:
            return False
    return False


def infer_type(values: list[str], *, date_format: str | None = None,
               decimal_separator: str = ".") -> str:
    """The narrowest type that fits every non-null value.

    ``integer`` (no leading zeros, so codes like ``00123`` stay text; at most 18 digits),
    ``decimal`` (with ``decimal_separator``; no exponents, so ``12E4`` stays a code), ``date`` (ISO ``yyyy-mm-dd`` or ``date_format``), ``boolean``
    (``true``/``false``, any case), else ``string``. No values at all: ``string``.
    """
    vals = [v for v in values if v is not None and v != ""]
    if not vals:
        return "string"
    if all(v.lower() in _BOOL for v in vals):
        return "boolean"
    if all(_INT.fullmatch(v) for v in vals):
        return "integer"
    dec = _decimal_re(decimal_separator)
    if all(dec.fullmatch(v) for v in vals):
        return "decimal"
    if all(is_date(v, date_format) for v in vals):
        return "date"
    return "string"
