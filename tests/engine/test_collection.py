"""``fewer_collections``: the young generation's threshold raised while a step runs, the
caller's thresholds back afterwards (after an error too, and after nested steps)."""

from __future__ import annotations

import gc

import pytest

from migration_kit.engine import collection
from migration_kit.engine.collection import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_raised_inside_and_restored_after(thresholds):
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
        with fewer_collections():  # a nested step keeps the outer raise
            assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)
    assert collection._depth == 0


def test_restored_after_an_error_and_as_a_decorator(thresholds):
    seen = []

    @fewer_collections()
    def step():
        seen.append(gc.get_threshold()[0])
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        step()
    assert seen == [YOUNG_THRESHOLD]
    assert gc.get_threshold() == (700, 10, 10)


def test_collection_switched_off_or_changed_meanwhile_is_left_alone(thresholds):
    gc.set_threshold(0)
    with fewer_collections():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold()[0] == 0
    gc.set_threshold(700, 10, 10)
    with fewer_collections():
        gc.set_threshold(1234, 10, 10)  # the caller's own choice, made during the step
    assert gc.get_threshold() == (1234, 10, 10)


def test_a_prepare_and_import_leave_the_thresholds_as_they_were(thresholds, tmp_path):
    from migration_kit import api

    ws = api.init_workspace(tmp_path / "ws")
    src = tmp_path / "accounts.csv"
    src.write_text("Account,Description,Type\n3000,Sales,Income\n", encoding="utf-8")
    api.create_simplified(ws, "accounts", src, "GL202500",
                          {"Account": "Account.AccountID", "Description": "Account.Description",
                           "Type": "Account.Type"}, keys=["Account.AccountID"])
    api.prepare(ws, "accounts", progress=False)
    api.import_(ws, "accounts", progress=False).raise_for_errors()
    ws.dispose()
    assert gc.get_threshold() == (700, 10, 10)
