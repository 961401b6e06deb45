"""Win rate, trend, risk and funnel against data whose truth is known."""
import datetime as dt

import numpy as np
import pytest
from conftest import snapshot_of

from insights.funnel import funnel
from insights.periods import PeriodSpec
from insights.query import Query
from insights.risk import risk
from insights.synthetic import DEMO_CYCLE_EFFECT, DealSpec, PlantedDrop, logit
from insights.trend import trend
from insights.winrate import win_rate

LAST_QUARTER = PeriodSpec("relative", ("quarter", -1), "last quarter")
PREVIOUS = PeriodSpec("previous", (), "previous period")
ALL = PeriodSpec("all", (), "all time")
APAC = (("region", ("APAC",)),)
RATE_KEYS = {"win_rate", "won", "lost", "n", "ci_low", "ci_high"}


def test_win_rate_counts_every_closed_deal_and_carries_its_interval(demo):
    r = win_rate(demo, Query(period=ALL))
    assert r.overall.n == len(demo.deals) == 6338
    assert r.overall.won == int((demo.deals["outcome"] == "Won").sum())
    assert r.overall.ci_low < r.overall.win_rate < r.overall.ci_high
    assert RATE_KEYS <= set(r.to_dict()["overall"])


def test_win_rate_filter_matches_a_pandas_count(demo):
    r = win_rate(demo, Query(filters=(("region", ("APAC",)), ("product_type", ("Enterprise", "Pro"))), period=ALL))
    d = demo.deals
    sel = d[(d["region"] == "APAC") & d["product_type"].isin(["Enterprise", "Pro"])]
    assert r.overall.n == len(sel)
    assert r.overall.won == int((sel["outcome"] == "Won").sum())


def test_groups_under_the_minimum_are_shown_but_never_ranked(demo):
    r = win_rate(demo, Query(filters=(("region", ("India",)),), group_by=("sales_rep_id",),
                             period=LAST_QUARTER))
    few = [g for g in r.groups if not g.enough]
    assert few and all(g.n < r.min_n and g.rank is None and g.vs_rest is None for g in few)
    ranked = [g for g in r.groups if g.enough]
    assert [g.rank for g in ranked] == list(range(1, len(ranked) + 1))


def test_planted_apac_drop_is_the_only_significant_regional_change(demo):
    r = win_rate(demo, Query(group_by=("region",), period=LAST_QUARTER, compare=PREVIOUS))
    by = {g.label: g for g in r.groups}
    assert r.compare_period.label == "2024Q1"
    assert by["APAC"].change.significant and by["APAC"].change.change_pp < -15
    assert [g.label for g in r.groups if g.change.significant] == ["APAC"]
    assert by["APAC"].change.tested == 4
    assert r.change.significant and r.change.change_pp < 0


def test_trend_finds_the_planted_drop_in_the_latest_complete_quarter(demo):
    r = trend(demo, Query(filters=APAC))
    assert r.tested_period == "2024Q2"
    assert r.verdict == "drop"
    assert r.change.change_pp == pytest.approx(-21.7, abs=0.1)
    assert r.change.p_value < 1e-6
    assert r.baseline_periods == ["2023Q2", "2023Q3", "2023Q4", "2024Q1"]
    partial = [p.label for p in r.points if not p.complete]
    assert partial == ["2024Q3 (to date)"]


def test_trend_on_noise_reports_noise_with_a_detectable_change(noise):
    r = trend(noise, Query())
    assert r.verdict == "noise"
    assert not r.change.significant
    assert 2 < r.change.mde_pp < 8


def test_trend_false_alarm_rate_stays_at_the_nominal_level():
    """Across 60 pure-noise datasets a 5% test calls a change in few of them (expected 3)."""
    alarms = sum(trend(snapshot_of(DealSpec(n_deals=2500, seed=100 + s)), Query()).verdict != "noise"
                 for s in range(60))
    assert alarms <= 7  # P(X >= 8) < 1% for Binomial(60, 0.05)


def test_monthly_trend_uses_months(demo):
    r = trend(demo, Query(grain="month"))
    assert r.grain == "month"
    assert r.points[0].label == "2023-01" and r.points[-1].label == "2024-07 (to date)"
    assert sum(p.n for p in r.points) == len(demo.deals)


def test_right_censored_periods_are_flagged_and_not_tested():
    snap = snapshot_of(DealSpec(n_deals=6000, seed=4, created_until=dt.date(2023, 12, 31)))
    assert snap.report.censored_after == dt.date(2023, 12, 31)
    # typed out, closed-date quarters past the cut-off are flagged and never tested
    r = trend(snap, Query(period=ALL))
    censored = [p.label for p in r.points if p.censored == "right"]
    assert censored[0] == "2024Q1" and censored[1].startswith("2024Q2")
    assert r.tested_period == "2023Q4"
    assert r.censoring["created_until"] == "2023-12-31"
    # by default the question is answered on created-date cohorts whose outcome window has passed
    r = trend(snap, Query())
    assert r.date_basis == "created_date" and r.outcome_window_days == 100
    assert r.tested_period == "2023Q4 cohort"
    assert r.baseline_periods == ["2023Q1 cohort", "2023Q2 cohort", "2023Q3 cohort"]
    assert r.censoring["periods"] == ["2024Q1", "2024Q2 (to date)"]


