"""Excel workbooks (.xlsx, .xlsm, and read-only .xls): read with python-calamine, write with
openpyxl in write-only mode.

python-calamine reads the cells themselves and ignores the stored ``<dimension>`` and phantom
(formatted but empty) cells: the data range ends at the last non-empty row and column. Values
come back native: ``str``, ``int``, ``float``, ``bool``, ``datetime.date``/``datetime``
(1904-based workbooks are converted by calamine). Note: calamine loads one whole sheet into its
own (Rust) memory; rows are turned into Python objects batch by batch.
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
    Batch,
    BatchBuilder,
    FieldSchema,
    ObjectSchema,
    Schema,
    atomic_output,
    display_name,
)
from .schema import check_size, schema_diff

DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULTS: dict[str, Any] = {"sheet": None, "header_row": None, "date1904": None,
                            "max_bytes": DEFAULT_MAX_BYTES}
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ERROR_CODES = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"}
_INT = re.compile(r"[+-]?\d+")


class ExcelType:
    """Excel workbooks; one sheet per provider."""

    name = "excel"
    extensions = (".xlsx", ".xlsm", ".xls")
    writable = True  # .xlsx/.xlsm only: write() refuses .xls

    @staticmethod
    def is_writable(path: Path | str) -> bool:
        return Path(path).suffix.lower() != ".xls"

    # -- parameters -------------------------------------------------------------------------
    def detect(self, path: Path, params: dict) -> dict:
        path = Path(path)
        p = {**DEFAULTS, **{k: v for k, v in (params or {}).items() if v is not None}}
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
            sheet = _sheet(wb, path, p["sheet"])
            if p["header_row"] in (None, "auto"):
                start = sheet.start
                p["header_row"] = (start[0] + 1) if start else 1
        p["header_row"] = int(p["header_row"])
        p["max_bytes"] = int(p["max_bytes"])
        p["date1904"] = bool(p["date1904"])
        return p

    def _params(self, path: Path, params: dict) -> dict:
        p = {**DEFAULTS, **(params or {})}
        if p["sheet"] in (None, "auto") or p["header_row"] in (None, "auto") \
                or p["date1904"] in (None, "auto"):
            return self.detect(path, params)
        check_size(path, p["max_bytes"])
        _check_magic(path)
        return p

    # -- reading ----------------------------------------------------------------------------
    def read_schema(self, path: Path, params: dict, sample_rows: int = 1000) -> Schema:
        path = Path(path)
        p = self._params(path, params)
        with _SheetReader(path, p) as r:
            values: list[list[Any]] = [[] for _ in r.header]
            for _line, row in itertools.islice(r.rows(), max(0, sample_rows)):
                for col, v in zip(values, row):
                    col.append(v)
        fields = [_field(name, col) for name, col in zip(r.header, values)]
        return Schema([ObjectSchema("Row", fields)])

    def read_batches(self, path: Path, params: dict, schema: Schema,
                     batch_size: int = 5000) -> Iterator[Batch]:
        path = Path(path)
        p = self._params(path, params)
        with _SheetReader(path, p) as r:
            cols = schema.columns()
            if cols != r.header:
                if sorted(cols) != sorted(r.header):
                    found = Schema([ObjectSchema("Row", [FieldSchema(name=h) for h in r.header])])
                    raise SchemaMismatchError(
                        f"{r.file}: the sheet's columns differ from the provider's schema",
                        diff=schema_diff(schema, found),
                        location=Location(file=r.file, sheet=r.sheet_name, line=r.header_line))
            pos = {h: i for i, h in enumerate(r.header)}
            order = [pos[c] for c in cols]
            identity = order == list(range(len(r.header)))
            fields = schema.fields()
            # integral floats become int in integer and string columns (Excel stores all
            # numbers as floats; "123" is what the user sees)
            to_int = [f.type in ("integer", "string") for f in fields]
            out = BatchBuilder(cols, r.file, batch_size, sheet=r.sheet_name)
            for line, row in r.rows():
                if not identity:
                    row = [row[i] for i in order]
                out.add(tuple(int(v) if ti and type(v) is float and v.is_integer()
                              and abs(v) < 2**53 else v for v, ti in zip(row, to_int)), line)
                if out.full:
                    yield out.take()
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
        try:
            for _ in range(header_row - 1):
                ws.append([])
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
            raise SourceError("not an Excel workbook: an .xls file must be an OLE compound "
                              "document", location=Location(file=file))
        return
    if head.startswith(OLE_MAGIC):
        raise SourceError(
            f"the {ext} file is an OLE compound document: the workbook is encrypted "
            "(password-protected) or is a legacy .xls; remove the password or save it as .xlsx",
            location=Location(file=file), magic="ole")
    if not head.startswith(ZIP_MAGIC):
        raise SourceError(f"not an Excel workbook: a {ext} file must be a zip package",
                          location=Location(file=file))
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except zipfile.BadZipFile as e:
        raise SourceError(f"not an Excel workbook: broken zip package ({e})",
                          location=Location(file=file)) from None
    if "xl/workbook.xml" not in names and not any(n.endswith("workbook.xml") for n in names):
        raise SourceError("not an Excel workbook: the zip package has no xl/workbook.xml",
                          location=Location(file=file))


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


class _SheetReader:
    """One sheet: the header row, then ``rows()`` yielding ``(row number, list)``."""

    def __init__(self, path: Path, p: dict):
        self.file = display_name(path)
        self.sheet_name = p["sheet"]
        self.wb = _open(path)
        try:
            self.sheet = _sheet(self.wb, path, self.sheet_name)
            self._start(int(p["header_row"]))
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

    def _start(self, header_row: int) -> None:
        loc = Location(file=self.file, sheet=self.sheet_name, line=header_row)
        self.col0 = 0
        self.it = self._numbered()
        header = None
        for no, row in self.it:
            if no == header_row:
                header = row
                break
            if no > header_row:
                break
        if header is None:
            if self.sheet.start is None:
                raise SourceError("the sheet is empty", location=loc)
            raise SourceError(f"header row {header_row} is blank or outside the sheet's data "
                              f"(rows {self.sheet.start[0] + 1}-{self.sheet.end[0] + 1})",
                              location=loc)
        names = ["" if v is None else _text(v).strip() for v in header]
        if not any(names):
            raise SourceError(f"header row {header_row} is blank", location=loc)
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            col = self.col0 + i + 1
            if not name:
                raise SourceError(f"blank column name in the header (column {_letter(col)}); "
                                  "every column with data needs a name",
                                  location=Location(file=self.file, sheet=self.sheet_name,
                                                    line=header_row, column=col))
            if name in seen:
                raise SourceError(f"duplicate column name {name!r} (columns "
                                  f"{_letter(seen[name])} and {_letter(col)})",
                                  location=Location(file=self.file, sheet=self.sheet_name,
                                                    line=header_row, column=col),
                                  column_name=name)
            seen[name] = col
        self.header = names
        self.header_line = header_row

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        for no, row in self.it:
            vals = [None if v == "" else v for v in row]
            if all(v is None for v in vals):
                continue  # an empty row inside the data
            yield no, vals


def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)
