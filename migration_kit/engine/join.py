"""Header and lines from two objects (orders.csv + order_details.csv, or two sheets).

Both objects are staged in the workspace database (``mk_stage_row``) and joined there, page
by page of summary rows, so memory stays bounded. Each joined row is one detail row with its
summary row's values (columns ``Object.Field`` of both), in the order of the summary rows,
then of the detail rows. A detail row that matches no summary row, a summary row whose link
repeats, and a summary row with no lines where the window needs lines, are errors naming
file and line; the prepare is then refused and nothing changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, delete, func, select

from .. import db
from ..catalog.objects import read_part
from ..catalog.versions import FileVersion, Provider
from ..erp.store import bulk_insert
from ..errors import Location, SourceError
from ..jsonio import dump_row
from ..providers.base import RowBatch
from ..scenarios.model import Scenario
from ..workspace import Workspace

ST = db.stage_row
PAGE = 2000
LISTED = 20


def link_text(values: list[Any]) -> str | None:
    """The link fields' values as one comparable text: ``10248`` from a CSV and ``10248.0``
    from a workbook are the same key."""
    out = []
    for v in values:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out.append(str(v).strip())
    return json.dumps(out, ensure_ascii=False)


@dataclass
class _Side:
    role: str
    object: str
    fields: list[str]
    file: str  # the file as the user knows it


class TwoObjects:
    def __init__(self, ws: Workspace, sc: Scenario, prov: Provider, fv: FileVersion):
        o = sc.objects or {}
        self.sc, self.prov, self.fv = sc, prov, fv
        self.link = list((o.get("link") or {}).items())
        self.summary = _Side("summary", o["summary"],
                             prov.schema.object(o["summary"]).field_names(), "")
        self.detail = _Side("detail", o["detail"],
                            prov.schema.object(o["detail"]).field_names(), "")
        self.columns = ([f"{self.summary.object}.{f}" for f in self.summary.fields]
                        + [f"{self.detail.object}.{f}" for f in self.detail.fields])
        window = ws.windows.get(sc.window)
        self.needs_lines = any(r.get("rule") == "min_lines" for r in window.rules)

    def _stage(self, conn, side: _Side, link_fields: list[str]) -> None:
        _, _, batches = read_part(self.prov, self.fv, side.object)
        side.file = f"{self._shown(side)} of provider {self.prov.name!r}"
        idx = [side.fields.index(f) for f in link_fields]
        n = 0
        try:
            for batch in batches:
                self._stage_batch(conn, side, batch, idx, n)
                n += len(batch.rows)
        except SourceError as e:  # name the object's own file
            loc = e.location or Location()
            e.location = replace(loc, file=side.file)
            e.args = (str(e),)
            raise

    def _stage_batch(self, conn, side: _Side, batch: RowBatch, idx: list[int], n: int) -> None:
        rows = []
        for values, line in zip(batch.rows, batch.lines):
            n += 1
            rows.append({"scenario": self.sc.name, "object": side.role, "row_no": n,
                         "link": link_text([values[i] for i in idx]), "source_line": line,
                         "data": dump_row(values)})
        bulk_insert(conn, ST, rows)

    def _shown(self, side: _Side) -> str:
        from ..catalog.objects import part

        p = part(self.prov, side.object)
        return (f"{p.original_name} (sheet {side.object})" if p.file is None
                else p.original_name)

    def batches(self, conn) -> Iterator[RowBatch]:
        s = self.sc.name
        conn.execute(delete(ST).where(ST.c.scenario == s))
        self._stage(conn, self.summary, [a for a, _ in self.link])
        self._stage(conn, self.detail, [b for _, b in self.link])
        self._check(conn)
        n_d = len(self.detail.fields)
        summ, det = ST.alias("summ"), ST.alias("det")
        after = 0
        while True:
            page = conn.execute(
                select(summ.c.row_no, summ.c.data, summ.c.source_line, det.c.data.label("d"),
                       det.c.source_line.label("dline"))
                .select_from(summ.outerjoin(det, and_(
                    det.c.scenario == summ.c.scenario, det.c.object == "detail",
                    det.c.link == summ.c.link)))
                .where(and_(summ.c.scenario == s, summ.c.object == "summary",
                            summ.c.row_no > after, summ.c.row_no <= after + PAGE))
                .order_by(summ.c.row_no, det.c.row_no)).all()
            if not page:
                break
            after += PAGE
            rows, lines = [], []
            for r in page:
                head = json.loads(r.data)
                rows.append(tuple(head + (json.loads(r.d) if r.d is not None else [None] * n_d)))
                lines.append(r.dline if r.dline is not None else r.source_line)
            yield RowBatch(self.columns, rows, lines, self.detail.file)
        conn.execute(delete(ST).where(ST.c.scenario == s))

    def _check(self, conn) -> None:
        """Refuse orphan detail rows, repeated summary links, and documents with no lines
        where the window needs lines: every case named with its file and line."""
        s = self.sc.name
        summ = ST.alias("summ")
        problems: list[str] = []
        first: Location | None = None
        count = 0
        repeated = select(summ.c.link, func.min(summ.c.source_line), func.max(
            summ.c.source_line), func.count()).where(and_(
                summ.c.scenario == s, summ.c.object == "summary", summ.c.link.is_not(None))
            ).group_by(summ.c.link).having(func.count() > 1).order_by(func.min(summ.c.row_no))
        for link, a, b, n in conn.execute(repeated):
            count += 1
            first = first or Location(file=self.summary.file, line=b)
            if len(problems) < LISTED:
                problems.append(f"{self.summary.file}, line {b}: {self._key(link)} is on line "
                                f"{a} already ({n} summary rows with this link)")
        for line, link in conn.execute(self._unmatched("detail", "summary")):
            count += 1
            first = first or Location(file=self.detail.file, line=line)
            if len(problems) < LISTED:
                problems.append(f"{self.detail.file}, line {line}: no {self.summary.object} row "
                                f"with {self._key(link)}")
        if self.needs_lines:
            for line, link in conn.execute(self._unmatched("summary", "detail")):
                count += 1
                first = first or Location(file=self.summary.file, line=line)
                if len(problems) < LISTED:
                    problems.append(f"{self.summary.file}, line {line}: {self._key(link)} has "
                                    f"no {self.detail.object} lines, and window "
                                    f"{self.sc.window} needs at least one")
        if count:
            more = f"\n  ... and {count - len(problems)} more" if count > len(problems) else ""
            raise SourceError(
                f"{count} row(s) of {self.summary.object} and {self.detail.object} do not "
                "link up:\n  " + "\n  ".join(problems) + more, location=first,
                problems=problems)

    def _unmatched(self, role: str, other: str):
        """The staged rows of ``role`` whose link no row of ``other`` has, in file order."""
        s = self.sc.name
        a, b = ST.alias("a"), ST.alias("b")
        return select(a.c.source_line, a.c.link).where(and_(
            a.c.scenario == s, a.c.object == role, ~select(b.c.row_no).where(and_(
                b.c.scenario == s, b.c.object == other, b.c.link == a.c.link)).exists())
        ).order_by(a.c.row_no)

    def _key(self, link: str | None) -> str:
        if link is None:
            return "a blank link"
        vals = json.loads(link)
        return ", ".join(f"{a}={v}" for (a, _), v in zip(self.link, vals))
