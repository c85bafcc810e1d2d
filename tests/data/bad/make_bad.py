"""Generate the bad and hostile input corpus of ``tests/data/bad`` (committed with its output).

Run from the repository root: ``python tests/data/bad/make_bad.py``. The output is
deterministic (fixed zip timestamps, fixed workbook properties), so re-running it changes
nothing. ``expected.yaml`` (written by hand) says what each file must produce.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = ("InvoiceNbr,Customer,InvoiceDate,DueDate,Description,ItemCode,LineDescription,Qty,"
          "UnitPrice,Discount,Account")
ROWS = [
    "INV-2001,C001,2024-03-01,2024-03-31,March delivery,FISH-01,Salmon fillet,10,189.00,0,3000",
    "INV-2001,C001,2024-03-01,2024-03-31,March delivery,FISH-02,Cod loin,5,159.50,10,3000",
    "INV-2002,C002,2024-03-03,2024-04-02,Bread order,BREAD-01,Rye bread,40,45.00,5,3100",
    "INV-2003,C004,2024-03-05,2024-04-04,Consulting,SERV-01,Workshop,7.5,1250.00,0,3000",
]
FIXED = (2024, 1, 1, 0, 0, 0)


def csv_text(rows: list[str], header: str = HEADER) -> str:
    return "\r\n".join([header, *rows]) + "\r\n"


def write(name: str, data: bytes | str) -> None:
    (HERE / name).write_bytes(data.encode("ascii") if isinstance(data, str) else data)


def with_field(row: str, index: int, value: str) -> str:
    parts = row.split(",")
    parts[index] = value
    return ",".join(parts)


def normalised_zip(data: bytes, patch: dict[str, tuple[bytes, bytes]] | None = None) -> bytes:
    """The same zip package with fixed timestamps (and ``patch``: member -> (old, new))."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" on save
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2024-01-01T00:00:00Z",
                              body)
            if patch and info.filename in patch:
                old, new = patch[info.filename]
                assert old in body, (info.filename, old)
                body = body.replace(old, new)
            dst.writestr(zipfile.ZipInfo(info.filename, FIXED), body,
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def workbook(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Items"
    for r in rows:
        ws.append(r)
    when = dt.datetime(2024, 1, 1)
    wb.properties.created = wb.properties.modified = when
    buf = io.BytesIO()
    wb.save(buf)
    return normalised_zip(buf.getvalue())


def main() -> None:
    good = csv_text(ROWS)
    write("good.csv", good)
    write("good_v2.csv", csv_text(ROWS[2:]))

    # -- encodings ---------------------------------------------------------------------
    latin = csv_text([ROWS[0], with_field(ROWS[1], 6, "Caf\xe9 cr\xe8me")]).encode("latin-1")
    write("undecodable.csv", latin)
    write("utf8_bom.csv", codecs.BOM_UTF8 + good.encode("utf-8"))
    write("utf16le_bom.csv", good.encode("utf-16"))  # Python writes LE with a BOM
    write("utf16be_bom.csv", codecs.BOM_UTF16_BE + good.encode("utf-16-be"))
    write("utf16le_nobom.csv", good.encode("utf-16-le"))

    # -- structure ---------------------------------------------------------------------
    write("ragged.csv", csv_text([ROWS[0], ROWS[1] + ",EXTRA", ROWS[2]]))
    late = [with_field(ROWS[0], 0, f"INV-{3000 + i // 2}") for i in range(1200)]
    late[1147] = ",".join(late[1147].split(",")[:-2])  # line 1149: two fields short
    write("ragged_late.csv", csv_text(late))
    write("blank_header.csv", csv_text(ROWS, HEADER.replace(",Customer,", ",,")))
    write("duplicate_header.csv", csv_text(ROWS, HEADER.replace(",Account", ",Description")))
    write("empty.csv", b"")
    # messy but data: settled by rule (issue 17)
    write("preamble.csv", "Invoice export,,,,,,,,,,\r\nPeriod: March 2024,,,,,,,,,,\r\n"
          ",,,,,,,,,,\r\n" + csv_text(ROWS) + ",,,\r\n,,\r\n")
    write("comments.csv", "# exported 2024-04-01 by the old system\r\n" + HEADER + "\r\n"
          + "\r\n".join(ROWS[:2]) + "\r\n# credit notes follow\r\n\r\n"
          + "\r\n".join(ROWS[2:]) + "\r\n")
    write("tab_separated.csv", csv_text(ROWS).replace(",", "\t"))
    write("invoices.tsv", csv_text(ROWS).replace(",", "\t"))
    write("backslash_escaped.csv", csv_text([with_field(r, 4, r.split(",")[4] + "\\, as agreed")
                                             for r in ROWS]))
    write("renamed_column.csv", csv_text(ROWS, HEADER.replace(",Customer,", ",CustomerNo,")))

    # -- binary files in disguise, broken and odd workbooks ------------------------------
    items = [["Item", "Description", "Class", "Unit", "Price", "Status"]] + [
        [f"ITEM-{i:02d}", f"Item number {i}", "FOOD", "PCS", 10 + i, "Active"]
        for i in range(1, 11)]
    xlsx = workbook(items)
    write("zip_renamed.csv", xlsx)
    write("truncated.xlsx", xlsx[: len(xlsx) // 2])
    write("huge_dimension.xlsx", normalised_zip(xlsx, {
        "xl/worksheets/sheet1.xml": (b'<dimension ref="A1:F11"/>',
                                     b'<dimension ref="A1:XFD1048576"/>')}))
    # not data, or not what the name says: refused with what the file really is
    write("fake_workbook.xlsx", csv_text(ROWS).replace(",", ";"))
    write("fake_workbook.xls", csv_text(ROWS))
    write("html_report.xls", "<html><body><table><tr><td>InvoiceNbr</td><td>Customer</td>"
          "</tr><tr><td>INV-2001</td><td>C001</td></tr></table></body></html>\r\n")
    write("empty_sheet.xlsx", workbook([]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("invoices.csv", FIXED), csv_text(ROWS))
    write("zip_not_workbook.xlsx", buf.getvalue())

    # -- hostile XML -------------------------------------------------------------------
    write("xxe.xml", '<?xml version="1.0"?>\n'
          '<!DOCTYPE invoices [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
          "<invoices><invoice><nbr>INV-1</nbr><note>&secret;</note></invoice></invoices>\n")
    lol = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    write("billion_laughs.xml", '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n  '
          + "\n  ".join(lol) + "\n]>\n<lolz><lol>&lol9;</lol></lolz>\n")
    depth = 10_000
    write("deep.xml", '<?xml version="1.0"?>\n<root>' + "<a>" * depth + "x" + "</a>" * depth
          + "</root>\n")

    # -- values the ERP refuses (record errors at import): the bad record comes first, so
    # the run stops on it before anything is saved; the good record after it stays to do.
    write("bad_date.csv", csv_text([with_field(ROWS[3], 2, "05.03.2024"), ROWS[2]]))
    write("thousands_de.csv", csv_text([with_field(ROWS[3], 8, '"1,234.50"'), ROWS[2]]))
    write("too_long.csv", csv_text([with_field(ROWS[3], 4, "x" * 300), ROWS[2]]))
    write("missing_customer.csv", csv_text([with_field(ROWS[3], 1, "C999"), ROWS[2]]))
    write("unbalanced_journal.csv",
          "BatchRef;Date;BatchText;Account;LineText;Debit;Credit\r\n"
          "ADJ-9;31.01.2024;Office supplies;6800;Paper;1 250,50;\r\n"
          "ADJ-9;31.01.2024;Office supplies;1920;Paid from bank;;1 205,50\r\n"
          "OB-1;01.01.2024;Opening balance;1920;Bank;150000,00;\r\n"
          "OB-1;01.01.2024;Opening balance;2400;Payables;;150000,00\r\n")

    # -- scenarios and formulas ---------------------------------------------------------
    scenario = ("name: {name}\nkind: import\nwindow: AR303000\nprovider: customers\n"
                "mapping:\n  - {{target: Customer.CustomerID, source: CustomerID}}\n"
                "  - {{target: Customer.CustomerName, source: \"{formula}\"}}\n"
                "  - {{action: Save}}\n")
    write("formula_syntax.scenario.yaml",
          scenario.format(name="customers_v2", formula="=Trim([Name]"))
    write("scenario_traversal.scenario.yaml",
          scenario.format(name="../../escape", formula="=Trim([Name])"))
    write("formula_python.txt", '=__import__("os").system("id")\n')
    write("formula_attribute.txt", "=Trim([Name]).__class__.__bases__\n")


if __name__ == "__main__":
    main()
