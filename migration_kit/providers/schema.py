"""Type inference from sample values, schema comparison between file versions, size check."""

from __future__ import annotations

import difflib
from pathlib import Path

from migration_kit.errors import Location, SourceError

from ..values import infer_type
from .base import FieldSchema, Schema


class FieldStats:
    """Accumulates sample text values of one field: type, max length, first samples."""

    def __init__(self, limit: int = 1000):
        self.values: list[str] = []
        self.samples: list[str] = []
        self.max_length: int | None = None
        self.limit = limit

    def add(self, value: str | None) -> None:
        if value is None:
            return
        n = len(value)
        if self.max_length is None or n > self.max_length:
            self.max_length = n
        if value == "":
            return
        if len(self.samples) < 3 and value not in self.samples:
            self.samples.append(value)
        if len(self.values) < self.limit:
            self.values.append(value)

    def to_field(self, name: str, *, path: str | None = None, date_format: str | None = None,
                 decimal_separator: str = ".") -> FieldSchema:
        return FieldSchema(name=name, type=infer_type(self.values, date_format=date_format,
                                                      decimal_separator=decimal_separator),
                           max_length=self.max_length, samples=list(self.samples), path=path)


def schema_diff(old: Schema, new: Schema) -> list[str]:
    """Readable differences between two schemas' objects and columns; ``[]`` means the same.

    Types are not compared: they are inferred from samples and may vary between versions.
    A column removed and another added at the same position is reported as renamed.
    """
    out: list[str] = []
    old_objs = {o.name: o for o in old.objects}
    new_objs = {o.name: o for o in new.objects}
    for name in old_objs:
        if name not in new_objs:
            out.append(f"removed object '{name}'")
    for name in new_objs:
        if name not in old_objs:
            out.append(f"added object '{name}'")
    for name, o in old_objs.items():
        if name in new_objs:
            out.extend(_diff_columns(name, o.field_names(), new_objs[name].field_names()))
    return out


def keep_unseen_details(old: Schema, new: Schema) -> Schema:
    """``new`` with the fields of ``old`` on the detail objects a file does not show (no
    occurrence, so no fields): a list with no lines is not another structure."""
    before = {o.name: o for o in old.objects}
    for o in new.objects:
        prev = before.get(o.name)
        if not o.fields and o.parent and prev is not None and prev.fields:
            o.fields = [FieldSchema.from_dict(f.to_dict()) for f in prev.fields]
    return new


def column_renames(old: Schema, new: Schema) -> dict[str, str]:
    """{old column: new column} for the fields that read the same place of the file under
    another column name, e.g. a flattened ``InvoiceLine/ID`` that became the detail field
    ``InvoiceLine.ID`` (and ``ID`` that became ``Invoice.ID``)."""
    def places(schema: Schema) -> dict[str, str]:
        return {f"{o.path or o.name}/{f.path or f.name}": col
                for col, (o, f) in zip(schema.columns(),
                                       [(o, f) for o in schema.objects for f in o.fields])}

    new_places = places(new)
    return {col: new_places[k] for k, col in places(old).items()
            if k in new_places and new_places[k] != col}


def _diff_columns(obj: str, a: list[str], b: list[str]) -> list[str]:
    out: list[str] = []
    removed: list[tuple[int, str]] = []
    added: list[tuple[int, str]] = []
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and (i2 - i1) == (j2 - j1):
            for x, y in zip(a[i1:i2], b[j1:j2]):
                if x in b or y in a:  # really a move, handled below
                    removed.append((i1, x))
                    added.append((j1, y))
                else:
                    out.append(f"renamed column '{x}' -> '{y}' in {obj}")
            continue
        removed.extend((i, x) for i, x in zip(range(i1, i2), a[i1:i2]))
        added.extend((j, y) for j, y in zip(range(j1, j2), b[j1:j2]))
    added_names = {y for _, y in added}
    removed_names = {x for _, x in removed}
    for _i, x in removed:
        if x in added_names:
            out.append(f"moved column '{x}' in {obj}: position {a.index(x) + 1} -> {b.index(x) + 1}")
        else:
            out.append(f"removed column '{x}' in {obj}")
    for _j, y in added:
        if y not in removed_names:
            out.append(f"added column '{y}' in {obj}")
    return out


def check_size(path: Path, limit_bytes: int) -> None:
    """Refuse a file larger than ``limit_bytes`` (SourceError naming both sizes)."""
    size = Path(path).stat().st_size
    if limit_bytes is not None and size > int(limit_bytes):
        raise SourceError(
            f"file is {size:,} bytes, over the limit of {int(limit_bytes):,} bytes "
            "(raise the provider's max_bytes to read it)",
            location=Location(file=Path(path).name), size=size, limit=int(limit_bytes))
