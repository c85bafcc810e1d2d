"""The rules that settle a messy flat file (CSV or sheet): where the header is, what each
column is called, which rows are not data. Shared by ``csv.py`` and ``excel.py``; plain
functions on lists of cells, no file handling.

Header (``header_row: auto``)
    Look at the first :data:`LOOKAHEAD` non-blank rows. A row's *width* is the position of
    its last non-blank cell (a CSV row: at least its number of fields); its *fill* is its
    number of non-blank cells. The table's width ``W`` is the width at least two rows reach
    (the second largest). The header is the first row that names most of the table (fill at
    least 2, or 1 in a one-column file, and more than ``W / 2``) and is at least as wide as
    the rows that follow it (the median width of the next :data:`FOLLOW` rows): a title, a
    period line or a ``key: value`` pair above the table is narrower or sparser, and stays
    above as the *preamble*. No row passes: the first row that names most of the table;
    none: the first row.

Names (every version of a file with the same shape gets the same names)
    * two header rows (a group row above the names): ``Group / Name`` (just ``Name`` when
      the group is blank or the same, ``Group`` when the name is blank);
    * a blank name over a column with no data in the file: the column is dropped (kept, as
      ``Column_<letter or number>``, with ``keep_empty_columns: true``);
    * a blank name over data: ``Column_<letter>`` (a sheet's column letter) or
      ``Column_<number>`` (a CSV field's position);
    * a name seen before: ``name_2``, ``name_3``, ... (never a name the header already has);
    * then ``rename: {settled name: new name}`` from the parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from migration_kit.errors import Location, SourceError

LOOKAHEAD = 100  # non-blank rows read ahead to find the header
FOLLOW = 5  # rows after a header candidate compared with it
LINES_KEPT = 10  # line numbers kept per kind of skipped row


def blank(v: Any) -> bool:
    return v is None or v == ""


def width(cells: Sequence[Any]) -> int:
    """1-based position of the last non-blank cell (0: all blank)."""
    for i in range(len(cells) - 1, -1, -1):
        if not blank(cells[i]):
            return i + 1
    return 0


def fill(cells: Sequence[Any]) -> int:
    return sum(1 for v in cells if not blank(v))


def find_header(rows: Sequence[Sequence[Any]], extents: Sequence[int] | None = None) -> int:
    """Index (into ``rows``, the non-blank rows from the top) of the header row.

    ``extents``: each row's width for the comparison with the rows below (default: the
    position of its last non-blank cell; a CSV passes its number of fields, so a header whose
    last cells are blank over data still counts as wide).
    """
    if not rows:
        return 0
    widths = [width(r) for r in rows]
    ext = [max(w, e) for w, e in zip(widths, extents)] if extents is not None else widths
    fills = [fill(r) for r in rows]
    ordered = sorted(widths, reverse=True)
    table = ordered[1] if len(ordered) > 1 else ordered[0]
    need = min(2, table)
    names_most = [f >= need and 2 * f > table for f in fills]
    for i, ok in enumerate(names_most):
        if not ok:
            continue
        after = sorted(widths[i + 1:i + 1 + FOLLOW])
        if not after or ext[i] >= after[(len(after) - 1) // 2]:
            return i
    return next((i for i, ok in enumerate(names_most) if ok), 0)


def spread_right(cells: Sequence[str]) -> list[str]:
    """A group row without merge information: a blank cell takes the label on its left."""
    out: list[str] = []
    for c in cells:
        out.append(c if c or not out else out[-1])
    return out


def join_names(group: str, name: str) -> tuple[str, str | None]:
    """(name, rule) of a column under two header rows; rule ``None``: read as is."""
    if group and name and group != name:
        return f"{group} / {name}", "two header rows joined"
    if group and not name:
        return group, "two header rows: the group label, no name below"
    return name, None


class Names:
    """The settled column names of a header: ``names[i]`` (``None``: dropped) per position.

    ``settled`` lists each name that was not read as is: ``{"column", "name", "rule"}``
    (``user: True`` when the ``rename`` parameter chose it).
    """

    def __init__(self, cells: Sequence[str], *, label: Callable[[int], str],
                 has_data: Callable[[int], bool], keep_empty: bool = False,
                 rules: dict[int, str] | None = None, rename: dict[str, str] | None = None,
                 location: Location | None = None):
        rules = dict(rules or {})
        settled: dict[int, dict[str, Any]] = {}

        def note(i: int, name: str | None, rule: str, **extra: Any) -> None:
            prev = settled.get(i)
            text = f"{prev['rule']}; {rule}" if prev else rule
            settled[i] = {"column": label(i), "name": name, "rule": text, **extra}

        for i, rule in rules.items():
            note(i, cells[i], rule)
        names: list[str | None] = []
        generated: set[int] = set()
        for i, c in enumerate(cells):
            if c:
                names.append(c)
            elif has_data(i) or keep_empty:
                names.append(f"Column_{label(i)}")
                generated.add(i)
                note(i, names[-1], "blank header over data" if has_data(i)
                     else "blank header, no data, kept (keep_empty_columns)")
            else:
                names.append(None)
                note(i, None, "blank header and no data in the file")
        # duplicates: the first keeps its name; read names before generated ones
        taken: set[str] = set()
        first: dict[str, int] = {}
        header_names = {n for n in names if n is not None}
        order = [i for i in range(len(names)) if i not in generated] + sorted(generated)
        for i in order:
            n = names[i]
            if n is None:
                continue
            if n not in taken:
                taken.add(n)
                first[n] = i
                continue
            k = 2
            while f"{n}_{k}" in taken or f"{n}_{k}" in header_names:
                k += 1
            names[i] = f"{n}_{k}"
            taken.add(names[i])
            note(i, names[i], f"duplicate of {n!r} (column {label(first[n])})")
        for i in settled:
            settled[i]["name"] = names[i]
        if rename:
            current = {n: i for i, n in enumerate(names) if n is not None}
            unknown = [k for k in rename if k not in current]
            if unknown:
                raise SourceError(
                    f"rename: no column {', '.join(repr(k) for k in unknown)} in the file; "
                    f"its columns: {', '.join(n for n in names if n is not None)}",
                    location=location)
            for old, new in rename.items():
                i = current[old]
                new = str(new).strip()
                if not new:
                    raise SourceError(f"rename: the new name of {old!r} is blank",
                                      location=location)
                names[i] = new
                note(i, new, f"renamed {old!r} to {new!r} (rename)", user=True)
                settled[i]["name"] = new
            kept = [n for n in names if n is not None]
            dup = sorted({n for n in kept if kept.count(n) > 1})
            if dup:
                raise SourceError(f"rename gives duplicate column names: {', '.join(dup)}",
                                  location=location)
        self.names = names
        self.settled = [settled[i] for i in sorted(settled)]
        self.kept = [i for i, n in enumerate(names) if n is not None]
        self.dropped = [i for i, n in enumerate(names) if n is None]

    def columns(self) -> list[str]:
        return [n for n in self.names if n is not None]


class Skips:
    """Rows that are not data, counted by kind, with the first line numbers of each."""

    def __init__(self) -> None:
        self.kinds: dict[str, dict[str, Any]] = {}

    def add(self, kind: str, line: int) -> None:
        k = self.kinds.get(kind)
        if k is None:
            k = self.kinds[kind] = {"count": 0, "lines": []}
        k["count"] += 1
        if len(k["lines"]) < LINES_KEPT:
            k["lines"].append(line)

    def count(self, kind: str) -> int:
        k = self.kinds.get(kind)
        return k["count"] if k else 0

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {k: {"count": v["count"], "lines": list(v["lines"])}
                for k, v in self.kinds.items()}

    def summary(self, file: str, exclude: tuple[str, ...] = ()) -> list[str]:
        """One warning per kind, for a batch's warnings."""
        from .base import Layout, lines_text

        out = []
        for kind, v in self.kinds.items():
            if kind in exclude:
                continue
            more = ", ..." if v["count"] > len(v["lines"]) else ""
            out.append(f"{file}: {v['count']} {Layout.SKIP_TEXT.get(kind, kind)} "
                       f"({lines_text(v['lines'])}{more})")
        return out


def preamble_cells(cells: Sequence[Any], text: Callable[[Any], str]) -> list[str]:
    """A preamble row as its cell texts, without the blank cells at its end."""
    out = ["" if blank(v) else text(v) for v in cells]
    while out and not out[-1]:
        out.pop()
    return out


def header_params(p: dict, auto_group: bool) -> tuple[int | None, int | None]:
    """(header_row or None for auto, header_rows or None for auto) from the parameters."""
    hr = p.get("header_row")
    row = None if hr in (None, "auto") else int(hr)
    n = p.get("header_rows")
    if n in (None, "auto"):
        rows = None if auto_group else 1
    else:
        rows = int(n)
        if rows not in (1, 2):
            raise ValueError("header_rows must be 1, 2 or auto")
    if row is not None and row < 1:
        raise ValueError("header_row must be 1 or more (or auto)")
    return row, rows
