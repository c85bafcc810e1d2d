"""Restrictions: which source rows an import reads, which records an export writes.

A restriction is a list of lines ``field condition values``, joined by ``and``/``or`` with
brackets, as a user fills them in a grid::

    ( Status  equals       Open            and
      Amount  greater      1000      )     or
      Due     less         @Today-30

Within one bracket level ``and`` binds tighter than ``or``. Inactive lines are left out; their
brackets stay, and a bracket pair that ends up empty is dropped.

How a field's value is compared with a line's value:

* as dates when the line's value is a date, a relative date (``@Today``, ``@MonthStart``,
  ``@MonthEnd``, ``@YearStart``, ``@YearEnd``, optionally ``+n``/``-n`` days) or text that
  reads as a date; a field value that is not a date then matches nothing but ``not_equals``;
* as numbers when both sides read as numbers (in the given locale);
* otherwise as text, case-sensitively; ``contains``, ``not_contains``, ``starts_with`` and
  ``ends_with`` ignore case.

Empty means ``None`` or ``""`` after strip.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from migration_kit.errors import BadInputError
from migration_kit.values import get_locale, to_date, to_decimal, to_str

CONDITIONS = ("equals", "not_equals", "greater", "greater_or_equal", "less", "less_or_equal",
              "between", "contains", "not_contains", "starts_with", "ends_with", "is_empty",
              "is_not_empty", "in")

# how many values each condition takes: (min, max); None max is "any number"
_VALUE_COUNTS: dict[str, tuple[int, int | None]] = {
    **{c: (1, 1) for c in CONDITIONS},
    "between": (2, 2), "is_empty": (0, 0), "is_not_empty": (0, 0), "in": (1, None),
}

_RELATIVE = re.compile(r"@(today|monthstart|monthend|yearstart|yearend)\s*(?:([+-])\s*(\d+))?",
                       re.IGNORECASE)

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]


@dataclass
class Restriction:
    """One line: ``field condition values``, joined to the line before by ``op``."""

    field: str
    condition: str
    values: list[Any] = field(default_factory=list)
    op: str = "and"
    open_brackets: int = 0
    close_brackets: int = 0
    active: bool = True

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Restriction:
        """From the YAML form ``{field, condition, value | values, op, open, close, active}``."""
        if not isinstance(d, Mapping) or not d.get("field") or not d.get("condition"):
            raise BadInputError(f"a restriction needs a field and a condition, got {d!r}")
        if "values" in d:
            raw = d["values"]
            values = [] if raw is None else list(raw) if isinstance(raw, list | tuple) else [raw]
        elif "value" in d:
            values = [d["value"]]
        else:
            values = []
        op = str(d.get("op") or "and").strip().lower()
        if op not in ("and", "or"):
            raise BadInputError(f"restriction op must be 'and' or 'or', got {d.get('op')!r}",
                                field=str(d["field"]))
        try:
            open_brackets = int(d.get("open", d.get("open_brackets", 0)) or 0)
            close_brackets = int(d.get("close", d.get("close_brackets", 0)) or 0)
        except (TypeError, ValueError):
            raise BadInputError(f"restriction brackets must be whole numbers, got {d!r}",
                                field=str(d["field"])) from None
        return cls(field=str(d["field"]), condition=str(d["condition"]).strip().lower(),
                   values=values, op=op, open_brackets=open_brackets,
                   close_brackets=close_brackets, active=bool(d.get("active", True)))

    def to_dict(self) -> dict[str, Any]:
        """The YAML form; defaults are left out, one value is written as ``value``."""
        out: dict[str, Any] = {"field": self.field, "condition": self.condition}
        if len(self.values) == 1 and self.condition != "in":
            out["value"] = self.values[0]
        elif self.values:
            out["values"] = list(self.values)
        if self.op != "and":
            out["op"] = self.op
        if self.open_brackets:
            out["open"] = self.open_brackets
        if self.close_brackets:
            out["close"] = self.close_brackets
        if not self.active:
            out["active"] = False
        return out


# --------------------------------------------------------------------------- values


def resolve_relative_date(text: str, today: date) -> date | None:
    """``@Today-30`` and friends as a date; None if ``text`` is not a relative date."""
    m = _RELATIVE.fullmatch(text.strip())
    if not m:
        return None
    word = m[1].lower()
    if word == "today":
        base = today
    elif word == "monthstart":
        base = today.replace(day=1)
    elif word == "monthend":
        base = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    elif word == "yearstart":
        base = date(today.year, 1, 1)
    else:
        base = date(today.year, 12, 31)
    days = int(m[3] or 0)
    return base + timedelta(days=-days if m[2] == "-" else days)


def _value_problem(value: Any) -> str | None:
    if isinstance(value, str) and value.strip().startswith("@") and not _RELATIVE.fullmatch(
            value.strip()):
        return (f"{value!r} is not a relative date (expected @Today, @MonthStart, @MonthEnd, "
                "@YearStart or @YearEnd, optionally +n or -n days)")
    return None


@dataclass(frozen=True)
class _Operand:
    """A line's value, read once: as a date, a number and text."""

    raw: Any
    as_date: date | None
    as_number: Decimal | None
    text: str
    folded: str


