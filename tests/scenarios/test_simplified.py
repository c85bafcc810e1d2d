"""Simplified scenarios: the mapping is (source, target) lines, so one source column may
feed several target fields; a target mapped twice stays an error."""

from __future__ import annotations

import pytest

from migration_kit import api
from migration_kit.errors import BadInputError, ScenarioError

CODES = "Code,Town,Limit\nK-100,Oslo,1000\nK-200,Bergen,2500.50\nK-300,Tromsø,\n"
# Code is both the customer's ID and its name (the legacy file has no name column).
PAIRS = [("Code", "Customer.CustomerID"), ("Code", "Customer.CustomerName"),
         ("Town", "Customer.City"), ("Limit", "Customer.CreditLimit")]


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("MIGRATION_KIT_PROGRESS", "0")


@pytest.fixture
def codes(tmp_path):
    f = tmp_path / "codes.csv"
    f.write_text(CODES, encoding="utf-8")
    return f


def customers(ws) -> dict[str, dict]:
    return {d["Customer"]["CustomerID"]: d["Customer"]
            for d in api.list_documents(ws, "AR303000")}


def test_one_source_two_targets_imported(workspace, codes):
    sc = api.create_simplified(workspace, "codes", codes, "AR303000", PAIRS,
                               ["Customer.CustomerID"])
    assert [(m.source, m.target) for m in sc.mapping if m.target][:2] == [
        ("Code", "Customer.CustomerID"), ("Code", "Customer.CustomerName")]
    stored = api.show_scenario(workspace, "codes")
    assert [(m.source, m.target) for m in stored.mapping if m.target] == [
        (m.source, m.target) for m in sc.mapping if m.target]
    p = api.prepare(workspace, "codes", progress=False)
    assert (p.lines, p.records, p.errors) == (3, 3, 0)
    s = api.import_(workspace, "codes", progress=False)
    assert (s.imported, s.failed, s.remaining) == (3, 0, 0)
    got = customers(workspace)
    assert list(got) == ["K-100", "K-200", "K-300"]
    for code, c in got.items():
        assert c["CustomerName"] == code
    assert got["K-200"]["City"] == "Bergen" and str(got["K-200"]["CreditLimit"]) == "2500.50"


def test_update_takes_pairs_and_a_target_twice_is_refused(sqlite_workspace, codes):
    ws = sqlite_workspace
    api.create_simplified(ws, "codes", codes, "AR303000", {"Code": "Customer.CustomerID",
                                                           "Town": "Customer.CustomerName"},
                          ["Customer.CustomerID"])  # a dict still works
    sc = api.update_simplified(ws, "codes", PAIRS[:2], ["Customer.CustomerID"])
    assert [(m.source, m.target) for m in sc.mapping if m.target] == PAIRS[:2]
    with pytest.raises(ScenarioError) as e:
        api.update_simplified(ws, "codes", [("Code", "Customer.CustomerID"),
                                            ("Town", "Customer.CustomerID")],
                              ["Customer.CustomerID"])
    assert any("Customer.CustomerID is mapped twice" in p for p in e.value.problems)
    with pytest.raises(ScenarioError):
        api.create_simplified(ws, "other", codes, "AR303000",
                              [("Code", "Customer.CustomerID"), ("Town", "Customer.CustomerID")])
    assert not ws.path("providers", "other.yaml").exists()
    with pytest.raises(BadInputError, match="pair"):
        api.update_simplified(ws, "codes", ["Code"], ["Customer.CustomerID"])
    assert [(m.source, m.target) for m in api.show_scenario(ws, "codes").mapping
            if m.target] == PAIRS[:2]
