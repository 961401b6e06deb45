"""Pre-aggregated cells count exactly what the deals count, under any mask and grouping."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from conftest import snapshot_of
from hypothesis import given, settings
from hypothesis import strategies as st

from insights import cells as cells_module
from insights.cells import Cells, cached_cells
from insights.load import from_table
from insights.query import Query
from insights.risk import risk
from insights.select import count_by
from insights.synthetic import DealSpec
from insights.why import explain_change

DIMS = ("region", "industry", "product_type", "lead_source", "sales_rep_id", "size_band", "cycle_band")


@pytest.fixture(scope="module")
def snap():
    return snapshot_of(DealSpec(n_deals=6_000, seed=5))


def wide_snapshot(rows: int, values: int, seed: int = 0):
    """Deals whose segment columns each take `values` distinct labels (a CRM with many reps, countries...)."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, rows), unit="D")
    frame = pd.DataFrame({
        "deal_id": [f"d{i}" for i in range(rows)],
        "created_date": created.strftime("%Y-%m-%d"),
        "closed_date": (created + pd.to_timedelta(rng.integers(1, 90, rows), unit="D")).strftime("%Y-%m-%d"),
        "deal_amount": rng.integers(1_000, 200_000, rows).astype(str),
        "outcome": np.where(rng.random(rows) < 0.4, "Won", "Lost"),
        **{d: [f"{d[:3]}{v}" for v in rng.integers(0, values, rows)]
           for d in ("region", "industry", "product_type", "lead_source", "deal_stage", "sales_rep_id")},
    })
    return from_table(frame)


def test_counts_equal_the_deals_counts_for_every_grouping_and_group(snap):
    now = snap.closed_month >= snap.closed_month.max() - 2
    before = ~now & (snap.closed_month >= snap.closed_month.max() - 14)
    cells = Cells.of(snap, [now, before], DIMS)
    assert len(cells) < now.sum() + before.sum()  # deals that agree on every dimension share a cell
    assert cells.deals(cells.everything()) == now.sum() + before.sum()
    for dims in [("region",), ("sales_rep_id",), ("cycle_band",), ("region", "industry"), ("lead_source", "size_band")]:
        for g, mask in enumerate((now, before)):
            want = count_by(snap, mask, dims)
            got = cells.count(cells.in_group(g), dims)
            assert got.n.tolist() == want.n.tolist() and got.won.tolist() == want.won.tolist()
            assert got.keys.tolist() == want.keys.tolist()
        split_now, split_before = cells.split(cells.everything(), dims)
        assert split_now.n.tolist() == count_by(snap, now, dims).n.tolist()
        assert split_before.won.tolist() == count_by(snap, before, dims).won.tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(DIMS), min_size=1, max_size=2, unique=True),
       st.dictionaries(st.sampled_from(DIMS[:4]), st.integers(0, 4), max_size=2), st.integers(0, 2**31))
