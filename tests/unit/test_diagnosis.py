"""/why, /drivers, /reps and the actions, against data whose truth is known."""
import datetime as dt

import numpy as np
import pytest
import statsmodels.formula.api as smf
from conftest import snapshot_of

from insights.drivers import DRIVER_FEATURES, drivers
from insights.periods import PeriodSpec
from insights.query import Query
from insights.reps import rep_performance
from insights.synthetic import DealSpec, MixShift, PlantedDrop, logit
from insights.why import explain_change

Q2, Q1 = dt.date(2024, 4, 1), dt.date(2024, 7, 15)
ALL = PeriodSpec("all", (), "all")


def drop(segment, n_deals=9000, seed=21, to=0.2):
    return DealSpec(n_deals=n_deals, seed=seed, drops=(PlantedDrop(segment, Q2, Q1, logit(to) - logit(0.45)),))


def test_planted_regional_drop_is_the_first_and_only_finding(demo):
    r = explain_change(demo, Query())
    # the default: the latest complete quarter against the four complete quarters before it
    assert (r.period.label, r.compare_period.label) == ("2024Q2", "2023Q2 to 2024Q1 (4 quarters)")
    assert r.significant and r.change_pp == pytest.approx(-6.86, abs=0.01)
    assert r.story == "rate"
    assert r.findings == ["APAC"]
    top = r.contributors[0]
    assert top.segment == {"region": "APAC"} and top.significant and top.p_value < 1e-4
    assert top.contribution_pp == pytest.approx(top.rate_effect_pp + top.mix_effect_pp, abs=1e-3)
    # hierarchical: 7 dimensions (last stage is never tested), then their segments
    assert r.families_tested == 7 and r.tested == 62
    # segments that moved only because APAC deals sit in them are marked as explained by APAC
    assert r.explained and {e.explained_by for e in r.explained} == {"APAC"}


def test_a_drop_in_a_combination_is_found_as_that_combination():
    r = explain_change(snapshot_of(drop({"region": "Europe", "product_type": "Pro"}, n_deals=12000, seed=21)), Query())
    assert r.findings[0] == "Europe · Pro"
    assert r.contributors[0].significant
    # its parents moved too, but only through the combination
    assert all(e.explained_by == "Europe · Pro" for e in r.explained)


def test_a_pure_mix_shift_is_reported_as_mix_not_as_a_rate_drop():
    spec = DealSpec(n_deals=12000, seed=5, effects={"lead_source": {"Referral": 0.6, "Partner": 0.3, "Outbound": -0.6}},
                    mix_shifts=(MixShift("lead_source", {"Inbound": 0.2, "Outbound": 0.6, "Referral": 0.1,
                                                         "Partner": 0.1}, Q2),))
    r = explain_change(snapshot_of(spec), Query())
    assert r.significant and r.change_pp < -3
    assert r.story == "mix" and r.mix_dimension == "lead_source"
    assert r.findings == []
    lead = next(d for d in r.dimensions if d.dimension == "lead_source")
    assert lead.mix_significant
    assert abs(lead.mix_effect_pp) > 0.8 * abs(r.change_pp)
    assert abs(lead.rate_effect_pp) < 1.5
    assert r.actions[0].kind == "mix_shift" and r.actions[0].details["value"] == "Outbound"


def test_a_drop_spread_evenly_over_a_region_names_no_segment_inside_it(demo):
    r = explain_change(demo, Query(filters=(("region", ("APAC",)),)))
    assert r.significant and r.change_pp < -20
    assert r.findings == [] and r.story == "diffuse"


def test_decomposition_is_exactly_additive_on_random_data():
    rng = np.random.default_rng(0)
    for seed in rng.integers(0, 10_000, 5):
        spec = DealSpec(n_deals=3000, seed=int(seed), mix_shifts=(MixShift("region", {"APAC": 0.5, "Europe": 0.2,
                                                                                      "India": 0.2,
                                                                                      "North America": 0.1}, Q2),))
        r = explain_change(snapshot_of(spec), Query())
        for d in r.dimensions:
            assert d.rate_effect_pp + d.mix_effect_pp == pytest.approx(r.change_pp, abs=0.01)
            assert sum(s.contribution_pp for s in d.segments) == pytest.approx(r.change_pp, abs=0.01)
            assert sum(s.rate_effect_pp for s in d.segments) == pytest.approx(d.rate_effect_pp, abs=0.01)


def test_no_effect_data_rarely_yields_a_finding():
    """Across 60 null datasets the share with any segment finding stays within the nominal 5%."""
    runs = [explain_change(snapshot_of(DealSpec(n_deals=3000, seed=700 + s)), Query()) for s in range(60)]
    with_findings = sum(bool(r.findings) or r.story == "mix" for r in runs)
    overall_alarms = sum(r.significant for r in runs)
    assert with_findings <= 7  # P(X >= 8) < 1% for Binomial(60, 0.05)
    assert overall_alarms <= 7
    quiet = [r for r in runs if not r.significant and not r.findings]
    assert quiet and all(r.story == "noise" for r in quiet)


