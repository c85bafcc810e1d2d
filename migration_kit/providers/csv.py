"""CSV (and delimited .txt) files: encoding and delimiter detection, streaming rows, writing.

Values are read as text (``str``); the ``null_values`` literals become ``None``. Line numbers
are physical lines (1-based) of the row's start, so a quoted field spanning lines keeps the
following rows' numbers right.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import io
import itertools
import re
from collections import Counter
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
from .schema import FieldStats, check_size, schema_diff

DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULTS: dict[str, Any] = {
    "encoding": "auto",
    "delimiter": "auto",
    "quotechar": '"',
    "header_row": 1,
    "skip_rows": 0,
    "null_values": ["", "NULL"],
    "decimal_separator": ".",
    "date_format": "%Y-%m-%d",
    "tolerate_ragged": False,
    "line_terminator": "auto",
    "max_bytes": DEFAULT_MAX_BYTES,
}
DELIMITERS = (",", ";", "\t", "|")
PREFIX_BYTES = 1024 * 1024
SNIFF_CHARS = 64 * 1024
FIELD_LIMIT = 64 * 1024 * 1024

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

if csv.field_size_limit() < FIELD_LIMIT:
    csv.field_size_limit(FIELD_LIMIT)


class CsvType:
    """Delimited text files."""

    name = "csv"
    extensions = (".csv", ".txt")
    writable = True

    # -- parameters -------------------------------------------------------------------------
    def detect(self, path: Path, params: dict) -> dict:
        path = Path(path)
        p = {**DEFAULTS, **{k: v for k, v in (params or {}).items() if v is not None}}
        p["null_values"] = list(p["null_values"])
        check_size(path, p["max_bytes"])
        file = display_name(path)
        raw = _prefix(path, PREFIX_BYTES)
        if not raw:
            raise SourceError("file is empty", location=Location(file=file))
        _refuse_binary(raw, file, None if p["encoding"] == "auto" else p["encoding"])
        if p["encoding"] == "auto":
            p["encoding"] = detect_encoding(raw)
        else:
            p["encoding"] = _codec_name(p["encoding"], file)
        text = _decode_prefix(raw, p["encoding"], file)
        if not text.strip("\ufeff \t\r\n"):
            raise SourceError("file is empty (no header row)", location=Location(file=file))
        if p["delimiter"] == "auto":
            p["delimiter"] = sniff_delimiter(text, p["quotechar"])
        if p["line_terminator"] == "auto":
            m = re.search(r"\r\n|\n|\r", text)
            p["line_terminator"] = m.group(0) if m else "\r\n"
        p["header_row"] = int(p["header_row"])
        p["skip_rows"] = int(p["skip_rows"])
        p["tolerate_ragged"] = bool(p["tolerate_ragged"])
        p["max_bytes"] = int(p["max_bytes"])
        if p["header_row"] < 1 or p["skip_rows"] < 0:
            raise SourceError("header_row must be 1 or more and skip_rows 0 or more",
                              location=Location(file=file))
        if len(p["delimiter"]) != 1 or len(p["quotechar"]) != 1:
            raise SourceError("delimiter and quotechar must be one character each",
                              location=Location(file=file))
        return p

    def _params(self, path: Path, params: dict) -> dict:
        p = {**DEFAULTS, **(params or {})}
        if "auto" in (p["encoding"], p["delimiter"], p["line_terminator"]):
            return self.detect(path, params)
        check_size(path, p["max_bytes"])
        return p

    # -- reading ----------------------------------------------------------------------------
    def read_schema(self, path: Path, params: dict, sample_rows: int = 1000) -> Schema:
        path = Path(path)
        p = self._params(path, params)
        with _Reader(path, p) as r:
            stats = [FieldStats() for _ in r.header]
            for _line, row in itertools.islice(r.rows(), max(0, sample_rows)):
                for st, v in zip(stats, row):
                    st.add(v)
            fields = [st.to_field(name, date_format=p["date_format"],
                                  decimal_separator=p["decimal_separator"])
                      for name, st in zip(r.header, stats)]
        return Schema([ObjectSchema("Row", fields)])

    def read_batches(self, path: Path, params: dict, schema: Schema,
                     batch_size: int = 5000) -> Iterator[Batch]:
        path = Path(path)
        p = self._params(path, params)
        with _Reader(path, p) as r:
            order = _column_order(schema, r.header, r.file, r.header_line)
            columns = schema.columns()
            out = BatchBuilder(columns, r.file, batch_size)
            identity = order == list(range(len(r.header)))
            for line, row in r.rows(out.warnings):
                out.add(row if identity else tuple(row[i] for i in order), line)
                if out.full:
                    yield out.take()
            if out:
                yield out.take()

    # -- writing ----------------------------------------------------------------------------
    def write(self, path: Path, params: dict, schema: Schema, columns: list[str],
              rows: Iterable[tuple]) -> int:
        path = Path(path)
        p = {**DEFAULTS, **(params or {})}
        enc = "utf-8" if p["encoding"] == "auto" else p["encoding"]
        delim = "," if p["delimiter"] == "auto" else p["delimiter"]
        term = "\r\n" if p["line_terminator"] == "auto" else p["line_terminator"]
        nulls = list(p["null_values"] or [""])
        null_text = "" if "" in nulls else nulls[0]
        fmt = _Formatter(p["date_format"], p["decimal_separator"])
        file = display_name(path)
        n = 0
        with atomic_output(path) as tmp, open(tmp, "w", encoding=enc, newline="",
                                                errors="strict") as f:
            q = p["quotechar"]
            special = re.compile("[" + re.escape(delim + q) + "\r\n]")

            def quote(v: str) -> str:
                # quote a field holding the delimiter, the quote or ANY line break (the csv
                # module only quotes the characters of its own line terminator)
                return q + v.replace(q, q + q) + q if special.search(v) else v

            try:
                for _ in range(int(p["header_row"]) - 1):
                    f.write(term)
                f.write(delim.join(quote(c) for c in columns) + term)
                for _ in range(int(p["skip_rows"])):
                    f.write(term)
                width = len(columns)
                for row in rows:
                    vals = [v if type(v) is str else null_text if v is None else fmt(v)
                            for v in row]
                    if width == 1 and vals == [""]:
                        f.write(q + q + term)  # a lone empty field, not a blank line
                    else:
                        line = delim.join(vals)
                        # the usual row has no field to quote: no quote or line break, and no
                        # delimiter but the ones between the fields
                        if (q in line or "\n" in line or "\r" in line
                                or line.count(delim) != width - 1):
                            line = delim.join(quote(v) for v in vals)
                        f.write(line + term)
                    n += 1
            except UnicodeEncodeError as e:
                raise SourceError(
                    f"row {n + 1}: {e.object[e.start:e.end]!r} cannot be written in encoding "
                    f"{enc}; choose an encoding that can hold it (e.g. utf-8)",
                    location=Location(file=file, line=n + 1 + int(p["header_row"])),
                    encoding=enc) from None
        return n


# -- helpers --------------------------------------------------------------------------------
class _Formatter:
    """Values back to text the way the file had them: dates with ``date_format``, decimals with
    ``decimal_separator``, booleans as ``true``/``false``."""

    def __init__(self, date_format: str | None, decimal_separator: str):
        self.date_format = date_format or "%Y-%m-%d"
        self.sep = decimal_separator or "."
        self._dates: dict[dt.date, str] = {}  # strftime once per distinct date

    def __call__(self, v: Any) -> str:
        if type(v) is dt.date:
            text = self._dates.get(v)
            if text is None:
                text = v.strftime(self.date_format)
                if len(self._dates) < 10_000:
                    self._dates[v] = text
            return text
        if type(v) is decimal.Decimal:  # the usual value: what the branch below returns
            s = str(v)
            return s.replace(".", self.sep) if self.sep != "." else s
        if isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float | decimal.Decimal):
            s = repr(v) if isinstance(v, float) else str(v)
            return s.replace(".", self.sep) if self.sep != "." else s
        if isinstance(v, dt.datetime):
            if v.time() == dt.time(0) and v.tzinfo is None:
                return v.strftime(self.date_format)
            return v.isoformat(sep=" ")
        if isinstance(v, dt.date):
            return v.strftime(self.date_format)
        return str(v)


def _column_order(schema: Schema, header: list[str], file: str, line: int) -> list[int]:
    """Indexes into the file's header for each schema column; mismatch -> SchemaMismatchError.

    Columns are matched by name, so a file whose columns only changed order still reads into
    the schema's column order.
    """
    cols = schema.columns()
    if cols == header:
        return list(range(len(header)))
    if sorted(cols) != sorted(header):
        found = Schema([ObjectSchema("Row", [FieldSchema(name=h) for h in header])])
        raise SchemaMismatchError(f"{file}: the file's columns differ from the provider's schema",
                                  diff=schema_diff(schema, found),
                                  location=Location(file=file, line=line))
    pos = {h: i for i, h in enumerate(header)}
    return [pos[c] for c in cols]


def _prefix(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _refuse_binary(raw: bytes, file: str, encoding: str | None) -> None:
    if raw.startswith(ZIP_MAGIC):
        raise SourceError("the file is a zip archive (an .xlsx workbook?), not a CSV text file",
                          location=Location(file=file), magic="zip")
    if raw.startswith(OLE_MAGIC):
        raise SourceError("the file is an OLE compound file (an .xls workbook?), not a CSV text "
                          "file", location=Location(file=file), magic="ole")
    enc = (encoding or "").lower().replace("_", "-")
    if enc.startswith(("utf-16", "utf-32")) or _utf16_guess(raw) or raw.startswith(
            (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    i = raw.find(b"\x00")
    if i >= 0:
        line = raw.count(b"\n", 0, i) + 1
        raise SourceError(f"the file contains a NUL byte at byte offset {i}: it is binary, "
                          "not CSV text", location=Location(file=file, line=line), offset=i)


def _utf16_guess(raw: bytes) -> str | None:
    """UTF-16 without BOM: mostly-ASCII text has a NUL in every other byte."""
    head = raw[:4096]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _codec_name(enc: str, file: str) -> str:
    try:
        return codecs.lookup(enc).name
    except LookupError:
        raise SourceError(f"unknown encoding {enc!r}; use a Python codec name or 'auto'",
                          location=Location(file=file), encoding=enc) from None


def detect_encoding(raw: bytes) -> str:
    """Encoding of a file from its first bytes: BOMs, UTF-16 without BOM, UTF-8, else
    charset-normalizer (preferring cp1252 among equally good Western single-byte guesses)."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) and len(raw) % 4 == 0 \
            and raw[:4] in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE) and b"\x00\x00" in raw[4:]:
        return "utf-32"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    guess = _utf16_guess(raw)
    if guess:
        return guess
    try:
        codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw[:256 * 1024]))
    if not matches:
        return "cp1252" if _decodes(raw, "cp1252") else "latin-1"
    best = matches[0]
    for m in matches:  # Western European legacy files: prefer cp1252 when it reads as well
        if m.chaos <= best.chaos + 0.01 and (
                m.encoding == "cp1252" or "cp1252" in (m.could_be_from_charset or ())):
            return "cp1252"
    return codecs.lookup(best.encoding).name


