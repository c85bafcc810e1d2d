"""A streaming reader of one .xlsx/.xlsm worksheet, giving the same rows as python-calamine.

calamine builds a whole sheet in memory before the first row can be read (about 300 MB for
200,000 rows of 11 columns). This module reads the sheet's XML from the zip as a stream, in
chunks of about 1 MB of whole rows, so memory stays bounded by one chunk and its cells plus
the shared-strings table (one Python list of the workbook's distinct texts, read once).

Two passes over the (deflated) sheet XML, both streaming:

1. :meth:`XlsxSheet.scan` finds what calamine knows before its first row: the first row and
   the first and last column holding a value (calamine's data range ignores the stored
   ``<dimension>`` and formatted-but-empty cells) and the merged ranges (stored after the
   data). It searches only for cells outside the columns seen so far (and for comments), so
   it costs about a fifth of the whole read.
2. :meth:`XlsxSheet.numbered` yields ``(row number, values)`` like calamine's ``iter_rows``:
   from row 1, one list per row over those columns, empty rows inside the data included,
   none after the last row with a value; ``None`` for an empty cell (calamine's ``""``; an
   empty text and an error cell are ``None`` too, as the provider had them).

Cells are read by one regular expression for the usual form of a cell (``<c r="B2" s="1"
t="s"><v>…</v></c>``, an inline string; formulas before the value are taken out first). A
chunk where any cell has another form (attributes in another order or others, rich text,
a cell without ``r``, whitespace between elements, a comment or CDATA, a namespace prefix)
is read by lxml instead, element by element: slower, same values. Values follow
python-calamine 0.9.1: numbers are floats; a number in a date or time format becomes
``date`` (whole), ``datetime``, ``time`` (below 1) or ``timedelta`` (``[h]:mm`` formats),
1904 workbooks by their own flag; booleans; shared and inline strings with XML and
``_xHHHH_`` escapes and line ends as calamine has them. Known differences, in files no
writer we know makes: a ``<v>`` that Python's ``float()`` reads and Rust's does not (``1_0``,
`` 1 ``); a formula written after its value; rows out of order (an error here). A cell
error found while streaming is raised when its row is reached, not when the sheet opens.
tests/providers/test_xlsx_stream.py checks this reader against calamine.
"""

from __future__ import annotations

import datetime as dt
import math
import posixpath
import re
import zipfile
from collections.abc import Iterator
from typing import Any

MAIN_NS = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
           "http://purl.oclc.org/ooxml/spreadsheetml/main")
REL_NS = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "http://purl.oclc.org/ooxml/officeDocument/relationships")
CHUNK = 1 << 20  # inflated bytes read at a time (plus the rest of the last row);
# 4 MB was no faster and peaked 70 MB higher (the cells of a chunk are held at once)
_ERRORS = {b"#DIV/0!", b"#N/A", b"#NAME?", b"#NULL!", b"#NUM!", b"#REF!", b"#VALUE!"}
_DATETIME, _TIMEDELTA = 1, 2
_EPOCH = dt.datetime(1899, 12, 30)
_MS_PER_DAY = 86_400_000


class XlsxError(Exception):
    """The sheet cannot be read (the message says why)."""


# -- text ---------------------------------------------------------------------------------
_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_XESC = re.compile(r"_x([0-9a-fA-F]{4})_")


def _entity(m: re.Match) -> str:
    e = m.group(1)
    if e[0] == "#":
        return chr(int(e[2:], 16) if e[1] in "xX" else int(e[1:]))
    return _NAMED[e]


def _text(raw: bytes) -> str:
    """Text as an XML parser reads it (line ends normalised, references replaced), then
    OOXML's ``_xHHHH_`` escapes replaced, as calamine does."""
    return _fix(raw.decode("utf-8"))


def _fix(s: str) -> str:
    """Decoded text as an XML parser and calamine read it (see :func:`_text`)."""
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in s:
        s = _ENTITY.sub(_entity, s)
    if "_x" in s:
        s = _unx(s)
    return s


def _unx(s: str) -> str:
    return _XESC.sub(lambda m: chr(int(m.group(1), 16)), s)


