"""The provider interface: a file's schema, rows read in batches, and the file type protocol.

A *provider type* is one class per file format (``csv``, ``excel``, ``xml``) with the same few
methods: ``detect`` (fill in the parameters), ``read_schema``, ``read_batches`` (streaming) and
``write``. Everything here is plain data so it can be stored in YAML and compared.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from migration_kit.errors import Location


@dataclass
class FieldSchema:
    """One column (flat files) or one leaf value of an XML object."""

    name: str
    type: str = "string"
    max_length: int | None = None
    samples: list[str] = field(default_factory=list)
    path: str | None = None
    type_overridden: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.max_length is not None:
            out["max_length"] = self.max_length
        out["samples"] = list(self.samples)
        if self.path is not None:
            out["path"] = self.path
        if self.type_overridden:
            out["type_overridden"] = True
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FieldSchema:
        return cls(name=str(d["name"]), type=str(d.get("type", "string")),
                   max_length=d.get("max_length"), samples=[str(s) for s in d.get("samples") or []],
                   path=d.get("path"), type_overridden=bool(d.get("type_overridden", False)))


@dataclass
class ObjectSchema:
    """A record type: ``Row`` for flat files; an element (summary or detail) for XML.

    ``position`` (XML detail objects only) is the index of the summary field before which the
    detail elements are written back, so the element order of the original is kept
    (``None``: after all summary fields).
    """

    name: str
    fields: list[FieldSchema]
    path: str | None = None
    parent: str | None = None
    position: int | None = None
    layout: Layout | None = None  # an object read from its own flat file or sheet

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.path is not None:
            out["path"] = self.path
        if self.parent is not None:
            out["parent"] = self.parent
        if self.position is not None:
            out["position"] = self.position
        out["fields"] = [f.to_dict() for f in self.fields]
        if self.layout is not None:
            out["layout"] = self.layout.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObjectSchema:
        layout = d.get("layout")
        return cls(name=str(d["name"]), fields=[FieldSchema.from_dict(f) for f in d.get("fields") or []],
                   path=d.get("path"), parent=d.get("parent"), position=d.get("position"),
                   layout=Layout.from_dict(layout) if layout else None)


@dataclass
class Layout:
    """How a flat file was read: where its header is and what was settled by rule.

    Filled in by the CSV and Excel types' ``read_schema`` (``None`` for XML): the header's row
    and physical line, the preamble above it (each non-blank row's line and cell texts), the
    column names that were *settled* rather than read (``settled``: column, name or ``None``
    when the column was dropped, the rule), the rows skipped or repaired by kind
    (``skipped``: kind -> {count, lines (the first ones)}), the data rows counted (``rows``)
    and other ``notes``. It describes one file version; it is never compared between versions
    (:func:`~migration_kit.providers.schema.schema_diff` looks at the columns only).
    """

    header_row: int = 1
    header_line: int = 1
    header_rows: int = 1
    detected: bool = False
    preamble: list[dict[str, Any]] = field(default_factory=list)
    settled: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: int | None = None
    notes: list[str] = field(default_factory=list)

    SKIP_TEXT = {
        "blank": "blank row(s) skipped",
        "comment": "comment row(s) skipped",
        "trailing": "short blank row(s) at the end of the file skipped as trailing junk",
        "skip_rows": "row(s) after the header skipped (skip_rows)",
        "ragged": "ragged row(s) padded or truncated (tolerate_ragged)",
        "ragged_later": "ragged row(s) after the rows read for the schema: reading stops at "
                        "the first one unless tolerate_ragged is set",
        "short_unnamed": "row(s) shorter than the header only over its unnamed columns "
                         "(read as empty there)",
        "extra_empty": "row(s) with empty fields past the header's columns (ignored)",
    }

    def warnings(self) -> list[str]:
        """Everything that was settled rather than read, one readable line each."""
        out: list[str] = []
        rows = "rows" if self.header_rows > 1 else "row"
        where = (f"header {rows} {self.header_row - self.header_rows + 1}-{self.header_row}"
                 if self.header_rows > 1 else f"header on row {self.header_row}")
        if self.header_line != self.header_row:
            where += f" (line {self.header_line})"
        if self.preamble:
            lines = [p["line"] for p in self.preamble]
            how = "found by header_row: auto" if self.detected else "set by header_row"
            out.append(f"{where}, {how}; {len(lines)} row(s) above it kept as the preamble "
                       f"({lines_text(lines)}): set header_row to choose another row")
        elif self.header_rows > 1:
            out.append(f"{where}: the group row above the names is joined as 'Group / Name'")
        for s in self.settled:
            if s.get("user"):
                continue
            if s.get("name") is None:
                out.append(f"column {s['column']}: {s['rule']}: dropped")
            else:
                out.append(f"column {s['column']}: {s['rule']} -> {s['name']!r}")
        for kind, info in self.skipped.items():
            text = self.SKIP_TEXT.get(kind, kind)
            lines = info.get("lines") or []
            more = ", ..." if info["count"] > len(lines) else ""
            out.append(f"{info['count']} {text}" + (f" ({lines_text(lines)}{more})"
                                                      if lines else ""))
        out.extend(self.notes)
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"header_row": self.header_row, "header_line": self.header_line,
                               "header_rows": self.header_rows, "detected": self.detected}
        if self.preamble:
            out["preamble"] = [{"line": p["line"], "cells": list(p["cells"])}
                               for p in self.preamble]
        if self.settled:
            out["settled"] = [dict(s) for s in self.settled]
        if self.skipped:
            out["skipped"] = {k: {"count": v["count"], "lines": list(v.get("lines") or [])}
                              for k, v in self.skipped.items()}
        out["rows"] = self.rows
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Layout:
        return cls(header_row=int(d.get("header_row", 1)),
                   header_line=int(d.get("header_line", d.get("header_row", 1))),
                   header_rows=int(d.get("header_rows", 1)),
                   detected=bool(d.get("detected", False)),
                   preamble=[{"line": int(p["line"]), "cells": [str(c) for c in p["cells"]]}
                             for p in d.get("preamble") or []],
                   settled=[dict(s) for s in d.get("settled") or []],
                   skipped={str(k): {"count": int(v["count"]),
                                     "lines": [int(n) for n in v.get("lines") or []]}
                            for k, v in (d.get("skipped") or {}).items()},
                   rows=d.get("rows"), notes=[str(n) for n in d.get("notes") or []])


def lines_text(numbers: list[int]) -> str:
    """``[4]`` -> ``"line 4"``, ``[1, 2, 3, 5]`` -> ``"lines 1-3, 5"``."""
    return ("line " if len(numbers) == 1 else "lines ") + _ranges(numbers)


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``."""
    out: list[str] = []
    start = prev = None
    for n in numbers:
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(str(start) if prev == start else f"{start}-{prev}")
        start = prev = n
    if start is not None:
        out.append(str(start) if prev == start else f"{start}-{prev}")
    return ", ".join(out)


@dataclass
class Schema:
    """The objects of a provider; ``objects[0]`` is the summary (main) object.

    ``layout`` (flat files only) says how the file version the schema was read from was laid
    out: header, preamble, settled names and skipped rows (see :class:`Layout`).
    """

    objects: list[ObjectSchema]
    layout: Layout | None = None

    def columns(self) -> list[str]:
        """Flat column names of the rows ``read_batches`` yields, in order.

        ``Object.Field`` when there are several objects (XML summary + details), else the plain
        field names.
        """
        if len(self.objects) > 1:
            return [f"{o.name}.{f.name}" for o in self.objects for f in o.fields]
        return [f.name for f in self.objects[0].fields] if self.objects else []

    def fields(self) -> list[FieldSchema]:
        """Every field in column order (parallel to :meth:`columns`)."""
        return [f for o in self.objects for f in o.fields]

    def field(self, column: str) -> FieldSchema | None:
        for col, f in zip(self.columns(), self.fields()):
            if col == column:
                return f
        return None

    def object(self, name: str) -> ObjectSchema | None:
        return next((o for o in self.objects if o.name == name), None)

    def layouts(self) -> list[tuple[str | None, Layout]]:
        """(object or None, layout) of every layout: the schema's own (one flat file), or
        each object's (a provider with one object per file or sheet)."""
        if self.layout is not None:
            return [(None, self.layout)]
        return [(o.name, o.layout) for o in self.objects if o.layout is not None]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"objects": [o.to_dict() for o in self.objects]}
        if self.layout is not None:
            out["layout"] = self.layout.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        layout = d.get("layout")
        return cls(objects=[ObjectSchema.from_dict(o) for o in d.get("objects") or []],
                   layout=Layout.from_dict(layout) if layout else None)