def _operand(value: Any, today: date, locale: str | None) -> _Operand:
    problem = _value_problem(value)
    if problem:
        raise BadInputError(problem, value=to_str(value))
    as_date: date | None = None
    as_number: Decimal | None = None
    if isinstance(value, datetime):
        as_date = value.date()
    elif isinstance(value, date):
        as_date = value
    elif isinstance(value, str) and value.strip().startswith("@"):
        as_date = resolve_relative_date(value, today)
    else:
        try:
            as_number = to_decimal(value, locale)
        except ValueError:
            as_number = None
        if as_number is None and isinstance(value, str):
            try:
                as_date = to_date(value, locale)
            except ValueError:
                as_date = None
    text = to_str(value) or ""
    return _Operand(value, as_date, as_number, text, text.casefold())


def _field_number(v: Any, locale: str | None) -> Decimal | None:
    t = type(v)
    if t is int or t is Decimal:
        return v  # type: ignore[return-value]
    if t is bool:
        return None
    try:
        return to_decimal(v, locale)
    except ValueError:
        return None


def _field_date(v: Any, locale: str | None) -> date | None:
    try:
        return to_date(v, locale)
    except ValueError:
        return None


def _compare(v: Any, operand: _Operand, locale: str | None) -> int | None:
    """-1, 0 or 1 for field value ``v`` against ``operand``; None when they do not compare."""
    if _empty(v):
        return 0 if not operand.text.strip() else None
    if operand.as_date is not None:
        d = _field_date(v, locale)
        if d is None:
            return None
        return (d > operand.as_date) - (d < operand.as_date)
    if operand.as_number is not None:
        n = _field_number(v, locale)
        if n is not None:
            return (n > operand.as_number) - (n < operand.as_number)
    text = v if type(v) is str else (to_str(v) or "")
    return (text > operand.text) - (text < operand.text)


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


# --------------------------------------------------------------------------- predicates


def _predicate(r: Restriction, line: int, today: date, locale: str | None) -> Predicate:
    condition, name = r.condition, r.field
    problem = _count_problem(r)
    if condition not in CONDITIONS:
        raise BadInputError(f"restriction line {line}: unknown condition {condition!r} "
                            f"(known: {', '.join(CONDITIONS)})", line=line, field=name)
    if problem:
        raise BadInputError(f"restriction line {line}: {problem}", line=line, field=name)
    try:
        ops = [_operand(v, today, locale) for v in r.values]
    except BadInputError as e:
        raise BadInputError(f"restriction line {line}: {e.message}", line=line,
                            field=name) from None

    if condition == "is_empty":
        return lambda row: _empty(row.get(name))
    if condition == "is_not_empty":
        return lambda row: not _empty(row.get(name))
    if condition in ("contains", "not_contains", "starts_with", "ends_with"):
        needle = ops[0].folded
        test: Callable[[str], bool] = {
            "contains": lambda s: needle in s, "not_contains": lambda s: needle not in s,
            "starts_with": lambda s: s.startswith(needle), "ends_with": lambda s: s.endswith(needle),
        }[condition]
        return lambda row: test((to_str(row.get(name)) or "").casefold())
    if condition == "between":
        low, high = ops

        def between(row: Row) -> bool:
            v = row.get(name)
            a, b = _compare(v, low, locale), _compare(v, high, locale)
            return a is not None and b is not None and a >= 0 and b <= 0
        return between
    if condition == "in":
        def in_(row: Row) -> bool:
            v = row.get(name)
            return any(_compare(v, op, locale) == 0 for op in ops)
        return in_
    op = ops[0]
    accept = {
        "equals": lambda c: c == 0, "not_equals": lambda c: c != 0,
        "greater": lambda c: c is not None and c > 0,
        "greater_or_equal": lambda c: c is not None and c >= 0,
        "less": lambda c: c is not None and c < 0,
        "less_or_equal": lambda c: c is not None and c <= 0,
    }[condition]
    return lambda row: accept(_compare(row.get(name), op, locale))


def _count_problem(r: Restriction) -> str | None:
    if r.condition not in _VALUE_COUNTS:
        return None
    low, high = _VALUE_COUNTS[r.condition]
    n = len(r.values)
    if low <= n and (high is None or n <= high):
        return None
    if high is None:
        wanted = f"at least {low} value{'s' if low != 1 else ''}"
    elif low == high == 0:
        wanted = "no value"
    else:
        wanted = f"{low} value{'s' if low != 1 else ''}"
    return f"{r.condition} takes {wanted}, got {n}"