def _decodes(raw: bytes, enc: str) -> bool:
    try:
        codecs.getincrementaldecoder(enc)().decode(raw, final=False)
        return True
    except UnicodeDecodeError:
        return False


def _decode_prefix(raw: bytes, encoding: str, file: str) -> str:
    dec = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        return dec.decode(raw, final=False)
    except UnicodeDecodeError as e:
        raise _decode_error(raw, e.start, e, encoding, file) from None


def _decode_error(raw_before: bytes, offset: int, e: UnicodeDecodeError, encoding: str,
                  file: str, line: int | None = None) -> SourceError:
    bad = e.object[e.start:e.end]
    if line is None:
        line = raw_before.count(b"\n", 0, offset) + 1
    return SourceError(
        f"cannot decode byte(s) 0x{bad.hex()} at byte offset {offset} (line {line}) as "
        f"{encoding}; set encoding: auto to detect it, or name the file's encoding "
        "(e.g. cp1252, utf-8, utf-16)",
        location=Location(file=file, line=line), encoding=encoding, offset=offset)


def locate_decode_error(path: Path, encoding: str) -> tuple[int, int, UnicodeDecodeError] | None:
    """Byte offset, line and error of the first undecodable bytes in ``path``."""
    dec = codecs.getincrementaldecoder(encoding)(errors="strict")
    consumed = 0
    lines = 1
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1024 * 1024)
            pending = len(dec.getstate()[0])
            try:
                text = dec.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                offset = consumed - pending + e.start
                lines += _count_breaks(e.object[:e.start].decode(encoding, errors="ignore"))
                return offset, lines, e
            lines += _count_breaks(text)
            consumed += len(chunk)
            if not chunk:
                return None


