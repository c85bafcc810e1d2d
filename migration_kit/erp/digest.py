"""A checksum of an ERP document: the same text for the document as the import saved it
and as it reads back from the database later, different as soon as any stored value of
the summary or of a line changed, a line was added or removed.

Values are written in a canonical form per field type (decimals quantized to the scale the
column stores, dates ISO, text as stored), fields in the window's order, lines in their
stored order. Internal columns (``_id``, ``_doc_id``) are not part of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

import orjson

from ..jsonio import fast_encoder
from .windows import WindowDef

DEFAULT_SCALE = 4  # a decimal field without scale is stored as Numeric(18, 4)


def _canon_fn(kind: str, quant: Decimal | None) -> Callable[[Any], Any]:
    """The canonical form of a value of one field type (None stays None)."""
    if kind == "decimal":
        def dec(v: Any) -> Any:
            if v is None:
                return None
            try:
                d = v if type(v) is Decimal else Decimal(str(v))
                return format(d.quantize(quant, ROUND_HALF_UP), "f")
            except (InvalidOperation, ValueError):
                return str(v)
        dec.quant = quant  # type: ignore[attr-defined]  # for _canon_column
        return dec
    if kind == "date":
        return lambda v: None if v is None else (
            v.isoformat() if isinstance(v, dt.date) else str(v))
    if kind == "integer":
        return lambda v: None if v is None else int(v)
    if kind == "boolean":
        return lambda v: None if v is None else bool(v)
    return lambda v: v if v is None or type(v) is str else str(v)


class DocumentDigest:
    """``digest(doc)``: the checksum of a document of ``window`` (see the module doc)."""

    def __init__(self, window: WindowDef):
        self.window = window
        # per object: its field names, and the positions whose values need a canonical form
        # (decimals and dates; text, whole numbers and booleans are taken as they are)
        self.plan: list[tuple[str, bool, list[str], list[tuple[int, Callable[[Any], Any]]]]] = []
        for obj in window.objects.values():
            names, special = [], []
            for i, f in enumerate(obj.fields.values()):
                names.append(f.name)
                quant = (Decimal(1).scaleb(-(f.scale if f.scale is not None else DEFAULT_SCALE))
                         if f.value_type == "decimal" else None)
                if f.value_type in ("decimal", "date"):
                    special.append((i, _canon_fn(f.value_type, quant)))
            self.plan.append((obj.name, obj.detail, names, special))

    def values(self, doc: dict[str, Any]) -> list[Any]:
        """The canonical values the checksum is taken of."""
        out: list[Any] = []
        for name, detail, names, special in self.plan:
            rows = (doc.get(name) or []) if detail else [doc.get(name) or {}]
            vals = []
            for row in rows:
                v = [row.get(n) for n in names]
                for i, canon in special:
                    v[i] = canon(v[i])
                vals.append(v)
            out.append([name, vals])
        return out

    def __call__(self, doc: dict[str, Any]) -> str:
        text = _dumps(self.values(doc))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def many(self, docs: list[dict[str, Any]]) -> list[str]:
        """``[digest(doc) for doc in docs]``, the values put in canonical form a whole
        column (one field of every document's rows) at a time."""
        parts: list[list[Any]] = [[] for _ in docs]
        kinds: set[type] = set()  # the types of the canonical values
        for name, detail, names, special in self.plan:
            if detail:
                per_doc = [doc.get(name) or [] for doc in docs]
                rows = [row for lines in per_doc for row in lines]
            else:
                per_doc = None
                rows = [doc.get(name) or {} for doc in docs]
            try:  # checked documents have every field: the loops run in C
                cols = [list(map(itemgetter(n), rows)) for n in names]
            except KeyError:
                cols = [[row.get(n) for row in rows] for n in names]
            for i, canon in special:
                cols[i] = _canon_column(canon, cols[i])  # text or None, always
            canonical = {i for i, _ in special}
            for i, c in enumerate(cols):
                if i not in canonical:
                    kinds.update(map(type, c))
            # tuples: JSON writes them as lists, the text values() gives
            flat = list(zip(*cols)) if names else [()] * len(rows)
            if per_doc is None:
                for p, vals in zip(parts, flat):
                    p.append((name, (vals,)))
            else:
                at = 0
                for p, lines in zip(parts, per_doc):
                    end = at + len(lines)
                    p.append((name, flat[at:end]))
                    at = end
        sha = hashlib.sha256
        if kinds <= _PLAIN:  # orjson writes the very bytes of _dumps, faster
            return [sha(_plain_bytes(p)).hexdigest() for p in parts]
        return [sha(_dumps(p).encode("utf-8")).hexdigest() for p in parts]


def _canon_column(canon: Callable[[Any], Any], col: list[Any]) -> list[Any]:
    quant = getattr(canon, "quant", None)
    if quant is not None and set(map(type, col)) <= {Decimal, type(None)}:
        # what dec() does, in one comprehension; str() is format(d, "f") for a quantized
        # decimal (exponent -scale) while the scale is at most 6, and faster
        text = str if quant.as_tuple().exponent >= -6 else _fixed
        try:
            return [None if v is None else text(v.quantize(quant, ROUND_HALF_UP))
                    for v in col]
        except InvalidOperation:
            pass
    return list(map(canon, col))


def _fixed(d: Decimal) -> str:
    return format(d, "f")


_dumps = fast_encoder()
# values orjson writes as json does (floats it may write otherwise: 1e-07 against 1e-7)
_PLAIN = frozenset({str, int, bool, type(None)})


def _plain_bytes(p: Any) -> bytes:
    try:
        return orjson.dumps(p)
    except orjson.JSONEncodeError:  # a whole number past 64 bits: json's text
        return _dumps(p).encode("utf-8")
