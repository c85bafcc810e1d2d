"""Random flat invoice files for the differential tests of the import engines
(tests/engine/test_engines.py).

A file has the columns of ``templates/samples/sales_invoices.csv`` (the header fields
repeated on each line, as the bench writes them) plus ``Amount`` (mapped onto the computed
``Line.Amount``, so a wrong amount can be given), against the sample master data of
``tests.helpers.load_master`` (customers C001..C006, C005 on hold; six stock items;
accounts 3000/3100 income, 3900 inactive, 1500 an asset). Numbers and dates are written in
the scenario's locale; some cells are then spoilt on purpose.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import strategies as st

from ..helpers import INVOICE_MAP

HEADER = ["InvoiceNbr", "Customer", "InvoiceDate", "DueDate", "Description", "ItemCode",
          "LineDescription", "Qty", "UnitPrice", "Discount", "Account", "Amount"]
SUMMARY_COLS = HEADER[:5]
LINE_COLS = HEADER[5:]
MAP = {**INVOICE_MAP, "Amount": "Line.Amount"}
# the provider is read as written: no sniffing of delimiter, quotes or encoding
PARAMS = {"delimiter": ",", "quotechar": '"', "encoding": "utf-8", "header_row": 1}

CUSTOMERS = ["C001", "C002", "C003", "C004", "C006"]
ITEMS = ["FISH-01", "FISH-02", "BREAD-01", "COFFEE-01", "SERV-01", "PAPER-01"]
ACCOUNTS = ["3000", "3100"]
LOCALES = [None, "nb-NO", "de-DE", "en-US"]
DATE_FORMAT = {None: "%Y-%m-%d", "nb-NO": "%d.%m.%Y", "de-DE": "%d.%m.%Y",
               "en-US": "%m/%d/%Y"}
DECIMAL_SEP = {None: ".", "nb-NO": ",", "de-DE": ",", "en-US": "."}
GROUP_SEP = {None: None, "nb-NO": " ", "de-DE": ".", "en-US": ","}
CENT = Decimal("0.01")

# Printable text for descriptions: any letter, digit, punctuation, symbol or space of
# Unicode (non-ASCII included), no control characters or line breaks.
TEXT = st.text(st.characters(codec="utf-8",
                             exclude_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp")),
               max_size=12)
LONG_CHARS = ["a", "ø", "漢", "é", "\u0301", "😀", " "]


def amount(qty: Decimal, price: Decimal, disc: Decimal) -> Decimal:
    return (qty * price * (100 - disc) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def fmt_number(d: Decimal, locale: str | None, group: bool = False) -> str:
    text = format(d, "f")
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, frac = text.partition(".")
    sep = GROUP_SEP[locale]
    if group and sep and len(whole) > 3:
        parts = []
        while len(whole) > 3:
            parts.insert(0, whole[-3:])
            whole = whole[:-3]
        whole = sep.join([whole, *parts])
    return sign + whole + (DECIMAL_SEP[locale] + frac if frac else "")


def fmt_date(d: dt.date, locale: str | None, iso: bool = False) -> str:
    return d.isoformat() if iso else d.strftime(DATE_FORMAT[locale])


@dataclass
class InvoiceFile:
    locale: str | None
    rows: list[dict[str, str]]
    spoilt: list[tuple[int, str, str, str]] = field(default_factory=list)  # row, kind, col, value

    def csv_text(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(HEADER)
        for r in self.rows:
            w.writerow([r[c] for c in HEADER])
        return out.getvalue()

    def reversed(self) -> InvoiceFile:
        return InvoiceFile(self.locale, self.rows[::-1],
                           [(len(self.rows) - 1 - i, k, c, v) for i, k, c, v in self.spoilt])

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        spoilt = "".join(f"\n  row {i + 1}: {k} {c}={v!r}" for i, k, c, v in self.spoilt)
        return f"InvoiceFile(locale={self.locale!r}){spoilt}\n{self.csv_text()}"


@st.composite
def numbers(draw, lo: int, hi: int, places: int) -> Decimal:
    return Decimal(draw(st.integers(lo * 10 ** places, hi * 10 ** places))).scaleb(-places)


@st.composite
def invoice_lines(draw, locale: str | None, key: str) -> list[dict[str, str]]:
    """The rows of one invoice, clean: its header repeated on each line."""
    day = draw(st.dates(dt.date(2023, 1, 1), dt.date(2025, 12, 31)))
    iso = draw(st.booleans())
    due = draw(st.one_of(st.none(), st.integers(0, 60)))
    head = {"InvoiceNbr": key, "Customer": draw(st.sampled_from(CUSTOMERS)),
            "InvoiceDate": fmt_date(day, locale, iso),
            "DueDate": "" if due is None else fmt_date(day + dt.timedelta(days=due), locale, iso),
            "Description": draw(TEXT)}
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        qty = draw(st.one_of(numbers(1, 50, 0), numbers(0, 20, 3).filter(lambda d: d > 0)))
        price = draw(numbers(0, 5000, 2))
        disc = draw(st.sampled_from([Decimal(0), Decimal(5), Decimal(10), Decimal("12.5")]))
        group = draw(st.booleans())
        amt = draw(st.sampled_from(["blank", "blank", "computed"]))
        rows.append({**head,
                     "ItemCode": draw(st.sampled_from([*ITEMS, ""])),
                     "LineDescription": draw(TEXT),
                     "Qty": fmt_number(qty, locale),
                     "UnitPrice": fmt_number(price, locale, group),
                     "Discount": fmt_number(disc, locale),
                     "Account": draw(st.sampled_from(ACCOUNTS)),
                     "Amount": ("" if amt == "blank"
                                else fmt_number(amount(qty, price, disc), locale, group))})
    return rows


def _numbers_in(locale: str | None) -> list[str]:
    """Text that is not a number in ``locale`` (or is, but only in another one), and odd
    numbers every engine must read alike."""
    other = "12,5" if DECIMAL_SEP[locale] == "." else "1,2,5"
    return ["abc", "1.2.3", other, "1e3", "NaN", "Infinity", "--2", "1 2 3 4", "12-",
            "١٢", "１２", " 7 ", "+3", "0x10", "1_000", "€5", "5%", "½"]


BAD_DATES = ["2024-02-30", "2024-13-01", "31.12.2024", "12/31/2024", "2024/01/05",
             "tomorrow", "20240105", "0000-01-01", "29.02.2023", "02/29/2024", " 2024-01-05 ",
             "2024-1-5", "99999-01-01"]
LENGTHS = {"Description": 255, "LineDescription": 255, "InvoiceNbr": 15, "Customer": 30,
           "ItemCode": 30, "Account": 10}
KINDS = ["blank", "unknown_customer", "unknown_item", "bad_account", "bad_number",
         "bad_date", "too_long", "zero_qty", "out_of_range", "wrong_amount", "whitespace",
         "non_ascii", "no_lines", "due_before", "null_word", "other_digits"]
# Unicode digits other than 0-9 (Arabic-Indic, fullwidth, Devanagari): Decimal reads them
DIGITS = ["٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "०१२३४५६७८९"]


@st.composite
def spoil(draw, row: dict[str, str], locale: str | None, kind: str) -> tuple[str, str]:
    """Spoil one cell of ``row`` (in place) in the way ``kind`` says; (column, value)."""
    if kind == "blank":
        col = draw(st.sampled_from(["Customer", "InvoiceDate", "Qty", "InvoiceNbr",
                                    "ItemCode", "UnitPrice", "Account", "Description",
                                    "Discount"]))
        value = draw(st.sampled_from(["", " ", "  \t"]))
    elif kind == "unknown_customer":
        col, value = "Customer", draw(st.sampled_from(
            ["C999", "c001", "C005", "C0O1", "C001X", "C 001", "C00１"]))
    elif kind == "unknown_item":
        col, value = "ItemCode", draw(st.sampled_from(["NOPE-01", "fish-01", "FISH-1",
                                                       "FISH–01"]))
    elif kind == "bad_account":
        col, value = "Account", draw(st.sampled_from(["9999", "3900", "1500", "30O0",
                                                      "3000.0"]))
    elif kind == "bad_number":
        col = draw(st.sampled_from(["Qty", "UnitPrice", "Discount", "Amount"]))
        value = draw(st.sampled_from(_numbers_in(locale)))
    elif kind == "bad_date":
        col, value = draw(st.sampled_from(["InvoiceDate", "DueDate"])), draw(
            st.sampled_from(BAD_DATES))
    elif kind == "too_long":
        col = draw(st.sampled_from(sorted(LENGTHS)))
        n = LENGTHS[col] + draw(st.integers(-1, 2))  # at most, or just over
        ch = draw(st.sampled_from(LONG_CHARS))
        value = ("X" + ch * n)[:n]
    elif kind == "zero_qty":
        col, value = "Qty", draw(st.sampled_from(
            ["0", "-1", "-0", "0.00001", fmt_number(Decimal("0.0"), locale),
             fmt_number(Decimal("-2.5"), locale), "000"]))
    elif kind == "out_of_range":
        col, value = draw(st.sampled_from([("UnitPrice", "-1"), ("UnitPrice", "-0.01"),
                                           ("Discount", "-5"), ("Discount", "101"),
                                           ("Discount", "100"), ("Discount", "100.001"),
                                           ("UnitPrice", "0")]))
        value = value.replace(".", DECIMAL_SEP[locale])
    elif kind == "wrong_amount":
        col = "Amount"
        try:
            qty, price, disc = (_read(row["Qty"], locale), _read(row["UnitPrice"], locale),
                                _read(row["Discount"], locale))
            base = amount(qty, price, disc)
        except ArithmeticError:
            base = Decimal(0)
        delta = draw(st.sampled_from(["0.01", "-0.01", "0.02", "-0.02", "1", "-100",
                                      "0.005"]))
        value = fmt_number(base + Decimal(delta), locale)
    elif kind == "whitespace":
        col = draw(st.sampled_from(HEADER))
        value = draw(st.sampled_from([" ", "  ", "\t", "\u00a0"])) + row[col] + draw(
            st.sampled_from(["", " ", " \t"]))
    elif kind == "non_ascii":
        col = draw(st.sampled_from(["Description", "LineDescription", "Customer",
                                    "InvoiceNbr", "ItemCode"]))
        value = draw(st.sampled_from(["Ærlig ø å", "délivery", "東京", "Ｃ００１", "ß",
                                      "İstanbul", "e\u0301", "😀", "INV-ß"]))
    elif kind == "no_lines":
        for c in LINE_COLS:
            row[c] = ""
        return "Line.*", ""
    elif kind == "due_before":
        day = draw(st.dates(dt.date(2023, 1, 2), dt.date(2025, 12, 31)))
        row["InvoiceDate"] = fmt_date(day, locale)
        col, value = "DueDate", fmt_date(day - dt.timedelta(days=draw(st.integers(1, 3))),
                                         locale)
    elif kind == "other_digits":  # a number (or date) written in other digits
        col = draw(st.sampled_from(["Qty", "UnitPrice", "Discount", "Amount",
                                    "InvoiceDate", "Account"]))
        digits = draw(st.sampled_from(DIGITS))
        value = row[col].translate(str.maketrans("0123456789", digits))
    else:  # null_word: the provider's null text
        col, value = draw(st.sampled_from(HEADER)), "NULL"
    row[col] = value
    return col, value


def _read(text: str, locale: str | None) -> Decimal:
    sep = GROUP_SEP[locale]
    if sep:
        text = text.replace(sep, "")
    return Decimal(text.replace(DECIMAL_SEP[locale], ".") or "0")


@st.composite
def invoice_files(draw, max_invoices: int = 8) -> InvoiceFile:
    """A flat invoice file of 1..8 invoices with 1..5 lines each, some cells spoilt, the
    rows perhaps shuffled (the lines of an invoice not adjacent)."""
    locale = draw(st.sampled_from(LOCALES))
    n = draw(st.integers(1, max_invoices))
    keys = [f"INV-{i:03d}" for i in range(1, n + 1)]
    rows = [r for k in keys for r in draw(invoice_lines(locale, k))]
    spoilt = []
    for _ in range(draw(st.integers(0, 5))):
        i = draw(st.integers(0, len(rows) - 1))
        kind = draw(st.sampled_from(KINDS))
        col, value = draw(spoil(rows[i], locale, kind))
        spoilt.append((i, kind, col, value))
    if draw(st.booleans()):
        order = draw(st.permutations(range(len(rows))))
        rows = [rows[i] for i in order]
        spoilt = [(order.index(i), k, c, v) for i, k, c, v in spoilt]
    return InvoiceFile(locale, rows, spoilt)
