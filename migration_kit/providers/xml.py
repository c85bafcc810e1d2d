"""XML files: records found by path, detail elements flattened into rows, written back nested.

A provider has one summary object (the *record*, e.g. ``/Invoices/Invoice``, or the root itself
for a single-document file such as one UBL ``Invoice``) and optional detail objects (repeated
child elements of the record with children of their own, e.g. ``cac:InvoiceLine``). With
``detail_paths: auto`` the detail objects are the record's children that repeat in the file,
and the UBL lines (``cac:InvoiceLine``, ``cac:CreditNoteLine``, ... ) even when a file has one;
``detail_paths`` may also name them (a list, or one string of comma-separated paths), and
a declared detail object stays one in a file with a single occurrence or none. Fields are
the leaf elements (nested paths flattened, ``Party/PartyName/Name``) and attributes
(``InvoicedQuantity@unitCode``, ``@id`` for the record's own).

Reading streams with ``lxml.etree.iterparse`` and clears every element once used. Hostile input
is refused before parsing: any DOCTYPE/DTD or entity declaration (XXE, entity expansion), and
nesting deeper than ``max_depth``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from migration_kit.errors import BadInputError, Location, SourceError

from ..values import FileText
from .base import (
    BATCH_ROWS,
    BatchBuilder,
    FieldSchema,
    ObjectSchema,
    RowBatch,
    Schema,
    atomic_output,
    display_name,
)
from .params import XmlParams, check_params
from .registry import register
from .schema import FieldStats, check_size

DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULTS: dict[str, Any] = {
    "record_path": "auto",
    "detail_paths": "auto",
    "namespaces": None,
    "encoding": "auto",
    "date_format": "%Y-%m-%d",
    "decimal_separator": ".",
    "max_depth": 100,
    "max_bytes": DEFAULT_MAX_BYTES,
}
PRESCAN_BYTES = 1024 * 1024
DETECT_ELEMENTS = 200_000
NO_DTD = "DTD and entities are not allowed (XXE / entity expansion protection)"
_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ROOT_START = re.compile(r"<[^?!/\s]")
_DECL_ENC = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
# UBL's aggregate components: its ``...Line`` elements (InvoiceLine, CreditNoteLine, OrderLine,
# ...) are lists by the standard, so they are detail objects even when a file has only one.
UBL_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"


def detail_list(value: Any) -> str | list[str]:
    """The ``detail_paths`` parameter as ``"auto"`` or a list of paths; a string other than
    ``auto`` is one path or several separated by commas (``-p detail_paths=cac:InvoiceLine``)."""
    if value is None or value == "auto":
        return "auto"
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise BadInputError(f"detail_paths must be 'auto', a path, or a list of paths; got {value!r}")


class XmlType:
    """XML documents: one record element per summary, details nested in it."""

    name = "xml"
    extensions = (".xml",)
    writable = True
    params_model = XmlParams
    simplified_params: dict[str, Any] = {}

    # -- parameters -------------------------------------------------------------------------
    def detect(self, path: Path, params: dict) -> dict:
        path = Path(path)
        check_params(self.name, params, display_name(path))
        p = {**DEFAULTS, **{k: v for k, v in (params or {}).items() if v is not None}}
        p["max_depth"] = int(p["max_depth"])
        p["max_bytes"] = int(p["max_bytes"])
        check_size(path, p["max_bytes"])
        file = display_name(path)
        declared = _prescan(path, file)
        if p["encoding"] == "auto":
            p["encoding"] = declared or "UTF-8"
        ns = _Ns(p["namespaces"])
        stats = _scan_structure(path, file, ns, p["max_depth"])
        p["namespaces"] = dict(ns.p2u)
        if not stats:
            raise SourceError("the XML file has no elements", location=Location(file=file))
        if p["record_path"] == "auto":
            rec = _find_record(stats)
            p["record_path"] = "/" + "/".join(rec)
        rec_steps = tuple(_steps(p["record_path"]))
        declared = detail_list(p["detail_paths"])
        if declared == "auto":
            p["detail_paths"] = ["/".join(k[len(rec_steps):]) for k, s in stats.items()
                                 if len(k) == len(rec_steps) + 1 and k[:-1] == rec_steps
                                 and s.has_children
                                 and (s.max_siblings >= 2 or _ubl_line(k[-1], ns))]
        else:
            p["detail_paths"] = [_relative(d, p["record_path"]) for d in declared]
        return p

    def _params(self, path: Path, params: dict) -> dict:
        p = {**DEFAULTS, **(params or {})}
        declared = detail_list(p["detail_paths"])
        if "auto" in (p["record_path"], declared, p["encoding"]) or p["namespaces"] is None:
            return self.detect(path, params)
        p["detail_paths"] = [_relative(d, p["record_path"]) for d in declared]
        check_size(path, p["max_bytes"])
        _prescan(path, display_name(path))
        return p

    def flattened_repeats(self, path: Path, params: dict) -> list[tuple[str, int]]:
        """Children of the record that repeat in this file (with children of their own) but
        are not detail objects under ``params``: read as summary fields, only their first
        occurrence would be read. ``[(path relative to the record, most in one record)]``."""
        path = Path(path)
        p = self._params(path, params)
        ns = _Ns(p["namespaces"])
        stats = _scan_structure(path, display_name(path), ns, p["max_depth"])
        rec = tuple(_steps(p["record_path"]))
        covered = {tuple(_steps(d))[:k] for d in p["detail_paths"]
                   for k in range(1, len(_steps(d)) + 1)}
        return [("/".join(k[len(rec):]), st.max_siblings) for k, st in stats.items()
                if len(k) == len(rec) + 1 and k[:-1] == rec and st.has_children
                and st.max_siblings >= 2 and k[len(rec):] not in covered]

    # -- reading ----------------------------------------------------------------------------
    def read_schema(self, path: Path, params: dict, sample_rows: int = 1000) -> Schema:
        path = Path(path)
        p = self._params(path, params)
        reader = _RecordReader(path, p)
        summary = _ObjectCollector()
        details = [_ObjectCollector() for _ in reader.detail_rel]
        rows = 0
        for _line, values, dets in reader.records(require=True):
            summary.add(values)
            for oi, dvals, _dline in dets:
                details[oi].add(dvals)
                summary.detail_seen(oi, values.get("\0order"), dets)
            rows += max(1, len(dets))
            if rows >= sample_rows:
                break
        kw = {"date_format": p["date_format"], "decimal_separator": p["decimal_separator"]}
        rec_name = _local(reader.rec_steps[-1])
        objects = [ObjectSchema(rec_name, summary.fields(**kw), path=p["record_path"])]
        taken = {rec_name}
        for oi, rel in enumerate(p["detail_paths"]):
            name = _unique(_local(_steps(rel)[-1]), taken)
            objects.append(ObjectSchema(name, details[oi].fields(**kw),
                                        path=p["record_path"].rstrip("/") + "/" + rel,
                                        parent=rec_name,
                                        position=summary.position(oi, objects[0].fields)))
        return Schema(objects)

    def read_batches(self, path: Path, params: dict, schema: Schema,
                     batch_size: int = BATCH_ROWS) -> Iterator[RowBatch]:
        path = Path(path)
        p = self._params(path, params)
        reader = _RecordReader(path, p)
        summary = schema.objects[0]
        s_paths = [field_path(f) for f in summary.fields]
        det_objs = schema.objects[1:]
        # detail objects by their path relative to the record, in the reader's order
        rel_of = {_relative(o.path, p["record_path"]): k for k, o in enumerate(det_objs)
                  if o.path}
        obj_for = [rel_of.get(rel) for rel in p["detail_paths"]]
        det_paths = [[field_path(f) for f in o.fields] for o in det_objs]
        widths = [len(x) for x in det_paths]
        out = BatchBuilder(schema.columns(), reader.file, batch_size)
        for line, values, dets in reader.records():
            srow = tuple(values.get(x) for x in s_paths)
            used = False
            for oi, dvals, dline in dets:
                k = obj_for[oi]
                if k is None:
                    continue
                row = list(srow)
                for j, paths in enumerate(det_paths):
                    row.extend(dvals.get(x) for x in paths) if j == k else row.extend(
                        [None] * widths[j])
                out.add(tuple(row), dline)
                used = True
                if out.full:
                    yield out.take()
            if not used:
                out.add(srow + (None,) * sum(widths), line)
                if out.full:
                    yield out.take()
        if out:
            yield out.take()

    # -- writing ----------------------------------------------------------------------------
    def write(self, path: Path, params: dict, schema: Schema, columns: list[str],
              rows: Iterable[tuple]) -> int:
        path = Path(path)
        file = display_name(path)
        p = {**DEFAULTS, **(params or {})}
        ns = _Ns(p["namespaces"])
        record_path = p["record_path"] if p["record_path"] != "auto" else (
            schema.objects[0].path or "/" + schema.objects[0].name)
        rec = [ns.clark(s) for s in _steps(record_path)]
        enc = p["encoding"] if p["encoding"] != "auto" else "UTF-8"
        nsmap = {(k or None): v for k, v in ns.p2u.items()}
        text = FileText(p["date_format"], p["decimal_separator"])
        summary = schema.objects[0]
        multi = len(schema.objects) > 1
        col = {c: i for i, c in enumerate(columns)}

        def idx(o: ObjectSchema, f: FieldSchema) -> int | None:
            return col.get(f"{o.name}.{f.name}" if multi else f.name)

        s_idx = [idx(summary, f) for f in summary.fields]
        dets = []
        for o in schema.objects[1:]:
            rel = _relative(o.path, record_path) if o.path else o.name
            dets.append((o, [ns.clark(s) for s in _steps(rel)], [idx(o, f) for f in o.fields]))
        n = 0
        line = 0

        def groups() -> Iterator[tuple[tuple, list[tuple]]]:
            nonlocal n
            key = None
            group: list[tuple] = []
            for row in rows:
                k = tuple(None if i is None else row[i] for i in s_idx)
                if group and (k != key or not dets):  # without details: one row, one record
                    yield key, group
                    group = []
                key = k
                group.append(row)
                n += 1
            if group:
                yield key, group

        try:
            with atomic_output(path) as tmp, etree.xmlfile(str(tmp), encoding=enc) as xf:
                xf.write_declaration()
                with ExitStack() as stack:
                    for k, tag in enumerate(rec[:-1]):
                        stack.enter_context(xf.element(tag, nsmap=nsmap) if k == 0
                                            else xf.element(tag))
                    count = 0
                    for key, group in groups():
                        count += 1
                        line = n
                        if len(rec) == 1 and count > 1:
                            raise SourceError(
                                "the record path is the root element, so the file holds one "
                                "record; the rows hold several (different summary values)",
                                location=Location(file=file, line=n))
                        node = _build(rec[-1], summary, key, dets, group, ns, text)
                        _emit(xf, node, nsmap if len(rec) == 1 else None)
                    if count == 0 and len(rec) == 1:
                        _emit(xf, _Node(rec[0]), nsmap)
        except ValueError as e:
            raise SourceError(f"a value cannot be written to XML: {e}",
                              location=Location(file=file, line=line)) from None
        except LookupError as e:
            raise SourceError(f"unknown encoding {enc!r}: {e}",
                              location=Location(file=file)) from None
        return n


# -- namespaces and paths -------------------------------------------------------------------
class _Ns:
    """Prefix <-> URI, ``""`` for the default namespace. Steps are ``prefix:local`` or ``local``."""

    def __init__(self, prefixes: dict[str, str] | None = None):
        self.p2u: dict[str, str] = {("" if k is None else str(k)): str(v)
                                    for k, v in (prefixes or {}).items()}
        self.u2p: dict[str, str] = {}
        for k, v in self.p2u.items():
            self.u2p.setdefault(v, k)
        self._steps: dict[str, str] = {}
        self._clark: dict[str, str] = {}

    def add(self, prefix: str | None, uri: str) -> None:
        if uri in self.u2p:
            return
        pfx = prefix or ""
        i = 0
        while pfx in self.p2u:
            pfx = f"ns{i}"
            i += 1
        self.p2u[pfx] = uri
        self.u2p[uri] = pfx

    def step(self, tag: str) -> str:
        s = self._steps.get(tag)
        if s is None:
            if tag[:1] == "{":
                uri, local = tag[1:].split("}", 1)
                if uri not in self.u2p:
                    self.add(None if "" not in self.p2u else "ns", uri)
                pfx = self.u2p[uri]
                s = f"{pfx}:{local}" if pfx else local
            else:
                s = tag
            self._steps[tag] = s
        return s

    def clark(self, step: str) -> str:
        c = self._clark.get(step)
        if c is None:
            if ":" in step:
                pfx, local = step.split(":", 1)
                if pfx not in self.p2u:
                    raise SourceError(f"unknown namespace prefix {pfx!r} in path step {step!r}; "
                                      f"known: {sorted(self.p2u)}")
                c = f"{{{self.p2u[pfx]}}}{local}"
            else:
                c = f"{{{self.p2u['']}}}{step}" if "" in self.p2u else step
            self._clark[step] = c
        return c


def _steps(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _ubl_line(step: str, ns: _Ns) -> bool:
    """A UBL line element (``cac:InvoiceLine``, ``cac:OrderLine``, ...)."""
    pfx, _, local = step.rpartition(":")
    return ns.p2u.get(pfx) == UBL_CAC and local.endswith("Line")


def _local(step: str) -> str:
    return step.rsplit(":", 1)[-1]


def _relative(path: str, record_path: str) -> str:
    """A detail path relative to the record (accepts absolute paths under the record)."""
    if path.startswith("/"):
        rec = _steps(record_path)
        steps = _steps(path)
        if steps[:len(rec)] != rec or len(steps) <= len(rec):
            raise SourceError(f"detail path {path!r} is not under the record path {record_path!r}")
        return "/".join(steps[len(rec):])
    return "/".join(_steps(path))


def _unique(name: str, taken: set[str]) -> str:
    out, i = name, 2
    while out in taken:
        out, i = f"{name}_{i}", i + 1
    taken.add(out)
    return out


def field_path(f: FieldSchema) -> str:
    """A field's XML path; without one (a hand-made schema), derived from its name:
    ``Party/Name`` -> ``Party/Name``, ``Q@unit`` -> ``Q/@unit``, ``@id`` -> ``@id``."""
    if f.path:
        return f.path
    name = f.name
    if "@" in name and not name.startswith("@"):
        el, attr = name.rsplit("@", 1)
        return f"{el}/@{attr}"
    return name


def field_name(path: str) -> str:
    """``cac:Price/cbc:PriceAmount`` -> ``Price/PriceAmount``; ``cbc:Q/@unitCode`` ->
    ``Q@unitCode``; ``@id`` -> ``@id``."""
    steps = path.split("/")
    if steps[-1].startswith("@"):
        return "/".join(_local(s) for s in steps[:-1]) + "@" + _local(steps[-1][1:])
    return "/".join(_local(s) for s in steps)


# -- hostile input and parsing --------------------------------------------------------------
def _prescan(path: Path, file: str) -> str | None:
    """Refuse DTDs and entity declarations before lxml sees the file; return the declared
    encoding (or None)."""
    with open(path, "rb") as f:
        raw = f.read(PRESCAN_BYTES)
    if not raw.strip():
        raise SourceError("file is empty", location=Location(file=file))
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = raw.decode("utf-16", errors="replace")
    elif raw[:2] == b"<\x00":
        text = raw.decode("utf-16-le", errors="replace")
    elif raw[:2] == b"\x00<":
        text = raw.decode("utf-16-be", errors="replace")
    else:
        text = raw.decode("latin-1")
    text = text.lstrip("\ufeff\xef\xbb\xbf")
    root = _root_start(text)
    prolog = text if root is None else text[:root]
    m = _DTD.search(prolog)
    if m:
        line = prolog.count("\n", 0, m.start()) + 1
        raise SourceError(f"{NO_DTD}: the file declares <!{m.group(1).upper()} ...>",
                          location=Location(file=file, line=line, column=m.start() -
                                            prolog.rfind("\n", 0, m.start())))
    d = _DECL_ENC.match(text)
    return d.group(1) if d else None


def _root_start(text: str) -> int | None:
    """Offset of the root element's start tag, skipping comments and processing instructions."""
    i = 0
    while True:
        j = text.find("<", i)
        if j < 0:
            return None
        if text.startswith("<!--", j):
            k = text.find("-->", j + 4)
            if k < 0:
                return None
            i = k + 3
        elif text.startswith("<?", j):
            k = text.find("?>", j + 2)
            if k < 0:
                return None
            i = k + 2
        elif text.startswith("<!", j):
            return None  # a DOCTYPE (or other declaration): still in the prolog
        else:
            return j