def test_a_segment_mask_on_cells_counts_as_the_same_filter_on_deals(snap, dims, segment_codes, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random(len(snap.deals)) < 0.6
    cells = Cells.of(snap, [mask], DIMS)
    segment = {d: snap.values(d)[c % len(snap.values(d))] for d, c in segment_codes.items()}
    inside = np.ones(len(snap.deals), dtype=bool)
    for d, v in segment.items():
        inside &= snap.codes(d) == snap.values(d).index(v)
    want = count_by(snap, mask & ~inside, tuple(dims))
    got = cells.count(~cells.mask(segment), tuple(dims))
    assert got.n.tolist() == want.n.tolist() and got.won.tolist() == want.won.tolist()
    assert cells.deals(cells.mask(segment)) == int((mask & inside).sum())


@pytest.mark.parametrize("share", [0.9, 0.05])
def test_a_few_deals_or_most_of_them_count_the_same_in_two_groups(snap, share):
    rng = np.random.default_rng(9)
    picked = rng.random(len(snap.deals)) < share
    first = picked & (rng.random(len(snap.deals)) < 0.5)
    second = picked & ~first
    cells = Cells.of(snap, [first, second], DIMS)
    assert cells.deals(cells.everything()) == picked.sum() and set(cells.group.tolist()) <= {0, 1}
    for dims in [("region",), ("industry", "lead_source"), ("cycle_band",)]:
        for g, mask in enumerate((first, second)):
            want, got = count_by(snap, mask, dims), cells.count(cells.in_group(g), dims)
            assert got.n.tolist() == want.n.tolist() and got.won.tolist() == want.won.tolist()
        amounts = cells.amounts(cells.in_group(1), ("region",))
        for k, region in enumerate(snap.values("region")):
            rows = second & (snap.codes("region") == k)
            assert amounts[k] == pytest.approx(snap.amount[rows].sum(), rel=1e-12)


def test_an_unknown_value_matches_no_cell(snap):
    cells = Cells.of(snap, [np.ones(len(snap.deals), dtype=bool)], DIMS)
    assert not cells.mask({"region": "Atlantis"}).any()


def test_open_pipeline_cells_sum_counts_and_amounts(snap):
    open_all = np.ones(len(snap.open_deals), dtype=bool)
    cells = Cells.of(snap, [open_all], ("region", "industry"), open_pipeline=True)
    counts = cells.count(cells.everything(), ("region",))
    amounts = cells.amounts(cells.everything(), ("region",))
    frame = snap.open_deals
    for i, region in enumerate(snap.values("region")):
        rows = frame["region"] == region
        assert counts.n[i] == rows.sum() and counts.won[i] == 0
        assert amounts[i] == pytest.approx(frame.loc[rows, "deal_amount"].sum(), rel=1e-12)


@pytest.mark.parametrize("share", [1.0, 0.1])  # most deals (full-length pass) or a few (gathered first)
@pytest.mark.parametrize("values", [3, 400])
def test_many_labels_per_dimension_take_the_hashed_path_with_the_same_counts(values, share, monkeypatch):
    # 400 labels over six dimensions: a key space of 400**6, far past a dense histogram and close to int64
    snap = wide_snapshot(3_000, values)
    dims = ("region", "industry", "product_type", "lead_source", "deal_stage", "sales_rep_id")
    monkeypatch.setattr(cells_module, "_KEY_LIMIT", 1 << 20)  # force the dense renumbering mid-key too
    mask = np.random.default_rng(3).random(len(snap.deals)) < share
    cells = Cells.of(snap, [mask], dims)
    assert cells.deals(cells.everything()) == mask.sum() and set(cells.group.tolist()) == {0}
    for grouping in [("region",), ("sales_rep_id", "deal_stage")]:
        want, got = count_by(snap, mask, grouping), cells.count(cells.everything(), grouping)
        assert got.n.tolist() == want.n.tolist() and got.won.tolist() == want.won.tolist()


def test_overlapping_groups_are_refused(snap):
    mask = np.ones(len(snap.deals), dtype=bool)
    with pytest.raises(ValueError, match="disjoint"):
        Cells.of(snap, [mask, mask], DIMS)


def test_cells_are_built_once_per_question_and_kept_per_snapshot(monkeypatch):
    snap = snapshot_of(DealSpec(n_deals=4_000, seed=8, as_of=dt.date(2025, 6, 30)))
    built = []
    real = Cells.of.__func__

    def counting(cls, *args, **kwargs):
        built.append(args[-1] if len(args) > 2 else None)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(Cells, "of", classmethod(counting))
    first = explain_change(snap, Query())
    assert len(built) == 1
    again = explain_change(snap, Query())
    assert len(built) == 1 and again.findings == first.findings and again.contributors == first.contributors
    explain_change(snap, Query(filters=(("region", ("APAC",)),)))
    assert len(built) == 2
    risk(snap, Query())
    risk(snap, Query())
    assert len(built) == 4  # the period's closed deals and the open pipeline, once each
    for k in range(cells_module.CACHED + 2):  # the cache stays bounded
        cached_cells(snap, ("test", k), lambda: object())
    kept = snap.memo.keys("cells")
    assert len(kept) == cells_module.CACHED and kept[-1] == ("test", cells_module.CACHED + 1)
    assert ("test", 0) not in kept and ("test", 1) not in kept  # the oldest went first
