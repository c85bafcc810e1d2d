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
import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .windows import WindowDef

DEFAULT_SCALE = 4  # a decimal field without scale is stored as Numeric(18, 4)


def _canon(kind: str, quant: Decimal | None, v: Any) -> Any:
    if v is None:
        return None
    if kind == "decimal":
        try:
            d = v if isinstance(v, Decimal) else Decimal(str(v))
            return format(d.quantize(quant, rounding=ROUND_HALF_UP), "f")
        except (InvalidOperation, ValueError):
            return str(v)
    if kind == "date":
        return v.isoformat() if isinstance(v, dt.date) else str(v)
    if kind == "integer":
        return int(v)
    if kind == "boolean":
        return bool(v)
    return str(v)


class DocumentDigest:
    """``digest(doc)``: the checksum of a document of ``window`` (see the module doc)."""

    def __init__(self, window: WindowDef):
        self.window = window
        self.plan: list[tuple[str, bool, list[tuple[str, str, Decimal | None]]]] = []
        for obj in window.objects.values():
            fields = [(f.name, f.value_type,
                       Decimal(1).scaleb(-(f.scale if f.scale is not None else DEFAULT_SCALE))
                       if f.value_type == "decimal" else None)
                      for f in obj.fields.values()]
            self.plan.append((obj.name, obj.detail, fields))

    def values(self, doc: dict[str, Any]) -> list[Any]:
        """The canonical values the checksum is taken of."""
        out: list[Any] = []
        for name, detail, fields in self.plan:
            rows = (doc.get(name) or []) if detail else [doc.get(name) or {}]
            out.append([name, [[_canon(kind, q, row.get(f)) for f, kind, q in fields]
                               for row in rows]])
        return out

    def __call__(self, doc: dict[str, Any]) -> str:
        text = json.dumps(self.values(doc), ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
