"""The streaming .xlsx reader (providers/xlsx_stream.py) against python-calamine, the reference:
the same data range, merged ranges and rows on every test workbook and on generated ones
(openpyxl's shared and inline strings, dates, 1904 workbooks, booleans, blanks, gaps in rows
and columns, formulas, other attribute orders, a namespace prefix, comments); and the Excel provider
reads the same schema, layout and rows streamed as with calamine."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migration_kit.errors import SourceError
from migration_kit.providers import excel as excel_mod
from migration_kit.providers import get_provider_type
from migration_kit.providers.xlsx_stream import (
    XlsxBook,
    XlsxError,
    _outside,
    col_letters,
    col_number,
    format_kind,
)

ROOT = Path(__file__).resolve().parents[2]
WORKBOOKS = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("tests/data/**/*.xls[xm]")) \
    + sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("templates/**/*.xls[xm]"))


def _calamine(path: Path) -> dict:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    out = {}
    for name in wb.sheet_names:
        try:
            s = wb.get_sheet_by_name(name)
        except Exception:
            out[name] = "error"
            continue
        rows = [[None if v == "" else v for v in r] for r in s.iter_rows()] \
            if s.start is not None else []
        out[name] = (s.start, s.end, sorted(s.merged_cell_ranges or []), rows)
    wb.close()
    return out


def _stream(path: Path) -> dict:
    out = {}
    with XlsxBook(path) as book:
        for name in book.sheets:
            sheet = book.sheet(name)
            try:
                sheet.scan()
                rows = [r for _no, r in sheet.numbered()]
            except XlsxError:
                out[name] = "error"
                continue
            end = (sheet.last_row - 1, sheet.end[1]) if sheet.end is not None else None
            out[name] = (sheet.start, end, sorted(sheet.merged_cell_ranges), rows)
    return out


def _readable(path: Path) -> bool:
    from python_calamine import CalamineWorkbook

    try:
        CalamineWorkbook.from_path(str(path)).close()
        return True
    except Exception:
        return False


@pytest.mark.parametrize("name", WORKBOOKS)
def test_test_workbooks_read_as_calamine_reads_them(name):
    path = ROOT / name
    if not _readable(path):  # a broken or fake workbook: refused, as calamine refuses it
        from migration_kit.errors import MigrationError
        from migration_kit.providers.registry import get_provider_type

        pt = get_provider_type("excel")
        with pytest.raises(MigrationError):
            pt.read_schema(path, pt.detect(path, {}))
        return
    assert _stream(path) == _calamine(path)


# -- generated workbooks ---------------------------------------------------------------------
_TEXT = st.text(st.characters(blacklist_categories=("Cs",),
                              blacklist_characters=[chr(c) for c in range(32) if c not in
                                                    (9, 10)]), max_size=12) \
    | st.sampled_from(["a & b", "<tag>", " padded ", "line\nbreak", "_x000D_", "=1+1",
                       "é ü 中", "'quote\"", "#N/A text"])
_VALUE = st.one_of(
    st.none(), _TEXT, st.booleans(),
    st.integers(-2**53, 2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)),
    st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 12, 31)).map(
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)),
    st.times().map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)),
    st.sampled_from([dt.date(1900, 1, 1), dt.date(1900, 2, 28), dt.datetime(1900, 1, 5, 6),
                     dt.timedelta(hours=30, minutes=5), dt.timedelta(0), 0.0, -0.0, 1e300,
                     5e-324, -1.5]),
)
_GRID = st.dictionaries(
    st.tuples(st.integers(1, 40), st.integers(1, 12)), _VALUE, max_size=60)


def _write(path: Path, cells: dict, *, write_only: bool, date1904: bool,
           merges: list[str]) -> None:
    from openpyxl import Workbook
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    wb = Workbook(write_only=write_only)
    if date1904:
        wb.epoch = CALENDAR_MAC_1904
    if write_only:
        ws = wb.create_sheet("S")
        last = max((r for r, _c in cells), default=0)
        width = max((c for _r, c in cells), default=0)
        for r in range(1, last + 1):
            ws.append([cells.get((r, c)) for c in range(1, width + 1)])
    else:
        ws = wb.active
        ws.title = "S"
        for (r, c), v in cells.items():
            ws.cell(row=r, column=c, value=v)
        for m in merges:
            ws.merge_cells(m)
        ws.cell(row=45, column=14).number_format = "0.00"  # a phantom cell past the data
    wb.save(path)


def _rewrite(path: Path, change) -> None:
    """The workbook with its sheet's XML changed by ``change(text) -> text``."""
    with zipfile.ZipFile(path) as z:
        items = [(i, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in items:
            if info.filename.startswith("xl/worksheets/sheet"):
                data = change(data.decode("utf-8")).encode("utf-8")
            z.writestr(info, data)


def _formulas(xml: str) -> str:  # a formula before every number
    return re.sub(r'(<c r="[A-Z]+[0-9]+"(?: s="[0-9]+")?(?: t="n")?>)(<v>)', r"\1<f>1+1</f>\2",
                  xml)


def _t_first(xml: str) -> str:  # t before s: every such cell goes to lxml
    return re.sub(r' s="([0-9]+)" t="([a-z]+)"', r' t="\2" s="\1"', xml)


def _prefixed(xml: str) -> str:  # the main namespace under a prefix
    xml = xml.replace('<worksheet xmlns="', '<worksheet xmlns:x="', 1)
    return re.sub(r"<(/?)([A-Za-z]+)(?=[ />])", r"<\1x:\2", xml)


def _commented(xml: str) -> str:  # comments holding cell markup, which is no cell
    return xml.replace("</row>", '</row><!-- <c r="A1"><v>9</v></c> -->', 3)


def _no_refs(xml: str) -> str:  # cells without r: placed by their order in the row
    return re.sub(r'<c r="[A-Z]+[0-9]+"', "<c", xml)


@settings(max_examples=int(__import__("os").environ.get("XLSX_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(cells=_GRID, write_only=st.booleans(), date1904=st.booleans(),
       variant=st.sampled_from([None, _formulas, _t_first, _prefixed, _no_refs,
                                _commented]),
       merge=st.booleans())
def test_generated_workbooks_read_as_calamine_reads_them(tmp_path, cells, write_only, date1904,
                                                         variant, merge):
    path = tmp_path / "g.xlsx"
    merges = ["B2:D3", "F1:F4"] if merge and not write_only else []
    _write(path, cells, write_only=write_only, date1904=date1904, merges=merges)
    if variant is not None:
        _rewrite(path, variant)
    assert _stream(path) == _calamine(path)


def test_rows_span_chunks(tmp_path, monkeypatch):
    """Rows cut into many chunks (and a row longer than a chunk) read whole."""
    from migration_kit.providers import xlsx_stream

    monkeypatch.setattr(xlsx_stream, "CHUNK", 512)
    cells = {(r, c): (f"text {r} {c} " * (40 if r == 7 else 1) if c % 2 else r * c + 0.5)
             for r in range(1, 300) for c in range(1, 9) if (r * c) % 7}
    path = tmp_path / "c.xlsx"
    _write(path, cells, write_only=False, date1904=False, merges=[])
    assert _stream(path) == _calamine(path)


# -- the pieces ----------------------------------------------------------------------------
def test_columns_and_patterns():
    for n in (0, 1, 25, 26, 27, 701, 702, 16383):
        assert col_number(col_letters(n)) == n
    pat = re.compile(_outside(col_number("C"), col_number("AB")))
    for letters in ("A", "B", "AC", "AZ", "BA", "ZZ", "AAA", "XFD"):
        assert pat.fullmatch(letters + "1"), letters
    for letters in ("C", "D", "Z", "AA", "AB"):
        assert not pat.fullmatch(letters + "1"), letters


@pytest.mark.parametrize("code,kind", [
    ("yyyy-mm-dd", 1), ("DD/MM/YY", 1), ("H:MM:SS;@", 1), ("[h]:mm:ss", 2), ("[mm]", 2),
    ("0.00", 0), ('"$"#,##0_);[Red]("$"#,##0)', 0), ("#,##0\\ [$\\u20bd-46D]", 0),
    ("\\Y000000", 0), ("General", 0), ('m"M"d"D";@', 1), ("[>=100][Magenta].00", 0),
])
def test_date_formats_as_calamine_sees_them(code, kind):
    assert format_kind(code) == kind


# -- the provider, streamed and with calamine ------------------------------------------------
def _provider_read(path: Path, params: dict) -> tuple:
    pt = get_provider_type("excel")
    try:
        p = pt.detect(path, params)
        schema = pt.read_schema(path, p)
        batches = list(pt.read_batches(path, p, schema, batch_size=7))
    except SourceError as e:
        return ("error", str(e))
    return (schema.to_dict() if hasattr(schema, "to_dict") else repr(schema),
            [r for b in batches for r in b.rows], [n for b in batches for n in b.lines],
            [w for b in batches for w in b.warnings])


PROVIDER_FILES = [n for n in WORKBOOKS if n.endswith((".xlsx", ".xlsm"))]


@pytest.mark.parametrize("name", PROVIDER_FILES)
@pytest.mark.parametrize("params", [{}, {"header_row": 1}, {"keep_empty_columns": True}],
                         ids=["auto", "header_row 1", "keep_empty"])
def test_the_provider_reads_the_same_streamed(name, params, monkeypatch):
    path = ROOT / name
    streamed = _provider_read(path, params)
    monkeypatch.setattr(excel_mod, "STREAMED", ())
    assert streamed == _provider_read(path, params)
