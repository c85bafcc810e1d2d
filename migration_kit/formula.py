"""The formula language: ``=IIf([Qty] > 0, [Price] * [Qty], 0)``.

Used by mapping lines (`scenarios/`) and by the ERP's computed fields (`erp/`); it sits below
both, and neither owns it.

A formula is parsed once by a LALR grammar (lark) into a small tree of :class:`_Node`,
checked (functions, argument counts, bare names), then turned into a tree of Python
closures. Evaluating a row calls those closures: no parse tree is walked per row and
nothing is ever handed to ``eval``; a name that is not a known function cannot be called.

Values: text ``str``, numbers ``int`` or ``Decimal`` (never float), ``date``, ``bool`` and
Null (``None``). Rules:

* ``+`` with a text operand joins text; otherwise numbers add, and date + n adds n days.
  ``-`` subtracts numbers, date - n, and date - date gives days. ``&`` always joins text.
* Arithmetic with Null is Null; ``&`` and ``Concat`` read Null as ``''``.
* Comparisons with Null are False (also ``<>``); use ``IsNull``. Text compares
  case-sensitively; text against a number or date is read as a number or date (in the
  context's locale), and empty text then compares like Null. Two texts compare as text,
  even when both look like numbers: ``CDec`` them to compare as numbers.
* ``IsNull`` and ``Coalesce`` treat ``''`` like Null, since empty cells of a file are ``''``.
* Most functions return Null for a Null first argument.
* A field missing from the row reads as Null; :func:`check_formula` reports unknown fields.
"""

from __future__ import annotations

import calendar
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from itertools import repeat
from typing import Any

from lark import Lark, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from migration_kit.errors import FormulaRuntimeError, FormulaSyntaxError
from migration_kit.values import (
    date_pattern,
    format_number,
    is_number_format,
    to_date,
    to_decimal,
    to_int,
    to_str,
)

# --------------------------------------------------------------------------- context


@dataclass
class ValueMap:
    """A named substitution list: source value -> target value, with an optional default."""

    name: str
    mapping: dict[str, str]
    default: str | None = None

    def lookup(self, value: Any) -> str | None:
        key = to_str(value)
        if key in self.mapping:
            return self.mapping[key]
        if self.default is not None:
            return self.default
        raise FormulaRuntimeError(
            f"Map: {key!r} is not in value map {self.name!r}, which has no default",
            function="Map", value=key, value_map=self.name)


@dataclass
class FormulaContext:
    """What a formula may see besides the row: value maps, today's date, the locale."""

    value_maps: Mapping[str, ValueMap] = field(default_factory=dict)
    today: date = field(default_factory=date.today)
    locale: str | None = None


Fn = Callable[[Mapping[str, Any], FormulaContext], Any]

# --------------------------------------------------------------------------- grammar

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr | or_expr OR and_expr -> or_
?and_expr: not_expr | and_expr AND not_expr -> and_
?not_expr: comparison | NOT not_expr -> not_
?comparison: concat
    | concat COMP concat -> compare
    | concat IN "(" arglist ")" -> in_
    | concat NOT IN "(" arglist ")" -> not_in
?concat: additive | concat AMP additive -> binop
?additive: term | additive SIGN term -> binop
?term: unary | term MULOP unary -> binop
?unary: atom | SIGN unary -> sign
?atom: NUMBER -> number
    | STRING -> string
    | DATE -> date
    | TRUE -> true
    | FALSE -> false
    | NULL -> null
    | FIELD -> field
    | NAME "(" [arglist] ")" -> call
    | NAME -> bare
    | "(" or_expr ")"
arglist: or_expr ("," or_expr)*