# libxml2 (2.14 and newer) refuses nesting deeper than this itself, before lxml reports an
# element of it: that is the max_depth error too, where max_depth is below it
LIBXML2_DEPTH = 256


def _iterparse(path: Path, file: str, events: tuple[str, ...], max_depth: int
               ) -> Iterator[tuple[str, Any]]:
    ctx = etree.iterparse(str(path), events=events, resolve_entities=False, no_network=True,
                          load_dtd=False, huge_tree=False, remove_comments=True,
                          remove_pis=True, dtd_validation=False, attribute_defaults=False)
    first = True
    try:
        for ev, el in ctx:
            if first and ev == "start":
                first = False
                di = el.getroottree().docinfo
                if di.doctype or di.internalDTD is not None or di.externalDTD is not None:
                    raise SourceError(NO_DTD, location=Location(file=file, line=1))
            yield ev, el
    except etree.XMLSyntaxError as e:
        # the error log holds the root cause (iterparse may report a later symptom)
        first = next((x for x in e.error_log if x.level >= etree.ErrorLevels.ERROR
                      and x.filename and Path(x.filename).resolve() == path.resolve()), None)
        if first is not None:
            msg, line, column = first.message, first.line, first.column
        else:
            msg, (line, column) = e.msg, (e.position or (e.lineno, None))
        if "entity amplification" in msg or "entity reference loop" in msg:
            # libxml2 2.14 stops an entity expansion itself, before lxml yields an element
            raise SourceError(NO_DTD, location=Location(file=file, line=line or 1)) from None
        if "Excessive depth" in msg:
            limit = min(max_depth, LIBXML2_DEPTH)
            raise SourceError(
                f"elements are nested deeper than {limit} levels ("
                + ("max_depth" if limit == max_depth else "the XML parser's limit") + ")",
                location=Location(file=file, line=line or None, column=column or None),
                max_depth=limit) from None
        raise SourceError(f"XML is not well-formed: {msg}",
                          location=Location(file=file, line=line or None,
                                            column=column or None)) from None


