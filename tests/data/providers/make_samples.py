"""Generate the provider test files in this folder. Run: python tests/data/providers/make_samples.py

Every file is small and committed; this script documents exactly how each one was made.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils.datetime import CALENDAR_MAC_1904

HERE = Path(__file__).parent


FIXED = dt.datetime(2024, 1, 1, 12, 0, 0)


def save(wb: openpyxl.Workbook, target: Path | io.BytesIO) -> None:
    """Save with fixed document timestamps so regenerating gives the same bytes."""
    wb.properties.created = wb.properties.modified = FIXED
    if isinstance(target, Path):
        buf = io.BytesIO()
        wb.save(buf)
        w(target.name, buf.getvalue())
    else:
        wb.save(target)


def fix_zip_times(data: bytes) -> bytes:
    """Rewrite a zip with fixed entry timestamps (zipfile stamps entries with 'now')."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            data = zin.read(item.filename)
            if item.filename == "docProps/core.xml":  # openpyxl stamps 'modified' with now
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2024-01-01T12:00:00Z",
                              data)
            zout.writestr(info, data)
    return out.getvalue()


def w(name: str, data: bytes | str, encoding: str = "utf-8") -> None:
    raw = data if isinstance(data, bytes) else data.encode(encoding)
    if raw.startswith(b"PK\x03\x04"):
        raw = fix_zip_times(raw)
    (HERE / name).write_bytes(raw)


# -- CSV ------------------------------------------------------------------------------------
def csv_files() -> None:
    w("basic.csv",
      "id,name,amount,issued,active,code\r\n"
      "1,Alpha,10.50,2024-01-31,true,00123\r\n"
      "2,Beta,3,2024-02-29,false,00456\r\n"
      "3,,NULL,,true,\r\n"
      "4,\"Delta, Inc.\",-7.25,2024-12-01,false,A-1\r\n")
    nordic = ("kundenr;navn;by;beløp\r\n"
              "1;Müller GmbH;Köln;12,50\r\n"
              "2;Æbleø A/S;Århus;€ 3,00\r\n"
              "3;Señor Niño;Málaga;1,00\r\n")
    w("cp1252.csv", nordic, "cp1252")
    w("latin1.csv", "id,name,city\n1,François,Orléans\n2,Jürgen,Düsseldorf\n3,Åsa,Malmö\n",
      "latin-1")
    w("utf8_bom.csv", "\ufeffid,name\n1,Zoë\n2,Łukasz\n")
    w("utf16.csv", "id\tname\tcity\r\n1\tÅse\tBergen\r\n2\t李\t北京\r\n", "utf-16")
    w("utf16le_nobom.csv", "id,name\r\n1,Ærlig\r\n2,Ola\r\n", "utf-16-le")
    w("tab.txt", "id\tname\tqty\n1\tbolt\t10\n2\tnut, small\t20\n")
    w("pipe.csv", "id|name|qty\n1|bolt|10\n2|nut; small|20\n")
    w("quoted_newlines.csv",
      'id,note,qty\r\n'
      '1,"first line\r\nsecond line",5\r\n'
      '2,"a ""quoted"" word, and a comma",6\r\n'
      '3,"three\nlines\nhere",7\r\n'
      '4,plain,8\r\n')
    w("header_row.csv",
      "Export of items\n"
      "generated 2024-05-01\n"
      "sku;description;price\n"
      "(text);(text);(NOK)\n"
      "A1;Hammer;99,90\n"
      "A2;Saw;149,00\n")
    w("date_format.csv",
      "nr;dato;beløp\n1;31.01.2024;1234,50\n2;29.02.2024;-0,75\n3;01.12.2024;10\n")
    w("null_values.csv", "id,value\n1,N/A\n2,-\n3,x\n4,\n")
    w("ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    w("blank_header.csv", "id,,name\n1,2,3\n")
    w("duplicate_header.csv", "id,name,id\n1,2,3\n")
    w("empty.csv", b"")
    w("header_only.csv", "id,name\n")
    # valid UTF-8 for the first lines, then a cp1252 byte (0xE9, é) on line 4
    w("bad_utf8.csv", b"id,name\n1,ok\n2,fine\n3,caf\xe9\n4,more\n")
    w("binary.csv", b"id,name\n1,\x00\x01\x02\x03binary\x00\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.csv", "id,name\n1,x\n")
    w("zipped.csv", buf.getvalue())


# -- Excel ----------------------------------------------------------------------------------
def _basic_sheet(ws: object) -> None:
    ws.append(["id", "name", "amount", "issued", "active", "code"])
    for i in range(1, 11):
        ws.append([i, f"Item {i}", i * 1.25, dt.date(2024, 1, i), i % 2 == 0, f"{i:05d}"])


def excel_files() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Items"
    _basic_sheet(ws)
    wb.create_sheet("Other").append(["x", "y"])
    save(wb, HERE / "basic.xlsx")

    # 10 real rows, formatted-but-empty phantom cells far away, and a stored dimension that
    # claims the whole sheet (A1:XFD1048576)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    _basic_sheet(ws)
    for r in (50, 500, 5000):
        ws.cell(row=r, column=3).font = Font(bold=True)
    ws.cell(row=12, column=40).font = Font(italic=True)
    buf = io.BytesIO()
    save(wb, buf)
    zin = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb'<dimension ref="[^"]*"/>',
                                  b'<dimension ref="A1:XFD1048576"/>', data)
                assert n == 1
            zout.writestr(item, data)
    w("phantom_dimension.xlsx", out.getvalue())

    wb = openpyxl.Workbook()
    wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "Mac"
    ws.append(["id", "when", "stamp"])
    ws.append([1, dt.date(2020, 5, 17), dt.datetime(2021, 1, 2, 3, 4, 5)])
    ws.append([2, dt.date(1999, 12, 31), dt.datetime(2000, 2, 29, 23, 59, 0)])
    save(wb, HERE / "date1904.xlsx")

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Report"
    ws["B1"] = "Quarterly report"
    ws["B3"], ws["C3"], ws["D3"] = "sku", "qty", "price"
    ws["B4"], ws["C4"], ws["D4"] = "A1", 5, 9.5
    ws["B6"], ws["C6"], ws["D6"] = "A2", 7, 12  # row 5 is empty
    save(wb, HERE / "offset.xlsx")

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws.append(["id", None, "name"])
    ws.append([1, 2, "x"])
    save(wb, HERE / "blank_header.xlsx")

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws.append(["id", "name", "id"])
    ws.append([1, "x", 3])
    save(wb, HERE / "duplicate_header.xlsx")

    # what an encrypted workbook looks like on disk: an OLE compound document named .xlsx
    w("encrypted.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    w("not_a_workbook.xlsx", "id,name\n1,x\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "just a zip")
    w("zip_not_workbook.xlsx", buf.getvalue())


