"""/pipeline on generated data whose open deals' futures are known: ranking, calibration on the open
deals (and why age matters), forecast coverage over seeds, no skill on noise, and the command."""
import datetime as dt
import json

import numpy as np
import pytest
from scipy import stats as sps

from bot.core.commands import answer
from bot.core.grammar import Vocabulary
from bot.core.intents import interpret
from insights.pipeline import (
    _interval,
    backtest,
    delong_auc,
    fit_model,
    open_ages,
    open_pipeline,
    outcomes_since,
    score,
)
from insights.query import Query
from insights.synthetic import DealSpec
from tests.conftest import snapshot_of

CUT = dt.date(2024, 6, 30)  # deals created over 18 months up to here; what was open here is known later
EFFECTS = {"lead_source": {"Referral": 0.5, "Outbound": -0.5}, "product_type": {"Enterprise": -0.4}}
CYCLE_EFFECT = {60: -0.5, 90: -0.7}  # older, longer deals win less


def known_future(seed: int, n: int = 7_000, effects=EFFECTS, cycle_effect=CYCLE_EFFECT):
    """The data as of CUT, and each deal open then with the outcome it really had (all have closed)."""
    spec = DealSpec(n_deals=n, seed=seed, start=dt.date(2023, 1, 1), as_of=dt.date(2025, 9, 30), created_until=CUT,
                    effects=effects, cycle_effect=cycle_effect)
    full = snapshot_of(spec)
    assert len(full.open_deals) == 0  # every deal created by CUT has closed by the later as-of
    past = full.at(CUT)
    outcome = dict(zip(full.deals["deal_id"], full.won))
    won = np.array([outcome[i] for i in past.open_deals["deal_id"]], dtype=bool)
    return spec, past, won


def true_probability(spec: DealSpec, snapshot, samples: int = 400_000) -> np.ndarray:
    """What a model of the true factors says of each open deal: its log-odds from the planted effects,
    averaged over the true cycle distribution given that the deal has lasted its age."""
    rng = np.random.default_rng(123)
    cycles = np.sort(np.clip(np.round(rng.lognormal(np.log(spec.median_cycle_days), 0.6, samples)), 3, 365))
    ages = open_ages(snapshot)
    deals = snapshot.open_deals
    log_odds = np.full(len(deals), np.log(spec.base_rate / (1 - spec.base_rate)))
    for dim, shifts in spec.effects.items():
        for value, delta in shifts.items():
            log_odds[(deals[dim].astype(str) == value).to_numpy()] += delta
    thresholds = sorted(spec.cycle_effect)
    edges = [0] + thresholds + [10 ** 6]
    shifts = np.cumsum([0.0] + [spec.cycle_effect[t] for t in thresholds])
    beyond = len(cycles) - np.searchsorted(cycles, ages, side="right")
    p = np.zeros(len(deals))
    for k in range(len(edges) - 1):
        lower = np.maximum(ages + 1, edges[k])
        count = np.maximum(np.searchsorted(cycles, edges[k + 1]) - np.searchsorted(cycles, lower), 0)
        p += count / np.maximum(beyond, 1) / (1 + np.exp(-(log_odds + shifts[k])))
    return p


@pytest.fixture(scope="module")
def pooled():
    """Six seeds' open deals: the model's and an age-blind model's probabilities, the truth's, the outcomes."""
    rows = {"model": [], "age_blind": [], "truth": [], "won": []}
    for seed in range(6):
        spec, past, won = known_future(seed)
        rows["model"].append(score(fit_model(past), past).p)
        rows["age_blind"].append(score(fit_model(past, condition_on_age=False), past).p)
        rows["truth"].append(true_probability(spec, past))
        rows["won"].append(won)
    return {k: np.concatenate(v) for k, v in rows.items()}


def test_probabilities_rank_open_deals_nearly_as_well_as_the_true_factors(pooled):
    auc, low, high = delong_auc(pooled["model"], pooled["won"])
    truth, _, _ = delong_auc(pooled["truth"], pooled["won"])
    assert len(pooled["won"]) > 2_000
    assert 0.6 < truth < 0.7  # what the planted factors allow
    assert auc > truth - 0.03 and low > 0.5