def _too_deep(file: str, el: Any, limit: int) -> SourceError:
    return SourceError(f"elements are nested deeper than {limit} levels (max_depth)",
                       location=Location(file=file, line=el.sourceline), max_depth=limit)


@dataclass
class _PathStats:
    count: int = 0
    max_siblings: int = 0
    has_children: bool = False
    has_leaf_children: bool = False


def _scan_structure(path: Path, file: str, ns: _Ns, max_depth: int
                    ) -> dict[tuple[str, ...], _PathStats]:
    """Shape of the first elements of the file: per path, how often it repeats under one
    parent and whether it has children / leaf children. Memory bounded: elements are cleared."""
    stats: dict[tuple[str, ...], _PathStats] = {}
    stack: list[list[Any]] = []  # [path, child counts, has_child, has_leaf_child]
    seen = 0

    def close(frame: list[Any]) -> None:
        path, counts, has_child, has_leaf = frame
        st = stats[path]
        st.has_children |= has_child
        st.has_leaf_children |= has_leaf
        for step, c in counts.items():
            cs = stats[path + (step,)]
            cs.max_siblings = max(cs.max_siblings, c)

    for ev, el in _iterparse(path, file, ("start", "end", "start-ns"), max_depth):
        if ev == "start-ns":
            ns.add(*el)
        elif ev == "start":
            if len(stack) >= max_depth:
                raise _too_deep(file, el, max_depth)
            step = ns.step(el.tag)
            p = (stack[-1][0] if stack else ()) + (step,)
            st = stats.get(p)
            if st is None:
                st = stats[p] = _PathStats()
            st.count += 1
            if stack:
                parent = stack[-1]
                parent[1][step] = parent[1].get(step, 0) + 1
                parent[2] = True
            stack.append([p, {}, False, False])
        else:
            frame = stack.pop()
            if not frame[2] and stack:
                stack[-1][3] = True
            close(frame)
            seen += 1
            el.clear()
            parent = el.getparent()
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]
            if seen >= DETECT_ELEMENTS:
                break
    while stack:
        frame = stack.pop()
        if not frame[2] and stack:
            stack[-1][3] = True
        close(frame)
    return stats