# -- columns and references ---------------------------------------------------------------
def col_number(letters: bytes | str) -> int:
    """0-based column of ``A``, ``B``, ..., ``AA``."""
    n = 0
    for ch in letters if isinstance(letters, str) else letters.decode("ascii"):
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_letters(col: int) -> str:
    out = ""
    col += 1
    while col:
        col, r = divmod(col - 1, 26)
        out = chr(65 + r) + out
    return out


_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]+)")


def parse_ref(ref: str) -> tuple[int, int]:
    """(0-based row, 0-based column) of ``B12``."""
    m = _REF.fullmatch(ref.strip())
    if not m:
        raise XlsxError(f"bad cell reference {ref!r}")
    return int(m.group(2)) - 1, col_number(m.group(1).upper())


def _outside(lo: int, hi: int) -> str:
    """A pattern for the letters of a column before ``lo`` or after ``hi`` (then a digit)."""
    def less(s: str) -> list[str]:
        alts = [f"[A-Z]{{{n}}}" for n in range(1, len(s))]
        for i, ch in enumerate(s):
            if ch > "A":
                rest = len(s) - i - 1
                alts.append(s[:i] + f"[A-{chr(ord(ch) - 1)}]" + (f"[A-Z]{{{rest}}}"
                                                                 if rest else ""))
        return alts

    def more(s: str) -> list[str]:
        alts = [f"[A-Z]{{{n}}}" for n in range(len(s) + 1, 4)]
        for i, ch in enumerate(s):
            if ch < "Z":
                rest = len(s) - i - 1
                alts.append(s[:i] + f"[{chr(ord(ch) + 1)}-Z]" + (f"[A-Z]{{{rest}}}"
                                                                 if rest else ""))
        return alts

    alts = less(col_letters(lo)) + more(col_letters(hi))
    return "(?:" + "|".join(alts) + ")[0-9]" if alts else "(?!)"


# -- number formats -----------------------------------------------------------------------
def format_kind(code: str) -> int:
    """0, or whether a custom number format shows a date/time or a duration (calamine's
    rules: the first section only, quoted and escaped text and ``[...]`` ignored)."""
    escaped = quote = False
    brackets = 0
    prev = " "
    hms = ap = False
    for s in code:
        if escaped:
            escaped = False
        elif s in "_\\*":
            escaped = True
        elif quote:
            if s == '"':
                quote = False
        elif s == '"':
            quote = True
        elif s == ";":
            return 0
        elif s == "[":
            brackets += 1
        elif s == "]" and brackets == 1 and hms:
            return _TIMEDELTA
        elif s == "]":
            brackets = max(0, brackets - 1)
        elif s in "aA" and not ap and brackets == 0:
            ap = True
        elif s in "pmP/M" and ap and brackets == 0:
            return _DATETIME
        elif s in "dmhysDMHYS" and not ap and brackets == 0:
            return _DATETIME
        else:
            if not (hms and s.lower() == prev.lower()):
                hms = prev == "[" and s in "mhsMHS"
        prev = s
    return 0


_BUILTIN = {14: _DATETIME, 15: _DATETIME, 16: _DATETIME, 17: _DATETIME, 18: _DATETIME,
            19: _DATETIME, 20: _DATETIME, 21: _DATETIME, 22: _DATETIME, 45: _DATETIME,
            47: _DATETIME, 46: _TIMEDELTA}