def test_demo_data_is_not_censored(demo):
    assert demo.report.censored_after is None
    assert trend(demo, Query()).censoring is None


def test_risk_ranks_the_planted_segment_first(demo):
    r = risk(demo, Query())
    assert r.period.label == "2024Q2"
    top = r.segments[0]
    assert top.segment == {"region": "APAC"}
    assert top.vs_rest.significant
    assert top.impact_score == pytest.approx(top.n * r.overall.won / r.overall.n - top.won, abs=0.1)
    assert top.revenue_at_risk == pytest.approx(top.open_amount * (1 - top.win_rate), rel=1e-6)
    assert top.revenue_at_risk_low <= top.revenue_at_risk <= top.revenue_at_risk_high
    # APAC · X combinations tell the same story and are folded under APAC, not repeated
    assert not any(len(s.segment) == 2 and s.segment.get("region") == "APAC" for s in r.segments)
    assert r.folded > 0


def test_risk_on_noise_rarely_finds_anything():
    """Under the global null, BH keeps the chance of any finding near 5%."""
    hits = sum(risk(snapshot_of(DealSpec(n_deals=3000, seed=200 + s)), Query()).significant_count > 0
               for s in range(40))
    assert hits <= 6  # P(X >= 7) < 1% for Binomial(40, 0.05)


def test_funnel_stage_counts_add_up(demo):
    r = funnel(demo, Query())
    assert r.stages[0].reached == r.overall.n
    assert sum(s.lost_here for s in r.stages) == r.overall.lost
    assert r.stages[-1].stage == "Closed" and r.stages[-1].reached == r.overall.won
    assert sum(s.share_of_lost for s in r.stages) == pytest.approx(1.0, abs=1e-3)


def test_cycle_outcome_gap_finds_that_long_cycles_lose():
    snap = snapshot_of(DealSpec(n_deals=8000, seed=9, cycle_effect=DEMO_CYCLE_EFFECT))
    r = funnel(snap, Query(period=PeriodSpec("all", (), "all")))
    assert r.overall_gap.gap_days < 0 and r.overall_gap.significant
    won = snap.deals.loc[snap.deals["outcome"] == "Won", "sales_cycle_days"].median()
    lost = snap.deals.loc[snap.deals["outcome"] == "Lost", "sales_cycle_days"].median()
    assert r.overall_gap.gap_days == pytest.approx(won - lost)


def test_cycle_outcome_gap_is_noise_when_cycles_do_not_matter(noise):
    r = funnel(noise, Query(period=PeriodSpec("all", (), "all")))
    assert not r.overall_gap.significant


def test_a_drop_in_a_combination_shows_in_that_combination():
    spec = DealSpec(n_deals=9000, seed=21, drops=(PlantedDrop({"region": "Europe", "product_type": "Pro"},
                                                              dt.date(2024, 4, 1), dt.date(2024, 7, 15),
                                                              logit(0.2) - logit(0.45)),))
    r = risk(snapshot_of(spec), Query())
    significant = [s.label for s in r.segments if s.vs_rest.significant]
    assert "Europe · Pro" in significant[:3]
    pair = next(s for s in r.segments if s.label == "Europe · Pro")
    assert pair.win_rate < min(s.win_rate for s in r.segments if s.label in ("Europe", "Pro"))


def test_as_of_moves_now_back(demo):
    earlier = demo.at(dt.date(2024, 3, 31))
    r = trend(earlier, Query(filters=APAC))
    assert r.tested_period == "2024Q1" and r.verdict == "noise"
    assert earlier.deals["closed_date"].max() <= np.datetime64("2024-03-31")


def test_answers_about_censored_periods_say_so():
    from insights.why import explain_change

    snap = snapshot_of(DealSpec(n_deals=6000, seed=4, created_until=dt.date(2023, 12, 31)))
    q1 = PeriodSpec("calendar", ("quarter", 2024, 1), "2024Q1")
    assert "right_censored" in explain_change(snap, Query(period=q1)).notes
    assert "right_censored" in risk(snap, Query(period=q1)).notes
    # the defaults answer on cohorts, which are not censored
    for r in (explain_change(snap, Query()), risk(snap, Query()), win_rate(snap, Query())):
        assert r.period.label == "2023Q4 cohort" and r.period.basis == "created"
        assert "right_censored" not in r.notes
    q3 = PeriodSpec("calendar", ("quarter", 2023, 3), "2023Q3")
    assert "right_censored" not in win_rate(snap, Query(period=q3)).notes


def test_year_to_date_vs_last_year_compares_the_same_days_a_year_earlier(demo):
    from insights.periods import PeriodSpec, resolve, shifted

    ytd = resolve(PeriodSpec("to_date", ("year",), "ytd"), demo.as_of)
    before = shifted(ytd, "year_ago")
    assert (ytd.start, ytd.end) == (dt.date(2024, 1, 1), dt.date(2024, 7, 15))
    assert (before.start, before.end) == (dt.date(2023, 1, 1), dt.date(2023, 7, 15))  # not all of 2023
    whole = resolve(PeriodSpec("calendar", ("quarter", 2024, 2), "2024q2"), demo.as_of)
    assert (shifted(whole, "year_ago").start, shifted(whole, "year_ago").end) == (dt.date(2023, 4, 1), dt.date(2023, 6, 30))
