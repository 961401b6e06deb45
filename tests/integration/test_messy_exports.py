"""A sales leader's first hour on exports shaped like a real CRM's (insights.synthetic.crm_spec): a
censored extract, a left-truncated one, one that lacks columns, lost deals zeroed to $0, stale deals
and blank amounts. Each test is a defect found by asking the bot as a new user would, with the values
these files really give."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.core.ask import ask
from insights.synthetic import crm_spec, generate_deals, write_csv

from exports import cro, refreshed


@pytest.fixture(scope="module")
def who():
    return cro()


@pytest.fixture(scope="module")
def censored(tmp_path_factory):
    """An extract that stopped taking new deals on 2025-02-01 while closes run to 2025-05-15, with no
    industry column: the defaults follow created-date cohorts."""
    path = tmp_path_factory.mktemp("censored") / "censored.csv"
    write_csv(generate_deals(crm_spec(seed=5, n_deals=8_000, as_of=dt.date(2025, 5, 15),
                                      created_until=dt.date(2025, 2, 1), absent_columns=("industry",))), path)
    return refreshed(path)


def test_a_december_cohort_is_measured_against_the_usual_december_not_called_a_drop(censored, who):
    """Deals created in December close in the year's low quarter: every December cohort wins about
    15 pp less than the four cohorts before it. Before, cohorts had no season check and /trend monthly
    called the 2024-12 cohort "a significant drop" (−15.4 pp, p<0.001)."""
    reply = ask(censored, who, "/trend monthly")
    trend = reply.result
    assert trend.tested_period == "2024-12 cohort"
    assert trend.change.change_pp == pytest.approx(-15.4, abs=0.05) and trend.change.significant
    season = trend.season
    assert [e.period for e in season.earlier] == ["2023-12 cohort", "2022-12 cohort"]
    assert [e.change_pp for e in season.earlier] == pytest.approx([-13.7, -16.0], abs=0.05)
    assert season.pattern and not season.significant
    assert trend.verdict == "noise"
    assert "*Verdict: the usual seasonal move, within noise.*" in reply.text
    assert "a significant drop" not in reply.text


def test_a_cohort_why_says_what_the_same_cohort_did_a_year_earlier(censored, who):
    reply = ask(censored, who, "/why")
    why = reply.result
    assert why.period.label == "2024Q4 cohort" and why.season is not None
    assert [e.period for e in why.season.earlier] == ["2023Q4 cohort"]
    assert why.season.earlier[0].change_pp == pytest.approx(-1.8, abs=0.05)
    assert "2023Q4 cohort −1.8 pp against 2022Q4 to 2023Q3 cohorts (4 quarters)" in reply.text


@pytest.fixture(scope="module")
def truncated(tmp_path_factory):
    """Deals created from 2023-11-15 only (a left-truncated extract), no product column, Europe's win
    rate falling from 2025Q2, data as of 2025-08-20 (2025Q3 is partial), and a region label full of
    Slack markup."""
    from insights.synthetic import PlantedDrop, logit

    frame = generate_deals(crm_spec(
        seed=9, n_deals=9_000, as_of=dt.date(2025, 8, 20), created_from=dt.date(2023, 11, 15),
        absent_columns=("product_type",),
        drops=(PlantedDrop({"region": "Europe"}, dt.date(2025, 4, 1), dt.date(2025, 8, 20), logit(0.25) - logit(0.45)),)))
    frame.loc[frame.index[5:9], "region"] = "`rm -rf` <@U123> &amp; _x_"
    path = tmp_path_factory.mktemp("truncated") / "truncated.csv"
    write_csv(frame, path)
    return refreshed(path)


def test_a_segment_that_moved_beyond_noise_with_the_rest_is_not_called_noise(truncated, who):
    """Europe's 2025Q2 fell 20.5 pp, broadly: Outbound fell 27.2 pp with p<0.001 after correction, but not
    significantly more than the rest. Before, the watch list said "p<0.001 after correction: not yet
    distinguishable from noise", the contributors line "not significant after correction; may be noise"
    beside p<0.001, and the list was titled "Nothing passed the tests" under a significant total."""
    reply = ask(truncated, who, "/why Europe")
    why = reply.result
    assert why.story == "diffuse" and why.significant and why.change_pp == pytest.approx(-20.48, abs=0.01)
    outbound = next(c for c in why.contributors if c.label == "Outbound")
    assert not outbound.significant and outbound.p_value < 0.001
    assert "not yet distinguishable from noise" not in reply.text.split("Watch *Outbound*")[1].splitlines()[0]
    assert ("1. Watch *Outbound*: 42.6% → 15.4% (−27.2 pp, n=65, p<0.001 after correction: beyond noise, but not "
            "significantly more than the rest of the deals); $1.0M of open pipeline.") in reply.text
    assert ("Largest other contributors (not findings: those with p under 0.05 moved beyond noise, but not "
            "significantly more than the rest of the deals; the others may be noise): Inbound −9.34 pp") in reply.text
    # the total passed its test: the watch list does not say nothing did
    assert "*The change is real, but no segment stands out; what to watch*" in reply.text.splitlines()
    assert "Nothing passed the tests" not in reply.text


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """Amounts as currency text, no lead source column, 5% of labels written another way, lost deals
    at $0, and three deals whose industry is Slack markup."""
    frame = generate_deals(crm_spec(seed=23, amount_as_text=True, absent_columns=("lead_source",),
                                    messy_label_share=0.05))
    frame.loc[frame.index[:3], "industry"] = "<!channel> *boom*"
    path = tmp_path_factory.mktemp("messy") / "messy.csv"
    write_csv(frame, path)
    return refreshed(path)


@pytest.mark.parametrize("text, line", [
    ("/winrate by source", '• "source": this data has no lead source column, so it cannot be split or filtered by it. '
                           "Try region, industry, product, stage, rep, cycle."),
    ("/risk by lead", '• "lead": this data has no lead source column, so it cannot be split or filtered by it. '
                      "Try region, industry, product, stage, rep, cycle."),
    ("/winrate size=100k+", '• "size": deal-size bands are withheld on this data: (nearly) every lost deal is recorded '
                            "with an amount of 0, so a deal's size band would give away its outcome (see `/health`). "
                            "Try region, industry, product, stage, rep, cycle."),
])
def test_a_dimension_the_data_lacks_is_named_as_missing_not_as_an_unknown_word(messy, who, text, line):
    """Before, `/winrate by source` on an export without a lead source column answered '"source" is not
    something I can split or filter by', as if the word were wrong."""
    reply = ask(messy, who, text)
    assert reply.kind == "usage"
    assert line in reply.text.splitlines()
    assert "is not something I can split or filter by" not in reply.text


