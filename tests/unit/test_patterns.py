"""Diagnosis on the shapes real data has, with the truth planted: seasons, quarter-end pushes, a flipped
driver, a company-wide fall, one region's fall. Rates over many seeds: tests/measure_detection.py."""
import datetime as dt

import numpy as np
import pytest
from conftest import snapshot_of
from scipy.stats import norm

from bot.core.commands import answer
from insights.alerts import AlertRule, evaluate
from insights.drivers import drivers
from insights.query import Query
from insights.stats import log_odds
from insights.synthetic import DealSpec, PlantedDrop, crm_spec, logit
from insights.trend import trend
from insights.why import explain_change
from measure_detection import flip_spec

Q4_END = dt.date(2024, 12, 31)
Q2_END = dt.date(2025, 6, 30)


def test_a_usual_q4_lift_is_reported_as_the_usual_seasonal_move_not_as_a_significant_rise():
    calls = 0
    for seed in range(6):
        snap = snapshot_of(crm_spec(seed=seed, as_of=Q4_END))
        r, t = explain_change(snap, Query()), trend(snap, Query())
        assert r.change_pp > 3 and r.season.pattern and r.season.earlier[0].period == "2023Q4"
        calls += r.significant or bool(r.findings) or t.verdict != "noise"
    assert calls <= 1, calls
    text = answer(snap, "/why").text
    assert "the usual change for this time of year (2023Q4 +" in text and "*the usual seasonal move, within noise*" in text


def test_the_quarter_end_month_is_compared_with_the_same_month_a_year_earlier():
    snap = snapshot_of(crm_spec(seed=3, as_of=Q4_END))
    t = trend(snap, Query(grain="month"))
    assert t.tested_period == "2024-12" and t.change.significant  # against the four months before: a jump
    assert t.season.earlier[0].period == "2023-12" and t.verdict == "noise"


def test_a_q4_beyond_the_usual_change_but_not_beyond_earlier_q4s_is_not_called():
    # seed 7: the one earlier Q4 with a whole baseline (2023Q4) rose 3.8 pp, the other seeds' 5 to 10:
    # against it 2024Q4 is +5.4 pp beyond the usual (p=0.013), but its rate is within noise of the
    # mean of 2022Q4 and 2023Q4 (+1.7 pp, p=0.25); the intersection-union test needs both
    snap = snapshot_of(crm_spec(n_deals=20_000, seed=7, as_of=Q4_END))
    r, t = explain_change(snap, Query()), trend(snap, Query())
    s = r.season
    assert s.p_value < 0.05 and s.cycle_earlier == ["2023Q4", "2022Q4"] and s.cycle_earlier_p_value > 0.2
    assert s.unusual_p_value == max(s.p_value, s.cycle_earlier_p_value) and not s.significant
    assert not r.significant and t.verdict == "noise"
    text = answer(snap, "/why").text
    assert "against the mean of 2023Q4 and 2022Q4 themselves +1.7 pp, p=0.25" in text, text[:900]
    assert "*not enough to call beyond the usual seasonal move*" in text


def test_a_q4_without_its_usual_lift_is_a_fall_beyond_the_usual():
    # every deal loses the Q4 lift (-0.3 log-odds): flat against the four quarters before, a fall
    # against the usual change and against the earlier Q4s alike, so the intersection-union test calls it
    lost = PlantedDrop({}, dt.date(2024, 10, 1), Q4_END, -0.3)
    for seed in (0, 1):
        snap = snapshot_of(crm_spec(n_deals=20_000, seed=seed, as_of=Q4_END, drops=(lost,)))
        r, t = explain_change(snap, Query()), trend(snap, Query())
        assert abs(r.change_pp) < 1 and r.season.change_vs_usual_pp < -8 and r.season.cycle_earlier_change_pp < -5
        assert r.significant and r.moved_pp < 0 and t.verdict == "drop", (seed, r.season)


def test_a_real_drop_on_top_of_the_seasonal_pattern_is_still_found():
    drop = PlantedDrop({"region": "India"}, dt.date(2024, 10, 1), Q4_END, logit(0.25) - logit(0.45))
    found = sum(explain_change(snapshot_of(crm_spec(seed=s, as_of=Q4_END, drops=(drop,))), Query()).findings[:1] == ["India"]
                for s in range(4))
    assert found >= 3, found


def test_a_single_region_fall_names_no_mirror_image_rise_and_credits_only_segments_that_share_its_deals():
    drop = PlantedDrop({"region": "North America"}, dt.date(2025, 4, 1), Q2_END, logit(0.35) - logit(0.45))
    for seed in range(4):
        snap = snapshot_of(DealSpec(n_deals=20_000, seed=seed, start=dt.date(2024, 1, 1), as_of=Q2_END, drops=(drop,)))
        r = explain_change(snap, Query())
        assert r.findings == ["North America"] and not r.rises, r.findings
        assert all(c.dimension != "region" for c in r.explained)  # regions share no deal with it


