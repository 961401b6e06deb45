"""A snapshot's memo: what is derived from one snapshot is built once and kept with it, never shared
with another snapshot (a scoped view, an earlier as-of date), and leaves no module-level state."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from conftest import snapshot_of

from insights import cells as cells_module
from insights import pipeline as pipeline_module
from insights.pipeline import fit_models, open_pipeline
from insights.query import Query
from insights.risk import risk
from insights.snapshot import Memo
from insights.synthetic import DealSpec


@pytest.fixture(scope="module")
def snap():
    return snapshot_of(DealSpec(n_deals=3_000, seed=21, as_of=dt.date(2025, 6, 30)))


def test_a_memo_builds_each_key_once_and_keeps_the_newest_few():
    memo, built = Memo(), []

    def build(value):
        built.append(value)
        return [value]

    first = memo.get("cells", "a", lambda: build(1), keep=2)
    assert memo.get("cells", "a", lambda: build(2), keep=2) is first and built == [1]
    memo.get("cells", "b", lambda: build(3), keep=2)
    memo.get("cells", "c", lambda: build(4), keep=2)
    assert built == [1, 3, 4] and memo.keys("cells") == ["b", "c"]  # "a", the oldest, went
    assert memo.get("pipeline", "a", lambda: build(5), keep=1) == [5]  # kinds do not share keys
    assert memo.keys("cells") == ["b", "c"] and memo.keys("pipeline") == ["a"]


def test_a_second_risk_reuses_the_snapshots_cells(snap, monkeypatch):
    first = risk(snap, Query())
    built = []
    real = cells_module.Cells.of.__func__
    monkeypatch.setattr(cells_module.Cells, "of",
                        classmethod(lambda cls, *a, **k: built.append(a) or real(cls, *a, **k)))
    again = risk(snap, Query())
    assert built == [] and again.segments == first.segments and again.overall == first.overall
    assert [k[0] for k in snap.memo.keys("cells")] == ["closed", "open"]


def test_another_snapshot_of_the_same_deals_builds_its_own_cells(snap, monkeypatch):
    risk(snap, Query())
    view = dataclasses.replace(snap)  # what a scoped view or a refresh makes: a new Snapshot
    assert view.memo is not snap.memo and view.memo.keys("cells") == []
    built = []
    real = cells_module.Cells.of.__func__
    monkeypatch.setattr(cells_module.Cells, "of",
                        classmethod(lambda cls, *a, **k: built.append(a) or real(cls, *a, **k)))
    assert risk(view, Query()).segments == risk(snap, Query()).segments
    assert len(built) == 2  # the view's closed deals and open pipeline, counted once each for the view
    assert len(snap.at(dt.date(2025, 3, 31)).memo.keys("cells")) == 0


def test_the_pipeline_model_is_fitted_once_per_snapshot(snap, monkeypatch):
    models = fit_models(snap)
    fitted = []
    real = pipeline_module._fit_models
    monkeypatch.setattr(pipeline_module, "_fit_models", lambda s: fitted.append(s) or real(s))
    assert fit_models(snap) is models and fitted == []
    open_pipeline(snap, Query())
    assert fitted == []
    view = dataclasses.replace(snap)
    other = fit_models(view)
    assert fitted == [view] and other is not models
    assert other.backtest == models.backtest and other.stalled_after == models.stalled_after


def test_the_memo_is_a_declared_field_outside_a_snapshots_identity(snap):
    memo = {f.name: f for f in dataclasses.fields(snap)}["memo"]
    assert (memo.init, memo.repr, memo.compare) == (False, False, False)
    fit_models(snap)
    assert not hasattr(pipeline_module, "_CACHE") and "_cells" not in vars(snap)
    assert snap.memo.keys("pipeline") == ["models"]