def test_a_word_that_names_no_dimension_is_still_an_unknown_word(messy, who):
    reply = ask(messy, who, "/winrate by colour")
    assert ('• "colour" is not something I can split or filter by. Try region, industry, product, stage, rep, cycle.'
            in reply.text.splitlines())


def test_reps_with_too_few_deals_to_test_are_not_called_consistent_with_luck(messy, who):
    """In Europe's 2025Q2 no rep has 30 closed deals (rep_4: 7 won of 22). Before, the reply said "No rep
    is significantly below the rest of the team after Benjamini–Hochberg correction across 0 tested: the
    differences below are consistent with luck" — a verdict from no test."""
    reply = ask(messy, who, "/reps Europe")
    reps = reply.result
    assert reps.tested == 0 and reps.team.n == 486 and len(reps.reps) == 25
    rep_4 = next(r for r in reps.reps if r.rep == "rep_4")
    assert (rep_4.won, rep_4.n, rep_4.vs_team) == (7, 22, None)
    assert reply.text.splitlines()[1] == (
        "*Too few deals to test any rep*: each is compared with the rest of the team only when both have 30 closed "
        "deals here, and none does, so the rates below are shown, not compared; widen the period or the filters.")
    assert "across 0 tested" not in reply.text


def test_a_funnel_whose_segments_are_all_too_few_says_none_is_tested(messy, who):
    reply = ask(messy, who, "/funnel rep_7")
    funnel = reply.result
    assert funnel.tested == 0 and funnel.overall.n == 59 and not any(g.enough for g in funnel.gaps)
    assert ("_A negative gap means won deals close faster than lost ones. No segment has 15 won and 15 lost deals "
            "here, so none is tested._") in reply.text.splitlines()
    assert "across 0 segments" not in reply.text