def _round(x: float) -> int:
    """Rust's f64::round (halves away from zero), not Python's (halves to even)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def excel_date(x: float, kind: int, date1904: bool) -> Any:
    """A number in a date/time format as python-calamine gives it (the number itself when
    it is out of range)."""
    try:
        if kind == _TIMEDELTA:
            return dt.timedelta(milliseconds=_round(x * _MS_PER_DAY))
        f = x + 1462 if date1904 else x
        if f < 60:  # the days before Excel's phantom 1900-02-29
            f += 1
        d = _EPOCH + dt.timedelta(milliseconds=_round(f * _MS_PER_DAY))
    except (OverflowError, ValueError):
        return x
    if x < 1:
        return d.time()
    if x == int(x):
        return d.date()
    return d


def _iso(v: str) -> Any:
    s = v.strip()
    try:
        if "T" in s or " " in s or ":" in s:
            if ":" in s and "-" not in s:
                return dt.time.fromisoformat(s)
            return dt.datetime.fromisoformat(s.replace("Z", ""))
        return dt.date.fromisoformat(s)
    except ValueError:
        return s


# -- the workbook -------------------------------------------------------------------------
def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _parse(data: bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=True)
    return etree.fromstring(data, parser)


class XlsxBook:
    """A workbook's sheet names and paths, number formats, date system and shared strings
    (read once, when a sheet is first read)."""

    def __init__(self, path: Any):
        try:
            self.zip = zipfile.ZipFile(path)
            names = set(self.zip.namelist())
            wb = _parse(self.zip.read("xl/workbook.xml"))
            rels_xml = self.zip.read("xl/_rels/workbook.xml.rels") \
                if "xl/_rels/workbook.xml.rels" in names else b"<Relationships/>"
            rels = {r.get("Id"): r.get("Target", "") for r in _parse(rels_xml)
                    if _local(r.tag) == "Relationship"}
        except (KeyError, zipfile.BadZipFile, OSError) as e:
            raise XlsxError(str(e)) from None
        except Exception as e:  # lxml's syntax errors
            raise XlsxError(f"xl/workbook.xml: {e}") from None
        self.date1904 = False
        self.sheets: dict[str, str] = {}
        for el in wb.iter():
            name = _local(el.tag)
            if name == "workbookPr":
                self.date1904 = el.get("date1904", "0").lower() in ("1", "true")
            elif name == "sheet":
                rid = next((el.get(f"{{{ns}}}id") for ns in REL_NS
                            if el.get(f"{{{ns}}}id") is not None), None)
                target = rels.get(rid, "")
                if target.startswith("/"):
                    target = target[1:]
                elif not target.startswith("xl/"):
                    target = posixpath.normpath(posixpath.join("xl", target))
                self.sheets[el.get("name", "")] = target
        self.names = names
        self._strings: list[str] | None = None
        self._kinds: dict[bytes, int] | None = None

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> XlsxBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sheet(self, name: str) -> XlsxSheet:
        path = self.sheets.get(name)
        if path is None or path not in self.names:
            raise XlsxError(f"sheet {name!r} not found in the workbook")
        return XlsxSheet(self, path)

    # shared strings: one list of str; the usual <si><t>text</t></si> by one expression
    _SI = re.compile(rb'<si><t(?: xml:space="preserve")?>([^<]*)</t></si>')

    @property
    def strings(self) -> list[str]:
        if self._strings is None:
            self._strings = self._read_strings()
        return self._strings

    def _read_strings(self) -> list[str]:
        name = "xl/sharedStrings.xml"
        if name not in self.names:
            return []
        data = self.zip.read(name)
        body = data[data.find(b"<sst"):]
        n = body.count(b"<si>") + body.count(b"<si ") + body.count(b"<si/>")
        if b":si" not in body and b"<!" not in body and b"<?" not in body:
            raw = self._SI.findall(body)
            if len(raw) == n:
                return [_text(t) for t in raw]
        from lxml import etree

        out: list[str] = []
        for _ev, el in etree.iterparse(_BytesIO(data), events=("end",), huge_tree=True,
                                       resolve_entities=False, no_network=True,
                                       load_dtd=False):
            if _local(el.tag) == "si":
                text = _string(el)
                if text is not None:  # calamine leaves out an <si> without <t>
                    out.append(text)
                el.clear()
        return out

    @property
    def kinds(self) -> dict[bytes, int]:
        """Cell style index (``s``, as bytes) -> date/duration kind, for the date styles."""
        if self._kinds is None:
            self._kinds = {}
            if "xl/styles.xml" in self.names:
                root = _parse(self.zip.read("xl/styles.xml"))
                custom: dict[str, str] = {}
                xfs: list[str | None] = []
                for el in root:
                    if _local(el.tag) == "numFmts":
                        for f in el:
                            if _local(f.tag) == "numFmt" and f.get("formatCode"):
                                custom[f.get("numFmtId", "")] = f.get("formatCode")
                    elif _local(el.tag) == "cellXfs":
                        xfs += [x.get("numFmtId") for x in el if _local(x.tag) == "xf"]
                for i, fid in enumerate(xfs):
                    if fid is None:
                        continue
                    if fid in custom:
                        k = format_kind(custom[fid])
                    else:
                        k = _BUILTIN.get(int(fid), 0) if fid.isdigit() else 0
                    if k:
                        self._kinds[str(i).encode()] = k
        return self._kinds


def _BytesIO(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def _string(el: Any) -> str | None:
    """The text of an ``<si>`` or ``<is>``: its ``<t>``, or its runs' ``<t>`` joined
    (phonetic runs left out); ``None`` when it has no ``<t>``."""
    parts: list[str] = []
    found = False
    for child in el:
        name = _local(child.tag)
        if name == "t":
            found = True
            parts.append(child.text or "")
        elif name == "r":
            for t in child:
                if _local(t.tag) == "t":
                    found = True
                    parts.append(t.text or "")
    return _unx("".join(parts)) if found else None


# -- one sheet ------------------------------------------------------------------------------
class XlsxSheet:
    """One worksheet of an :class:`XlsxBook`, read as a stream."""

    def __init__(self, book: XlsxBook, member: str):
        self.book = book
        self.member = member
        self.start: tuple[int, int] | None = None  # like calamine's: 0-based (row, column)
        self.end: tuple[int, int] | None = None  # (first row, last column) until read
        self.merged_cell_ranges: list[tuple[tuple[int, int], tuple[int, int]]] = []
        self.last_row = 0  # 1-based, the last row yielded so far
        self._scanned = False
        self._by_style: dict[bytes, dict[bytes, Any]] = {s: {} for s in book.kinds}
        self._idx: dict[bytes, int] = {}
        self._row_index = 0
        self._want_tail = False
        self._odd: list[bool] = []  # per chunk: read by lxml (told by the scan)
        self.prefix = self.head = self.root_name = self.tail = b""

    # the XML in chunks of whole rows --------------------------------------------------------
    def _chunks(self) -> Iterator[bytes]:
        """The sheet's rows in chunks of whole rows; sets ``prefix`` (the main namespace's,
        e.g. b"x:"), ``head`` (the root start tag) and ``tail`` (the XML after the rows)."""
        self._row_index = 0
        with self.book.zip.open(self.member) as f:
            buf = b""
            while True:  # the prolog, up to <sheetData>
                more = f.read(CHUNK)
                buf += more
                m = _SHEETDATA.search(buf)
                if m:
                    break
                if not more:
                    raise XlsxError("the sheet has no <sheetData>")
            root = _ROOT.search(buf, 0, m.start())
            if root is None:
                raise XlsxError("the sheet's XML has no worksheet element")
            enc = re.search(rb"encoding=[\"']([^\"']+)", buf[:root.start()])
            if enc and enc.group(1).lower() not in (b"utf-8", b"utf8", b"ascii",
                                                     b"us-ascii"):
                raise XlsxError(f"unsupported XML encoding {enc.group(1).decode()}")
            self.prefix = (m.group(1) + b":") if m.group(1) else b""
            self.head, self.root_name = root.group(0), root.group(1)
            if m.group(2):  # <sheetData/>
                self.tail = buf[m.end():]
                self._tail_rest(f)
                return
            end_row = b"</" + self.prefix + b"row>"
            end_data = b"</" + self.prefix + b"sheetData>"
            buf = buf[m.end():]
            while True:
                i = buf.find(end_data)
                if i >= 0:
                    self.tail = buf[i:]
                    yield buf[:i]
                    self._tail_rest(f)
                    return
                j = buf.rfind(end_row)
                if j >= 0 and len(buf) >= CHUNK:
                    j += len(end_row)
                    yield buf[:j]
                    buf = buf[j:]
                more = f.read(CHUNK)
                if not more:
                    raise XlsxError("the sheet's XML ends inside <sheetData>")
                buf += more

    def _tail_rest(self, f: Any) -> None:
        """The XML after the rows (the merged ranges are there), read only when scanning."""
        if self._want_tail:
            self.tail += f.read()

    # pass 1 ---------------------------------------------------------------------------------
    def scan(self) -> None:
        """Find the data range's first row and columns, and the merged ranges."""
        st = {"lo": -1, "hi": -1, "first": -1}

        def widen(rno: int, col: int) -> None:
            st["lo"] = col if st["lo"] < 0 else min(st["lo"], col)
            st["hi"] = max(st["hi"], col)
            if st["first"] < 0:
                st["first"] = rno

        def slow(chunk: bytes) -> None:
            for rno, cells in self._slow_rows(chunk):
                for c, _v in cells:
                    widen(rno, c)

        self._want_tail = True
        self._odd = []
        try:
            for chunk in self._chunks():
                if self.prefix:
                    self._odd.append(True)
                    slow(chunk)
                    continue
                ok = True
                pos = 0
                while st["first"] < 0:  # the first cell with a value
                    hit = _FIRST.search(chunk, pos)
                    if hit is None:
                        break
                    m = _CELL.match(chunk, hit.start())
                    if m is None:  # a comment, a cell of another form: lxml decides
                        ok = False
                        break
                    if _has_value(m):
                        widen(int(m.group(2)) - 1, col_number(m.group(1)))
                    pos = m.end()
                pat = None
                while ok and st["first"] >= 0:
                    # then only a comment, CDATA, processing instruction, or a "<c" that is
                    # not a cell inside the columns seen so far (one search finds them)
                    if pat is None:
                        pat = re.compile(b'<[!?]|<c(?! r="(?!'
                                         + _outside(st["lo"], st["hi"]).encode()
                                         + b')[A-Z]{1,3}[0-9])')
                    hit = pat.search(chunk, pos)
                    if hit is None:
                        break
                    m = _CELL.match(chunk, hit.start())
                    if m is None:  # a comment, a cell of another form: lxml decides
                        ok = False
                        break
                    pos = m.end()
                    if _has_value(m):
                        widen(int(m.group(2)) - 1, col_number(m.group(1)))
                        pat = None
                # the searches above saw every "<!" and "<?" of the chunk unless they stopped
                # at an unusual cell; the rows pass reads a chunk with those by lxml
                self._odd.append(not ok and (b"<!" in chunk or b"<?" in chunk))
                if not ok:
                    slow(chunk)
        finally:
            self._want_tail = False
        if st["first"] >= 0:
            self.start, self.end = (st["first"], st["lo"]), (st["first"], st["hi"])
        self.merged_cell_ranges = []
        for ref in _MERGE.findall(self.tail):
            a, _, b = ref.decode("ascii", "replace").partition(":")
            try:
                self.merged_cell_ranges.append((parse_ref(a), parse_ref(b or a)))
            except XlsxError:
                continue
        self.tail = b""
        self._scanned = True

    # pass 2 ---------------------------------------------------------------------------------
    def numbered(self) -> Iterator[tuple[int, list[Any]]]:
        """(1-based row number, values) from row 1 to the last row with a value; ``None``
        for an empty cell (calamine has ``""``, as for an empty text or an error cell)."""
        if not self._scanned:
            self.scan()
        if self.start is None or self.end is None:
            return
        lo = self.start[1]
        w = self.end[1] - lo + 1
        nxt = 1  # the next row number to yield
        for k, chunk in enumerate(self._chunks()):
            rows = None
            # the scan saw whether the chunk has a comment, CDATA or a processing instruction
            if not self._odd[k]:
                cells = _CELL.findall(chunk)
                n = chunk.count(b"<c")  # every "<c" one usual cell (a rich-text <color> too
                if len(cells) != n and b"<f" in chunk:  # sends the chunk to lxml)
                    chunk = _FORMULA.sub(b"", chunk)  # calamine reads the <v> after them
                    cells = _CELL.findall(chunk)
                if len(cells) == n:
                    rows = self._fast_rows(cells, lo, w)
            if rows is None:
                rows = self._slow_chunk(chunk, lo, w)
            for rno, out in rows:
                if rno < nxt:
                    raise XlsxError(f"row {rno} comes after row {nxt - 1} in the sheet's XML")
                while nxt < rno:
                    yield nxt, [None] * w
                    nxt += 1
                self.last_row = rno
                yield rno, out
                nxt = rno + 1

    def _fast_rows(self, cells: list[tuple[bytes, ...]], lo: int, w: int
                   ) -> list[tuple[int, list[Any]]]:
        """``(row, values)`` of the rows with a value, from the usual cells of a chunk (the
        hot loop: one pass, the common types first, conversions cached)."""
        book = self.book
        strings = book.strings
        by_style = self._by_style  # date style -> {number text: value}
        idx = self._idx  # column letters -> position in the row
        out_rows: list[tuple[int, list[Any]]] = []
        append = out_rows.append
        cur = b""
        out: list[Any] = []
        valued = False
        for col, rno, s, t, v, txt in cells:
            if rno != cur:
                if valued:
                    append((int(cur), out))
                cur = rno
                out = [None] * w
                valued = False
            if txt:
                x = txt.decode()
                if "&" in x or "\r" in x or "_x" in x:
                    x = _fix(x)
            elif not v:
                continue
            elif t == b"n" or not t:
                d = by_style.get(s) if s else None
                if d is None:
                    try:
                        x = float(v)
                    except ValueError:
                        x = self._number(v, t, s)
                else:
                    x = d.get(v)
                    if x is None:
                        x = d[v] = self._number(v, t, s)
            elif t == b"s":
                x = strings[int(v)] or None
            else:
                x = self._other(v, t)
                if x is _SKIP:
                    continue
                if x == "":
                    x = None
            i = idx.get(col)
            if i is None:
                i = idx[col] = col_number(col) - lo
            out[i] = x
            valued = True
        if valued:
            append((int(cur), out))
        return out_rows

    def _number(self, v: bytes, t: bytes | None, s: bytes | None) -> Any:
        """A ``<v>`` of a number cell: a float, a date by the cell's style, or (no type)
        the text when it is not a number."""
        try:
            x = _float(v, t)
        except _NotANumber:
            return _fix(v.decode())
        k = self.book.kinds.get(s) if s else None
        return excel_date(x, k, self.book.date1904) if k else x

    def _other(self, v: bytes, t: bytes) -> Any:
        """A ``<v>`` of the rarer types (formula text, boolean, error, ISO date)."""
        if t == b"str":
            return _text(v)
        if t == b"b":
            return _bool(v)
        if t == b"e":
            if v not in _ERRORS:
                raise XlsxError(f"Unsupported cell error value '{v.decode()}'")
            return ""
        if t == b"inlineStr":
            return _SKIP  # calamine ignores an inline string's <v>
        if t == b"d":
            return _iso(_text(v))
        raise XlsxError(f"Unknown cell 't' attribute: {t.decode()!r}")

    def _slow_chunk(self, chunk: bytes, lo: int, w: int) -> list[tuple[int, list[Any]]]:
        rows = []
        for rno, cells in self._slow_rows(chunk):
            out: list[Any] = [None] * w
            for c, v in cells:
                out[c - lo] = None if v == "" else v
            rows.append((rno + 1, out))
        return rows

    def _slow_rows(self, chunk: bytes) -> list[tuple[int, list[tuple[int, Any]]]]:
        """(0-based row, [(0-based column, value)]) of the rows with a value, read with
        lxml element by element (a cell without ``r`` is placed as calamine places it)."""
        p = self.prefix
        doc = self.head + b"<" + p + b"sheetData>" + chunk + b"</" + p + b"sheetData></" \
            + self.root_name + b">"
        try:
            root = _parse(doc)
        except Exception as e:
            raise XlsxError(f"Xml error: {e}") from None
        data = next((el for el in root if _local(el.tag) == "sheetData"), None)
        rows: dict[int, list[tuple[int, Any]]] = {}
        row_index = self._row_index
        for row in (data if data is not None else []):
            if _local(row.tag) != "row":
                continue
            r = row.get("r")
            if r is not None:
                row_index = int(r) - 1
            col_index = 0
            for c in row:
                if _local(c.tag) != "c":
                    continue
                ref = c.get("r")
                if ref is not None:
                    rr, cc = parse_ref(ref)
                    col_index = cc
                else:
                    rr, cc = row_index, col_index
                col_index += 1
                found, value = self._value(c)
                if found:
                    rows.setdefault(rr, []).append((cc, value))
            row_index += 1
        self._row_index = row_index
        return [(r, rows[r]) for r in sorted(rows)]

    def _value(self, c: Any) -> tuple[bool, Any]:
        """(has a value, value) of a ``<c>`` element; its last ``v``/``is``/``f`` child
        decides, as in calamine."""
        t = c.get("t")
        s = c.get("s")
        found, value = False, None
        for child in c:
            name = _local(child.tag)
            if name == "is":
                text = _string(child)
                found, value = (text is not None), text
            elif name == "v":
                if t in ("inlineStr", "is"):
                    found, value = False, None
                else:
                    found, value = self._typed(child.text or "", t, s)
            elif name == "f":
                found, value = False, None
            elif name:
                raise XlsxError(f"Expecting 'v, f, or is' node, got {name!r}")
        return found, value

    def _typed(self, raw: str, t: str | None, s: str | None) -> tuple[bool, Any]:
        """A ``<v>``'s text (as lxml read it) by the cell's type."""
        if t == "s":
            if not raw:
                return False, None
            try:
                return True, self.book.strings[int(raw)]
            except (ValueError, IndexError):
                raise XlsxError("Cell string index not found in shared strings table") \
                    from None
        if t == "b":
            return True, _bool(raw.encode())
        if t == "e":
            if raw.encode() not in _ERRORS:
                raise XlsxError(f"Unsupported cell error value '{raw}'")
            return True, ""
        if t == "str":
            return True, _unx(raw)
        if t == "d":
            return True, _iso(raw)
        if t in (None, "n"):
            if not raw:
                return False, None
            try:
                x = _float(raw.encode(), t.encode() if t else b"")
            except _NotANumber:
                return True, _unx(raw)
            k = self.book.kinds.get(s.encode()) if s else None
            return True, excel_date(x, k, self.book.date1904) if k else x
        raise XlsxError(f"Unknown cell 't' attribute: {t!r}")


