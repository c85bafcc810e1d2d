"""A document has one header (its record's first line), and nothing of a later line is
dropped in silence: a later line that says otherwise in a header cell is an error naming
both lines; every value of a record that cannot be mapped is named with its own line; a key
written with stray spaces is the key the ERP stores. Both import engines."""

from __future__ import annotations

import pytest

from migration_kit import api

from ..helpers import INVOICE_MAP, documents
from .shapes import write_csv

ENGINES = ["rows", "columns"]


def _row(nbr: str, cust: str, line: str, qty: str = "2", date: str = "2024-03-01") -> list:
    return [nbr, cust, date, "2024-04-01", f"order {nbr.strip()}", "FISH-01", line, qty,
            "10.00", "0", "3000"]


def _run(ws, tmp_path, engine: str, rows: list[list[str]], **options):
    file = write_csv(tmp_path / "invoices.csv", rows)
    api.create_simplified(ws, "inv", file, "AR301000", INVOICE_MAP, ["Document.ReferenceNbr"],
                          options={"engine": engine, "break_on_error": False, **options})
    api.prepare(ws, "inv", progress=False)
    return api.import_(ws, "inv", progress=False)


def _lines(ws) -> dict[str, list[str]]:
    return {d["Document"]["ReferenceNbr"]: [ln["Description"] for ln in d["Line"]]
            for d in documents(ws, "AR301000")}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_later_line_with_another_customer_is_an_error_naming_both_lines(
        master, tmp_path, engine):
    rows = [_row("SO-1", "C001", "a"), _row("SO-1", "C001", "b"),
            _row("SO-1", "C002", "c"),  # file line 4: another customer for SO-1
            _row("SO-2", "C003", "d")]
    s = _run(master, tmp_path, engine, rows)
    assert (s.imported, s.failed) == (1, 1)
    err = s.errors[0]
    assert err["field"] == "Document.CustomerID"
    assert err["message"] == (
        "line 4: Document.CustomerID is 'C002' here but 'C001' on line 2, the first line "
        "of its record: a document has one header (give this line its own key, or the same "
        "value)")
    assert _lines(master) == {"SO-2": ["d"]}  # nothing of SO-1 half-imported
    # the record stays in error in the prepared data, for inline correction
    bad = api.lines(master, "inv", errors_only=True, limit=None)
    assert {ln.values["LineDescription"] for ln in bad} == {"a", "b", "c"}


@pytest.mark.parametrize("engine", ENGINES)
def test_the_same_header_written_differently_or_left_blank_is_one_header(
        master, tmp_path, engine):
    rows = [_row("SO-1", "C001", "a"), _row("SO-1", " C001 ", "b"), _row("SO-1", "", "c"),
            _row("SO-1", "C001", "d", date="01.03.2024")]
    s = _run(master, tmp_path, engine, rows, locale="nb-NO")
    s.raise_for_errors()
    assert _lines(master) == {"SO-1": ["a", "b", "c", "d"]}
    (doc,) = documents(master, "AR301000")
    assert doc["Document"]["CustomerID"] == "C001"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_later_line_with_a_date_where_the_first_had_none_is_an_error(master, tmp_path,
                                                                        engine):
    rows = [_row("SO-1", "C001", "a"), _row("SO-1", "C001", "b", date="2024-03-09")]
    s = _run(master, tmp_path, engine, rows)
    assert s.failed == 1 and s.imported == 0
    assert s.errors[0]["message"].startswith(
        "line 3: Document.Date is '2024-03-09' here but '2024-03-01' on line 2")


@pytest.mark.parametrize("engine", ENGINES)
def test_every_bad_value_of_a_record_is_named_with_its_own_line(master, tmp_path, engine):
    rows = [_row("SO-1", "C001", "a"), _row("SO-1", "C001", "b", qty="zwei"),
            _row("SO-1", "C001", "c"), _row("SO-1", "C001", "d", qty="1.2.3"),
            _row("SO-2", "C003", "e")]
    s = _run(master, tmp_path, engine, rows)
    assert (s.imported, s.failed) == (1, 1)
    err = s.errors[0]
    assert err["field"] == "Line.Quantity"
    first, second = err["message"].split("; ")
    assert first.startswith("line 3: ") and "'zwei'" in first
    assert second.startswith("Line.Quantity: line 5: ") and "'1.2.3'" in second
    # a stopped run names the record's first line, and every error of it
    s2 = api.import_(master, "inv", progress=False, continue_on_error=False)
    assert s2.stopped is not None and s2.stopped.line == 1
    assert "line 3: " in str(s2.stopped) and "line 5: " in str(s2.stopped)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("grouping", ["key", "consecutive"])
def test_a_key_with_stray_spaces_is_the_key_the_erp_stores(master, tmp_path, engine,
                                                           grouping):
    rows = [_row("SO-1", "C001", "a"), _row(" SO-1", "C001", "b"), _row("SO-1 ", "C001", "c"),
            _row("SO-2", "C003", "d"), _row("SO-1\t", "C001", "e")]
    s = _run(master, tmp_path, engine, rows, grouping=grouping)
    if grouping == "key":  # one key wherever its rows stand, however it is spaced
        s.raise_for_errors()
        assert _lines(master) == {"SO-1": ["a", "b", "c", "e"], "SO-2": ["d"]}
        p = api.prepare(master, "inv", progress=False)  # and imported once only
        assert p.already_processed == 2
        return
    # consecutive: the adjacent rows form one record; the later run of SO-1 is a second
    # document with the same key, refused (mode insert), never merged in silence
    assert (s.imported, s.failed) == (2, 1)
    assert _lines(master) == {"SO-1": ["a", "b", "c"], "SO-2": ["d"]}
    assert "the key ReferenceNbr=SO-1 was imported already" in s.errors[0]["message"]
