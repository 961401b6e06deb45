"""Diagnosis on the shapes real data has, with the truth planted: seasons, quarter-end pushes, a flipped
driver, a company-wide fall, one region's fall. Rates over many seeds: tests/measure_detection.py."""
import datetime as dt

from conftest import snapshot_of

from bot.core.commands import answer
from insights.alerts import AlertRule, evaluate
from insights.drivers import drivers
from insights.query import Query
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
