"""What an export writes of a prepared value: the per-column check of both export engines.

Each value is checked against its provider column (type, length) and text a spreadsheet
would run as a formula gets a leading apostrophe (``neutralise_formulas``). One closure per
column; a value that cannot be written raises :class:`Failed` with its error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..catalog.versions import Provider
from ..values import convert

NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
MEMO_SIZE = 20_000  # converted texts remembered per column
_MISSING = object()


def neutralise(v: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(v, str) and v.startswith(DANGEROUS) and not NUMBER.match(v.strip()):
        return "'" + v
    return v


def plain_decimal(d: Decimal) -> Decimal:
    """10.0000 -> 10 and 159.5000 -> 159.5: the ERP's scale is storage, not the file's."""
    n = d.normalize()
    return n.quantize(Decimal(1)) if n == n.to_integral_value() else n


class Failed(Exception):
    def __init__(self, error: dict[str, str]):
        self.error = error


def column_specs(prov: Provider, cols: list[str]) -> list[Any]:
    """The provider field of each column (None: not in the schema)."""
    types = {}
    for o in prov.schema.objects:
        for f in o.fields:
            name = f.name if len(prov.schema.objects) == 1 else f"{o.name}.{f.name}"
            types[name] = f
    return [types.get(c) for c in cols]


def cell_limit(prov: Provider) -> int | None:
    return prov.params.get("max_cell_length", 32767 if prov.type == "excel" else None)


def neutralises(prov: Provider, options: dict[str, Any]) -> bool:
    return bool(options.get("neutralise_formulas", True)) and prov.type in ("csv", "excel")


def column_check(c: str, f: Any, limit: int | None, neutral: bool) -> Callable[[Any], Any]:
    """One column's check: the value to write, or raises Failed."""

    def text(v: str) -> str:
        if limit and len(v) > limit:
            raise Failed({"field": c, "message":
                          f"{len(v)} characters is too long (at most {limit})"})
        if neutral and v.startswith(DANGEROUS) and not NUMBER.match(v.strip()):
            return "'" + v
        return v

    if f is None or f.type == "string":
        def plain(v: Any) -> Any:
            if isinstance(v, Decimal):
                v = plain_decimal(v)
            if isinstance(v, str):
                return text(v)
            return v

        return plain

    ftype = f.type
    memo: dict[str, Any] = {}

    def typed(v: Any) -> Any:
        if v is None:
            return v
        if type(v) is str:
            done = memo.get(v, _MISSING)
            if done is not _MISSING:
                return done
        source = v
        try:
            v = convert(v, ftype)
        except ValueError as e:
            raise Failed({"field": c, "message": f"cannot be written as {ftype}: {e}"}) from None
        if isinstance(v, Decimal):
            v = plain_decimal(v)
        if type(source) is str and not isinstance(v, str) and len(memo) < MEMO_SIZE:
            memo[source] = v
        if isinstance(v, str):
            return text(v)
        return v

    return typed
