from __future__ import annotations

import pytest

MASTER = {
    "GL202500": [
        {"Account": {"AccountID": "3000", "Description": "Sales", "Type": "Income"}},
        {"Account": {"AccountID": "3100", "Description": "Old sales", "Type": "Income",
                     "Active": False}},
        {"Account": {"AccountID": "1920", "Description": "Bank", "Type": "Asset"}},
        {"Account": {"AccountID": "4000", "Description": "Purchases", "Type": "Expense"}},
    ],
    "AR303000": [
        {"Customer": {"CustomerID": "C001", "CustomerName": "Nordic Fish AS",
                      "CurrencyID": "NOK", "Country": "NO"}},
        {"Customer": {"CustomerID": "C002", "CustomerName": "Berlin GmbH", "CurrencyID": "EUR",
                      "Country": "DE"}},
        {"Customer": {"CustomerID": "C003", "CustomerName": "On Hold Ltd", "Status": "OnHold"}},
    ],
    "AP303000": [
        {"Supplier": {"SupplierID": "S001", "SupplierName": "Paper Mill AB", "CurrencyID": "SEK"}},
    ],
    "IN202500": [
        {"StockItem": {"InventoryID": "ITEM1", "Description": "Widget", "DefaultPrice": "10"}},
    ],
}


def seed(ws) -> None:
    with ws.transaction() as conn:
        for window, docs in MASTER.items():
            for doc in docs:
                ws.store.save(conn, window, doc)


@pytest.fixture
def seeded(workspace):
    seed(workspace)
    return workspace
