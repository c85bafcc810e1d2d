"""The prepared-data toolbar in the import panel, without a browser."""

from __future__ import annotations

import pytest

from migration_kit import api, widgets
from migration_kit.errors import BadInputError
from migration_kit.widgets.prepared_tools import parse_lines


def test_parse_lines():
    assert parse_lines(" 3, 5-7;9 ") == [3, 5, 6, 7, 9]
    assert parse_lines("") is None
    with pytest.raises(BadInputError, match="'x'"):
        parse_lines("1, x")


def test_toolbar_in_the_import_panel(stopped_ws):
    panel = widgets.ImportPanel(stopped_ws, ["sales_invoices"])
    tools = panel.tools
    assert "Customer" in tools.column.options
    tools.column.value = "Customer"
    tools.find.value, tools.replacement.value = "c999", "C004"
    tools.replace_button.click()
    assert tools.message.value == "2 value(s) changed"
    assert "C999" not in panel.grid.frame()["Customer"].tolist()
    tools.lines.value = "9"
    tools.active_button.click()
    assert tools.message.value == "Active flipped on 1 record(s)"
    panel.import_button.click()
    assert panel.status.value.startswith("Imported 2 record(s)")
    assert api.status(stopped_ws, "sales_invoices") == "Processed"  # inactive ones aside


def test_toggle_processed_needs_lines_and_warns(stopped_ws):
    panel = widgets.ImportPanel(stopped_ws, ["sales_invoices"])
    tools = panel.tools
    tools.processed_button.click()
    assert "give the lines" in tools.errors.value
    tools.lines.value = "1"
    tools.processed_button.click()
    assert "second document" in tools.message.value
    tools.lines.value = ""
    tools.clear_button.click()
    tools.until_error_button.click()
    assert tools.message.value.startswith("Active cleared on 0 record(s)")
    tools.lines.value = "1-x"
    tools.active_button.click()
    assert "not a line number" in tools.errors.value
