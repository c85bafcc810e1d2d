"""Excel workbooks (.xlsx, .xlsm, and read-only .xls): read with python-calamine or streamed
(.xlsx/.xlsm sheets), written with openpyxl in write-only mode.

Cells are read as python-calamine reads them, ignoring the stored ``<dimension>`` and phantom
(formatted but empty) cells: the data range ends at the last non-empty row and column. Values
come back native: ``str``, ``float``, ``bool``, ``datetime.date``/``datetime``/``time``/
``timedelta`` (1904-based workbooks converted by their own flag).

Memory: calamine loads one whole sheet into its own (Rust) memory, about 300 MB for 200,000
rows of 11 columns. So python-calamine only opens an .xlsx/.xlsm (its errors, its sheet
names) and the sheet is streamed by :mod:`.xlsx_stream`: two passes over the sheet's XML (the
data range and merged cells first, then the rows), in chunks of about 1 MB, each held with
its cells while it is read. What stays in memory is one chunk, one batch of rows and the
workbook's shared strings (all of them, as Python strings: a workbook of many distinct texts
costs their size, about 50 bytes each plus the text). Measured by the bench at 200,000 rows:
about 100 MB peak RSS for the whole process, against 260-350 MB with calamine. An error in a
cell (a bad shared-string index, an unknown type) is now found when its row is read, not
when the sheet is opened. .xls files are still read by calamine whole (their format is not
streamable this way; they are at most 65,536 rows).

Messy sheets are settled by the rules of :mod:`.layout`: the header found below a title or
preamble (``header_row: auto``), merged header cells (``merged_cell_ranges``) spread over the
columns they span, a group row of merged cells above the names joined as ``Group / Name``
(``header_rows: auto``), blank and duplicate names.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from migration_kit.errors import Location, SchemaMismatchError, SourceError

from .base import (
    BATCH_ROWS,
    BatchBuilder,
    FieldSchema,
    Layout,
    ObjectSchema,
    RowBatch,
    Schema,
    atomic_output,
    display_name,
)
from .layout import (
    LOOKAHEAD,
    Names,
    Skips,
    blank,
    fill,
    find_header,
    header_params,
    join_names,
    preamble_cells,
    spread_right,
    width,
)
from .params import ExcelParams, check_params
from .registry import register
from .schema import check_size, schema_diff

DEFAULT_MAX_BYTES = 2 * 1024**3
# The parameters of a new provider (``detect``); ``header_rows`` left out is ``auto`` when
# ``header_row`` is, else 1 (stored parameters from before it existed read as they did).
DEFAULTS: dict[str, Any] = {"sheet": None, "header_row": "auto", "header_rows": "auto",
                            "comment": None, "keep_empty_columns": False, "rename": {},
                            "date1904": None, "max_bytes": DEFAULT_MAX_BYTES}
# sheets read by .xlsx_stream (the others by calamine, whole); the differential tests read
# them with calamine too, with this emptied
STREAMED: tuple[str, ...] = (".xlsx", ".xlsm")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ERROR_CODES = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"}
_INT = re.compile(r"[+-]?\d+")


class ExcelType:
    """Excel workbooks; one sheet per provider."""

    name = "excel"
    extensions = (".xlsx", ".xlsm", ".xls")
    writable = True  # .xlsx/.xlsm only: write() refuses .xls
    params_model = ExcelParams
    simplified_params: dict[str, Any] = {}

    @staticmethod
    def is_writable(path: Path | str) -> bool:
        return Path(path).suffix.lower() != ".xls"

    # -- parameters -------------------------------------------------------------------------
    def detect(self, path: Path, params: dict) -> dict:
        path = Path(path)
        check_params(self.name, params, display_name(path))
        p = _with_defaults(params, {k: v for k, v in (params or {}).items()
                                    if v is not None or k == "comment"})
        if isinstance(p["sheet"], int):  # -p sheet=2024: the sheet named 2024
            p["sheet"] = str(p["sheet"])
        check_size(path, p["max_bytes"])
        _check_magic(path)
        if p["date1904"] is None or p["date1904"] == "auto":
            p["date1904"] = _date1904(path)
        with _open(path) as wb:
            if p["sheet"] in (None, "auto"):
                if not wb.sheet_names:
                    raise SourceError("the workbook has no sheets",
                                      location=Location(file=display_name(path)))
                p["sheet"] = wb.sheet_names[0]
            if path.suffix.lower() not in STREAMED:
                _sheet(wb, path, p["sheet"])
            else:  # the name only: calamine would load the whole sheet to check it
                _has_sheet(wb, path, p["sheet"])
        try:
            row, rows = header_params(p, auto_group=True)
        except (TypeError, ValueError) as e:
            raise SourceError(str(e), location=Location(file=display_name(path))) from None
        p["header_row"] = "auto" if row is None else row
        p["header_rows"] = "auto" if rows is None else rows
        p["max_bytes"] = int(p["max_bytes"])
        p["date1904"] = bool(p["date1904"])
        p["keep_empty_columns"] = bool(p["keep_empty_columns"])
        p["rename"] = dict(p["rename"] or {})
        p["comment"] = str(p["comment"]) if p["comment"] else None
        return p

    def _params(self, path: Path, params: dict) -> dict:
        p = _with_defaults(params, dict(params or {}))
        if p["sheet"] in (None, "auto") or p["date1904"] in (None, "auto"):
            return self.detect(path, params)
        check_size(path, p["max_bytes"])
        _check_magic(path)
        return p

    # -- reading ----------------------------------------------------------------------------
    def read_schema(self, path: Path, params: dict, sample_rows: int = 1000) -> Schema:
        """The schema from the first ``sample_rows`` rows; the rest of the sheet is read too,
        to count its rows and settle the columns without a name (dropped only when they hold
        no data in the whole sheet)."""
        path = Path(path)
        p = self._params(path, params)
        sample_rows = max(0, sample_rows)
        with _SheetReader(path, p) as r:
            values: list[list[Any]] = [[] for _ in r.bases]
            unnamed = [i for i, b in enumerate(r.bases) if not b]
            has_data: set[int] = set()
            n = 0
            for _line, row in r.rows():
                if n < sample_rows:
                    for col, v in zip(values, row):
                        col.append(v)
                n += 1
                if unnamed:
                    has_data.update(i for i in unnamed if row[i] is not None)
                    unnamed = [i for i in unnamed if i not in has_data]
            names = r.settle(lambda i: i in has_data)
            layout = r.layout(names, rows=n)
        fields = [_field(names.names[i], values[i]) for i in names.kept]
        return Schema([ObjectSchema("Row", fields)], layout=layout)

    def read_batches(self, path: Path, params: dict, schema: Schema,
                     batch_size: int = BATCH_ROWS) -> Iterator[RowBatch]:
        path = Path(path)
        p = self._params(path, params)
        with _SheetReader(path, p) as r:
            cols = schema.columns()
            names = r.settle_for(cols)
            header = names.columns()
            if cols != header:
                if sorted(cols) != sorted(header):
                    found = Schema([ObjectSchema("Row", [FieldSchema(name=h) for h in header])])
                    raise SchemaMismatchError(
                        f"{r.file}: the sheet's columns differ from the provider's schema",
                        diff=schema_diff(schema, found),
                        location=Location(file=r.file, sheet=r.sheet_name, line=r.header_line))
            pos = {h: names.kept[i] for i, h in enumerate(header)}
            order = [pos[c] for c in cols]
            identity = order == list(range(r.width))
            fields = schema.fields()
            # integral floats become int in integer and string columns (Excel stores all
            # numbers as floats; "123" is what the user sees)
            to_int = [i for i, f in enumerate(fields) if f.type in ("integer", "string")]
            out = BatchBuilder(cols, r.file, batch_size, sheet=r.sheet_name)
            add_row, add_line = out.rows.append, out.lines.append  # out.add, per row
            for line, row in r.rows(dropped=names.dropped):
                if not identity:
                    row = [row[i] for i in order]
                for i in to_int:  # rows() gives a new list per row: changed in place
                    v = row[i]
                    if type(v) is float and v.is_integer() and abs(v) < 2**53:
                        row[i] = int(v)
                add_row(tuple(row))
                add_line(line)
                if out.full:
                    yield out.take()
                    add_row, add_line = out.rows.append, out.lines.append
            out.warnings.extend(r.skips.summary(f"{r.file}, sheet {r.sheet_name!r}"))
            if out:
                yield out.take()

    # -- writing ----------------------------------------------------------------------------
    def write(self, path: Path, params: dict, schema: Schema, columns: list[str],
              rows: Iterable[tuple]) -> int:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.utils.datetime import CALENDAR_MAC_1904
        from openpyxl.utils.exceptions import IllegalCharacterError

        path = Path(path)
        file = display_name(path)
        if not self.is_writable(path):
            raise SourceError("xls is read-only; write an .xlsx file instead",
                              location=Location(file=file))
        p = {**DEFAULTS, **(params or {})}
        sheet_name = p["sheet"] if p["sheet"] not in (None, "auto") else "Sheet1"
        header_row = int(p["header_row"]) if p["header_row"] not in (None, "auto") else 1
        wb = Workbook(write_only=True)
        if p["date1904"] is True:
            wb.epoch = CALENDAR_MAC_1904
        ws = wb.create_sheet(title=sheet_name)
        types = [(schema.field(c).type if schema.field(c) else "string") for c in columns]

        def cell(v: Any) -> Any:
            c = WriteOnlyCell(ws, value=v)
            if isinstance(v, str) and (v.startswith("=") or v in _ERROR_CODES):
                c.data_type = "s"  # text that openpyxl would take for a formula or an error
            return c

        n = 0
        line = header_row
        two = str(p.get("header_rows")) == "2"
        try:
            for _ in range(header_row - 1 - two):
                ws.append([])
            if two:  # the group row (each column's group, or its name), then the names
                ws.append([cell(c.split(" / ", 1)[0]) for c in columns])
                ws.append([cell(c.split(" / ", 1)[1] if " / " in c else c) for c in columns])
            else:
                ws.append([cell(c) for c in columns])
            for row in rows:
                line += 1
                ws.append([None if v is None else cell(_typed(v, t)) for v, t in zip(row, types)])
                n += 1
            with atomic_output(path) as tmp:
                wb.save(tmp)
        except IllegalCharacterError as e:
            _discard(wb)
            raise SourceError(f"a value holds characters Excel cannot store (control "
                              f"characters): {e}",
                              location=Location(file=file, sheet=sheet_name, line=line)) from None
        except BaseException:
            _discard(wb)
            raise
        return n


# -- helpers --------------------------------------------------------------------------------
def _with_defaults(params: dict | None, given: dict) -> dict:
    p = {**DEFAULTS, **given}
    if p["header_row"] is None:
        p["header_row"] = "auto"
    if (params or {}).get("header_rows") is None:
        p["header_rows"] = "auto" if p["header_row"] == "auto" else 1
    return p


def _discard(wb: Any) -> None:
    """Finish a write-only workbook's streams and throw the result away (no half files)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        try:
            wb.save(Path(d) / "discard.xlsx")
        except Exception:
            pass