@pytest.mark.parametrize("text, line", [
    ("/trend weekly", '• "weekly": win rates come by month or by quarter only; a week\'s or a day\'s deals are too few '
                      "to test. Try monthly or quarterly."),
    ("/trend by week", '• "week": win rates come by month or by quarter only; a week\'s or a day\'s deals are too few '
                       "to test. Try by month or by quarter."),
    ("/trend yearly", '• "yearly": win rates come by month or by quarter only; for a year, type the year itself '
                      "(`2024`) and read its quarters. Try monthly or quarterly."),
])
def test_a_grain_no_analysis_answers_in_is_named_not_dropped(messy, who, text, line):
    """Before, `/trend weekly` answered the quarterly trend as if "weekly" had not been typed (the
    sentence reader dropped the word and the rest parsed), with nothing said."""
    reply = ask(messy, who, text)
    assert reply.kind == "usage" and reply.result is None
    assert line in reply.text.splitlines()


def test_a_monthly_trend_is_still_answered(messy, who):
    reply = ask(messy, who, "/trend APAC monthly")
    assert reply.kind == "answer" and reply.result.grain == "month"
    assert reply.result.points[-1].label == "2025-06" and reply.result.points[-1].n == 207


@pytest.fixture(scope="module")
def minimal(tmp_path_factory):
    """Only the columns the bot cannot do without: deal id, dates, amount (losses at $0) and outcome."""
    path = tmp_path_factory.mktemp("minimal") / "minimal.csv"
    write_csv(generate_deals(crm_spec(seed=11, n_deals=3_000, absent_columns=(
        "industry", "region", "product_type", "lead_source", "deal_stage", "sales_rep_id", "sales_cycle_days"))), path)
    return refreshed(path)


def test_help_names_only_the_filters_this_data_has(minimal, messy, who):
    """Before, /help offered `APAC`, `enterprise`, `referral`, `rep_3` and eight dimensions on a file
    that has none of them."""
    lines = ask(minimal, who, "/help").text.splitlines()
    assert ("*Filters*: any known value or `dim=value[,value]`. Dimensions: cycle. _This data has no region, industry, "
            "product, source, stage, rep, size (deal-size bands are withheld: lost deals are recorded at $0): those "
            "filters and splits are not available._") in lines
    lines = ask(messy, who, "/help winrate").text.splitlines()
    assert ("*Filters*: any known value (`APAC`, `north america`, `enterprise`, `rep_3`) or `dim=value[,value]` "
            "(`region=APAC,Europe`). Dimensions: region, industry, product, stage, rep, cycle. _This data has no "
            "source, size (deal-size bands are withheld: lost deals are recorded at $0): those filters and splits "
            "are not available._") in lines
    assert lines[-1].startswith("*Periods*")


def test_pipeline_help_describes_the_backtest_the_answer_gives(messy, who):
    """Before, /help pipeline said the backtest was "fitted as of two quarters back", while every
    /pipeline answer backtests every past quarter the history allows (9 on this file)."""
    help_text = ask(messy, who, "/help pipeline").text
    assert "two quarters back" not in help_text
    assert "Backtest at every past quarter the history allows" in help_text
    pipeline = ask(messy, who, "/pipeline").result
    assert pipeline.backtest.quarters == 9 and pipeline.backtest.covered == 9


def test_winrate_vs_previous_sets_a_seasonal_rise_against_the_usual_one(messy, who):
    """Q2 wins about 9 pp more than Q1 every year on this export. Before, `/winrate vs previous` called
    2025Q2's +9.0 pp "a significant rise" and said nothing more, while `/why last quarter vs previous`
    called the same change "the usual seasonal move, within noise"."""
    reply = ask(messy, who, "/winrate vs previous")
    rate = reply.result
    assert rate.change.change_pp == pytest.approx(9.0, abs=0.05) and rate.change.significant
    assert rate.season.pattern and not rate.season.significant
    assert rate.season.p_value == pytest.approx(0.94, abs=0.005)
    assert ("_The same change in earlier cycles: the usual change for this time of year (2024Q2 +9.0 pp against "
            "2024Q1, 2023Q2 +8.7 pp against 2023Q1), +8.8 pp on average; against that, +0.2 pp, p=0.94 — *the usual "
            "seasonal move, not news*. `/why` tests each segment against the usual change._") in reply.text.splitlines()
    why = ask(messy, who, "/why last quarter vs previous").result
    assert why.season.p_value == rate.season.p_value and not why.significant


