"""CSV (and delimited .txt, .tsv, .tab) files: encoding and dialect detection, streaming rows,
writing.

Values are read as text (``str``); the ``null_values`` literals become ``None``. Line numbers
are physical lines (1-based) of the row's start, so a quoted field spanning lines keeps the
following rows' numbers right.

Messy files are settled by the rules of :mod:`.layout`: the header found below a preamble
(``header_row: auto``), blank and duplicate names, blank lines, comment lines (``comment``),
short blank rows at the end of the file. What was settled is in the schema's ``layout`` and,
for the rows of one read, in the batches' ``warnings``.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from migration_kit.errors import Location, SchemaMismatchError, SourceError

from ..values import FileText
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
    find_header,
    header_params,
    join_names,
    preamble_cells,
    spread_right,
)
from .params import CsvParams, check_params
from .registry import register
from .schema import FieldStats, check_size, schema_diff

DEFAULT_MAX_BYTES = 2 * 1024**3
# The parameters of a new provider (``detect``). ``quotechar`` and ``escapechar`` left out
# are detected with the delimiter (``delimiter: auto``), else they are '"' and none.
DEFAULTS: dict[str, Any] = {
    "encoding": "auto",
    "delimiter": "auto",
    "quotechar": "auto",
    "escapechar": "auto",
    "header_row": "auto",
    "header_rows": 1,
    "skip_rows": 0,
    "comment": None,
    "null_values": ["", "NULL"],
    "decimal_separator": ".",
    "date_format": "%Y-%m-%d",
    "tolerate_ragged": False,
    "keep_empty_columns": False,
    "rename": {},
    "line_terminator": "auto",
    "max_bytes": DEFAULT_MAX_BYTES,
}
# Stored parameters written before a parameter existed read the file the way it was read then.
STORED_DEFAULTS: dict[str, Any] = {**DEFAULTS, "quotechar": '"', "escapechar": None,
                                   "header_row": 1}
NONE_MEANS_NONE = ("escapechar", "comment")  # None is a value here, not "left out"
TAB_EXTENSIONS = (".tsv", ".tab")
DELIMITERS = (",", ";", "\t", "|")
QUOTES = ('"', "'")
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
    extensions = (".csv", ".txt", ".tsv", ".tab")
    writable = True
    params_model = CsvParams
    simplified_params: dict[str, Any] = {"delimiter": ",", "encoding": "auto"}

    # -- parameters -------------------------------------------------------------------------
    def detect(self, path: Path, params: dict) -> dict:
        path = Path(path)
        check_params(self.name, params, display_name(path))
        given = {k: v for k, v in (params or {}).items()
                 if v is not None or k in NONE_MEANS_NONE}
        p = {**DEFAULTS, **given}
        if given.get("delimiter", "auto") != "auto":
            # a known delimiter: the quote and escape are what they always were unless asked
            p["quotechar"] = given.get("quotechar", '"')
            p["escapechar"] = given.get("escapechar", None)
        p["null_values"] = list(p["null_values"])
        p["rename"] = dict(p["rename"] or {})
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
        if p["delimiter"] == "auto" and path.suffix.lower() in TAB_EXTENSIONS:
            p["delimiter"] = "\t"
        if "auto" in (p["delimiter"], p["quotechar"], p["escapechar"]):
            p["delimiter"], p["quotechar"], p["escapechar"] = sniff_dialect(
                text, p["delimiter"], p["quotechar"], p["escapechar"])
        if p["line_terminator"] == "auto":
            m = re.search(r"\r\n|\n|\r", text)
            p["line_terminator"] = m.group(0) if m else "\r\n"
        try:
            row, rows = header_params(p, auto_group=False)
        except (TypeError, ValueError) as e:
            raise SourceError(f"{e}", location=Location(file=file)) from None
        p["header_row"] = "auto" if row is None else row
        p["header_rows"] = rows
        p["skip_rows"] = int(p["skip_rows"])
        p["tolerate_ragged"] = bool(p["tolerate_ragged"])
        p["keep_empty_columns"] = bool(p["keep_empty_columns"])
        p["max_bytes"] = int(p["max_bytes"])
        if p["skip_rows"] < 0:
            raise SourceError("header_row must be 1 or more and skip_rows 0 or more",
                              location=Location(file=file))
        if len(p["delimiter"]) != 1 or len(p["quotechar"]) != 1 or (
                p["escapechar"] is not None and len(p["escapechar"]) != 1):
            raise SourceError("delimiter, quotechar and escapechar must be one character each",
                              location=Location(file=file))
        if p["comment"] is not None:
            p["comment"] = str(p["comment"])
            if not p["comment"]:
                p["comment"] = None
        return p

    def _params(self, path: Path, params: dict) -> dict:
        p = {**STORED_DEFAULTS, **(params or {})}
        if "auto" in (p["encoding"], p["delimiter"], p["line_terminator"], p["quotechar"],
                      p["escapechar"]):
            return self.detect(path, params)
        check_size(path, p["max_bytes"])
        return p

    # -- reading ----------------------------------------------------------------------------
    def read_schema(self, path: Path, params: dict, sample_rows: int = 1000) -> Schema:
        """The schema from the first ``sample_rows`` rows; the rest of the file is read too,
        leniently, to count its rows, settle the columns without a name (dropped only when
        they hold no data in the whole file) and count the rows that are not data."""
        path = Path(path)
        p = self._params(path, params)
        sample_rows = max(0, sample_rows)
        with _Reader(path, p) as r:
            stats = [FieldStats() for _ in range(r.width)]
            unnamed = [i for i, b in enumerate(r.bases) if not b]
            has_data: set[int] = set()
            n = 0
            rows = r.rows()
            try:
                r.strict = sample_rows > 0
                for _line, row in rows:
                    if n < sample_rows:
                        for st, v in zip(stats, row):
                            st.add(v)
                    n += 1
                    if n == sample_rows:
                        r.strict = False  # the rest is counted, its errors come at reading
                    if unnamed:
                        for i in unnamed:
                            if row[i] is not None and row[i] != "":
                                has_data.add(i)
                        unnamed = [i for i in unnamed if i not in has_data]
                    elif n >= sample_rows:
                        n += sum(1 for _ in rows)  # the rest: only counted
                counted: int | None = n
            except SourceError as e:
                if r.strict:
                    raise
                counted = None
                r.notes.append(f"the rows after the first {n} were not all read for the "
                               f"schema: {e}")
            names = r.settle(lambda i: i in has_data)
            fields = [stats[i].to_field(names.names[i], date_format=p["date_format"],
                                        decimal_separator=p["decimal_separator"])
                      for i in names.kept]
            layout = r.layout(names, rows=counted)
        return Schema([ObjectSchema("Row", fields)], layout=layout)

    def read_batches(self, path: Path, params: dict, schema: Schema,
                     batch_size: int = BATCH_ROWS) -> Iterator[RowBatch]:
        path = Path(path)
        p = self._params(path, params)
        with _Reader(path, p) as r:
            cols = schema.columns()
            names = r.settle_for(cols)
            order = _column_order(schema, names.columns(), r.file, r.header_line)
            positions = [names.kept[j] for j in order]
            out = BatchBuilder(cols, r.file, batch_size)
            add_row, add_line = out.rows.append, out.lines.append  # out.add, per row
            size = out.batch_size
            for line, row in r.rows(out.warnings, positions=positions, dropped=names.dropped):
                add_row(row)
                add_line(line)
                if len(out.rows) >= size:  # out.full
                    yield out.take()
                    add_row, add_line = out.rows.append, out.lines.append
            out.warnings.extend(r.skips.summary(r.file, exclude=("ragged",)))
            if out:
                yield out.take()

    # -- writing ----------------------------------------------------------------------------
    def write(self, path: Path, params: dict, schema: Schema, columns: list[str],
              rows: Iterable[tuple]) -> int:
        """Write ``rows`` in the file's dialect: one header row of the schema's (settled)
        names, at ``header_row`` when it is a number (line 1 for ``auto``); two header rows
        (group, name) when ``header_rows`` is 2. The preamble is not written back."""
        path = Path(path)
        p = {**STORED_DEFAULTS, **(params or {})}
        enc = "utf-8" if p["encoding"] == "auto" else p["encoding"]
        delim = "," if p["delimiter"] == "auto" else p["delimiter"]
        term = "\r\n" if p["line_terminator"] == "auto" else p["line_terminator"]
        q = '"' if p["quotechar"] in (None, "auto") else p["quotechar"]
        esc = None if p["escapechar"] in (None, "auto") else p["escapechar"]
        comment = p.get("comment") or None
        header_row = 1 if p["header_row"] in (None, "auto") else int(p["header_row"])
        header_rows = 2 if str(p.get("header_rows")) == "2" else 1
        nulls = list(p["null_values"] or [""])
        null_text = "" if "" in nulls else nulls[0]
        fmt = FileText(p["date_format"], p["decimal_separator"])
        file = display_name(path)
        n = 0
        with atomic_output(path) as tmp, open(tmp, "w", encoding=enc, newline="",
                                                errors="strict") as f:
            special = re.compile("[" + re.escape(delim + q + (esc or "")) + "\r\n]")

            def quote(v: str) -> str:
                # quote a field holding the delimiter, the quote or ANY line break (the csv
                # module only quotes the characters of its own line terminator); with an
                # escape character, the escape character itself is doubled
                if esc is not None and esc in v:
                    v = v.replace(esc, esc + esc)
                return q + v.replace(q, q + q) + q if special.search(v) else v

            def first(line: str, vals: list[str]) -> str:
                # a row whose first field starts with the comment prefix would read back as
                # a comment line: quote that field
                if comment and line.startswith(comment):
                    v0 = vals[0].replace(esc, esc + esc) if esc is not None else vals[0]
                    return delim.join([q + v0.replace(q, q + q) + q] +
                                      [quote(v) for v in vals[1:]])
                return line

            try:
                for _ in range(header_row - header_rows):
                    f.write(term)
                if header_rows == 2:
                    groups = [c.split(" / ", 1)[0] for c in columns]
                    names = [c.split(" / ", 1)[1] if " / " in c else c for c in columns]
                    f.write(delim.join(quote(c) for c in groups) + term)
                    f.write(delim.join(quote(c) for c in names) + term)
                else:
                    f.write(first(delim.join(quote(c) for c in columns), list(columns)) + term)
                for _ in range(int(p["skip_rows"])):
                    f.write(term)
                width = len(columns)
                plain = esc is None and not comment
                for row in rows:
                    vals = [v if type(v) is str else null_text if v is None else fmt(v)
                            for v in row]
                    if width == 1 and vals == [""]:
                        f.write(q + q + term)  # a lone empty field, not a blank line
                    else:
                        line = delim.join(vals)
                        # the usual row has no field to quote: no quote or line break, and no
                        # delimiter but the ones between the fields
                        if (not plain or q in line or "\n" in line or "\r" in line
                                or line.count(delim) != width - 1):
                            line = first(delim.join(quote(v) for v in vals), vals)
                        f.write(line + term)
                    n += 1
            except UnicodeEncodeError as e:
                raise SourceError(
                    f"row {n + 1}: {e.object[e.start:e.end]!r} cannot be written in encoding "
                    f"{enc}; choose an encoding that can hold it (e.g. utf-8)",
                    location=Location(file=file, line=n + 1 + header_row),
                    encoding=enc) from None
        return n


# -- helpers --------------------------------------------------------------------------------
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


def sniff_delimiter(text: str, quotechar: str = '"', escapechar: str | None = None
                    ) -> str:
    """The candidate delimiter (``, ; \\t |``) that splits the sample into the most consistent
    number (>1) of fields; ``,`` if none does."""
    score, choice = _best_delimiter(text, quotechar, escapechar)
    if choice:
        return choice
    try:
        return csv.Sniffer().sniff(text[:SNIFF_CHARS], delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return ","


def _best_delimiter(text: str, quotechar: str, escapechar: str | None,
                    delimiters: tuple[str, ...] = DELIMITERS
                    ) -> tuple[tuple[float, int, int] | None, str | None]:
    """(score, delimiter) of the delimiter that splits the sample most consistently.

    The score is (share of the records with the most common number of fields, that number,
    preference); records of one field (a title above the table) do not choose the number.
    """
    cut = text[:SNIFF_CHARS]
    truncated = len(text) > SNIFF_CHARS
    best: tuple[float, int, int] | None = None
    choice = None
    for rank, d in enumerate(delimiters):
        try:
            recs = [r for r in csv.reader(io.StringIO(cut, newline=""), delimiter=d,
                                          quotechar=quotechar, escapechar=escapechar) if r]
        except csv.Error:
            continue
        if truncated and len(recs) > 1:
            recs = recs[:-1]
        if not recs:
            continue
        counts = Counter(len(r) for r in recs if len(r) > 1)
        if not counts:
            continue
        width, freq = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        score = (freq / len(recs), width, -rank)
        if best is None or score > best:
            best, choice = score, d
    return best, choice


def sniff_dialect(text: str, delimiter: str = "auto", quotechar: str = "auto",
                  escapechar: str | None = "auto") -> tuple[str, str, str | None]:
    """(delimiter, quotechar, escapechar) of a sample; each "auto" one is detected.

    The plain dialect ('"' and no escape character) is taken unless another splits the sample
    more consistently: a single quote only when the sample has no double quote; a backslash
    escape (``a\\,b``, ``"say \\"hi\\""``) when it splits more consistently, or as consistently
    and every backslash of the sample stands before the delimiter, a quote or a backslash.
    """
    delims = DELIMITERS if delimiter == "auto" else (delimiter,)
    cut = text[:SNIFF_CHARS]
    quotes = list(QUOTES) if quotechar == "auto" else [quotechar]
    if quotechar == "auto" and ('"' in cut or "'" not in cut):
        quotes = ['"']
    escapes: list[str | None] = [None, "\\"] if escapechar == "auto" else [escapechar]
    if escapechar == "auto" and "\\" not in cut:
        escapes = [None]
    plain_q = quotes[0]
    plain_e = escapes[0]
    best, choice = _best_delimiter(text, plain_q, plain_e, delims)
    result = (choice, plain_q, plain_e)
    for q in quotes:
        for e in escapes:
            if (q, e) == (plain_q, plain_e):
                continue
            score, d = _best_delimiter(text, q, e, delims)
            if score is None or d is None:
                continue
            if best is None or score[0] > best[0] or (
                    e is not None and score[0] == best[0] and d == result[0]
                    and _only_escapes(cut, d, q, e)):
                best, result = score, (d, q, e)
    d = result[0]
    if d is None:
        d = delims[0] if delimiter != "auto" else sniff_delimiter(text, result[1], result[2])
    return d, result[1], result[2]


def _only_escapes(text: str, delimiter: str, quotechar: str, escapechar: str) -> bool:
    """Every escape character in ``text`` stands before the delimiter, the quote or itself."""
    ok = {delimiter, quotechar, escapechar}
    i = text.find(escapechar)
    if i < 0:
        return False
    while i >= 0:
        nxt = text[i + 1:i + 2]
        if nxt not in ok:
            return False
        i = text.find(escapechar, i + 2 if nxt == escapechar else i + 1)
    return True


class _Reader:
    """Opens a CSV file and settles its header (:mod:`.layout`); ``rows()`` yields
    ``(line, row)`` of the data rows."""

    def __init__(self, path: Path, p: dict):
        self.path = path
        self.p = p
        self.file = display_name(path)
        self.encoding = p["encoding"]
        self.skips = Skips()
        self.notes: list[str] = []
        self.strict = True
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

    def _lines(self, prefix: str) -> Iterator[str]:
        """The file's lines without the comment lines (a line that starts with ``prefix``
        where a row starts; a quoted field's next line is never a comment)."""
        no = 0
        for text in self.f:
            no += 1
            if self._at_start:
                if text.startswith(prefix):
                    self.skips.add("comment", no)
                    continue
                self._first = no
                self._at_start = False
            yield text

    def _records(self) -> Iterator[tuple[int, int, list[str]]]:
        """(row number, first line, fields) of every row, blank ones included."""
        esc = self.p.get("escapechar") or None
        prefix = self.p.get("comment") or None
        self._at_start, self._first = True, 1
        src: Iterable[str] = self._lines(prefix) if prefix else self.f
        reader = csv.reader(src, delimiter=self.p["delimiter"], quotechar=self.p["quotechar"],
                            escapechar=esc, doublequote=True, strict=False)
        prev = 0
        n = 0
        try:
            for rec in reader:
                n += 1
                if prefix:
                    start = self._first
                    self._at_start = True
                else:
                    start = prev + 1
                    prev = reader.line_num
                if n == 1 and rec and rec[0].startswith("\ufeff"):
                    rec[0] = rec[0][1:]
                yield n, start, rec
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
        try:
            want, header_rows = header_params(self.p, auto_group=False)
        except (TypeError, ValueError) as e:
            raise SourceError(str(e), location=Location(file=self.file)) from None
        self.detected = want is None
        it = self._records()
        before: list[tuple[int, int, list[str]]] = []  # the non-blank rows above the header
        header = None
        n = 0
        if want is not None:
            for recno, line, rec in it:
                n = recno
                if recno == want:
                    header = (recno, line, rec)
                    break
                if any(rec):
                    before.append((recno, line, rec))
            rest: Iterator = it
        else:
            buffered: list[tuple[int, int, list[str]]] = []
            candidates: list[tuple[int, int, list[str]]] = []
            for item in it:
                n = item[0]
                buffered.append(item)
                if any(item[2]):
                    candidates.append(item)
                    if len(candidates) >= LOOKAHEAD:
                        break
                elif len(buffered) >= 10 * LOOKAHEAD:
                    break
            if candidates:
                k = find_header([c[2] for c in candidates], [len(c[2]) for c in candidates])
                header = candidates[k]
                before = candidates[:k]
                rest = itertools.chain(buffered[buffered.index(header) + 1:], it)
            else:
                rest = it
        if n == 0 or (want is None and header is None):
            raise SourceError("file is empty (no header row)", location=Location(file=self.file))
        if header is None:
            raise SourceError(f"header row {want} not found: the file has {n} rows",
                              location=Location(file=self.file))
        recno, self.header_line, cells = header
        self.header_row = recno
        if not any(c.strip() for c in cells):
            raise SourceError(f"header row {recno} is blank; set header_row to the row that "
                              "holds the column names",
                              location=Location(file=self.file, line=self.header_line))
        names = [c.strip() for c in cells]
        rules: dict[int, str] = {}
        self.header_rows = header_rows or 1
        if self.header_rows == 2 and want is None and (not before or before[-1][0] != recno - 1):
            # nothing directly above the row found: it is the group row, the names are below
            below = next(rest, None)
            if below is not None and below[0] == recno + 1 and any(below[2]):
                before.append(header)
                header = below
                recno, self.header_line, cells = header
                self.header_row = recno
                names = [c.strip() for c in cells]
            elif below is not None:
                rest = itertools.chain([below], rest)
        if self.header_rows == 2:
            if not before or before[-1][0] != recno - 1:
                raise SourceError(
                    f"header_rows: 2, but the row above the header (row {recno}) is blank or "
                    "missing", location=Location(file=self.file, line=self.header_line))
            group = spread_right([c.strip() for c in before.pop()[2]])[:len(names)]
            group += [""] * (len(names) - len(group))
            for i, (g, name) in enumerate(zip(group, names)):
                names[i], rule = join_names(g, name)
                if rule:
                    rules[i] = rule
        self.preamble = [{"line": line, "cells": preamble_cells(rec, str)}
                         for _recno, line, rec in before]
        self.bases = names
        self.rules = rules
        self.width = len(names)
        named = [i for i, c in enumerate(names) if c]
        self.need = (named[-1] + 1) if named else 0  # rows may end early over unnamed columns
        self.it = rest
        for _ in range(int(self.p["skip_rows"])):
            item = next(self.it, None)
            if item is None:
                break
            self.skips.add("skip_rows", item[1])

    def _label(self, i: int) -> str:
        return str(i + 1)

    def settle(self, has_data) -> Names:
        """The column names, given which unnamed columns hold data."""
        return Names(self.bases, label=self._label, has_data=has_data,
                     keep_empty=bool(self.p.get("keep_empty_columns")), rules=self.rules,
                     rename=self.p.get("rename") or None,
                     location=Location(file=self.file, line=self.header_line))

    def settle_for(self, columns: list[str]) -> Names:
        """The names for reading into a schema: an unnamed column is read when the schema
        has it (it held data when the schema was read), else it is dropped."""
        if all(self.bases):
            return self.settle(lambda i: True)
        every = self.settle(lambda i: True)
        wanted = set(columns)
        return self.settle(lambda i: every.names[i] in wanted)

    def layout(self, names: Names, rows: int | None) -> Layout:
        return Layout(header_row=self.header_row, header_line=self.header_line,
                      header_rows=self.header_rows, detected=self.detected,
                      preamble=self.preamble, settled=names.settled,
                      skipped=self.skips.to_dict(), rows=rows, notes=list(self.notes))

    def rows(self, warnings: list[str] | None = None, *, positions: list[int] | None = None,
             dropped: list[int] | None = None) -> Iterator[tuple[int, tuple]]:
        """(line, values) of every data row: the values at ``positions`` (default: every
        column of the header), nulls as ``None``. ``dropped``: columns that must stay empty.

        Not data: blank lines; comment lines; short rows at the end of the file that are
        blank in every field (trailing junk). Each is counted in ``self.skips``. A row may end
        early over unnamed columns at the end of the header, or carry empty fields past it;
        any other row with the wrong number of fields is an error, or with
        ``tolerate_ragged`` is padded or truncated and reported in ``warnings``. After
        ``self.strict`` is set to False, ragged rows are only counted.
        """
        width = self.width
        need = self.need
        nulls = frozenset(self.p["null_values"] or ())
        null_of = dict.fromkeys(nulls).get  # null_of(v, v): None for a null text, else v
        ragged_ok = bool(self.p["tolerate_ragged"])
        skips = self.skips
        if positions == list(range(width)):
            positions = None
        dropped = dropped or None
        pending: list[tuple[int, list[str]]] = []  # short blank rows: junk if at the end

        def repair(line: int, rec: list) -> list | None:
            n = len(rec)
            if n < width and n >= need:
                skips.add("short_unnamed", line)
                return rec + [None] * (width - n)
            if n > width and not any(rec[width:]):
                skips.add("extra_empty", line)
                return rec[:width]
            what = "too many" if n > width else "too few"
            msg = f"{what} fields: {n}, expected {width} (the header's columns)"
            if not ragged_ok:
                if self.strict:
                    hint = ""
                    first = (rec[0] if rec else "").lstrip()
                    if not self.p.get("comment") and first[:1] in ("#", ";", "/", "*"):
                        prefix = first[:2] if first.startswith("//") else first[:1]
                        hint = f" (it looks like a comment line: set comment: {prefix!r})"
                    raise SourceError(msg + "; fix the row or set tolerate_ragged: true" + hint,
                                      location=Location(file=self.file, line=line),
                                      fields=n, expected=width)
                skips.add("ragged_later", line)
                return None
            if warnings is not None:
                fix = "truncated" if n > width else "padded with nulls"
                warnings.append(f"{self.file}, line {line}: {msg} ({fix})")
            skips.add("ragged", line)
            return (rec + [None] * width)[:width] if n < width else rec[:width]

        def out(line: int, rec: list) -> tuple[int, tuple]:
            if dropped:
                for i in dropped:
                    v = rec[i]
                    if v is not None and v != "":
                        raise SourceError(
                            f"column {i + 1} has no name and held no data when the provider's "
                            f"schema was read, so it is not read; this row has {v!r} in it. "
                            "Update the provider's schema from this file (provider "
                            "update-schema) or set keep_empty_columns: true",
                            location=Location(file=self.file, line=line, column=i + 1))
            if positions is None:
                return line, tuple(None if v is None or v in nulls else v for v in rec)
            return line, tuple(None if (v := rec[i]) is None or v in nulls else v
                               for i in positions)

        for _recno, line, rec in self.it:
            if len(rec) == width and not pending:
                if positions is None and dropped is None:
                    yield line, tuple(map(null_of, rec, rec))
                else:
                    yield out(line, rec)
                continue
            if not rec:
                skips.add("blank", line)
                continue
            if len(rec) < width and not any(rec):
                pending.append((line, rec))
                continue
            for pline, prec in pending:  # not at the end after all
                fixed = repair(pline, prec)
                if fixed is not None:
                    yield out(pline, fixed)
            pending = []
            if len(rec) != width:
                rec = repair(line, rec)
                if rec is None:
                    continue
            yield out(line, rec)
        for pline, _prec in pending:
            skips.add("trailing", pline)


register(CsvType())