def _bracket_problems(rs: list[Restriction]) -> list[str]:
    problems, opened = [], []  # opened: line number of each open bracket
    for line, r in enumerate(rs, 1):
        if r.open_brackets < 0 or r.close_brackets < 0:
            problems.append(f"line {line}: bracket counts cannot be negative")
            continue
        opened.extend([line] * r.open_brackets)
        for _ in range(r.close_brackets):
            if not opened:
                problems.append(f"line {line}: closes a bracket that is not open")
                break
            opened.pop()
    for line in dict.fromkeys(opened):
        problems.append(f"line {line}: opens a bracket that is never closed")
    return problems


# --------------------------------------------------------------------------- compiling


def compile_restrictions(rs: list[Restriction], *, today: date | None = None,
                         locale: str | None = None) -> Predicate:
    """One predicate over rows for the restriction lines ``rs`` (empty: every row passes)."""
    get_locale(locale)  # unknown locale: BadInputError now, not per row
    today = today or date.today()
    brackets = _bracket_problems(rs)
    if brackets:
        raise BadInputError("restriction " + brackets[0], problems=brackets)

    # Tokens in reading order: "(", ")", "and", "or" and predicates. Every line after the
    # first brings its operator, active or not; the parser drops operators left joining nothing.
    tokens: list[Any] = []
    for line, r in enumerate(rs, 1):
        if line > 1:
            tokens.append("or" if r.op == "or" else "and")
        tokens.extend(["("] * r.open_brackets)
        if r.active:
            tokens.append(_predicate(r, line, today, locale))
        tokens.extend([")"] * r.close_brackets)
    predicate = _Parser(tokens).parse()
    return predicate if predicate is not None else (lambda row: True)


class _Parser:
    """``or`` of ``and`` of (predicate | bracketed group); empty groups drop out."""

    def __init__(self, tokens: list[Any]):
        # Inactive lines leave operators that join nothing: at the start, after "(", before
        # ")" or at the end they go; of two in a row the later (the next active line's) stays.
        cleaned: list[Any] = []
        for t in tokens:
            if t in ("and", "or"):
                if not cleaned or cleaned[-1] == "(":
                    continue
                if cleaned[-1] in ("and", "or"):
                    cleaned.pop()
            elif t == ")":
                while cleaned and cleaned[-1] in ("and", "or"):
                    cleaned.pop()
            cleaned.append(t)
        while cleaned and cleaned[-1] in ("and", "or"):
            cleaned.pop()
        self.tokens = cleaned
        self.i = 0

    def parse(self) -> Predicate | None:
        predicate = self._or()
        assert self.i == len(self.tokens), self.tokens[self.i:]
        return predicate

    def _peek(self) -> Any:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _or(self) -> Predicate | None:
        parts = [self._and()]
        while self._peek() == "or":
            self.i += 1
            parts.append(self._and())
        present = [p for p in parts if p is not None]
        if not present:
            return None
        if len(present) == 1:
            return present[0]
        return lambda row: any(p(row) for p in present)

    def _and(self) -> Predicate | None:
        parts = [self._primary()]
        while self._peek() == "and":
            self.i += 1
            parts.append(self._primary())
        present = [p for p in parts if p is not None]
        if not present:
            return None
        if len(present) == 1:
            return present[0]
        return lambda row: all(p(row) for p in present)

    def _primary(self) -> Predicate | None:
        t = self._peek()
        if t == "(":
            self.i += 1
            inner = self._or()
            self.i += 1  # ")" (brackets were checked to balance)
            return inner
        if callable(t):
            self.i += 1
            return t
        return None  # an empty group's place


def check_restrictions(rs: list[Restriction], known_fields: Iterable[str]) -> list[str]:
    """Every static problem of ``rs``, each naming its line (1-based); ``[]`` when fine."""
    known = set(known_fields)
    problems = []
    for line, r in enumerate(rs, 1):
        if r.field not in known:
            problems.append(f"line {line}: unknown field {r.field!r}")
        if r.condition not in CONDITIONS:
            problems.append(f"line {line}: unknown condition {r.condition!r}")
        else:
            count = _count_problem(r)
            if count:
                problems.append(f"line {line}: {count}")
        if r.op not in ("and", "or"):
            problems.append(f"line {line}: op must be 'and' or 'or', not {r.op!r}")
        for value in r.values:
            problem = _value_problem(value)
            if problem:
                problems.append(f"line {line}: {problem}")
    problems.extend(_bracket_problems(rs))
    return problems


__all__ = ["CONDITIONS", "Restriction", "check_restrictions", "compile_restrictions",
           "resolve_relative_date"]
