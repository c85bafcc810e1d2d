"""HTML reports a customer can read: tables and bar charts drawn as inline SVG (no plotting
library). Every value from the data is escaped."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine.reconcile import ReconcileReport

SHOWN = 200  # differences shown in the HTML (all of them are in the CSV file)
BLUE, GREEN, RED, GREY, AMBER = "#3b6ea8", "#3c8d4f", "#c0392b", "#8c8c8c", "#d68910"

# The order and wording of the counts in every output.
COUNT_LABELS = {
    "source_lines": "source lines in the file version",
    "left_out": "lines left out by restrictions",
    "prepared_lines": "prepared lines",
    "prepared_records": "prepared records",
    "imported": "imported",
    "imported_before": "imported before (skipped, in the ERP)",
    "inactive": "inactive",
    "failed": "failed (in error)",
    "not_processed": "not yet processed",
    "processed_without_document": "marked processed without a document",
    "documents_expected": "documents expected in the ERP",
    "documents_found": "documents found in the ERP",
    "documents_missing": "documents missing from the ERP",
    "documents_changed": "documents changed in the ERP after import",
    "documents_differ": "documents with other values than the file",
    "documents_extra": "documents of this scenario not in this file version",
    "lines_file": "document lines in the file",
    "lines_erp": "document lines in the ERP",
}
NOT_IN_ERP = ("inactive", "failed", "not_processed", "processed_without_document")

STYLE = """
.mk-reconcile{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
 max-width:1000px}
.mk-reconcile h2{margin:.2em 0}.mk-reconcile h3{margin:1.2em 0 .4em}
.mk-reconcile .status{display:inline-block;padding:.15em .6em;border-radius:4px;color:#fff;
 font-weight:600}
