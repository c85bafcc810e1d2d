"""JSON for documents and reports: dates as ISO text, decimals as exact text."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
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