def _find_record(stats: dict[tuple[str, ...], _PathStats]) -> tuple[str, ...]:
    """The record element: the repeated element under the root (``/Invoices/Invoice``),
    descending through single wrappers, or the root itself if it holds values."""
    node = next(iter(stats))
    while True:
        kids = [k for k in stats if len(k) == len(node) + 1 and k[:-1] == node]
        if not kids or stats[node].has_leaf_children:
            return node
        repeated = [k for k in kids if stats[k].max_siblings >= 2 and stats[k].has_children]
        if repeated:
            return max(repeated, key=lambda k: stats[k].count)
        if len(kids) == 1 and stats[kids[0]].has_children:
            if stats[kids[0]].has_leaf_children:
                return kids[0]
            node = kids[0]
            continue
        return node


# -- records --------------------------------------------------------------------------------
class _RecordReader:
    """Streams ``(line, summary values, [(detail index, values, line), ...])`` per record.

    Values are dicts keyed by field path (``cbc:ID``, ``cac:Price/cbc:PriceAmount``,
    ``cbc:Q/@unitCode``); the first occurrence of a path wins.
    """

    def __init__(self, path: Path, p: dict):
        self.path = path
        self.file = display_name(path)
        self.p = p
        self.ns = _Ns(p["namespaces"])
        self.rec_steps = _steps(p["record_path"])
        if not self.rec_steps:
            raise SourceError("record_path is empty", location=Location(file=self.file))
        self.rec = tuple(self.ns.clark(s) for s in self.rec_steps)
        self.detail_rel = [tuple(self.ns.clark(s) for s in _steps(d)) for d in p["detail_paths"]]
        self.detail_steps = [_steps(d) for d in p["detail_paths"]]
        self.max_depth = int(p.get("max_depth") or 100)

    def records(self, require: bool = False
                ) -> Iterator[tuple[int, dict[str, Any], list[tuple[int, dict, int]]]]:
        """``require``: no record at all is an error even if the records' parent exists
        (schema inference); otherwise a file with zero records reads as zero rows."""
        rec = self.rec
        n = len(rec)
        det_index = {d: i for i, d in enumerate(self.detail_rel)}
        skip = {"/".join(s) for s in self.detail_steps}
        ancestors = {"/".join(s[:k]) for s in self.detail_steps for k in range(1, len(s))}
        stack: list[str] = []
        dets: list[tuple[int, dict, int]] = []
        order: list[Any] = []
        shells: list[Any] = []
        found = False
        container = False
        for ev, el in _iterparse(self.path, self.file, ("start", "end", "start-ns"),
                                 self.max_depth):
            if ev == "start":
                stack.append(el.tag)
                if len(stack) > self.max_depth:
                    raise _too_deep(self.file, el, self.max_depth)
                if len(stack) == n - 1 and not container and tuple(stack) == rec[:-1]:
                    container = True  # the records' parent exists: zero records is fine
                continue
            if ev == "start-ns":
                self.ns.add(*el)
                continue
            depth = len(stack)
            if depth > n and tuple(stack[:n]) == rec:
                i = det_index.get(tuple(stack[n:]))
                if i is not None:
                    values: dict[str, Any] = {}
                    _walk(el, "", values, self.ns, None, None)
                    dets.append((i, values, el.sourceline))
                    if depth == n + 1 and (not order or order[-1] != ("\0detail", i)):
                        order.append(("\0detail", i))
                    for s in shells:  # earlier detail elements, fully parsed: drop them
                        parent = s.getparent()
                        if parent is not None:
                            parent.remove(s)
                    el.clear()
                    shells = [el]
                elif depth == n + 1:
                    order.append(self.ns.step(el.tag))
            elif depth == n and tuple(stack) == rec:
                found = True
                for s in shells:
                    parent = s.getparent()
                    if parent is not None:
                        parent.remove(s)
                shells = []
                values = {"\0order": order}
                _walk(el, "", values, self.ns, skip, ancestors)
                yield el.sourceline, values, dets
                dets, order = [], []
                el.clear()
                parent = el.getparent()
                if parent is not None:
                    while el.getprevious() is not None:
                        del parent[0]
            elif depth > n or tuple(stack) != rec[:depth]:
                el.clear()  # outside any record
            stack.pop()
        if not found and (require or not container):
            raise SourceError(f"no element at the record path {self.p['record_path']!r}",
                              location=Location(file=self.file),
                              record_path=self.p["record_path"])


