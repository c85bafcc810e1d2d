"""The prepare-and-import notebook in JupyterLab: run all, fix the error row in the grid,
save, import, see the success status (Chromium through playwright)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from migration_kit import api
from migration_kit.widgets.prepared_grid import COLUMN_WIDTH, HEAD, HEAD_WIDTHS

from .conftest import NOTEBOOK

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240),
              pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")]

# Grid geometry (PreparedGrid's column widths; lumino defaults: 64 px row header, 20 px rows
# and header): the Customer cell of line 6 (row 5; the record's columns, then InvoiceNbr,
# Customer).
CUSTOMER_CELL = {"x": 64 + sum(HEAD_WIDTHS[c] for c in HEAD) + COLUMN_WIDTH + 50,
                 "y": 20 + 5 * 20 + 10}
PAINTED = """() => {
  const c = document.querySelector('.mk-grid .lm-DataGrid-viewport canvas');
  if (!c || !c.width) return false;
  const d = c.getContext('2d').getImageData(0, 0, 300, 100).data;
  let dark = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] < 200) dark++;
  return dark > 50;
}"""


def test_fix_error_row_in_grid_and_import(page, lab_server, tmp_path):
    expect.set_options(timeout=30_000)
    page.goto(f"{lab_server['base']}/lab/tree/{NOTEBOOK}")
    expect(page.locator('#jp-main-statusbar span[title^="Change kernel"]')).to_have_text(
        re.compile(r"\| Idle$"), timeout=60_000)
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(8)

    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    expect(page.locator(".jp-Notebook .jp-InputPrompt").last).to_have_text("[6]:",
                                                                         timeout=60_000)
    expect(page.locator("button.mk-import")).to_be_visible()
    expect(page.locator(".mk-status")).to_have_text(re.compile(r"^sales_invoices: "))
    expect(page.locator(".mk-errors")).to_contain_text("line 6 (record 3)")
    expect(page.locator(".mk-errors")).to_contain_text("C999")

    page.wait_for_selector(".mk-grid .lm-DataGrid-viewport canvas")
    page.wait_for_function(PAINTED, timeout=30_000)
    page.locator(".mk-grid").screenshot(path=str(tmp_path / "grid-before.png"))

    page.locator(".mk-grid .lm-DataGrid-viewport").dblclick(position=CUSTOMER_CELL)
    editor = page.locator("input.lm-DataGrid-cellEditorInput")
    expect(editor).to_have_value("C999")  # the right cell
    editor.fill("C003")
    editor.press("Enter")
    expect(page.locator(".mk-grid-status")).to_have_text("1 unsaved change(s): click Save")

    page.locator("button.mk-save").click()
    expect(page.locator(".mk-grid-status")).to_have_text("saved 1 change(s)")
    page.locator("button.mk-import").click()
    expect(page.locator(".mk-status")).to_have_text(
        re.compile(r"^Imported 3 record\(s\), updated 0, skipped 0; 0 remaining$"))
    expect(page.locator(".mk-errors")).to_have_text("")
    expect(page.locator(".mk-error")).to_have_text(["", "", ""])  # panel, grid, tools
    page.screenshot(path=str(tmp_path / "after-import.png"), full_page=True)

    with api.open_workspace(lab_server["workspace"]) as ws:
        docs = {d["Document"]["ReferenceNbr"]: d for d in api.list_documents(ws, "AR301000")}
    assert sorted(docs) == ["INV-1001", "INV-1002", "INV-1003", "INV-1004", "INV-1005"]
    assert docs["INV-1003"]["Document"]["CustomerID"] == "C003"
    assert (tmp_path / "after-import.png").stat().st_size > 10_000
