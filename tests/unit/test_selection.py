"""The selection an analysis opens with: a query's period, comparison and deals, worked out once and
shared, each mask read-only, its cells counted once per snapshot."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from insights.deals import deals_behind
from insights.periods import PeriodConflict, PeriodSpec
from insights.pipeline import open_pipeline
from insights.query import Query
from insights.select import BASELINE, count_by
from insights.selection import Selection

APAC = (("region", ("APAC",)),)


def closed_between(snapshot, start: dt.date, end: dt.date, region: str | None = None) -> pd.DataFrame:
    """The closed deals in a window, selected the plain pandas way (the truth a Selection must match)."""
    deals = snapshot.deals
    keep = (deals["closed_date"] >= pd.Timestamp(start)) & (deals["closed_date"] <= pd.Timestamp(end))
    if region is not None:
        keep &= deals["region"] == region
    return deals[keep]


def test_the_period_and_its_deals_match_a_plain_pandas_selection(demo):
    sel = Selection(demo, Query(filters=APAC))
    assert (sel.period.start, sel.period.end) == (dt.date(2024, 4, 1), dt.date(2024, 6, 30))  # the demo's 2024Q2
    truth = closed_between(demo, sel.period.start, sel.period.end, "APAC")
    assert sel.current.sum() == len(truth) > 100
    assert sel.overall.n == len(truth) and sel.overall.won == int((truth["outcome"] == "Won").sum())
    assert sel.filtered.sum() == int((demo.deals["region"] == "APAC").sum())
    assert sel.baseline is None and sel.baseline_overall is None and sel.compare_period is None
    assert sel.open.sum() == int((demo.open_deals["region"] == "APAC").sum())


def test_the_comparison_period_selects_its_own_disjoint_deals(demo):
    sel = Selection(demo, Query(filters=APAC), compare_default=BASELINE)
    assert sel.compare_period.end < sel.period.start
    truth = closed_between(demo, sel.compare_period.start, sel.compare_period.end, "APAC")
    assert sel.baseline.sum() == sel.baseline_overall.n == len(truth)
    assert not (sel.current & sel.baseline).any()
    # the demo's planted story: APAC's rate fell from about 43% to about 21%
    assert sel.baseline_overall.win_rate > 0.35 and sel.overall.win_rate < 0.30


def test_each_mask_is_worked_out_once_and_cannot_be_changed_in_place(demo):
    sel = Selection(demo, Query(filters=APAC))
    assert sel.current is sel.current and sel.filtered is sel.filtered and sel.overall is sel.overall
    with pytest.raises(ValueError, match="read-only"):
        sel.current &= demo.won
    narrowed = sel.current & demo.won  # a step narrows a copy
    assert narrowed.sum() == sel.overall.won and sel.current.sum() == sel.overall.n


def test_its_cells_count_what_the_deals_count_and_are_kept_for_the_next_selection(demo):
    sel = Selection(demo, Query())
    cells = sel.cells(("region", "product_type"))
    want = count_by(demo, sel.current, ("region", "product_type"))
    got = cells.count(cells.everything(), ("region", "product_type"))
    assert got.n.tolist() == want.n.tolist() and got.won.tolist() == want.won.tolist() and want.n.sum() > 0
    again = Selection(demo, Query())  # another analysis of the same question on the same snapshot
    assert again.cells(("region", "product_type")) is cells
    assert Selection(demo, Query(filters=APAC)).cells(("region", "product_type")) is not cells
    open_cells = sel.open_cells(("region",))
    assert open_cells.n.sum() == len(demo.open_deals) and not open_cells.won.any()


def test_a_comparison_overlapping_the_period_is_refused_when_the_selection_is_made(demo):
    overlapping = PeriodSpec("range", (dt.date(2024, 5, 1), dt.date(2024, 5, 31)), "May 2024")
    with pytest.raises(PeriodConflict) as refused:
        Selection(demo, Query(compare=overlapping))
    assert refused.value.reason == "overlap"


def test_deals_narrowed_to_lost_leave_the_selection_as_it_was(demo):
    lost = deals_behind(demo, Query(filters=APAC, outcome="lost"))
    everything = deals_behind(demo, Query(filters=APAC))
    assert lost.count == everything.lost == everything.count - everything.won > 0
    assert lost.won == 0 and lost.deals[0].outcome == "Lost"


def test_the_pipeline_lists_every_open_deal_on_demand_and_keeps_the_listing_out_of_its_json(demo):
    result = open_pipeline(demo, Query(filters=APAC))
    assert len(result.at_risk) == 10 and result.deals == []
    doc = result.to_dict()
    assert "listing" not in doc and len(doc["deals"]) == result.open_deals > 10
    assert result.all_deals()[:10] == result.at_risk
    losses = [d.expected_loss for d in result.all_deals() if d.expected_loss is not None]
    assert losses == sorted(losses, reverse=True)
    assert np.isclose(sum(losses), sum(s for s in [result.listing.loss[i] for i in result.listing.rows]
                                        if not np.isnan(s)), rtol=1e-6)