# -- XML ------------------------------------------------------------------------------------
UBL_NS = ('xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
          'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" '
          'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"')


def _ubl_body(inv: str, customer: str, lines: list[tuple[str, str, str, str]], ind: str) -> str:
    out = [f"{ind}<cbc:ID>{inv}</cbc:ID>",
           f"{ind}<cbc:IssueDate>2024-03-01</cbc:IssueDate>",
           f"{ind}<cac:AccountingCustomerParty>",
           f"{ind}  <cac:Party>",
           f"{ind}    <cac:PartyName><cbc:Name>{customer}</cbc:Name></cac:PartyName>",
           f"{ind}  </cac:Party>",
           f"{ind}</cac:AccountingCustomerParty>"]
    total = 0.0
    for lid, qty, unit, price in lines:
        total += float(qty) * float(price)
        out += [f"{ind}<cac:InvoiceLine>",
                f"{ind}  <cbc:ID>{lid}</cbc:ID>",
                f'{ind}  <cbc:InvoicedQuantity unitCode="{unit}">{qty}</cbc:InvoicedQuantity>',
                f'{ind}  <cac:Price><cbc:PriceAmount currencyID="NOK">{price}</cbc:PriceAmount>'
                "</cac:Price>",
                f"{ind}</cac:InvoiceLine>"]
    out.append(f'{ind}<cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="NOK">{total:.2f}'
               "</cbc:PayableAmount></cac:LegalMonetaryTotal>")
    return "\n".join(out)