def _walk(el: Any, prefix: str, out: dict[str, Any], ns: _Ns, skip: set[str] | None,
          ancestors: set[str] | None) -> None:
    for k, v in el.attrib.items():
        out.setdefault(f"{prefix}@{ns.step(k)}", v)
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        path = prefix + ns.step(tag)
        if skip and path in skip:
            continue
        if len(child) or (ancestors and path in ancestors):
            _walk(child, path + "/", out, ns, skip, ancestors)
        else:
            out.setdefault(path, child.text or "")
            for k, v in child.attrib.items():
                out.setdefault(f"{path}/@{ns.step(k)}", v)


@dataclass
class _ObjectCollector:
    """Field paths in document order (merged over records) with their value statistics."""

    paths: list[str] = field(default_factory=list)
    stats: dict[str, FieldStats] = field(default_factory=dict)
    after: dict[int, set[str]] = field(default_factory=dict)
    before: dict[int, set[str]] = field(default_factory=dict)

    def add(self, values: dict[str, Any]) -> None:
        prev = -1
        for path, v in values.items():
            if path.startswith("\0"):
                continue
            st = self.stats.get(path)
            if st is None:
                st = self.stats[path] = FieldStats()
                prev += 1
                self.paths.insert(prev, path)
            else:
                prev = self.paths.index(path)
            st.add(v)

    def detail_seen(self, oi: int, order: list[Any] | None, _dets: list) -> None:
        """Remember which top-level summary elements came before/after detail ``oi``."""
        if oi in self.after or not order:
            return
        marks = [k for k, o in enumerate(order) if o == ("\0detail", oi)]
        if not marks:
            return
        self.before[oi] = {o for o in order[:marks[0]] if isinstance(o, str)}
        self.after[oi] = {o for o in order[marks[-1] + 1:] if isinstance(o, str)}

    def position(self, oi: int, fields: list[FieldSchema]) -> int | None:
        after = self.after.get(oi, set()) - self.before.get(oi, set())
        for i, f in enumerate(fields):
            first = field_path(f).split("/")[0]
            if first in after:
                return i
        return None

    def fields(self, **kw: Any) -> list[FieldSchema]:
        taken: set[str] = set()
        return [self.stats[pth].to_field(_unique(field_name(pth), taken), path=pth, **kw)
                for pth in self.paths]