def test_why_without_enough_deals_says_so(demo):
    r = explain_change(demo, Query(filters=(("sales_rep_id", ("rep_3",)), ("region", ("India",)))))
    assert r.change_pp is None and "too_few_to_compare" in r.notes


def test_why_compares_any_two_periods(demo):
    r = explain_change(demo, Query(period=PeriodSpec("calendar", ("quarter", 2024, 2), "2024Q2"),
                                   compare=PeriodSpec("calendar", ("quarter", 2023, 2), "2023Q2")))
    assert r.compare_period.label == "2023Q2"
    assert r.findings == ["APAC"]


def test_drivers_find_the_planted_effects_with_the_right_sign():
    spec = DealSpec(n_deals=15000, seed=3, effects={"lead_source": {"Referral": 0.5, "Outbound": -0.4}},
                    cycle_effect={90: -0.7})
    r = drivers(snapshot_of(spec), Query())
    assert r.model_p_value < 1e-10
    by = {(d.feature, d.level): d for d in r.drivers}
    assert by[("lead_source", "Referral")].significant and by[("lead_source", "Referral")].effect_pp > 5
    assert by[("lead_source", "Outbound")].significant and by[("lead_source", "Outbound")].effect_pp < -5
    assert by[("cycle_band", "90d+")].significant and by[("cycle_band", "90d+")].effect_pp < -8
    planted = {("lead_source", "Referral"), ("lead_source", "Outbound"), ("cycle_band", "90d+")}
    extra = [k for k, d in by.items() if d.significant and k not in planted]
    assert extra == []
    ref = by[("lead_source", "Referral")]
    assert ref.ci_low_pp < ref.effect_pp < ref.ci_high_pp


def test_drivers_on_no_effect_data_find_nothing_reliable(noise):
    r = drivers(noise, Query())
    assert not any(d.significant for d in r.drivers)
    assert r.model_p_value > 0.05


def test_aggregated_fit_equals_the_row_level_logistic_regression(demo):
    r = drivers(demo, Query())
    rows = demo.deals.copy()
    rows["won"] = (rows["outcome"] == "Won").astype(int)
    for f in DRIVER_FEATURES:
        rows[f] = rows[f].astype(str)
    refs = {f: rows[f].value_counts().idxmax() for f in DRIVER_FEATURES}
    formula = "won ~ " + " + ".join(f"C({f}, Treatment(reference='{refs[f]}'))" for f in DRIVER_FEATURES)
    fit = smf.logit(formula, rows).fit(disp=0)
    assert r.model_lr_statistic == pytest.approx(fit.llr, abs=1e-3)
    # the average marginal effect of Referral against Inbound, computed on the rows directly
    x1, x0 = rows.assign(lead_source="Referral"), rows.assign(lead_source="Inbound")
    ame = 100 * (fit.predict(x1) - fit.predict(x0)).mean()
    referral = next(d for d in r.drivers if d.level == "Referral")
    assert referral.effect_pp == pytest.approx(ame, abs=0.01)


def test_reps_are_not_flagged_on_luck(demo):
    r = rep_performance(demo, Query())
    assert r.flagged == 0
    assert r.tested == 25
    small = min(r.reps, key=lambda x: x.n)
    # shrinkage pulls every rate toward the team rate, never past it
    for x in r.reps:
        lo, hi = sorted([x.win_rate, r.team.win_rate])
        assert lo - 1e-4 <= x.shrunk_win_rate <= hi + 1e-4
    assert abs(small.shrunk_win_rate - r.team.win_rate) <= abs(small.win_rate - r.team.win_rate)


def test_a_rep_who_really_loses_more_is_flagged():
    spec = DealSpec(n_deals=12000, seed=8, effects={"sales_rep_id": {"rep_7": -1.2}})
    r = rep_performance(snapshot_of(spec), Query(period=ALL))
    flagged = [x.rep for x in r.reps if x.significant]
    assert flagged == ["rep_7"]
    assert r.reps[0].rep == "rep_7"
    assert r.actions and r.actions[0].kind == "rep_below" and r.actions[0].owner == "rep_7"


def test_regions_are_ranked_the_same_way(demo):
    r = rep_performance(demo, Query(group_by=("region",)))
    assert [x.rep for x in r.reps if x.significant] == ["APAC"]


def test_actions_come_only_from_findings(demo, noise):
    r = explain_change(demo, Query())
    assert [a.kind for a in r.actions] == ["rate_drop"]
    a = r.actions[0]
    assert a.owner == "APAC" and a.n == 315 and a.p_value < 0.001
    open_apac = demo.open_deals[demo.open_deals["region"] == "APAC"]
    assert a.open_deals == len(open_apac)
    assert a.open_amount == pytest.approx(open_apac["deal_amount"].sum())
    quiet = explain_change(noise, Query())
    assert all(x.kind == "watch" for x in quiet.actions)
