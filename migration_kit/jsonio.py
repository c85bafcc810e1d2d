"""JSON for documents, reports and prepared rows: dates as ISO text, decimals as exact text."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring as _encode_text
from typing import Any


def _default(o: Any) -> Any:
    if isinstance(o, dt.date | dt.datetime):
        return o.isoformat()
    if isinstance(o, Decimal):
        return format(o, "f")
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def dumps(o: Any, **kw: Any) -> str:
    return json.dumps(o, default=_default, ensure_ascii=False, **kw)


# -- prepared rows: compact, and fast for the usual values (text, numbers, dates) ----------
def encode(v: Any) -> Any:
    """A source value as JSON: dates and decimals as text."""
    if isinstance(v, dt.datetime):
        return v.isoformat() if v.time() != dt.time() else v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return format(v, "f")
    return v


def _encode_other(v: Any) -> Any:
    t = type(v)
    if t is Decimal:  # the usual values first: what encode() returns for them
        return format(v, "f")
    if t is dt.date:
        return v.isoformat()
    out = encode(v)
    if out is v:
        raise TypeError(f"Object of type {type(v).__name__} is not JSON serializable")
    return out


def fast_encoder(default: Callable[[Any], Any] | None = None, *, ensure_ascii: bool = False,
                 separators: tuple[str, str] = (",", ":")) -> Callable[[Any], str]:
    """``json.JSONEncoder(ensure_ascii=..., separators=..., default=...).encode``, the same
    text without its cost per call: ``encode`` builds json's C encoder anew for every
    value, this builds it once. (No check for circular values: the values encoded here are
    rows, documents and keys.) The plain ``encode`` where json has no C encoder or where
    this one would write another text."""
    plain = json.JSONEncoder(ensure_ascii=ensure_ascii, separators=separators,
                             default=default).encode
    try:
        from json.encoder import c_make_encoder, encode_basestring, encode_basestring_ascii

        if c_make_encoder is None:
            return plain
        enc = c_make_encoder(None, default or _not_json,
                             encode_basestring_ascii if ensure_ascii else encode_basestring,
                             None, separators[1], separators[0], False, False, True)

        def dump(o: Any) -> str:
            return "".join(enc(o, 0))

        sample = ['a "q" \\ \n\t\x00 é ø \u2028 😀', None, "", 0, -12, 1.5, 1e300,
                  float("nan"), float("inf"), True, False, ("t", [1]), {"k": [None]}, []]
        if dump(sample) != plain(sample) or dump("x") != plain("x") or dump([]) != plain([]):
            return plain
        return dump
    except Exception:  # noqa: BLE001 - any surprise: the plain encoder
        return plain


def _not_json(o: Any) -> Any:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


# json's C encoder calls ``_encode_other`` only for values JSON has no type for (dates,
# decimals): the same text as encoding every value first, without a Python call per value.
_dumps = fast_encoder(_encode_other)


# ``json.dumps(o)``'s very text (the databases' JSON columns, as SQLAlchemy writes them)
dumps_default = fast_encoder(ensure_ascii=True, separators=(", ", ": "))


def dump_row(values: list[Any] | tuple) -> str:
    """A row of values as the compact JSON text prepared data stores."""
    return _dumps(values)


def value_text(v: Any) -> str:
    """A value's text inside a row of :func:`dump_row` (exactly: text by json's own string
    encoder, decimals and dates as their text)."""
    t = type(v)
    if t is str:
        return _encode_text(v)
    if v is None:
        return "null"
    if t is Decimal:
        return _encode_text(format(v, "f"))
    if t is dt.date:
        return _encode_text(v.isoformat())
    return _dumps((v,))[1:-1]