def _typed(v: Any, t: str) -> Any:
    """A value as the cell type of its column: text that holds a number in an integer column
    becomes a number, ISO text in a date column a date; text in a string column stays text."""
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() and t == "integer" else float(v)
    if not isinstance(v, str) or t == "string":
        return v
    s = v.strip()
    try:
        if t == "integer" and _INT.fullmatch(s):
            return int(s)
        if t == "decimal":
            return float(s)
        if t == "date":
            d = dt.datetime.fromisoformat(s)
            return d.date() if len(s) == 10 else d
        if t == "boolean" and s.lower() in ("true", "false"):
            return s.lower() == "true"
    except ValueError:
        pass
    return v


def _text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    return str(v)


def _field(name: str, values: list[Any]) -> FieldSchema:
    kinds = set()
    texts: list[str] = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("boolean")
        elif isinstance(v, int):
            kinds.add("integer")
        elif isinstance(v, float):
            kinds.add("integer" if v.is_integer() else "decimal")
        elif isinstance(v, dt.date):
            kinds.add("date")
        else:
            kinds.add("string")
        texts.append(_text(v))
    if not kinds:
        typ = "string"
    elif len(kinds) == 1:
        typ = kinds.pop()
    elif kinds <= {"integer", "decimal"}:
        typ = "decimal"
    else:
        typ = "string"
    samples: list[str] = []
    for t in texts:
        if t not in samples:
            samples.append(t)
        if len(samples) == 3:
            break
    return FieldSchema(name=name, type=typ, max_length=max((len(t) for t in texts), default=None),
                       samples=samples)