class _NotANumber(Exception):
    pass


def _float(v: bytes, t: bytes | None) -> float:
    try:
        return float(v)
    except ValueError:
        if not t:
            raise _NotANumber() from None
        raise XlsxError(f"Parse float error: invalid float literal {v.decode()!r}") from None


def _bool(v: bytes) -> bool:
    if v == b"1":
        return True
    if v == b"0":
        return False
    raise XlsxError(f"Unrecognized boolean cell value: {v.decode()}")


# The usual form of a cell: r, then s, then t; empty, a value or a plain inline string
# (formulas are taken out before: a capture group for them costs a fifth more time). An
# empty <v></v> or <t></t> is left to lxml (calamine tells those apart from no value).
_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})([0-9]+)"(?: s="([0-9]+)")?(?: t="([a-zA-Z]+)")?'
    rb'(?:/>|></c>|><v>([^<]+)</v></c>'
    rb'|><is><t(?: xml:space="preserve")?>([^<]+)</t></is></c>)')
_FORMULA = re.compile(rb"<f(?: [^>]*)?(?:/>|>[^<]*</f>)")
_SKIP = object()
_FIRST = re.compile(rb"<[!?]|<c")  # a comment, CDATA, processing instruction, or a cell
_SHEETDATA = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?sheetData\b[^>]*?(/?)>")
_ROOT = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?worksheet)\b[^>]*>")
_MERGE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref=[\"']([^\"']+)")


def _has_value(m: re.Match) -> bool:
    t, v, txt = m.group(4), m.group(5), m.group(6)
    if txt:
        return True
    return bool(v) and t != b"inlineStr"