def test_a_driver_that_flipped_in_the_latest_quarter_alerts_and_is_said_by_drivers_and_the_digest():
    snap = snapshot_of(flip_spec(1, flipped=True))
    flips = evaluate(snap, [AlertRule(1, "driver_flip")])
    assert [f.label for f in flips] == ["Referral"] and flips[0].period == "2025Q2"
    assert flips[0].details["before_pp"] > 5 and flips[0].details["now_pp"] < 0
    assert "Referral deals won" in answer(snap, "/drivers").text and ": a flip" in answer(snap, "/drivers").text
    stable = snapshot_of(flip_spec(1, flipped=False))
    assert evaluate(stable, [AlertRule(1, "driver_flip")]) == [] and drivers(stable, Query()).flips == []


def test_a_company_wide_fall_with_no_segment_finding_alerts_as_broad():
    drop = PlantedDrop({}, dt.date(2025, 4, 1), Q2_END, logit(0.38) - logit(0.45))
    snap = snapshot_of(DealSpec(n_deals=20_000, seed=2, start=dt.date(2024, 1, 1), as_of=Q2_END, drops=(drop,)))
    found = evaluate(snap, [AlertRule(1, "drop")])
    assert [f.label for f in found] == ["all deals"] and found[0].details["story"] == "diffuse"
    assert found[0].change_pp < -4


def test_a_typed_comparison_with_an_early_quarter_says_so_and_shows_the_fair_comparison():
    snap = snapshot_of(DealSpec(n_deals=20_000, seed=4, start=dt.date(2024, 1, 1), as_of=Q2_END))
    text = answer(snap, "/why 2025Q2 vs 2024Q1").text
    assert "the test against it is not a fair one" in text
    assert "*A fair comparison*: against 2024Q2 to 2025Q1 (4 quarters), whose deals are all in the data" in text
    assert "not a fair one" not in answer(snap, "/why 2025Q2 vs 2024Q3").text


def test_a_typed_quarter_is_tested_against_the_four_complete_quarters_before_it():
    snap = snapshot_of(DealSpec(n_deals=20_000, seed=4, start=dt.date(2024, 1, 1), as_of=Q2_END))
    text = answer(snap, "/trend 2025Q2").text
    assert "against 43.9% over 2024Q2 to 2025Q1 (n=13,136)" in text


def region_fall(seed: int, to: float = 0.39) -> DealSpec:
    """North America (30% of deals) falls from 45% to `to` in 2025Q2; 18 months of deals, as measured."""
    drop = PlantedDrop({"region": "North America"}, dt.date(2025, 4, 1), Q2_END, logit(to) - logit(0.45))
    return DealSpec(n_deals=20_000, seed=seed, start=dt.date(2024, 1, 1), as_of=Q2_END, drops=(drop,))


def test_a_segment_that_fell_by_chance_beside_the_region_is_not_named_in_its_place():
    # seeds where deals of 30-60 days (29) or of $10k-25k (47) fell by chance outside North America
    # too; they used to be named and North America called "explained by" them. Fitted jointly, neither
    # stands once the other is set aside: the reply says so and names no cause.
    for seed, other in ((29, "30-60d"), (47, "10k-25k")):
        r = explain_change(snapshot_of(region_fall(seed)), Query())
        assert r.findings == [] and r.story == "tangled", (seed, r.findings, r.story)
        assert {c.label for c in r.tangled} >= {"North America", other}
        assert "North America" not in [c.label for c in r.explained]
    text = answer(snapshot_of(region_fall(47)), "/why").text
    assert "*What explains it: one of 2 overlapping segments, and the data cannot yet say which*" in text


def test_what_to_watch_in_a_tangle_names_the_segments_that_cannot_be_told_apart():
    r = explain_change(snapshot_of(region_fall(47)), Query())
    assert r.story == "tangled"
    assert sorted(a.owner for a in r.actions) == sorted(c.label for c in r.tangled)  # not the next contributors
    assert all(a.kind == "watch_tangled" for a in r.actions)
    text = answer(snapshot_of(region_fall(47)), "/why").text
    assert "*No cause named yet; what to watch*" in text
    assert "Watch *North America*" in text and "it shares deals with 10k-25k, and the data cannot yet say which" in text


def test_the_region_that_fell_is_named_alone_when_it_stands_apart_from_the_segments_it_overlaps():
    for seed in (21, 33, 57):
        r = explain_change(snapshot_of(region_fall(seed)), Query())
        assert r.findings == ["North America"], (seed, r.findings)