def _count_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def sniff_delimiter(text: str, quotechar: str = '"') -> str:
    """The candidate delimiter (``, ; \\t |``) that splits the sample into the most consistent
    number (>1) of fields; ``,`` if none does."""
    cut = text[:SNIFF_CHARS]
    truncated = len(text) > SNIFF_CHARS
    best: tuple[float, int, int] | None = None
    choice = None
    for rank, d in enumerate(DELIMITERS):
        try:
            recs = [r for r in csv.reader(io.StringIO(cut, newline=""), delimiter=d,
                                          quotechar=quotechar) if r]
        except csv.Error:
            continue
        if truncated and len(recs) > 1:
            recs = recs[:-1]
        if not recs:
            continue
        counts = Counter(len(r) for r in recs)
        width, freq = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if width < 2:
            continue
        score = (freq / len(recs), width, -rank)
        if best is None or score > best:
            best, choice = score, d
    if choice:
        return choice
    try:
        return csv.Sniffer().sniff(cut, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return ","


class _Reader:
    """Opens a CSV file, reads its header; ``rows()`` yields ``(line, tuple)`` of data rows."""

    def __init__(self, path: Path, p: dict):
        self.path = path
        self.p = p
        self.file = display_name(path)
        self.encoding = p["encoding"]
        raw = _prefix(path, 8192)
        if not raw:
            raise SourceError("file is empty", location=Location(file=self.file))
        _refuse_binary(raw, self.file, self.encoding)
        self.f = open(path, encoding=self.encoding, errors="strict", newline="")  # noqa: SIM115
        try:
            self._start()
        except BaseException:
            self.f.close()
            raise

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(self.f, delimiter=self.p["delimiter"], quotechar=self.p["quotechar"],
                            doublequote=True, strict=False)
        prev = 0
        try:
            for rec in reader:
                start = prev + 1
                prev = reader.line_num
                yield start, rec
        except UnicodeDecodeError:
            found = locate_decode_error(self.path, self.encoding)
            if found is None:
                raise
            offset, line, e = found
            raise _decode_error(b"", offset, e, self.encoding, self.file, line=line) from None
        except csv.Error as e:
            raise SourceError(f"malformed CSV: {e}",
                              location=Location(file=self.file, line=reader.line_num)) from None

    def _start(self) -> None:
        self.it = self._records()
        want = int(self.p["header_row"])
        n = 0
        header = None
        for line, rec in self.it:
            n += 1
            if n == want:
                header, self.header_line = rec, line
                break
        if n == 0:
            raise SourceError("file is empty (no header row)", location=Location(file=self.file))
        if header is None:
            raise SourceError(f"header row {want} not found: the file has {n} rows",
                              location=Location(file=self.file))
        if not header:
            raise SourceError(f"header row {want} is blank; set header_row to the row that "
                              "holds the column names",
                              location=Location(file=self.file, line=self.header_line))
        if header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        names = [h.strip() for h in header]
        seen: dict[str, int] = {}
        for i, name in enumerate(names, 1):
            if not name:
                raise SourceError(
                    f"blank column name in the header (column {i}); every column needs a name",
                    location=Location(file=self.file, line=self.header_line, column=i))
            if name in seen:
                raise SourceError(
                    f"duplicate column name {name!r} (columns {seen[name]} and {i})",
                    location=Location(file=self.file, line=self.header_line, column=i),
                    column_name=name)
            seen[name] = i
        self.header = names
        for _ in range(int(self.p["skip_rows"])):
            if next(self.it, None) is None:
                break

    def rows(self, warnings: list[str] | None = None) -> Iterator[tuple[int, tuple]]:
        width = len(self.header)
        nulls = frozenset(self.p["null_values"] or ())
        ragged_ok = bool(self.p["tolerate_ragged"])
        for line, rec in self.it:
            if not rec:
                continue  # a blank line
            if len(rec) != width:
                what = "too many" if len(rec) > width else "too few"
                msg = f"{what} fields: {len(rec)}, expected {width} (the header's columns)"
                if not ragged_ok:
                    raise SourceError(msg + "; fix the row or set tolerate_ragged: true",
                                      location=Location(file=self.file, line=line),
                                      fields=len(rec), expected=width)
                if warnings is not None:
                    fix = "truncated" if len(rec) > width else "padded with nulls"
                    warnings.append(f"{self.file}, line {line}: {msg} ({fix})")
                rec = (rec + [None] * width)[:width] if len(rec) < width else rec[:width]
            yield line, tuple(None if v is None or v in nulls else v for v in rec)