def test_mean_probability_of_open_deals_matches_their_win_rate(pooled):
    real = pooled["won"].mean()
    assert 0.28 < real < 0.36  # open deals win less than the ~40% of all closed deals
    assert abs(pooled["model"].mean() - real) < 0.02


def test_a_model_ignoring_age_is_several_points_too_high(pooled):
    real = pooled["won"].mean()
    assert pooled["age_blind"].mean() - real > 0.03
    assert pooled["age_blind"].mean() - pooled["model"].mean() > 0.03


def test_forecast_interval_holds_the_true_won_amount_in_about_90_percent_of_seeds():
    hits = []
    for seed in range(100, 140):
        _, past, won = known_future(seed, n=5_000)
        scored = score(fit_model(past), past)
        amounts = past.open_deals["deal_amount"].to_numpy(dtype=float)
        expected, low, high = _interval(scored, np.ones(len(amounts), dtype=bool), amounts)
        actual = float(amounts[won].sum())
        assert low < expected < high
        hits.append(low <= actual <= high)
    coverage = float(np.mean(hits))
    assert 0.8 <= coverage <= 0.975, coverage


def test_pure_noise_outcomes_give_no_skill():
    verdicts, aucs, chance = [], [], []
    for seed in range(11, 19):
        bt = backtest(snapshot_of(DealSpec(n_deals=7_000, seed=seed)))
        assert bt.scored > 300 and bt.auc is not None
        verdicts.append(bt.skill)
        aucs.append(bt.auc)
        chance.append(bt.auc_ci_low <= 0.5)
    assert not any(verdicts)
    assert abs(np.mean(aucs) - 0.5) < 0.03 and sum(chance) >= 6


def test_planted_factors_give_skill_and_rank_by_expected_loss():
    snapshot = snapshot_of(DealSpec(n_deals=7_000, seed=0, effects=EFFECTS, cycle_effect=CYCLE_EFFECT))
    r = open_pipeline(snapshot, Query())
    bt = r.backtest
    assert bt.skill and r.skill and r.ranked_by == "expected_loss"
    assert bt.auc_ci_low > 0.5 and bt.brier < bt.base_rate_brier and bt.brier_p_value < 0.05
    assert [c.decile for c in bt.calibration] == list(range(1, 11))
    assert sum(c.n for c in bt.calibration) == bt.scored
    means = [c.mean_probability for c in bt.calibration]
    assert means == sorted(means)
    # calibrated out of sample: the top decile wins clearly more often than the bottom one
    assert bt.calibration[-1].observed.win_rate - bt.calibration[0].observed.win_rate > 0.15
    losses = [d.expected_loss for d in r.at_risk]
    assert losses == sorted(losses, reverse=True) and losses[0] == max(d.expected_loss for d in r.all_deals())
    outbound = [d for d in r.at_risk if d.segment["lead_source"] == "Outbound"]
    assert outbound and all(any(x.value == "Outbound" and x.effect_pp < 0 for x in d.reasons) for d in outbound)


def test_delong_auc_is_the_mann_whitney_statistic_with_a_sensible_interval():
    rng = np.random.default_rng(0)
    y = rng.random(2_000) < 0.4
    s = rng.normal(size=2_000) + 0.5 * y
    auc, low, high = delong_auc(s, y)
    u = sps.mannwhitneyu(s[y], s[~y]).statistic
    assert auc == pytest.approx(u / (y.sum() * (~y).sum()))
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)  # Hanley-McNeil for the standard error
    n1, n0 = y.sum(), (~y).sum()
    hm = np.sqrt((auc * (1 - auc) + (n1 - 1) * (q1 - auc ** 2) + (n0 - 1) * (q2 - auc ** 2)) / (n1 * n0))
    assert (high - low) / (2 * 1.959964) == pytest.approx(hm, rel=0.1)