OR.2: /or\b/i
AND.2: /and\b/i
NOT.2: /not\b/i
IN.2: /in\b/i
TRUE.2: /true\b/i
FALSE.2: /false\b/i
NULL.2: /null\b/i
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /\d+(\.\d+)?|\.\d+/
STRING: /'(?:[^']|'')*'/ | /"(?:[^"]|"")*"/
DATE: /#[^#]*#/
FIELD: /\[[^\]]*\]/
COMP: "<>" | "<=" | ">=" | "=" | "<" | ">"
AMP: "&"
SIGN: "+" | "-"
MULOP: "*" | "/"
%ignore /\s+/
"""


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", start="start")


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str  # lit field bare call bin cmp in not and or neg
    value: Any
    args: tuple[_Node, ...]
    pos: int


class _ToNodes(Transformer):
    """lark tree -> :class:`_Node` tree (positions are 0-based into the formula)."""

    def number(self, c):
        t = c[0]
        return _Node("lit", Decimal(t) if "." in t else int(t), (), t.start_pos)

    def string(self, c):
        t = c[0]
        quote = t[0]
        return _Node("lit", t[1:-1].replace(quote * 2, quote), (), t.start_pos)

    def date(self, c):
        t = c[0]
        try:
            value = date.fromisoformat(t[1:-1].strip())
        except ValueError:
            raise _NodeError(f"{t} is not a date (expected #yyyy-mm-dd#)", t.start_pos) from None
        return _Node("lit", value, (), t.start_pos)

    def true(self, c):
        return _Node("lit", True, (), c[0].start_pos)

    def false(self, c):
        return _Node("lit", False, (), c[0].start_pos)

    def null(self, c):
        return _Node("lit", None, (), c[0].start_pos)

    def field(self, c):
        t = c[0]
        if not t[1:-1].strip():
            raise _NodeError("empty field name []", t.start_pos)
        return _Node("field", t[1:-1], (), t.start_pos)

    def bare(self, c):
        return _Node("bare", str(c[0]), (), c[0].start_pos)

    def call(self, c):
        name, args = c
        return _Node("call", str(name), tuple(args or ()), name.start_pos)

    def arglist(self, c):
        return list(c)

    def binop(self, c):
        left, op, right = c
        return _Node("bin", str(op), (left, right), op.start_pos)

    def sign(self, c):
        op, x = c
        return x if op == "+" else _Node("neg", "-", (x,), op.start_pos)

    def compare(self, c):
        left, op, right = c
        return _Node("cmp", str(op), (left, right), op.start_pos)

    def in_(self, c):
        x, kw, items = c
        return _Node("in", False, (x, *items), kw.start_pos)

    def not_in(self, c):
        x, kw, _in, items = c
        return _Node("in", True, (x, *items), kw.start_pos)

    def not_(self, c):
        kw, x = c
        return _Node("not", None, (x,), kw.start_pos)

    def and_(self, c):
        a, kw, b = c
        return _Node("and", None, (a, b), kw.start_pos)

    def or_(self, c):
        a, kw, b = c
        return _Node("or", None, (a, b), kw.start_pos)


class _NodeError(Exception):
    def __init__(self, message: str, pos: int):
        super().__init__(message)
        self.message = message
        self.pos = pos


_TOKEN_NAMES = {
    "RPAR": "')'", "LPAR": "'('", "COMMA": "','", "NUMBER": "a number", "STRING": "a text",
    "DATE": "a #date#", "FIELD": "a [field]", "NAME": "a name", "COMP": "a comparison",
    "AMP": "'&'", "SIGN": "'+' or '-'", "MULOP": "'*' or '/'", "$END": "the end",
    "OR": "Or", "AND": "And", "NOT": "Not", "IN": "In", "TRUE": "True", "FALSE": "False",
    "NULL": "Null",
}
_UNCLOSED = {"'": "text is not closed (missing ')", '"': 'text is not closed (missing ")',
             "[": "field name is not closed (missing ])", "#": "date is not closed (missing #)"}


def _syntax_error(text: str, e: UnexpectedInput) -> FormulaSyntaxError:
    if isinstance(e, UnexpectedCharacters):
        ch = text[e.pos_in_stream]
        message = _UNCLOSED.get(ch, f"unexpected character {ch!r}")
        return FormulaSyntaxError(message, formula=text, position=e.pos_in_stream)
    if isinstance(e, UnexpectedToken):
        if e.token.type == "$END":
            message, position = "the formula ends too early", len(text)
        else:
            message, position = f"unexpected {e.token.value!r}", e.token.start_pos
        expected = sorted({_TOKEN_NAMES.get(t, t) for t in e.expected if not t.startswith("__")})
        if 0 < len(expected) <= 4:
            message += f" (expected {' or '.join(expected)})"
        return FormulaSyntaxError(message, formula=text, position=position)
    return FormulaSyntaxError("the formula ends too early", formula=text, position=len(text))


def _parse(text: str) -> _Node:
    if not isinstance(text, str) or not text.startswith("="):
        raise FormulaSyntaxError("a formula starts with '='", formula=str(text), position=0)
    if not text[1:].strip():
        raise FormulaSyntaxError("the formula is empty", formula=text, position=len(text))
    try:
        tree = _parser().parse(" " + text[1:])  # the blank keeps positions those of ``text``
        return _ToNodes().transform(tree)
    except UnexpectedInput as e:
        raise _syntax_error(text, e) from None
    except VisitError as e:
        if isinstance(e.orig_exc, _NodeError):
            raise FormulaSyntaxError(e.orig_exc.message, formula=text,
                                     position=e.orig_exc.pos) from None
        if isinstance(e.orig_exc, RecursionError):
            raise _too_deep(text) from None
        raise
    except RecursionError:
        raise _too_deep(text) from None


MAX_DEPTH = 200  # nesting of operators and calls; deeper trees would exhaust the stack


def _too_deep(text: str) -> FormulaSyntaxError:
    return FormulaSyntaxError(f"the formula is nested more than {MAX_DEPTH} levels deep",
                              formula=text, position=0)


def _check_depth(text: str, node: _Node) -> None:
    stack = [(node, 1)]
    while stack:
        n, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(text)
        stack.extend((arg, depth + 1) for arg in n.args)


# --------------------------------------------------------------------------- values


def _fail(function: str, message: str, value: Any = None) -> FormulaRuntimeError:
    return FormulaRuntimeError(f"{function}: {message}", function=function, value=to_str(value))


def _num(v: Any, function: str, ctx: FormulaContext) -> int | Decimal:
    t = type(v)
    if t is int or t is Decimal:
        return v
    if t is float:
        return Decimal(repr(v))
    if t is str:
        try:
            d = to_decimal(v, ctx.locale)
        except ValueError as e:
            raise _fail(function, str(e), v) from None
        if d is None:
            raise _fail(function, f"{v!r} is not a number", v)
        return d
    raise _fail(function, f"{to_str(v)!r} is not a number", v)


def _date(v: Any, function: str, ctx: FormulaContext, fmt: str | None = None) -> date | None:
    if type(v) is date:
        return v
    try:
        return to_date(v, ctx.locale, fmt)
    except ValueError as e:
        if fmt:
            raise _fail(function, f"{v!r} is not a date in format {fmt}", v) from None
        raise _fail(function, str(e), v) from None


def _whole(v: Any, function: str, ctx: FormulaContext) -> int | None:
    if type(v) is int:
        return v
    try:
        return to_int(v, ctx.locale)
    except ValueError as e:
        raise _fail(function, str(e), v) from None


def _truth(v: Any, function: str) -> bool:
    if v is True or v is False:
        return v
    if v is None:
        return False
    t = type(v)
    if t is int or t is Decimal or t is float:
        return v != 0
    if t is str:
        word = v.strip().lower()
        if word in ("true", "yes", "ja", "1"):
            return True
        if word in ("false", "no", "nei", "0", ""):
            return False
    raise _fail(function, f"{to_str(v)!r} is not true or false", v)


_NUMBERS = (int, Decimal, float)


def _pair(a: Any, b: Any, ctx: FormulaContext) -> tuple[Any, Any] | None:
    """``a`` and ``b`` made comparable, or None when they cannot be (Null is handled before)."""
    ta, tb = type(a), type(b)
    if ta is tb and ta is not datetime:
        return a, b
    a_num, b_num = ta in _NUMBERS and ta is not bool, tb in _NUMBERS and tb is not bool
    if a_num and b_num:
        return a, b
    a_date, b_date = isinstance(a, date), isinstance(b, date)
    if a_date and b_date:
        return (a.date() if ta is datetime else a), (b.date() if tb is datetime else b)
    try:
        if a_num and tb is str:
            return a, to_decimal(b, ctx.locale)
        if b_num and ta is str:
            return to_decimal(a, ctx.locale), b
        if a_date and tb is str:
            return (a.date() if ta is datetime else a), to_date(b, ctx.locale)
        if b_date and ta is str:
            return to_date(a, ctx.locale), (b.date() if tb is datetime else b)
    except ValueError:
        return None
    return None


def _equal(a: Any, b: Any, ctx: FormulaContext) -> bool:
    if a is None or b is None:
        return False
    p = _pair(a, b, ctx)
    return p is not None and p[0] == p[1]


def _order(a: Any, b: Any, ctx: FormulaContext, who: str) -> tuple[Any, Any] | None:
    """``a`` and ``b`` made comparable; None when one is empty text read as a number or date."""
    p = _pair(a, b, ctx)
    if p is None:
        raise _fail(who, f"cannot compare {to_str(a)!r} with {to_str(b)!r}", a)
    return None if p[0] is None or p[1] is None else p


def _cmp_eq(a, b, ctx):
    if a is None or b is None:
        return False
    if type(a) is type(b):
        return a == b
    return _equal(a, b, ctx)


def _cmp_ne(a, b, ctx):
    if a is None or b is None:
        return False
    if type(a) is type(b):
        return a != b
    p = _pair(a, b, ctx)
    if p is None:
        return True  # 'abc' <> 1
    return p[0] is not None and p[1] is not None and p[0] != p[1]


def _ordered(op: str, test: Callable[[Any, Any], bool]):
    def compare(a, b, ctx):
        if a is None or b is None:
            return False
        if type(a) is type(b) and type(a) is not bool:
            return test(a, b)
        p = _order(a, b, ctx, f"'{op}'")
        return p is not None and test(*p)
    return compare


_COMPARE = {
    "=": _cmp_eq, "<>": _cmp_ne,
    "<": _ordered("<", lambda x, y: x < y), ">": _ordered(">", lambda x, y: x > y),
    "<=": _ordered("<=", lambda x, y: x <= y), ">=": _ordered(">=", lambda x, y: x >= y),
}


def _plain_date(d: date) -> date:
    return d.date() if type(d) is datetime else d


def _days(v: Any, ctx: FormulaContext, op: str) -> int:
    n = _num(v, f"'{op}'", ctx)
    if n != int(n):
        raise _fail(f"'{op}'", f"cannot add {to_str(v)} days to a date", v)
    return int(n)


def _add(a, b, ctx):
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is tb and (ta is int or ta is Decimal):
        return a + b
    if ta is str or tb is str:
        return to_str(a) + to_str(b)
    if isinstance(a, date) and not isinstance(b, date):
        return a + timedelta(days=_days(b, ctx, "+"))
    if isinstance(b, date) and not isinstance(a, date):
        return b + timedelta(days=_days(a, ctx, "+"))
    return _num(a, "'+'", ctx) + _num(b, "'+'", ctx)


def _sub(a, b, ctx):
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is tb and (ta is int or ta is Decimal):
        return a - b
    if isinstance(a, date):
        if tb is str:
            try:
                b = to_date(b, ctx.locale) or b
            except ValueError:
                pass  # not a date: a number of days, read below
        if isinstance(b, date):
            return (_plain_date(a) - _plain_date(b)).days
        return a - timedelta(days=_days(b, ctx, "-"))
    return _num(a, "'-'", ctx) - _num(b, "'-'", ctx)


def _mul(a, b, ctx):
    if a is None or b is None:
        return None
    ta, tb = type(a), type(b)
    if ta is tb and (ta is int or ta is Decimal):
        return a * b
    return _num(a, "'*'", ctx) * _num(b, "'*'", ctx)


def _div(a, b, ctx):
    if a is None or b is None:
        return None
    x, y = _num(a, "'/'", ctx), _num(b, "'/'", ctx)
    if not y:
        raise _fail("'/'", f"division by zero ({to_str(a)} / {to_str(b)})", a)
    try:
        return Decimal(x) / Decimal(y)
    except InvalidOperation as e:
        raise _fail("'/'", f"cannot divide {to_str(a)} by {to_str(b)} ({e})", a) from None


def _amp(a, b, ctx):
    return (to_str(a) or "") + (to_str(b) or "")


_BINARY = {"+": _add, "-": _sub, "*": _mul, "/": _div, "&": _amp}

# --------------------------------------------------------------------------- functions


def _text_fn(function: str, impl: Callable[..., Any]):
    """A text function: Null first argument -> Null; the first argument read as text."""
    def call(ctx, s, *rest):
        if s is None:
            return None
        return impl(ctx, s if type(s) is str else to_str(s), *rest)
    call.__name__ = function
    return call


def _length(function: str, n: Any, ctx: FormulaContext) -> int:
    value = _whole(n, function, ctx)
    if value is None or value < 0:
        raise _fail(function, f"{to_str(n)!r} is not a length (a whole number, 0 or more)", n)
    return value


def _left(ctx, s, n):
    return s[:_length("Left", n, ctx)]


def _right(ctx, s, n):
    k = _length("Right", n, ctx)
    return s[len(s) - k:] if k < len(s) else s


def _mid(ctx, s, start, n=None):
    first = _whole(start, "Mid", ctx)
    if first is None or first < 1:
        raise _fail("Mid", f"start {to_str(start)!r} must be 1 or more", start)
    if n is None:
        return s[first - 1:]
    return s[first - 1:first - 1 + _length("Mid", n, ctx)]


def _replace(ctx, s, find, repl):
    find = to_str(find)
    return s.replace(find, to_str(repl) or "") if find else s


def _instr(ctx, s, find):
    if find is None:
        return None
    return s.find(to_str(find)) + 1


def _pad(function: str, left: bool):
    def pad(ctx, s, n, ch=" "):
        width = _length(function, n, ctx)
        fill = to_str(ch) if ch is not None else " "
        if len(fill) != 1:
            raise _fail(function, f"pad character {fill!r} must be exactly one character", fill)
        return s.rjust(width, fill) if left else s.ljust(width, fill)
    return pad


def _cstr(ctx, v):
    return to_str(v)


def _cint(ctx, v):
    try:
        return to_int(v, ctx.locale)
    except ValueError as e:
        raise _fail("CInt", str(e), v) from None


def _cdec(ctx, v):
    try:
        return to_decimal(v, ctx.locale)
    except ValueError as e:
        raise _fail("CDec", str(e), v) from None


def _cdate(ctx, v, fmt=None):
    if v is None:
        return None
    if fmt is not None:
        fmt = to_str(fmt)
        try:
            date_pattern(fmt)
        except ValueError as e:
            raise _fail("CDate", str(e), fmt) from None
    return _date(v, "CDate", ctx, fmt)


def _format(ctx, v, fmt):
    if v is None:
        return None
    fmt = to_str(fmt) or ""
    try:
        if isinstance(v, date):
            if is_number_format(fmt):
                raise ValueError(f"{fmt!r} is a number format, not a date format")
            return date_pattern(fmt).format(v)
        if type(v) in _NUMBERS and type(v) is not bool:
            return format_number(v, fmt, ctx.locale)
        if is_number_format(fmt):
            return format_number(_num(v, "Format", ctx), fmt, ctx.locale)
        return date_pattern(fmt).format(_date(v, "Format", ctx))
    except ValueError as e:
        raise _fail("Format", str(e), v) from None


def _nullif(ctx, a, b):
    return None if _equal(a, b, ctx) else a


def _round(ctx, n, digits=0):
    if n is None:
        return None
    places = _whole(digits, "Round", ctx) or 0
    x = _num(n, "Round", ctx)
    if type(x) is int and places >= 0:
        return x
    try:
        return Decimal(x).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise _fail("Round", f"cannot round {to_str(n)} to {places} digits", n) from None


def _abs(ctx, n):
    return None if n is None else abs(_num(n, "Abs", ctx))


def _extreme(function: str, pick_greater: bool):
    def extreme(ctx, *values):
        best = None
        for v in values:
            if v is None or v == "":
                continue
            if best is None:
                best = v
                continue
            x, y = _order(v, best, ctx, function) or (v, best)
            if (x > y) if pick_greater else (x < y):
                best = v
        return best
    return extreme


def _today(ctx):
    return ctx.today


_UNITS = {"d": "d", "day": "d", "days": "d", "w": "w", "ww": "w", "week": "w", "weeks": "w",
          "m": "m", "month": "m", "months": "m", "q": "q", "quarter": "q",
          "y": "y", "yy": "y", "yyyy": "y", "year": "y", "years": "y"}


def _unit(function: str, unit: Any) -> str:
    key = (to_str(unit) or "").strip().lower()
    if key not in _UNITS:
        raise _fail(function, f"unknown unit {to_str(unit)!r} (expected 'd', 'w', 'm', 'q' or 'y')",
                    unit)
    return _UNITS[key]


def _add_months(d: date, months: int) -> date:
    year, month = divmod(d.month - 1 + months, 12)
    year += d.year
    if not 1 <= year <= 9999:
        raise _fail("DateAdd", f"{d.isoformat()} plus {months} months is out of range", d)
    return d.replace(year=year, month=month + 1,
                     day=min(d.day, calendar.monthrange(year, month + 1)[1]))


def _dateadd(ctx, unit, n, d):
    kind = _unit("DateAdd", unit)
    if n is None or d is None:
        return None
    count = _whole(n, "DateAdd", ctx)
    day = _date(d, "DateAdd", ctx)
    try:
        if kind == "d":
            return day + timedelta(days=count)
        if kind == "w":
            return day + timedelta(weeks=count)
    except OverflowError:
        raise _fail("DateAdd", f"{day.isoformat()} plus {count} {unit} is out of range", d) from None
    return _add_months(day, count * {"m": 1, "q": 3, "y": 12}[kind])


def _datediff(ctx, unit, d1, d2):
    kind = _unit("DateDiff", unit)
    if d1 is None or d2 is None:
        return None
    a, b = _date(d1, "DateDiff", ctx), _date(d2, "DateDiff", ctx)
    if kind == "d":
        return (b - a).days
    if kind == "w":
        return int((b - a).days / 7)
    months = (b.year - a.year) * 12 + b.month - a.month
    return {"m": months, "q": (b.year - a.year) * 4 + (b.month - 1) // 3 - (a.month - 1) // 3,
            "y": b.year - a.year}[kind]


def _date_part(function: str, part: str):
    def get(ctx, v):
        if v is None:
            return None
        return getattr(_date(v, function, ctx), part)
    return get


def _map(ctx, name, value):
    list_name = to_str(name)
    vm = ctx.value_maps.get(list_name) if list_name is not None else None
    if vm is None:
        known = ", ".join(sorted(ctx.value_maps)) or "none"
        raise FormulaRuntimeError(f"Map: unknown value map {list_name!r} (known: {known})",
                                  function="Map", value_map=list_name)
    if value is None:
        return None
    if isinstance(vm, ValueMap):
        return vm.lookup(value)
    return ValueMap(list_name, dict(vm)).lookup(value)


# Lazy functions get their argument closures; strict ones get values, after ``ctx``.


def _lazy_iif(args: list[Fn]) -> Fn:
    c, a, b = args

    def iif(row, ctx):
        v = c(row, ctx)
        if v is True or (v is not False and _truth(v, "IIf")):
            return a(row, ctx)
        return b(row, ctx)
    return iif


def _lazy_switch(args: list[Fn]) -> Fn:
    pairs = [(args[i], args[i + 1]) for i in range(0, len(args) - 1, 2)]
    default = args[-1] if len(args) % 2 else None

    def switch(row, ctx):
        for cond, value in pairs:
            if _truth(cond(row, ctx), "Switch"):
                return value(row, ctx)
        return default(row, ctx) if default is not None else None
    return switch


def _lazy_coalesce(function: str):
    def build(args: list[Fn]) -> Fn:
        def coalesce(row, ctx):
            v = None
            for arg in args:
                v = arg(row, ctx)
                if v is not None and v != "":
                    return v
            return v if function == "IsNull" else None
        return coalesce
    return build


def _concat(ctx, *values):
    return "".join(to_str(v) or "" for v in values)


@dataclass(frozen=True)
class _Function:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    impl: Callable[..., Any] | None = None  # strict: impl(ctx, *values)
    lazy: Callable[[list[Fn]], Fn] | None = None  # lazy: lazy(arg closures) -> closure

    def arity(self) -> str:
        if self.max_args == self.min_args:
            n = self.min_args
            return f"{n} argument{'s' if n != 1 else ''}"
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


_FUNCTIONS: dict[str, _Function] = {f.name.lower(): f for f in (
    _Function("IIf", 3, 3, lazy=_lazy_iif),
    _Function("Switch", 2, None, lazy=_lazy_switch),
    _Function("Concat", 1, None, _concat),
    _Function("Left", 2, 2, _text_fn("Left", _left)),
    _Function("Right", 2, 2, _text_fn("Right", _right)),
    _Function("Mid", 2, 3, _text_fn("Mid", _mid)),
    _Function("Trim", 1, 1, _text_fn("Trim", lambda ctx, s: s.strip())),
    _Function("LTrim", 1, 1, _text_fn("LTrim", lambda ctx, s: s.lstrip())),
    _Function("RTrim", 1, 1, _text_fn("RTrim", lambda ctx, s: s.rstrip())),
    _Function("Upper", 1, 1, _text_fn("Upper", lambda ctx, s: s.upper())),
    _Function("Lower", 1, 1, _text_fn("Lower", lambda ctx, s: s.lower())),
    _Function("Replace", 3, 3, _text_fn("Replace", _replace)),
    _Function("Len", 1, 1, _text_fn("Len", lambda ctx, s: len(s))),
    _Function("InStr", 2, 2, _text_fn("InStr", _instr)),
    _Function("PadLeft", 2, 3, _text_fn("PadLeft", _pad("PadLeft", True))),
    _Function("PadRight", 2, 3, _text_fn("PadRight", _pad("PadRight", False))),
    _Function("CStr", 1, 1, _cstr),
    _Function("CInt", 1, 1, _cint),
    _Function("CDec", 1, 1, _cdec),
    _Function("CDate", 1, 2, _cdate),
    _Function("Format", 2, 2, _format),
    _Function("IsNull", 2, 2, lazy=_lazy_coalesce("IsNull")),
    _Function("Coalesce", 1, None, lazy=_lazy_coalesce("Coalesce")),
    _Function("NullIf", 2, 2, _nullif),
    _Function("Round", 1, 2, _round),
    _Function("Abs", 1, 1, _abs),
    _Function("Min", 1, None, _extreme("Min", False)),
    _Function("Max", 1, None, _extreme("Max", True)),
    _Function("Today", 0, 0, _today),
    _Function("DateAdd", 3, 3, _dateadd),
    _Function("DateDiff", 3, 3, _datediff),
    _Function("Year", 1, 1, _date_part("Year", "year")),
    _Function("Month", 1, 1, _date_part("Month", "month")),
    _Function("Day", 1, 1, _date_part("Day", "day")),
    _Function("Map", 2, 2, _map),
)}

FUNCTIONS: tuple[str, ...] = tuple(f.name for f in _FUNCTIONS.values())

# --------------------------------------------------------------------------- checking


def _problems(node: _Node, known_fields: set[str] | None = None,
              known_maps: set[str] | None = None) -> list[tuple[str, int]]:
    """Every static problem below ``node`` as (message, position), in formula order."""
    out: list[tuple[str, int]] = []

    def visit(n: _Node, map_name_ok: bool = False) -> None:
        if n.kind == "field":
            if known_fields is not None and n.value not in known_fields:
                out.append((f"unknown field [{n.value}]", n.pos))
        elif n.kind == "bare":
            if not map_name_ok:
                out.append((f"unknown name {n.value!r} (a field is written [{n.value}], "
                            "text is quoted, a function needs parentheses)", n.pos))
        elif n.kind == "call":
            fn = _FUNCTIONS.get(n.value.lower())
            if fn is None:
                out.append((f"unknown function {n.value!r}", n.pos))
            elif len(n.args) < fn.min_args or (fn.max_args is not None
                                               and len(n.args) > fn.max_args):
                out.append((f"{fn.name} takes {fn.arity()}, not {len(n.args)}", n.pos))
            elif fn.name == "Map":
                first = n.args[0]
                if first.kind in ("bare", "lit") and known_maps is not None \
                        and to_str(first.value) not in known_maps:
                    out.append((f"unknown value map {to_str(first.value)!r}", first.pos))
            elif fn.name in ("DateAdd", "DateDiff"):
                first = n.args[0]
                if first.kind == "lit" and (to_str(first.value) or "").strip().lower() not in _UNITS:
                    out.append((f"{fn.name}: unknown unit {to_str(first.value)!r} "
                                "(expected 'd', 'w', 'm', 'q' or 'y')", first.pos))
            for i, arg in enumerate(n.args):
                visit(arg, map_name_ok=(fn is not None and fn.name == "Map" and i == 0))
            return
        for arg in n.args:
            visit(arg)

    visit(node)
    return out


def _fields(node: _Node) -> frozenset[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.kind == "field":
            found.add(n.value)
        stack.extend(n.args)
    return frozenset(found)


# --------------------------------------------------------------------------- building


def _build(n: _Node) -> Fn:
    kind = n.kind
    if kind == "lit":
        value = n.value
        return lambda row, ctx: value
    if kind == "field":
        name = n.value
        return lambda row, ctx: row.get(name)
    if kind == "bare":  # only as Map's first argument (checked before): the list's name
        value = n.value
        return lambda row, ctx: value
    if kind in ("bin", "cmp"):
        return _build_binary((_BINARY if kind == "bin" else _COMPARE)[n.value], *n.args)
    if kind == "neg":
        x = _build(n.args[0])

        def neg(row, ctx):
            v = x(row, ctx)
            return None if v is None else -_num(v, "'-'", ctx)
        return neg
    if kind == "not":
        x = _build(n.args[0])
        return lambda row, ctx: not _truth(x(row, ctx), "Not")
    if kind == "and":
        a, b = (_build(arg) for arg in n.args)
        return lambda row, ctx: _truth(a(row, ctx), "And") and _truth(b(row, ctx), "And")
    if kind == "or":
        a, b = (_build(arg) for arg in n.args)
        return lambda row, ctx: _truth(a(row, ctx), "Or") or _truth(b(row, ctx), "Or")
    if kind == "in":
        return _build_in(n)
    if kind == "call":
        return _build_call(n)
    raise AssertionError(kind)


def _build_binary(op: Callable[[Any, Any, FormulaContext], Any], left: _Node, right: _Node) -> Fn:
    # Specialise the common shapes ([Field] op literal, [Field] op [Field]) to save calls.
    if left.kind == "field" and right.kind == "lit":
        name, const = left.value, right.value
        return lambda row, ctx: op(row.get(name), const, ctx)
    if left.kind == "field" and right.kind == "field":
        a_name, b_name = left.value, right.value
        return lambda row, ctx: op(row.get(a_name), row.get(b_name), ctx)
    a = _build(left)
    if right.kind == "lit":
        const = right.value
        return lambda row, ctx: op(a(row, ctx), const, ctx)
    b = _build(right)
    return lambda row, ctx: op(a(row, ctx), b(row, ctx), ctx)


def _build_in(n: _Node) -> Fn:
    x, *items = (_build(arg) for arg in n.args)
    negate = n.value
    literal_texts = [a.value for a in n.args[1:] if a.kind == "lit"]
    if len(literal_texts) == len(items) and all(type(v) is str for v in literal_texts):
        texts = frozenset(literal_texts)

        def in_texts(row, ctx):
            v = x(row, ctx)
            if v is None:
                return False
            found = v in texts if type(v) is str else any(_equal(v, t, ctx) for t in texts)
            return found != negate
        return in_texts

    def in_(row, ctx):
        v = x(row, ctx)
        if v is None:
            return False
        return any(_equal(v, item(row, ctx), ctx) for item in items) != negate
    return in_


def _build_call(n: _Node) -> Fn:
    fn = _FUNCTIONS[n.value.lower()]
    args = [_build(arg) for arg in n.args]
    if fn.lazy is not None:
        return fn.lazy(args)
    impl = fn.impl
    assert impl is not None
    if not args:
        return lambda row, ctx: impl(ctx)
    if len(args) == 1:
        (a,) = args
        return lambda row, ctx: impl(ctx, a(row, ctx))
    if len(args) == 2:
        a, b = args
        return lambda row, ctx: impl(ctx, a(row, ctx), b(row, ctx))
    if len(args) == 3:
        a, b, c = args
        return lambda row, ctx: impl(ctx, a(row, ctx), b(row, ctx), c(row, ctx))
    return lambda row, ctx: impl(ctx, *[arg(row, ctx) for arg in args])


# --------------------------------------------------------------------------- public API


# ------------------------------------------------------------------ columnar evaluation
# Arithmetic over whole columns of numbers, for the columns engine: the same values as
# evaluating row by row wherever it answers. It answers only where the row rules reduce
# to plain Decimal/int arithmetic (numbers on both sides, no Null, no division by zero,
# no arithmetic error); anywhere else it says "no" and the caller evaluates row by row,
# so any message still comes from the row rules.

class _NoColumns(Exception):
    """This formula, on these columns, is evaluated row by row."""


class _Scalar:
    __slots__ = ("v",)

    def __init__(self, v: Any):
        self.v = v


ColFn = Callable[[Mapping[str, Any]], Any]  # columns -> a list, or a _Scalar
_NUMBERS = frozenset({int, Decimal})
_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def _numbers(col: Any) -> list[Any]:
    if col is None or not set(map(type, col)) <= _NUMBERS:
        raise _NoColumns
    return col


def _decimals(x: Any) -> Any:
    if isinstance(x, _Scalar):
        return _Scalar(Decimal(x.v))
    return x if set(map(type, x)) == {Decimal} else list(map(Decimal, x))


def _build_columns(n: _Node) -> ColFn | None:
    """The columnar form of ``n``, or None when it has none."""
    if n.kind == "lit":
        if type(n.value) not in _NUMBERS:
            return None
        const = _Scalar(n.value)
        return lambda cols: const
    if n.kind == "field":
        name = n.value
        return lambda cols: _numbers(cols.get(name))
    if n.kind == "neg":
        x = _build_columns(n.args[0])
        if x is None:
            return None

        def neg(cols):
            v = x(cols)
            return _Scalar(-v.v) if isinstance(v, _Scalar) else list(map(operator.neg, v))
        return neg
    if n.kind != "bin" or n.value not in ("+", "-", "*", "/"):
        return None
    a, b = (_build_columns(arg) for arg in n.args)
    if a is None or b is None:
        return None
    op = _ARITH.get(n.value)

    def binary(cols):
        x, y = a(cols), b(cols)
        if op is None:  # division: Decimal / Decimal as _div does, never by zero
            if (y.v == 0) if isinstance(y, _Scalar) else (0 in y):
                raise _NoColumns
            x, y, f = _decimals(x), _decimals(y), operator.truediv
        else:
            f = op
        if isinstance(x, _Scalar) and isinstance(y, _Scalar):
            return _Scalar(f(x.v, y.v))
        if isinstance(x, _Scalar):
            return list(map(f, repeat(x.v, len(y)), y))
        if isinstance(y, _Scalar):
            return list(map(f, x, repeat(y.v, len(x))))
        return list(map(f, x, y))
    return binary


class Formula:
    """A compiled formula: ``text``, the ``fields`` it reads, and :meth:`evaluate`."""

    __slots__ = ("text", "fields", "_fn", "_cols")

    def __init__(self, text: str, fields: frozenset[str], fn: Fn,
                 cols: ColFn | None = None):
        self.text = text
        self.fields = fields
        self._fn = fn
        self._cols = cols

    def evaluate_columns(self, cols: Mapping[str, list[Any]], n: int) -> list[Any] | None:
        """The formula's value for each of ``n`` rows given as columns (``cols[field]``),
        or None where it has no columnar form: evaluate those rows one by one."""
        if self._cols is None:
            return None
        try:
            out = self._cols(cols)
        except (_NoColumns, ArithmeticError, TypeError, ValueError):
            return None
        return [out.v] * n if isinstance(out, _Scalar) else out

    def evaluate(self, row: Mapping[str, Any], ctx: FormulaContext | None = None) -> Any:
        """The formula's value for ``row``; FormulaRuntimeError when a value does not fit."""
        try:
            return self._fn(row, ctx if ctx is not None else FormulaContext())
        except FormulaRuntimeError as e:
            e.facts.setdefault("formula", self.text)
            raise
        except (ArithmeticError, TypeError, ValueError) as e:  # a value no rule foresaw
            raise FormulaRuntimeError(f"cannot evaluate: {e}", formula=self.text) from e

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"

    def __reduce__(self):
        return compile_formula, (self.text,)


@lru_cache(maxsize=4096)
def compile_formula(text: str) -> Formula:
    """Parse, check and compile ``text`` (which starts with ``=``); FormulaSyntaxError if bad."""
    node = _parse(text)
    _check_depth(text, node)
    problems = _problems(node)
    if problems:
        message, position = problems[0]
        raise FormulaSyntaxError(message, formula=text, position=position)
    return Formula(text, _fields(node), _build(node), _build_columns(node))


def check_formula(text: str, known_fields: Iterable[str], known_maps: Iterable[str]) -> list[str]:
    """Every static problem of ``text`` as readable lines; ``[]`` when it is fine."""
    try:
        node = _parse(text)
        _check_depth(text, node)
    except FormulaSyntaxError as e:
        return [e.message.splitlines()[0]]
    return [f"{message} at position {position + 1}"
            for message, position in _problems(node, set(known_fields), set(known_maps))]


__all__ = ["FUNCTIONS", "Formula", "FormulaContext", "ValueMap", "check_formula",
           "compile_formula"]