def _ubl_bill(ref: str, supplier: str, lines: list[tuple[str, str, str, str, str]]) -> str:
    """One UBL supplier invoice as its own file (the root is the record), shaped like
    templates/samples/supplier_invoices.xml: lines of (quantity, unit, account, item, price)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f"<Invoice {UBL_NS}>",
           f"  <cbc:ID>{ref}</cbc:ID>", "  <cbc:IssueDate>2024-04-02</cbc:IssueDate>",
           "  <cbc:DueDate>2024-05-02</cbc:DueDate>", f"  <cbc:Note>Bill {ref}</cbc:Note>",
           "  <cac:AccountingSupplierParty><cac:Party><cac:PartyIdentification>"
           f"<cbc:ID>{supplier}</cbc:ID></cac:PartyIdentification></cac:Party>"
           "</cac:AccountingSupplierParty>"]
    for k, (qty, unit, account, item, price) in enumerate(lines, start=1):
        out += ["  <cac:InvoiceLine>", f"    <cbc:ID>{k}</cbc:ID>",
                f'    <cbc:InvoicedQuantity unitCode="{unit}">{qty}</cbc:InvoicedQuantity>',
                f"    <cbc:AccountingCost>{account}</cbc:AccountingCost>",
                f"    <cac:Item><cbc:Name>{item}</cbc:Name></cac:Item>",
                f"    <cac:Price><cbc:PriceAmount>{price}</cbc:PriceAmount></cac:Price>",
                "  </cac:InvoiceLine>"]
    return "\n".join(out + ["</Invoice>", ""])


def _order(no: str, lines: list[tuple[str, str]]) -> str:
    """An order without namespaces; its Line elements are not UBL lines."""
    body = "".join(f"  <Line><Item>{item}</Item><Qty>{qty}</Qty></Line>\n" for item, qty in lines)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Order>\n  <No>{no}</No>\n'
            f"  <Date>2024-04-02</Date>\n{body}  <Total>{len(lines)}</Total>\n</Order>\n")


def xml_files() -> None:
    # one UBL bill with a single line, then one with three: versions of the same provider
    w("ubl_bill_one_line.xml", _ubl_bill("B-7001", "S001", [
        ("1", "C62", "6800", "Power, March", "3900.00")]))
    w("ubl_bill_three_lines.xml", _ubl_bill("B-7002", "S002", [
        ("10", "C62", "4000", "Copy paper A4 box", "31.50"),
        ("2.5", "KGM", "6800", "Printing paper &amp; card", "4.20"),
        ("4", "HUR", "6800", "Binding service", "80.00")]))
    w("order_one_line.xml", _order("O-1", [("FISH-01", "2")]))
    w("order_three_lines.xml", _order("O-2", [("FISH-01", "1"), ("FISH-02", "3"),
                                              ("SERV-01", "1.5")]))
    w("ubl_invoice.xml",
      '<?xml version="1.0" encoding="UTF-8"?>\n'
      f"<Invoice {UBL_NS}>\n"
      + _ubl_body("INV-1001", "Acme &amp; Co", [("1", "2", "EA", "10.50"),
                                                ("2", "1.5", "KGM", "3.00"),
                                                ("3", "4", "EA", "0.25")], "  ")
      + "\n</Invoice>\n")
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<Invoices xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:'
             'CommonAggregateComponents-2" xmlns:cbc="urn:oasis:names:specification:ubl:schema:'
             'xsd:CommonBasicComponents-2">']
    invoices = [("INV-1", "Nordic AS", [("1", "2", "EA", "10.00"), ("2", "1", "EA", "5.00")]),
                ("INV-2", "Søstrene &lt;Grene&gt;", [("1", "3", "KGM", "2.50")]),
                ("INV-3", "Empty Ltd", []),
                ("INV-4", "Fjord &amp; Fjell", [("1", "1", "EA", "1.00"), ("2", "2", "EA", "2.00"),
                                                ("3", "3", "EA", "3.00")])]
    for k, (inv, cust, lines) in enumerate(invoices):
        parts.append(f'  <Invoice status="{"open" if k % 2 else "paid"}">')
        parts.append(_ubl_body(inv, cust, lines, "    "))
        parts.append("  </Invoice>")
    parts.append("</Invoices>\n")
    w("invoices.xml", "\n".join(parts))

    w("customers.xml",
      '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
      "<Export>\n"
      "  <Customers>\n"
      '    <Customer no="1"><Name>Bjørn</Name><City>Tromsø</City><Credit>1000</Credit></Customer>\n'
      '    <Customer no="2"><Name>Åse</Name><City>Ålesund</City><Credit>250.5</Credit></Customer>\n'
      '    <Customer no="3"><Name>Kari</Name><City/></Customer>\n'
      "  </Customers>\n"
      "</Export>\n", "latin-1")

    w("xxe.xml",
      '<?xml version="1.0"?>\n'
      '<!DOCTYPE foo [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
      "<Customers><Customer><Name>&xxe;</Name></Customer></Customers>\n")
    lol = ['<?xml version="1.0"?>', "<!DOCTYPE lolz [", ' <!ENTITY lol "lol">']
    for i in range(1, 10):
        prev = f"&lol{i - 1 if i > 1 else ''};" if i > 1 else "&lol;"
        lol.append(f' <!ENTITY lol{i} "{prev * 10}">')
    lol += ["]>", "<lolz><lol>&lol9;</lol><lol>x</lol></lolz>", ""]
    w("billion_laughs.xml", "\n".join(lol))
    w("external_dtd.xml", '<?xml version="1.0"?>\n'
      '<!DOCTYPE r SYSTEM "http://example.invalid/evil.dtd">\n<r><a>1</a><a>2</a></r>\n')
    depth = 150
    w("deep.xml", '<?xml version="1.0"?>\n<r>\n' + "<d>" * depth + "x" + "</d>" * depth
      + "\n</r>\n")
    w("malformed.xml", '<?xml version="1.0"?>\n<Customers>\n  <Customer>\n    <Name>A</Nme>\n'
      "  </Customer>\n</Customers>\n")
    w("undefined_entity.xml", '<?xml version="1.0"?>\n<r><a>&secret;</a><a>2</a></r>\n')


if __name__ == "__main__":
    csv_files()
    excel_files()
    xml_files()
    print("samples written to", HERE)