def test_under_pure_noise_a_total_that_passes_its_own_5pct_test_is_not_called_when_the_search_is_counted():
    # pure-noise seeds whose total alone gives p=0.02-0.05: the total is tested together with the
    # segments (20% of the error rate to it at first), so "something changed" stays at 5% overall
    for seed in (52, 60, 84, 86):
        snap = snapshot_of(DealSpec(n_deals=20_000, seed=10_000 + seed, start=dt.date(2024, 1, 1), as_of=Q2_END))
        r = explain_change(snap, Query())
        assert r.p_value < 0.05 and r.total_adjusted_p > 0.05 and not r.significant and r.story == "noise", seed
    text = answer(snap, "/why").text
    assert "once the 50 segments searched with it are counted — *not enough to call a change*" in text, text[:600]


def test_a_real_drop_on_the_season_reads_as_a_drop_even_when_the_raw_quarter_rose():
    # India -20 pp (15% of deals): the total moves 3 pp against the usual Q4 lift, called with margin
    # (-12 pp was called on this seed only at p=0.0465 before segments counted the usual change's
    # covariance with their baselines, 0.062 after: its story is then "hidden", India found)
    drop = PlantedDrop({"region": "India"}, dt.date(2024, 10, 1), Q4_END, logit(0.25) - logit(0.45))
    r = explain_change(snapshot_of(crm_spec(n_deals=20_000, seed=0, as_of=Q4_END, drops=(drop,))), Query())
    assert r.change_pp > 0 and r.moved_pp < 0 and r.significant  # Q4 rose, less than Q4s do
    assert r.findings == ["India"] and r.story == "rate"  # was "unlocated": India fell, the total "rose"


def test_plain_drivers_does_not_state_a_flipped_driver_as_its_current_effect():
    text = answer(snapshot_of(flip_spec(1, flipped=True)), "/drivers").text
    assert "• Referral deals win" not in text  # the all-time average is history, not how it works now
    assert "• Referral deals: over all closed deals" in text and "*but not now*: in 2025Q2" in text


def test_a_typed_period_before_the_data_holds_all_its_deals_says_no_test_of_it_is_fair():
    snap = snapshot_of(DealSpec(n_deals=20_000, seed=4, start=dt.date(2024, 1, 1), as_of=Q2_END))
    assert "no test of it is a fair one" in answer(snap, "/why 2024Q1 vs 2025Q1").text
    assert "no test of it is a fair one" not in answer(snap, "/why 2024Q3 vs 2025Q1").text


def test_a_typed_right_censored_period_shows_the_fair_cohort_comparison():
    snap = snapshot_of(DealSpec(n_deals=20_000, seed=4, start=dt.date(2024, 1, 1), as_of=Q2_END,
                                created_until=dt.date(2025, 2, 28)))
    text = answer(snap, "/why 2025Q2").text
    assert "runs past the extract's last created date" in text
    assert "*A fair comparison*: the 2024Q4 cohort (deals created in the quarter, outcomes within" in text


def test_the_usual_seasonal_change_allows_for_how_much_the_change_varies_from_year_to_year():
    # a stable season: the other quarters change as they did a year earlier, within their samples
    steady = explain_change(snapshot_of(crm_spec(n_deals=20_000, seed=1, as_of=Q4_END)), Query()).season
    assert steady.pattern and steady.yearly_pairs == 2 and steady.yearly_variance == 0
    # one company-wide quarter off its usual (2024Q2 -0.5 log-odds) makes every year's change less
    # certain: the same Q4 is tested against a wider usual change, and so is every segment
    odd = PlantedDrop({}, dt.date(2024, 4, 1), dt.date(2024, 6, 30), -0.5)
    snap = snapshot_of(crm_spec(n_deals=20_000, seed=1, as_of=Q4_END, drops=(odd,)))
    season = explain_change(snap, Query()).season
    assert season.yearly_pairs == 2 and season.yearly_variance > 0.02, season.yearly_variance
    assert season.expected.variance > steady.expected.variance + season.yearly_variance


def test_a_segment_holding_every_deal_is_tested_against_the_usual_change_exactly_as_the_total_is():
    # this Q4's baseline (2023Q4 to 2024Q3) holds 2023Q4, the quarter the usual change was measured
    # on: every segment's baseline shares its deals in proportion, so every segment's test counts
    # that covariance as the total's does (before, only the total's did: segments were tested
    # against a usual change that looked surer than it is)
    r = explain_change(snapshot_of(crm_spec(n_deals=20_000, seed=7, as_of=Q4_END)), Query())
    season = r.season
    (l1, v1), (l0, v0) = log_odds(r.current.won, r.current.n), log_odds(r.baseline.won, r.baseline.n)
    own = (l1 - l0 - season.expected.shift) / np.sqrt(v1 + v0 + season.expected.variance)
    assert season.pattern and season.earlier[0].period == "2023Q4"
    assert 2 * norm.sf(abs(own)) == pytest.approx(season.p_value, rel=1e-3), (2 * norm.sf(abs(own)), season.p_value)
