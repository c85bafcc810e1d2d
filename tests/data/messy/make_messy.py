"""Generate the messy-but-data files of ``tests/data/messy`` (committed with its output).

Run from the repository root: ``python tests/data/messy/make_messy.py``. The output is
deterministic (seeded values, fixed workbook properties and zip timestamps). Each file has
a shape that real exports have and that the provider rules settle (issue 17);
``tests/providers/test_messy.py`` checks the settled names, the row count and the first
and last rows of each.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXED = (2024, 1, 1, 0, 0, 0)

GLA_HEADER = ("Vendor ID,Vendor Name,Cost Element,Expenditure Account Code Description,"
              "SAP Document Number,Clearing Date,Amount,Directorate")


def write(name: str, data: bytes) -> None:
    (HERE / name).write_bytes(data)


def normalised_zip(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2024-01-01T00:00:00Z",
                              body)
            dst.writestr(zipfile.ZipInfo(info.filename, FIXED), body,
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def save(wb) -> bytes:
    wb.properties.created = wb.properties.modified = dt.datetime(2024, 1, 1)
    buf = io.BytesIO()
    wb.save(buf)
    return normalised_zip(buf.getvalue())


def gla(period: int, month: str, rows: int, seed: int, extra_line: bool) -> bytes:
    """A spend report the way the GLA publishes them: saved from Excel as CSV in cp1252, a
    title and period preamble padded with commas, the header on line 7 (8 with
    ``extra_line``), pound amounts quoted with thousands separators, a short blank row and a
    blank line at the end."""
    rnd = random.Random(seed)
    pad = "," * 7
    pre = ["Greater London Authority" + pad, "Expenditure over £250" + pad,
           f"Period {period} 2023/24 ({month} 2023)" + pad, pad,
           "Published by the Finance team" + pad, pad]
    if extra_line:
        pre.insert(4, "Amounts include VAT where it cannot be recovered" + pad)
    body = []
    for i in range(rows):
        amount = rnd.randint(25_000, 90_000_000) / 100
        vendor = rnd.choice(["Transport for London", "ACME Catering Ltd", "Smith, Jones & Co",
                             "Café Rouge (Events)"])
        body.append(f"{100_000 + i},\"{vendor}\",{540_000 + rnd.randint(0, 99)},"
                    f"Catering & Refreshments,{5_100_000_000 + i},{1 + i % 28:02d}/10/2023,"
                    f"\"£{amount:,.2f}\",Resources")
    text = "\r\n".join(pre + [GLA_HEADER] + body) + "\r\n,,\r\n\r\n"
    return text.encode("cp1252")


def merged_two_rows() -> bytes:
    """A workbook with a merged title, a blank row, then two header rows: a group row of
    merged cells (Customer over B:C, Amount over D:F; ID and Notes merged down both rows)
    above the names."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Invoices"
    ws["A1"] = "Invoice register, third quarter 2024"
    ws.merge_cells("A1:G1")
    ws["A3"] = "ID"
    ws.merge_cells("A3:A4")
    ws["B3"] = "Customer"
    ws.merge_cells("B3:C3")
    ws["B4"], ws["C4"] = "Number", "Name"
    ws["D3"] = "Amount"
    ws.merge_cells("D3:F3")
    ws["D4"], ws["E4"], ws["F4"] = "Net", "VAT", "Gross"
    ws["G3"] = "Notes"
    ws.merge_cells("G3:G4")
    for i in range(12):
        net = 100 + 12.5 * i
        ws.append([f"INV-{i + 1:03d}", f"C{i % 4 + 1:03d}", f"Customer {i % 4 + 1}", net,
                   net * 0.25, net * 1.25, "rush" if i % 5 == 0 else None])
    return save(wb)


def merged_one_row() -> bytes:
    """One header row where "Amount" is merged over the two columns below it."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "S"
    ws.append(["Item", "Description", "Amount", None])
    ws.merge_cells("C1:D1")
    for i in range(5):
        ws.append([f"IT-{i}", f"Item {i}", 10 * i, 12 * i])
    return save(wb)


def blank_dup_csv() -> bytes:
    """Blank and duplicate header cells, trailing empty columns, blank lines and short blank
    rows at the end: the way a hand-kept sheet saved as CSV looks."""
    lines = ["id,,name,id,amount,,,"]
    for i in range(1, 21):
        lines.append(f"{i},{'X' if i % 2 else ''},Name {i},{1000 + i},{i * 1.5:.2f},,,")
        if i == 10:
            lines.append("")
    lines += [",,,,", ",,", ""]
    return ("\n".join(lines) + "\n").encode("utf-8")


def blank_dup_xlsx() -> bytes:
    """The same in a workbook: a blank header cell over data (B), one over nothing (E), a
    duplicate name, empty rows inside and after the data."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["code", None, "qty", "code", None, "note"])
    for i in range(1, 9):
        ws.append([f"K{i}", f"extra {i}" if i % 3 else None, i, f"K-{i}", None,
                   "n" if i == 4 else None])
        if i == 4:
            ws.append([])
    ws.cell(row=20, column=2).font = Font(bold=True)  # formatted, empty
    return save(wb)


def tsv() -> bytes:
    return (b"sku\tdescription\tprice\tunit\r\n"
            b"A1\tNut, small\t1,50\tpcs\r\n"
            b"A2\tBolt \"M6\"\t2,00\tpcs\r\n"
            b"A3\tWasher; steel\t0,25\tbox\r\n")


def backslash() -> bytes:
    """A database dump (MySQL ``SELECT ... INTO OUTFILE`` style): delimiters and quotes in
    values escaped with a backslash."""
    return (b"id,name,comment,amount\n"
            b"1,Smith\\, John,plain,10.00\n"
            b"2,\"Doe, Jane\",\"said \\\"yes\\\"\",20.50\n"
            b"3,O'Brien\\, Pat,a\\\\b,30.00\n"
            b"4,Lee,last,40.00\n")


def comments() -> bytes:
    return ("# generated by the old system\n# columns: code;name;city\n"
            "code;name;city\n001;Ålesund AS;Ålesund\n# moved in 2023\n002;Bergen AS;Bergen\n"
            "\n003;Oslo AS;Oslo\n").encode()


def main() -> None:
    write("gla_spend_p7.csv", gla(7, "October", 40, seed=7, extra_line=False))
    write("gla_spend_p8.csv", gla(8, "November", 33, seed=8, extra_line=True))
    write("merged_two_rows.xlsx", merged_two_rows())
    write("merged_one_row.xlsx", merged_one_row())
    write("blank_dup.csv", blank_dup_csv())
    write("blank_dup.xlsx", blank_dup_xlsx())
    write("items.tsv", tsv())
    write("items_tab.csv", tsv())
    write("backslash.csv", backslash())
    write("comments.csv", comments())


if __name__ == "__main__":
    main()