def test_bundled_demo_pipeline_forecast_by_quarter_segments_and_stalled(demo):
    r = open_pipeline(demo, Query(group_by=("region",)))
    f = r.forecast
    assert r.open_deals == len(demo.open_deals) == 662
    assert f.level == 0.9 and f.low < f.expected_won_amount < f.high < r.open_amount
    assert sum(q.expected_won_amount for q in f.by_quarter) == pytest.approx(f.expected_won_amount, rel=1e-3)
    assert f.by_quarter[0].quarter == "2024Q3" and f.by_quarter[-1].quarter == "later"
    assert sum(s.open_deals for s in r.segments) == r.open_deals
    assert sum(s.expected_won_amount for s in r.segments) == pytest.approx(f.expected_won_amount, rel=1e-3)
    assert sum(s.at_risk_amount for s in r.segments) == pytest.approx(
        sum(d.expected_loss for d in r.all_deals()), rel=1e-3)
    after = fit_model(demo).stalled_after
    assert all(d.stalled == (d.age_days > after) for d in r.all_deals())
    assert r.stalled_deals == sum(d.stalled for d in r.all_deals()) > 0
    # the demo's backtest: a modest ranking, but not significantly better than the base rate
    assert r.backtest.as_of == dt.date(2024, 1, 15) and not r.skill and r.ranked_by == "amount_and_age"


def test_as_of_moves_the_pipeline_and_the_backtest(demo):
    then = demo.at(dt.date(2024, 3, 31))
    r = open_pipeline(then, Query())
    assert r.as_of == dt.date(2024, 3, 31) and r.backtest.as_of == dt.date(2023, 9, 30)
    assert r.open_deals == len(then.open_deals) != len(demo.open_deals)
    assert r.forecast.by_quarter[0].quarter == "2024Q2"  # 2024Q1 ends on the as-of date: it is done


def test_pipeline_command_text_and_json(demo):
    reply = answer(demo, "/pipeline")
    assert reply.ok and reply.command == "pipeline"
    assert "*Forecast*:" in reply.text and "90% interval" in reply.text and "*Backtest* as of 2024-01-15" in reply.text
    assert "no better than the base rate" in reply.text and "ranked by amount and age only" in reply.text
    assert "longer than" in reply.text and "won deals' cycles" in reply.text
    data = json.loads(json.dumps(reply.result.to_dict()))
    deal = data["deals"][0]
    assert {"deal_id", "win_probability", "amount", "expected_amount", "age_days", "rep", "reasons", "stalled"} <= set(deal)
    assert {"expected_won_amount", "low", "high", "level", "expected_won_deals", "by_quarter"} <= set(data["forecast"])
    assert {"as_of", "auc", "auc_ci_low", "auc_ci_high", "brier", "base_rate_brier", "calibration",
            "skill"} <= set(data["backtest"])
    assert len(data["deals"]) == 662
    by = answer(demo, "/pipeline Enterprise by region")
    assert by.ok and "*By region*" in by.text and "*Open pipeline · Enterprise*" in by.text
    assert by.result.open_deals == int((demo.open_deals["product_type"] == "Enterprise").sum())


@pytest.mark.parametrize("question", ["which deals will close?", "what will we book this quarter?", "forecast",
                                      "which deals are at risk?", "open pipeline in APAC"])
def test_plain_questions_reach_pipeline(demo, question):
    intent = interpret(question, Vocabulary.from_snapshot(demo), demo.as_of, None)
    assert intent.understood and intent.line.startswith("/pipeline")
    assert "deal_stage" not in intent.line


# -- the digest and the alert ----------------------------------------------------------------------------


def test_digest_has_a_pipeline_line(demo):
    from bot.core.digest import digest_text

    text, _ = digest_text(demo)
    line = next(x for x in text.splitlines() if x.startswith("*Pipeline*"))
    r = open_pipeline(demo, Query())
    q = r.forecast.by_quarter[0]
    assert "expected to book in 2024Q3 (90% interval" in line and "662 open deals" in line
    assert "Backtest as of 2024-01-15: no better than the base rate" in line
    assert r.at_risk[0].deal_id in line and q.quarter == "2024Q3"