def test_winrate_vs_last_year_needs_no_season_line(messy, who):
    reply = ask(messy, who, "/winrate APAC vs last year")
    assert reply.result.season is None and "earlier cycles" not in reply.text
    lines = reply.text.splitlines()
    against = next(k for k, line in enumerate(lines) if line.startswith("Against 2024Q2"))
    assert lines[against + 1].startswith("_Rates by amount are withheld")  # no empty line where the season would go


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small book (700 deals over three years, 45 closed in 2025Q1), lost deals with their amounts,
    15% of deals gone stale, nine open deals in ten without an amount, data as of 2025-06-10."""
    path = tmp_path_factory.mktemp("small") / "small.csv"
    write_csv(generate_deals(crm_spec(seed=3, n_deals=700, lost_amount_zero=False, stale_share=0.15,
                                      open_blank_amount_share=0.9, as_of=dt.date(2025, 6, 10))), path)
    return refreshed(path)


def test_a_why_with_no_segment_big_enough_says_none_was_tested(small, who):
    """Before: "no segment moved differently from the rest (0 dimensions and 0 segments tested…)"."""
    reply = ask(small, who, "/why")
    why = reply.result
    assert (why.current.n, why.baseline.n, why.tested, why.story) == (45, 205, 0, "noise")
    assert ("*The change is within noise, and no segment has enough deals to be tested on its own* (a segment is "
            "tested when it and the rest of the deals each have 30 closed deals in both periods), so whether one "
            "moved differently from the rest is not known. With these samples only a change of about 23.0 pp or more "
            "in the total would be reliably detected.") in reply.text.splitlines()
    assert "0 segments tested" not in reply.text
    digest = ask(small, who, "/digest").text
    assert ("*What moved (2025Q1 against 2024Q1 to 2024Q4 (4 quarters), −2.1 pp)*: no segment has enough deals to "
            "be tested on its own.") in digest.splitlines()
    assert "*Reps needing attention*: no rep has enough closed deals in 2025Q1 to be tested against the team." \
        in digest.splitlines()


def test_drivers_with_every_level_too_small_do_not_claim_a_single_value(small, who):
    """88 closed deals in the last two quarters spread over 4 regions, 5 industries, 3 products, 4
    sources, 5 size and 4 cycle bands: every deal sits in some level under 30, so nothing is left to
    fit. Before: "Every factor has a single value in this selection" — untrue, every factor has several."""
    reply = ask(small, who, "/drivers last 2 quarters")
    drivers = reply.result
    assert drivers.overall.n == 88 and drivers.notes == ["too_few_per_level"]
    assert len(drivers.left_out["region"]) == 4 and drivers.model_p_value is None
    assert "single value" not in reply.text
    assert ("_Too few deals per factor level to fit a model here: a level needs 30 deals, and setting aside the deals "
            "of the smaller levels leaves no factor with two. Widen the period or drop a filter._") in reply.text


def test_a_rate_by_amount_of_one_won_deal_has_an_interval_not_a_point(small, who):
    """One 100k+ deal closed in 2025Q1, and it was won. Before: "By amount: 100.0% … (≈95% CI 100.0–100.0%)"
    beside the count's 20.6–100.0%: the delta method's variance is 0 at 100%."""
    reply = ask(small, who, "/winrate size=100k+")
    rate = reply.result
    assert (rate.overall.won, rate.overall.n) == (1, 1)
    assert rate.amount.amount_win_rate == 1.0
    assert (rate.amount.ci_low, rate.amount.ci_high) == (rate.overall.ci_low, rate.overall.ci_high) == (0.2065, 1.0)
    assert "By amount: 100.0% of the $134k closed was won ($134k; ≈95% CI 20.6–100.0%)." in reply.text.splitlines()
    # away from the boundary the delta method stands: 16 of 26 won, 56.4% of $3.9M
    wider = ask(small, who, "/winrate size=100k+ all").result.amount
    assert (wider.amount_win_rate, wider.ci_low, wider.ci_high) == (0.5639, 0.3564, 0.7715)


def test_a_drop_between_two_left_truncated_quarters_is_not_called_plainly_significant(truncated, who):
    """The extract starts with deals created on 2023-11-15, so 2023Q4 holds 69 quick closes and 2024Q1
    only part of its deals. Before, `/why 2024Q1 vs previous` called −24.0 pp "a significant drop" and
    then "the change is real, but no segment carries enough evidence (0 dimensions and 0 segments
    tested)", with the warning that no test of the period is fair only at the end."""
    reply = ask(truncated, who, "/why 2024Q1 vs previous")
    why = reply.result
    assert (why.current.n, why.baseline.n, why.tested) == (633, 69, 0)
    assert why.change_pp == pytest.approx(-24.0, abs=0.05) and "early_period" in why.notes
    lines = reply.text.splitlines()
    assert lines[2].endswith("— *a significant drop* — on periods the extract holds only in part, so not a fair "
                             "test (below).")
    assert ("*What explains it*: not known — no segment has enough deals to be tested on its own (a segment is "
            "tested when it and the rest of the deals each have 30 closed deals in both periods). More data, or a "
            "longer period, would tell.") in lines
    assert "0 segments tested" not in reply.text