def _check_magic(path: Path) -> None:
    file = display_name(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise SourceError("file is empty", location=Location(file=file))
    ext = path.suffix.lower()
    if ext == ".xls":
        if head.startswith(ZIP_MAGIC):
            raise SourceError("the file is an .xlsx workbook named .xls; rename it to .xlsx",
                              location=Location(file=file))
        if not head.startswith(OLE_MAGIC):
            raise _not_a_workbook(path, "an .xls file must be an OLE compound document")
        return
    if head.startswith(OLE_MAGIC):
        raise SourceError(
            f"the {ext} file is an OLE compound document: the workbook is encrypted "
            "(password-protected) or is a legacy .xls; remove the password or save it as .xlsx",
            location=Location(file=file), magic="ole")
    if not head.startswith(ZIP_MAGIC):
        raise _not_a_workbook(path, f"a {ext} file must be a zip package")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except zipfile.BadZipFile as e:
        raise SourceError(f"not an Excel workbook: broken zip package ({e})",
                          location=Location(file=file)) from None
    if "xl/workbook.xml" not in names and not any(n.endswith("workbook.xml") for n in names):
        inside = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
        raise SourceError("not an Excel workbook: the zip package has no xl/workbook.xml "
                          f"(it holds: {inside or 'nothing'})",
                          location=Location(file=file), members=sorted(names)[:20])


def _not_a_workbook(path: Path, why: str) -> SourceError:
    """The error for a file named like a workbook that is not one: what it really is (a
    web page, an XML spreadsheet, delimited text) and the provider type that reads it."""
    from .csv import PREFIX_BYTES, detect_encoding, sniff_dialect

    file = display_name(path)
    ext = path.suffix.lower()
    with open(path, "rb") as f:
        raw = f.read(PREFIX_BYTES)
    try:
        text = raw.decode(detect_encoding(raw), errors="strict")
    except (UnicodeDecodeError, LookupError):
        text = None
    if text is None or "\x00" in text:
        return SourceError(f"not an Excel workbook: {why}", location=Location(file=file))
    head = text.lstrip("\ufeff \t\r\n")[:2048].lower()
    if head.startswith(("<!doctype html", "<html")) or "<table" in head and head.startswith("<"):
        return SourceError(
            f"not an Excel workbook: the {ext} file is an HTML page (a web report saved "
            "with an Excel name); open it in Excel and save it as .xlsx, or export it as CSV",
            location=Location(file=file), real_type="html")
    if head.startswith("<?xml") or head.startswith("<"):
        if "urn:schemas-microsoft-com:office:spreadsheet" in head:
            return SourceError(
                f"not an Excel workbook: the {ext} file is an XML Spreadsheet 2003; open it "
                "in Excel and save it as .xlsx", location=Location(file=file),
                real_type="spreadsheetml")
        return SourceError(
            f"not an Excel workbook: the {ext} file is XML; add it as an XML provider "
            "(--type xml) or rename it to .xml", location=Location(file=file),
            real_type="xml", suggest_type="xml")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return SourceError(f"not an Excel workbook: the {ext} file is empty text",
                           location=Location(file=file), real_type="text")
    delim, _q, _e = sniff_dialect(text)
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
    return SourceError(
        f"not an Excel workbook: the {ext} file is delimited text (CSV, {names.get(delim, delim)}"
        f"-separated, {len(lines)} line(s)); add it as a CSV provider (--type csv) or rename "
        "it to .csv", location=Location(file=file), real_type="csv", suggest_type="csv")


def _date1904(path: Path) -> bool:
    """Whether the workbook counts dates from 1904 (old Mac Excel)."""
    if path.suffix.lower() == ".xls":
        # calamine converts an .xls's 1904 dates itself, and the flag only sets the epoch of
        # a workbook that is written, which an .xls never is (read-only).
        return False
    from lxml import etree

    try:
        with zipfile.ZipFile(path) as z:
            name = "xl/workbook.xml" if "xl/workbook.xml" in z.namelist() else next(
                n for n in z.namelist() if n.endswith("workbook.xml"))
            with z.open(name) as f:
                for _ev, el in etree.iterparse(f, events=("start",), resolve_entities=False,
                                               no_network=True, load_dtd=False):
                    if etree.QName(el).localname == "workbookPr":
                        return el.get("date1904", "0").lower() in ("1", "true")
                    if etree.QName(el).localname == "sheets":
                        return False
    except (KeyError, StopIteration, zipfile.BadZipFile, etree.XMLSyntaxError):
        return False
    return False


def _open(path: Path) -> Any:
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError

    file = display_name(path)
    try:
        return CalamineWorkbook.from_path(str(path))
    except PasswordError:
        raise SourceError("the workbook is password-protected; remove the password first",
                          location=Location(file=file)) from None
    except CalamineError as e:
        raise SourceError(f"cannot read the workbook: {e}", location=Location(file=file)) from None
    except Exception as e:  # calamine raises plain errors for some broken files
        raise SourceError(f"cannot read the workbook: {e}", location=Location(file=file)) from None


def _sheet(wb: Any, path: Path, name: str) -> Any:
    from python_calamine import CalamineError

    if name not in wb.sheet_names:
        raise SourceError(f"no sheet {name!r} in the workbook; sheets: {wb.sheet_names}",
                          location=Location(file=display_name(path), sheet=name), sheet=name)
    try:
        return wb.get_sheet_by_name(name)
    except CalamineError as e:
        raise SourceError(f"cannot read sheet {name!r}: {e}",
                          location=Location(file=display_name(path), sheet=name)) from None


def _has_sheet(wb: Any, path: Path, name: str) -> None:
    if name not in wb.sheet_names:
        raise SourceError(f"no sheet {name!r} in the workbook; sheets: {wb.sheet_names}",
                          location=Location(file=display_name(path), sheet=name), sheet=name)


class _Stream:
    """An .xlsx/.xlsm sheet read by :mod:`.xlsx_stream` (scanned on opening), its errors
    as calamine's: ``cannot read sheet ...``."""

    def __init__(self, path: Path, name: str, file: str):
        from .xlsx_stream import XlsxBook, XlsxError

        self.name, self.file = name, file
        self.book = None
        try:
            self.book = XlsxBook(path)
            self.sheet = self.book.sheet(name)
            self.sheet.scan()
        except XlsxError as e:
            self.close()
            raise self._error(e) from None

    def _error(self, e: Exception) -> SourceError:
        return SourceError(f"cannot read sheet {self.name!r}: {e}",
                           location=Location(file=self.file, sheet=self.name))

    def numbered(self) -> Iterator[tuple[int, list[Any]]]:
        from .xlsx_stream import XlsxError

        try:
            yield from self.sheet.numbered()
        except XlsxError as e:
            raise self._error(e) from None

    def close(self) -> None:
        if self.book is not None:
            self.book.close()


class _SheetReader:
    """One sheet: its header settled by the rules of :mod:`.layout`, then ``rows()``
    yielding ``(row number, list)`` of the data rows."""

    def __init__(self, path: Path, p: dict):
        self.file = display_name(path)
        self.sheet_name = p["sheet"]
        self.p = p
        self.skips = Skips()
        self.stream = path.suffix.lower() in STREAMED
        self.wb = _open(path)
        try:
            if self.stream:
                # calamine only opens the workbook (its errors, its sheet names); the sheet
                # itself is streamed (.xlsx_stream), calamine would hold all of it
                _has_sheet(self.wb, path, self.sheet_name)
                self.wb.close()
                self.wb = _Stream(path, self.sheet_name, self.file)
                self.sheet = self.wb.sheet
            else:
                self.sheet = _sheet(self.wb, path, self.sheet_name)
            self._start()
        except BaseException:
            self.wb.close()
            raise

    def __enter__(self) -> _SheetReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wb.close()

    def _numbered(self) -> Iterator[tuple[int, list[Any]]]:
        start = self.sheet.start
        if start is None:
            return
        if self.stream:  # rows from row 1, over the data's columns, as calamine's
            self.col0 = start[1]
            yield from self.wb.numbered()
            return
        it = self.sheet.iter_rows()
        first = next(it, None)
        if first is None:
            return
        # python-calamine's iter_rows may or may not include the empty rows above the data;
        # the data's first row is never empty, so an empty first row means it does.
        no = 1 if start[0] > 0 and all(v == "" for v in first) else start[0] + 1
        end = self.sheet.end
        self.col0 = 0 if end and len(first) == end[1] + 1 else start[1]
        yield no, first
        for row in it:
            no += 1
            yield no, row

    def _comment(self, row: list[Any]) -> bool:
        prefix = self.p.get("comment")
        if not prefix:
            return False
        v = next((v for v in row if not blank(v)), None)
        return isinstance(v, str) and v.startswith(prefix)

    def _merges(self, rows: set[int], w: int) -> list[tuple[int, int, int, int]]:
        """Merged ranges touching the given sheet rows: (first row, first column, last row,
        last column), rows 1-based, columns relative to the data's first column."""
        try:
            ranges = self.sheet.merged_cell_ranges or []
        except Exception:  # a format calamine has no merge information for
            ranges = []
        out = []
        for (r1, c1), (r2, c2) in ranges:
            r1, r2, c1, c2 = r1 + 1, r2 + 1, c1 - self.col0, c2 - self.col0
            if c2 < 0 or c1 >= w or (r1 == r2 and c1 == c2):
                continue
            if any(r1 <= r <= r2 for r in rows):
                out.append((r1, c1, r2, c2))
        return out

    def _range(self, m: tuple[int, int, int, int]) -> str:
        r1, c1, r2, c2 = m
        return f"{_letter(self.col0 + c1 + 1)}{r1}:{_letter(self.col0 + c2 + 1)}{r2}"

    def _spread(self, no: int, cells: list[Any], rows: dict[int, list[Any]]
                ) -> tuple[list[Any], dict[int, str]]:
        """A row with each merged range's value spread over the cells it covers, and the
        columns whose label came from a horizontal merge (-> the range)."""
        out = list(cells)
        spread: dict[int, str] = {}
        for m in self.merges:
            r1, c1, r2, c2 = m
            if not r1 <= no <= r2 or r1 not in rows or not 0 <= c1 < len(cells):
                continue
            v = rows[r1][c1]
            for c in range(max(c1, 0), min(c2, len(cells) - 1) + 1):
                if (c, no) != (c1, r1):
                    out[c] = v
                    if c != c1:
                        spread[c] = self._range(m)
        return out, spread

    def _is_group(self, g: tuple[int, list[Any]], d: tuple[int, list[Any]],
                  rows: dict[int, list[Any]], table: int) -> bool:
        """Whether row ``g`` is a group row of merged cells over the names in row ``d``."""
        (gno, gcells), (dno, dcells) = g, d
        if dno != gno + 1 or fill(gcells) < 2:
            return False
        across = [m for m in self.merges if m[0] == m[2] == gno and m[3] > m[1]]
        down = [m for m in self.merges if m[0] == gno and m[2] >= dno]
        if not across:
            return False
        spread, _ = self._spread(dno, dcells, rows)
        n = fill(spread)
        if n < min(2, table) or 2 * n <= table:
            return False
        under = [dcells[c] for m in across for c in range(max(m[1], 0),
                                                          min(m[3], len(dcells) - 1) + 1)
                 if not blank(dcells[c])]
        return bool(down) or (bool(under) and all(isinstance(v, str) and not _numeric(v)
                                                  for v in under))

    def _start(self) -> None:
        try:
            want, header_rows = header_params(self.p, auto_group=True)
        except (TypeError, ValueError) as e:
            raise SourceError(str(e), location=Location(file=self.file,
                                                        sheet=self.sheet_name)) from None
        self.detected = want is None
        loc = Location(file=self.file, sheet=self.sheet_name, line=want)
        self.col0 = 0
        it = self._numbered()
        buffered: list[tuple[int, list[Any]]] = []
        candidates: list[tuple[int, list[Any]]] = []
        header = None
        for no, row in it:
            buffered.append((no, row))
            if want is not None:
                if no >= want:
                    break
                continue
            if all(blank(v) for v in row) or self._comment(row):
                continue
            candidates.append((no, row))
            if len(candidates) >= LOOKAHEAD:
                break
        if self.sheet.start is None or not buffered:
            raise SourceError("the sheet is empty", location=loc)
        rows = dict(buffered)
        w = max(len(r) for _no, r in buffered)
        self.merges = self._merges(set(rows), w)
        if want is not None:
            if want in rows and not all(blank(v) for v in rows[want]):
                header = (want, rows[want])
            elif want not in rows:
                last = self.sheet.last_row if self.stream else self.sheet.end[0] + 1
                raise SourceError(f"header row {want} is blank or outside the sheet's data "
                                  f"(rows {self.sheet.start[0] + 1}-{last})",
                                  location=loc)
            else:
                raise SourceError(f"header row {want} is blank", location=loc)
            candidates = [(no, r) for no, r in buffered[:-1]
                          if not all(blank(v) for v in r) and not self._comment(r)]
            k = len(candidates)
            candidates.append(header)
        else:
            if not candidates:
                raise SourceError("the sheet is empty", location=loc)
            spread_widths = [width(self._spread(no, r, rows)[0]) for no, r in candidates]
            k = find_header([r for _no, r in candidates], spread_widths)
            header = candidates[k]
        widths = sorted((width(r) for _no, r in candidates), reverse=True)
        table = widths[1] if len(widths) > 1 else widths[0]
        group = None
        if want is None and k + 1 < len(candidates) \
                and self._is_group(header, candidates[k + 1], rows, table):
            # a group row of merged cells above the names: the names are the header (with
            # header_rows: 1 the group row stays above, in the preamble)
            group, header, k = header, candidates[k + 1], k + 1
        elif k > 0 and self._is_group(candidates[k - 1], header, rows, table):
            group = candidates[k - 1]
        if header_rows == 1:
            group = None
        elif header_rows == 2 and group is None:
            above = rows.get(header[0] - 1)
            below = candidates[k + 1] if k + 1 < len(candidates) else None
            if want is None and (above is None or all(blank(v) for v in above)) \
                    and below is not None and below[0] == header[0] + 1:
                # nothing directly above the row found: it is the group row, names below
                above, header, k = header[1], below, k + 1
            if above is None or all(blank(v) for v in above):
                raise SourceError(
                    f"header_rows: 2, but the row above the header (row {header[0]}) is "
                    "blank or outside the sheet's data",
                    location=Location(file=self.file, sheet=self.sheet_name, line=header[0]))
            group = (header[0] - 1, above)
        hno, hcells = header
        self.header_line = self.header_row = hno
        self.header_rows = 2 if group else 1
        cells, spread = self._spread(hno, hcells, rows)
        names = ["" if blank(v) else _text(v).strip() for v in cells]
        rules = {c: f"merged cell {rng}: its label spread over the columns it spans"
                 for c, rng in spread.items() if names[c]}
        if group is not None:
            gno, gcells = group
            if any(m[0] <= gno <= m[2] for m in self.merges):
                gspread, _ = self._spread(gno, gcells, rows)
                gnames = ["" if blank(v) else _text(v).strip() for v in gspread]
            else:
                gnames = spread_right(["" if blank(v) else _text(v).strip() for v in gcells])
            for i, (g, name) in enumerate(zip(gnames, names)):
                names[i], rule = join_names(g, name)
                if rule:
                    rules[i] = rule
        before = [(no, r) for no, r in candidates[:k] if group is None or no != group[0]]
        self.preamble = [{"line": no, "cells": preamble_cells(r, _text)} for no, r in before]
        if not any(names):
            raise SourceError(f"header row {hno} is blank", location=loc)
        self.bases = names
        self.rules = rules
        self.width = len(names)
        self.it = itertools.chain([b for b in buffered if b[0] > hno], it)

    def _label(self, i: int) -> str:
        return _letter(self.col0 + i + 1)

    def settle(self, has_data) -> Names:
        """The column names, given which unnamed columns hold data."""
        return Names(self.bases, label=self._label, has_data=has_data,
                     keep_empty=bool(self.p.get("keep_empty_columns")), rules=self.rules,
                     rename=self.p.get("rename") or None,
                     location=Location(file=self.file, sheet=self.sheet_name,
                                       line=self.header_line))

    def settle_for(self, columns: list[str]) -> Names:
        """The names for reading into a schema: an unnamed column is read when the schema
        has it (it held data when the schema was read), else it is dropped."""
        every = self.settle(lambda i: True)
        if all(self.bases):
            return every
        wanted = set(columns)
        return self.settle(lambda i: every.names[i] in wanted)

    def layout(self, names: Names, rows: int | None) -> Layout:
        return Layout(header_row=self.header_row, header_line=self.header_line,
                      header_rows=self.header_rows, detected=self.detected,
                      preamble=self.preamble, settled=names.settled,
                      skipped=self.skips.to_dict(), rows=rows)

    def rows(self, dropped: list[int] | None = None) -> Iterator[tuple[int, list[Any]]]:
        """(row number, values) of the data rows; empty rows and comment rows are skipped
        and counted. ``dropped``: columns that must stay empty."""
        prefix = self.p.get("comment")
        stream = self.stream  # its rows have None for an empty cell already
        for no, row in self.it:
            vals = row if stream else [None if v == "" else v for v in row]
            if vals.count(None) == len(vals):
                self.skips.add("blank", no)  # an empty row inside the data
                continue
            if prefix and self._comment(vals):
                self.skips.add("comment", no)
                continue
            if dropped:
                for i in dropped:
                    if vals[i] is not None:
                        raise SourceError(
                            f"column {self._label(i)} has no name and held no data when the "
                            "provider's schema was read, so it is not read; this row has "
                            f"{_text(vals[i])!r} in it. Update the provider's schema from "
                            "this file (provider update-schema) or set keep_empty_columns: "
                            "true", location=Location(file=self.file, sheet=self.sheet_name,
                                                      line=no, column=self.col0 + i + 1))
            yield no, vals


_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?%?")


def _numeric(v: str) -> bool:
    return bool(_NUMBER.fullmatch(v.strip()))


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)


register(ExcelType())