def test_big_deal_alert_fires_on_large_unlikely_deals_only_with_skill(demo, tmp_path):
    from bot.core.admin import alerts_command
    from bot.store import Store
    from insights.alerts import BIG_DEAL_MAX_PROBABILITY, AlertRule, evaluate
    from insights.kinds import AlertKind

    skilled = snapshot_of(DealSpec(n_deals=7_000, seed=0, effects=EFFECTS, cycle_effect=CYCLE_EFFECT))
    findings = evaluate(skilled, [AlertRule(id=1, kind="big_deal_at_risk", threshold=50_000)])
    assert findings and len(findings) <= 5
    for f in findings:
        assert f.open_amount >= 50_000 and (f.value < BIG_DEAL_MAX_PROBABILITY or f.details["stalled"])
    assert len({f.fingerprint for f in findings}) == len(findings)  # one per deal: de-duplicated per deal
    # without skill only stalled big deals fire, and no probability is claimed
    plain = evaluate(demo, [AlertRule(id=2, kind="big_deal_at_risk")])
    assert plain and all(f.details["stalled"] and f.value is None and f.open_amount >= 100_000 for f in plain)
    from bot.core.render import render
    text = render("text/alert.j2", f=plain[0])
    assert "is at risk" in text and "stalled: open" in text and f"*Owner*: {plain[0].details['rep']}" in text

    store = Store.from_url(f"sqlite:///{tmp_path / 'state.sqlite'}")
    try:
        reply, ok = alerts_command("add big-deal APAC above 250k", store, Vocabulary.from_snapshot(demo), "U1",
                                   dt.datetime(2024, 7, 15, tzinfo=dt.timezone.utc))
        assert ok, reply
        rule = store.rules()[-1]
        assert rule.kind == AlertKind.BIG_DEAL_AT_RISK and rule.threshold == 250_000
        assert dict(rule.filters) == {"region": ("APAC",)}
        assert "open deals of $250k or more in APAC" in reply
    finally:
        store.engine.dispose()


def test_pipeline_chart_draws_expected_bookings_by_quarter(demo):
    from bot.core.charts import chart_for
    from bot.core.render import money

    r = open_pipeline(demo, Query())
    chart = chart_for(r)
    assert chart.filename == "pipeline-forecast.png" and chart.png.startswith(b"\x89PNG")
    q = r.forecast.by_quarter[0]
    assert f"2024Q3 {money(q.expected_won_amount)} ({money(q.low)} to {money(q.high)})" in chart.alt_text
    assert "no better than the base rate" in chart.alt_text


def test_cli_as_of_shows_the_pipeline_as_it_stood_and_its_own_backtest():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "-m", "bot", "ask", "/pipeline", "--as-of", "2024-03-31", "--format", "json"],
                         cwd=root, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["as_of"] == "2024-03-31" and data["backtest"]["as_of"] == "2023-09-30"
    assert data["forecast"]["by_quarter"][0]["quarter"] == "2024Q2"
    assert len(data["deals"]) == data["open_deals"] > 662  # deals closed after March 31 are open again


@pytest.mark.parametrize("then", [dt.date(2024, 3, 31), dt.date(2024, 6, 30), dt.date(2024, 11, 15)])
def test_the_backtests_outcomes_read_off_the_dates_match_a_join_on_deal_ids(then):
    # a pipeline still open at the end (open deals in both the past and now) and deals closing after `then`
    snap = snapshot_of(DealSpec(n_deals=5_000, seed=4, start=dt.date(2023, 1, 1), as_of=dt.date(2025, 3, 31)))
    assert len(snap.open_deals) > 100
    past = snap.at(then)
    outcome = dict(zip(snap.deals["deal_id"], snap.won))
    ids = past.open_deals["deal_id"].tolist()
    known, won = outcomes_since(snap, then)
    assert known.tolist() == [i in outcome for i in ids]
    assert won.tolist() == [bool(outcome.get(i, False)) for i in ids]
    assert known.any() and won.any()
    if then.year == 2024 and then.month == 11:  # late enough that some deals open then are open still
        assert not known.all()
