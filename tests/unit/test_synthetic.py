"""The generator's shapes of real CRM exports: each does what it says, and leaves the rest alone."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from insights.mapping import parse_amounts
from insights.synthetic import (
    REGIONS, DealSpec, crm_spec, demo_spec, extract_at, generate_deals,
)

BIG = DealSpec(n_deals=40_000, seed=3, start=dt.date(2022, 1, 1), as_of=dt.date(2024, 12, 31))


def closed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["outcome"] != ""]


def win_rate(frame: pd.DataFrame) -> float:
    return float((frame["outcome"] == "Won").mean())


def test_every_shape_is_off_by_default_and_the_demo_is_unchanged_by_them():
    plain = generate_deals(demo_spec())
    again = generate_deals(DealSpec(**{**demo_spec().__dict__, "season": {}, "stale_share": 0.0}))
    pd.testing.assert_frame_equal(plain, again)
    assert plain["deal_amount"].dtype.kind == "i" and plain["created_date"].notna().all()


def test_a_yearly_season_lifts_q4_and_lowers_q1_and_leaves_the_deals_themselves_alone():
    flat = generate_deals(BIG)
    seasonal = generate_deals(DealSpec(**{**BIG.__dict__, "season": {4: 0.4, 1: -0.4}}))
    # the same deals, closed on the same days in the same segments: only who wins moves
    pd.testing.assert_frame_equal(flat.drop(columns=["outcome", "deal_stage"]),
                                  seasonal.drop(columns=["outcome", "deal_stage"]))
    by_quarter = closed(seasonal).groupby(closed(seasonal)["closed_date"].dt.quarter)["outcome"].apply(
        lambda s: (s == "Won").mean())
    assert by_quarter[4] - by_quarter[2] == pytest.approx(0.097, abs=0.03)  # logit 0.4 at a 45% base
    assert by_quarter[2] - by_quarter[1] == pytest.approx(0.094, abs=0.03)
    assert abs(by_quarter[2] - by_quarter[3]) < 0.03


def test_a_quarter_end_push_wins_more_in_the_last_month_and_pulls_closes_into_it():
    frame = closed(generate_deals(DealSpec(**{**BIG.__dict__, "quarter_months": (-0.4, 0.0, 0.6),
                                               "quarter_end_pull": 0.3})))
    position = (frame["closed_date"].dt.month - 1) % 3
    rates = frame.groupby(position)["outcome"].apply(lambda s: (s == "Won").mean())
    assert rates[2] - rates[0] > 0.2
    shares = position.value_counts(normalize=True)
    assert shares[2] == pytest.approx(1 / 3 + 0.3 * 2 / 3, abs=0.03)  # 30% of the other two thirds moved


def test_stale_deals_never_close_and_sit_open_at_any_age():
    spec = DealSpec(**{**BIG.__dict__, "stale_share": 0.1})
    frame = generate_deals(spec)
    old = frame["created_date"] < pd.Timestamp(spec.as_of - dt.timedelta(days=366))  # past any cycle (<= 365 d)
    assert (frame.loc[old, "outcome"] == "").mean() == pytest.approx(0.1, abs=0.01)
    assert (frame.loc[~old & (frame["outcome"] == ""), "deal_stage"]).notna().all()
    assert win_rate(closed(frame)) == pytest.approx(win_rate(closed(generate_deals(BIG))), abs=0.01)


def test_open_deals_can_lack_amounts_and_created_dates_and_lost_deals_can_be_zeroed():
    frame = generate_deals(crm_spec(seed=5))
    is_open, lost, won = (frame["outcome"] == ""), frame["outcome"] == "Lost", frame["outcome"] == "Won"
    blank = frame["deal_amount"] == ""
    assert blank[is_open].mean() == pytest.approx(0.6, abs=0.03) and not blank[~is_open].any()
    no_created = frame["created_date"].isna()
    assert no_created.sum() > 50 and (frame.loc[no_created, "deal_stage"] == "Qualified").all()
    assert is_open[no_created].all()
    amounts = pd.to_numeric(frame["deal_amount"].where(~blank))
    assert (amounts[lost] == 0).all() and (amounts[won] > 0).all()


def test_amounts_as_currency_text_read_back_to_the_same_numbers():
    plain = generate_deals(BIG)["deal_amount"].head(500)
    text = generate_deals(DealSpec(**{**BIG.__dict__, "amount_as_text": True}))["deal_amount"].head(500)
    assert text.str.startswith("$").all() and text.str.contains(",").any()
    assert (parse_amounts(text) == plain.astype(float)).all()


def test_absent_columns_are_gone_and_messy_labels_fold_back_to_the_clean_ones():
    frame = generate_deals(DealSpec(**{**BIG.__dict__, "absent_columns": ("lead_source", "industry"),
                                       "messy_label_share": 0.1}))
    assert "lead_source" not in frame and "industry" not in frame
    labels = frame["region"].unique()
    assert len(labels) > len(REGIONS) + 4  # case, spacing and near-duplicate variants
    folded = {label.strip().casefold().replace(" ", "") for label in labels}
    assert folded == {r.casefold().replace(" ", "") for r in REGIONS}
    # a tenth rewritten, less the rewrites that change nothing (APAC upper-cased, India title-cased)
    assert (frame["region"].isin(list(REGIONS))).mean() == pytest.approx(0.91, abs=0.008)


def test_a_left_truncated_extract_starts_at_its_cut():
    frame = generate_deals(DealSpec(**{**BIG.__dict__, "created_from": dt.date(2023, 7, 1)}))
    assert frame["created_date"].min() == pd.Timestamp("2023-07-01")


def test_an_extract_as_of_an_earlier_day_knows_each_open_deals_future():
    spec = crm_spec(seed=9)
    then = dt.date(2024, 12, 31)
    extract, truth = extract_at(spec, then)
    assert extract["created_date"].max() <= pd.Timestamp(then)
    assert closed(extract)["closed_date"].max() <= pd.Timestamp(then)
    future = truth.set_index("deal_id")
    open_now = extract.loc[extract["outcome"] == "", "deal_id"]
    later = future.loc[open_now]
    won_next_quarter = (later["outcome"] == "Won") & (later["closed_date"] <= pd.Timestamp("2025-03-31"))
    assert 0.1 < won_next_quarter.mean() < 0.4  # most won deals close in a quarter; stale ones never
    # deals already closed in the extract closed the same way in the truth
    shut = closed(extract).set_index("deal_id")
    assert (future.loc[shut.index, "outcome"] == shut["outcome"]).all()
    # stage follows progress: late stages win next quarter far more often than early ones
    stage = extract.set_index("deal_id").loc[open_now, "deal_stage"]
    by_stage = won_next_quarter.groupby(stage.to_numpy()).mean()
    assert by_stage["Negotiation"] > 2 * by_stage["Qualified"]
    assert np.isfinite(by_stage.to_numpy()).all()