BATCH_ROWS = 5000  # rows per batch that ``read_batches`` yields, unless told


@dataclass
class RowBatch:
    """Up to ``batch_size`` rows of a file, with the source line of each row.

    ``warnings`` holds readable notes about rows that were repaired (ragged rows read with
    ``tolerate_ragged``), one per row, each starting with its location.
    """

    columns: list[str]
    rows: list[tuple]
    lines: list[int]
    file: str
    sheet: str | None = None
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def location(self, i: int, version: int | None = None) -> Location:
        return Location(file=self.file, version=version, sheet=self.sheet, line=self.lines[i])


class ProviderType(Protocol):
    """One file format: a module of this package that registers it (``registry.register``)."""

    name: str
    extensions: tuple[str, ...]
    writable: bool
    params_model: type  # the pydantic model of its parameters (unknown keys are problems)
    simplified_params: dict[str, Any]  # the defaults of a simplified scenario's provider

    def detect(self, path: Path, params: dict) -> dict:
        """Fill in missing or ``"auto"`` parameters; return the complete, plain params dict."""
        ...

    def read_schema(self, path: Path, params: dict, sample_rows: int = 1000) -> Schema: ...

    def read_batches(self, path: Path, params: dict, schema: Schema,
                     batch_size: int = BATCH_ROWS) -> Iterator[RowBatch]: ...

    def write(self, path: Path, params: dict, schema: Schema, columns: list[str],
              rows: Iterable[tuple]) -> int: ...


def display_name(path: Path | str) -> str:
    """The name shown in messages and locations: the file's base name."""
    return Path(path).name


class BatchBuilder:
    """Collects rows and their lines; ``take()`` hands out a full :class:`RowBatch`."""

    def __init__(self, columns: list[str], file: str, batch_size: int, sheet: str | None = None):
        self.columns = columns
        self.file = file
        self.sheet = sheet
        self.batch_size = max(1, int(batch_size))
        self._new()

    def _new(self) -> None:
        self.rows: list[tuple] = []
        self.lines: list[int] = []
        self.warnings: list[str] = []

    def add(self, row: tuple, line: int) -> None:
        self.rows.append(row)
        self.lines.append(line)

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.batch_size

    def take(self) -> RowBatch:
        b = RowBatch(self.columns, self.rows, self.lines, self.file, self.sheet, self.warnings)
        self._new()
        return b

    def __bool__(self) -> bool:
        return bool(self.rows) or bool(self.warnings)


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary file next to ``path`` that replaces it only if the block succeeds, so a
    failed write never leaves a half-written file behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