# -- writing --------------------------------------------------------------------------------
class _Node:
    __slots__ = ("tag", "attrib", "text", "children")

    def __init__(self, tag: str):
        self.tag = tag
        self.attrib: dict[str, str] = {}
        self.text: str | None = None
        self.children: list[_Node] = []

    def child(self, tag: str) -> _Node:
        for c in self.children:
            if c.tag == tag:
                return c
        c = _Node(tag)
        self.children.append(c)
        return c


def _set(node: _Node, path: str, value: str, ns: _Ns) -> None:
    steps = path.split("/")
    attr = steps.pop()[1:] if steps[-1].startswith("@") else None
    for s in steps:
        node = node.child(ns.clark(s))
    if attr is not None:
        node.attrib[ns.clark(attr) if ":" in attr else attr] = value
    else:
        node.text = value


def _fill(node: _Node, fields: list[FieldSchema], idx: list[int | None], row: tuple, ns: _Ns,
          text: FileText, start: int = 0, stop: int | None = None) -> None:
    for f, i in list(zip(fields, idx))[start:stop]:
        if i is None:
            continue
        v = row[i]
        if v is not None:
            _set(node, field_path(f), text(v), ns)


def _build(tag: str, summary: ObjectSchema, key: tuple, dets: list, group: list[tuple], ns: _Ns,
           text: FileText) -> _Node:
    """One record element: summary fields, with the detail elements at their position."""
    root = _Node(tag)
    s_idx = list(range(len(key)))
    cuts = sorted({o.position for o, _, _ in dets
                   if o.position is not None and o.position < len(key)})
    bounds = [0, *cuts, None]
    for a, b in zip(bounds, bounds[1:]):
        _fill(root, summary.fields, s_idx, key, ns, text, a, b)
        if b is None:
            here = [d for d in dets if d[0].position is None or d[0].position >= len(key)]
        else:
            here = [d for d in dets if d[0].position == b]
        for row in group:
            for o, steps, idx in here:
                if all(i is None or row[i] is None for i in idx):
                    continue
                parent = root
                for s in steps[:-1]:
                    parent = parent.child(s)
                node = _Node(steps[-1])
                parent.children.append(node)
                _fill(node, o.fields, idx, row, ns, text)
    return root


def _emit(xf: Any, node: _Node, nsmap: dict | None = None) -> None:
    with xf.element(node.tag, node.attrib, nsmap=nsmap) if nsmap else \
            xf.element(node.tag, node.attrib):
        if node.text:
            xf.write(node.text)
        for c in node.children:
            _emit(xf, c)


register(XmlType())
