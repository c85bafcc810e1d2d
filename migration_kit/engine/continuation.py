"""Continuation rows (scenario option ``continuation_rows: true``).

Exports such as Odoo's one2many lists and Excel reports with merged cells fill the header
columns only on a document's first line. A line whose key columns are all blank continues
the record above it; its blank summary columns take the values of that record's first line.
A continuation line before any keyed line, or one whose non-blank summary values contradict
its record's, is an error naming the line.
"""

from __future__ import annotations

from typing import Any

from ..errors import MappingError
from .mapping import ImportMapping

# The "target" of the error of a continuation line that has no record above it.
CONTINUATION_BEFORE_KEY = "continuation row"


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


class Continuation:
    def __init__(self, mapping: ImportMapping, columns: list[str]):
        self.columns = columns
        self.key_columns = mapping.key_columns()
        key = set(self.key_columns)
        self.fill_columns = [c for c in mapping.summary_columns() if c not in key]
        self.first: dict[str, Any] | None = None  # the first line of the record above

    def line(self, row: dict[str, Any], values: tuple | list, line: int
             ) -> tuple[tuple | list, MappingError | None]:
        """Fill a continuation line in place; returns its values and its error, if any."""
        if not all(_blank(row.get(c)) for c in self.key_columns):
            self.first = dict(row)
            return values, None
        if self.first is None:
            return values, MappingError(
                CONTINUATION_BEFORE_KEY,
                f"line {line}: the key column(s) {', '.join(self.key_columns)} are blank "
                "(a continuation row) but there is no line with a key above it")
        err = None
        for c in self.key_columns + self.fill_columns:
            v, first = row.get(c), self.first.get(c)
            if _blank(v):
                row[c] = first
            elif err is None and v != first:
                err = MappingError(c, f"line {line}: {c} is {v!r} on a continuation row but "
                                      f"{first!r} on the first line of its record")
        return [row[c] for c in self.columns], err