@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    """Nothing planted: three years of CRM-shaped deals (the last month of a quarter wins far more),
    data as of 2025-08-20, 51 days into 2025Q3."""
    path = tmp_path_factory.mktemp("partial") / "partial.csv"
    write_csv(generate_deals(crm_spec(seed=9, n_deals=9_000, as_of=dt.date(2025, 8, 20))), path)
    return refreshed(path)


def test_a_quarter_to_date_is_measured_against_the_same_days_of_earlier_quarters(partial, who):
    """2025Q3 to date holds July and most of August, not September, where the push to close wins most.
    Before, `/why this quarter` on data with no change planted called its −11.1 pp "a significant drop"
    (p=0.0015): the season check compared it with all of 2024Q3. Now the earlier cycle is the same 51
    days, 2024-07-01 to 2024-08-20 (−9.1 pp against its four quarters)."""
    reply = ask(partial, who, "/why this quarter")
    why = reply.result
    assert why.period.label == "2025Q3 (to date)" and why.change_pp == pytest.approx(-11.06, abs=0.01)
    assert why.season.to_date and why.season.pattern and not why.significant
    assert [(e.period, e.change_pp) for e in why.season.earlier] == [("2024Q3 (to 2024-08-20)", pytest.approx(-9.1, abs=0.05))]
    assert "*the usual seasonal move, within noise*" in reply.text and "*a significant drop*" not in reply.text
    rate = ask(partial, who, "/winrate this quarter vs previous")
    assert rate.result.change.significant and not rate.result.season.significant
    assert "2024Q3 (to 2024-08-20) −11.7 pp against 2024Q2, 2023Q3 (to 2023-08-20) −10.2 pp against 2023Q2" in rate.text


def test_a_quarter_to_date_with_one_year_of_history_uses_the_same_days_of_earlier_quarters(truncated, who):
    """The left-truncated extract has no year-earlier 2025Q3 with a whole baseline, so the quarter to
    date is set against the same days of 2025Q2: "the usual change for this point of the quarter"."""
    reply = ask(truncated, who, "/why this quarter")
    season = reply.result.season
    assert season.kind == "quarter" and season.to_date
    assert [e.period for e in season.earlier] == ["2025Q2 (to 2025-05-21)"]
    assert "the usual change for this point of the quarter (2025Q2 (to 2025-05-21) −14.5 pp" in reply.text


def test_help_on_a_command_that_does_not_exist_says_so(messy, who):
    """Before, `/help nonsense` printed the general help as if `/help` had been typed."""
    reply = ask(messy, who, "/help nonsense")
    assert reply.kind == "help"
    assert reply.text.splitlines()[0] == "There is no command `nonsense`; these are the ones there are."
    assert ask(messy, who, "/help why").text.splitlines()[0] == "*`/why [filters] [period] [vs PERIOD]`*"
    assert ask(messy, who, "/help").text.splitlines()[0].startswith("*Sales Intelligence* answers")