.mk-reconcile .ok{background:#3c8d4f}.mk-reconcile .bad{background:#c0392b}
.mk-reconcile table{border-collapse:collapse;margin:.4em 0;font-size:.92em}
.mk-reconcile th,.mk-reconcile td{border:1px solid #ddd;padding:.25em .6em;text-align:left;
 vertical-align:top}
.mk-reconcile td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.mk-reconcile tr.differs td{background:#fdecea}
.mk-reconcile .muted{color:#666}.mk-reconcile svg text{font-size:12px;fill:#222}
"""


def _n(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, Decimal):
        return f"{v:,f}"
    if isinstance(v, int):
        return f"{v:,}"
    return escape(str(v))


def bar_chart(title: str, rows: list[tuple[str, float, str, str]], *, width: int = 760,
              label_width: int = 340) -> str:
    """A horizontal bar chart: ``rows`` of (label, value, colour, value text)."""
    bar_h, gap, top = 18, 6, 8
    height = top * 2 + len(rows) * (bar_h + gap)
    room = width - label_width - 130
    peak = max((abs(v) for _, v, _, _ in rows), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
             f"<title>{escape(title)}</title>"]
    for i, (label, value, colour, text) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = 0 if not value else max(1.0, abs(value) / peak * room)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + bar_h - 5}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar_h}" '
            f'fill="{colour}" rx="2"/>'
            f'<text x="{label_width + w + 6:.1f}" y="{y + bar_h - 5}">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def totals_chart(report: ReconcileReport, *, width: int = 760) -> str:
    """Per numeric field two bars, file and ERP, each field on its own scale."""
    label_width, bar_h, top, group_gap = 340, 14, 8, 12
    room = width - label_width - 170
    n = len(report.totals)
    height = top * 2 + n * (2 * bar_h + 2 + group_gap)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" '
             'aria-label="control totals: file against ERP">'
             "<title>control totals: file against ERP</title>"]
    for i, t in enumerate(report.totals):
        y = top + i * (2 * bar_h + 2 + group_gap)
        peak = max(abs(t.file_in_erp), abs(t.erp)) or Decimal(1)
        parts.append(f'<text x="{label_width - 8}" y="{y + bar_h + 4}" text-anchor="end">'
                     f"{escape(t.target)}</text>")
        for j, (who, value, colour) in enumerate((
                ("file", t.file_in_erp, BLUE), ("ERP", t.erp, GREEN if t.ok else RED))):
            yy = y + j * (bar_h + 2)
            w = 0 if not value else max(1.0, float(abs(value) / peak) * room)
            parts.append(f'<rect x="{label_width}" y="{yy}" width="{w:.1f}" height="{bar_h}" '
                         f'fill="{colour}" rx="2"/>'
                         f'<text x="{label_width + w + 6:.1f}" y="{yy + bar_h - 3}">'
                         f"{who} {escape(_n(value))}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _count_rows(report: ReconcileReport) -> list[tuple[str, float, str, str]]:
    colours = {"imported": GREEN, "imported_before": GREEN, "documents_found": GREEN,
               "inactive": GREY, "left_out": GREY, "failed": RED, "not_processed": AMBER,
               "processed_without_document": AMBER, "documents_missing": RED,
               "documents_changed": RED, "documents_differ": RED, "documents_extra": RED}
    always = ("source_lines", "prepared_lines", "prepared_records", "documents_expected",
              "documents_found")
    rows = []
    for k, label in COUNT_LABELS.items():
        v = report.counts.get(k)
        if v is None or (not v and k not in always):
            continue
        rows.append((label, float(v), colours.get(k, BLUE), f"{v:,}"))
    return rows


def reconcile_fragment(report: ReconcileReport) -> str:
    """The report as an HTML fragment (styles scoped to it): for a notebook cell."""
    ok = report.ok
    h = [f"<style>{STYLE}</style><div class=\"mk-reconcile\">",
         f"<h2>Reconciliation: {escape(report.scenario)} &rarr; {escape(report.window_name)} "
         f"({escape(report.window)})</h2>",
         f'<p><span class="status {"ok" if ok else "bad"}">'
         f'{"RECONCILED" if ok else "DIFFERS"}</span> '
         f"file version {_n(report.file_version)} of provider "
         f"<b>{escape(report.provider)}</b>; {escape(report.created)}</p>"]
    if not ok:
        bad = [t.target for t in report.totals if not t.ok]
        h.append(f"<p>{_n(report.n_differences)} document(s) differ"
                 + (f"; control totals differ: {escape(', '.join(bad))}" if bad else "")
                 + ".</p>")
    for note in report.notes:
        h.append(f'<p class="muted">Note: {escape(note)}</p>')
    h.append("<h3>Counts</h3>")
    h.append(bar_chart("counts (the counts that are not zero)", _count_rows(report)))
    h.append("<table><tr><th>what</th><th>count</th></tr>")
    for k, label in COUNT_LABELS.items():
        h.append(f"<tr><td>{escape(label)}</td><td class=\"n\">"
                 f"{_n(report.counts.get(k))}</td></tr>")
    h.append("</table>")
    h.append("<h3>Control totals</h3>")
    if report.totals:
        h.append('<p class="muted">Sum of each numeric field the mapping fills: in the file '
                 "(the mapped value as the import computes it) and in the ERP, over the "
                 "documents of this scenario.</p>")
        h.append(totals_chart(report))
        reasons = [r for r in NOT_IN_ERP if any(r in t.not_in_erp for t in report.totals)]
        h.append("<table><tr><th>field</th><th>file, all records</th>"
                 + "".join(f"<th>not in the ERP: {escape(COUNT_LABELS[r])}</th>"
                           for r in reasons)
                 + "<th>file, documents</th><th>ERP</th><th>difference</th>"
                 "<th>not in this file version (ERP)</th><th></th></tr>")
        for t in report.totals:
            h.append(f'<tr class="{"" if t.ok else "differs"}"><td>{escape(t.target)}</td>'
                     f'<td class="n">{_n(t.file)}</td>'
                     + "".join(f'<td class="n">{_n(t.not_in_erp.get(r))}</td>'
                               for r in reasons)
                     + f'<td class="n">{_n(t.file_in_erp)}</td><td class="n">{_n(t.erp)}'
                     f'</td><td class="n">{_n(t.difference)}</td>'
                     f'<td class="n">{_n(t.erp_extra)}</td>'
                     f"<td>{'ok' if t.ok else 'DIFFERS'}</td></tr>")
        h.append("</table>")
    else:
        h.append('<p class="muted">The mapping fills no numeric field.</p>')
    h.append("<h3>Documents that differ from their source rows</h3>")
    if not report.n_differences:
        h.append("<p>None: every document in the ERP holds the values of its source rows "
                 "and is unchanged since the import.</p>")
    else:
        h.append("<table><tr><th>document</th><th>record</th><th>file line</th>"
                 "<th>why</th><th>details</th></tr>")
        for d in report.differences[:SHOWN]:
            details = "<br>".join(escape(x) for x in d.details[:20])
            if len(d.details) > 20:
                details += f"<br>... {len(d.details) - 20} more"
            h.append(f'<tr class="differs"><td>{escape(d.document)}</td>'
                     f'<td class="n">{_n(d.record)}</td><td class="n">{_n(d.line)}</td>'
                     f"<td>{escape(d.REASONS.get(d.reason, d.reason))}</td>"
                     f"<td>{details}</td></tr>")
        h.append("</table>")
        if report.n_differences > SHOWN:
            h.append(f"<p>... and {report.n_differences - SHOWN:,} more: every document is in "
                     "the CSV file.</p>")
    files = [p.name for p in (report.csv_path, report.json_path) if p]
    if files:
        h.append(f'<p class="muted">Per document: {escape(files[0])}; all figures: '
                 f"{escape(files[-1])}.</p>")
    h.append("</div>")
    return "".join(h)


def reconcile_html(report: ReconcileReport) -> str:
    """The report as a standalone HTML page."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Reconciliation: {escape(report.scenario)}</title></head><body>"
            + reconcile_fragment(report) + "</body></html>\n")
