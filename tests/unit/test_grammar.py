"""The command grammar: forgiving value matching, groupings, periods, comparisons, and problems, never raising."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.core.grammar import Parsed, Problem, Vocabulary, _Parser, parse, split_command
from insights.periods import Period, PeriodSpec, resolve

AS_OF = dt.date(2024, 7, 15)
FIRST = dt.date(2023, 1, 18)

VOCAB = Vocabulary(
    {
        "region": ("APAC", "Europe", "India", "North America"),
        "industry": ("Ecommerce", "EdTech", "FinTech", "HealthTech", "SaaS"),
        "product_type": ("Core", "Enterprise", "Pro"),
        "lead_source": ("Inbound", "Outbound", "Partner", "Referral"),
        "deal_stage": ("Qualified", "Demo", "Proposal", "Negotiation", "Closed"),
        "sales_rep_id": tuple(f"rep_{i}" for i in range(1, 26)),
        "size_band": ("<10k", "10k-25k", "25k-50k", "50k-100k", "100k+"),
        "cycle_band": ("<30d", "30-60d", "60-90d", "90d+"),
    },
    latest_year=2024,
)


def p(text: str) -> Parsed:
    return _Parser(text, VOCAB).parse()


def ok(text: str) -> Parsed:
    parsed = p(text)
    assert parsed.problems == (), parsed.problems
    return parsed


def filters(text: str) -> dict:
    return ok(text).query.filter_dict


def period_of(text: str) -> Period:
    q = ok(text).query
    return resolve(q.period, AS_OF, FIRST)


def compare_of(text: str) -> Period:
    q = ok(text).query
    current = resolve(q.period, AS_OF, FIRST)
    return resolve(q.compare, AS_OF, FIRST, current=current)


# -- commands ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [
        ("/winrate APAC", ("winrate", "APAC")),
        ("  /TREND   by month ", ("trend", "by month")),
        ("/help", ("help", "")),
        ("/winrate\tnorth america\nlast quarter", ("winrate", "north america\nlast quarter")),
        ("winrate APAC", ("", "winrate APAC")),
        ("", ("", "")),
        ("/", ("", "/")),
    ],
)
def test_split_command_separates_the_slash_command_from_its_text(line, expected):
    assert split_command(line) == expected


# -- values -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("APAC", {"region": ("APAC",)}),
        ("apac", {"region": ("APAC",)}),
        ("north america", {"region": ("North America",)}),
        ("NORTH-AMERICA", {"region": ("North America",)}),
        ("North_America", {"region": ("North America",)}),
        ("na", {"region": ("North America",)}),
        ("us", {"region": ("North America",)}),
        ("eu", {"region": ("Europe",)}),
        ("ent", {"product_type": ("Enterprise",)}),
        ("europ", {"region": ("Europe",)}),
        ("rep 12", {"sales_rep_id": ("rep_12",)}),
        ("rep_12", {"sales_rep_id": ("rep_12",)}),
        ("REP12", {"sales_rep_id": ("rep_12",)}),
        ("referral", {"lead_source": ("Referral",)}),
        ("90d+", {"cycle_band": ("90d+",)}),
    ],
)
def test_known_values_match_case_insensitively_and_forgivingly(text, expected):
    assert filters(text) == expected


def test_values_of_different_dimensions_are_and_ed_and_of_one_dimension_or_ed():
    q = ok("apac enterprise Europe referral").query
    assert q.filters == (("region", ("APAC", "Europe")), ("product_type", ("Enterprise",)),
                         ("lead_source", ("Referral",)))
    assert q.describe_filters() == "APAC or Europe · Enterprise · Referral"


def test_filler_words_are_ignored():
    assert filters("show me the win rate for APAC deals please") == {"region": ("APAC",)}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("region=APAC,Europe", {"region": ("APAC", "Europe")}),
        ("region = apac, europe", {"region": ("APAC", "Europe")}),
        ("product=ent", {"product_type": ("Enterprise",)}),
        ("rep=rep_3,rep_12", {"sales_rep_id": ("rep_3", "rep_12")}),
        ("source=partner industry=saas", {"lead_source": ("Partner",), "industry": ("SaaS",)}),
        ("region=APAC,APAC", {"region": ("APAC",)}),
    ],
)
def test_dim_equals_value_list_filters_one_dimension(text, expected):
    assert filters(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("by region", ("region",)),
        ("by region and product", ("region", "product_type")),
        ("by region, product", ("region", "product_type")),
        ("by region,product", ("region", "product_type")),
        ("per rep", ("sales_rep_id",)),
        ("by source x size", ("lead_source", "size_band")),
        ("by region and region", ("region",)),
        ("region", ("region",)),  # a bare dimension word means "by" it
    ],
)
def test_by_groups_by_one_or_more_dimensions(text, expected):
    assert ok(text).query.group_by == expected


def test_grouping_stops_at_the_first_word_that_is_not_a_dimension():
    q = ok("by region APAC last quarter").query
    assert q.group_by == ("region",)
    assert q.filter_dict == {"region": ("APAC",)}
    assert q.period == PeriodSpec("relative", ("quarter", -1), "last quarter")


@pytest.mark.parametrize("text, filters_, group_by", [
    ("Core product", {"product_type": ("Core",)}, ()),  # the value's own dimension named: no split
    ("APAC region 2024Q1", {"region": ("APAC",)}, ()),
    ("APAC industry", {"region": ("APAC",)}, ("industry",)),  # another dimension after a value: a split
    ("product Core", {"product_type": ("Core",)}, ("product_type",)),  # before it: "by product"
])
def test_a_dimension_named_right_after_its_own_value_is_no_split(text, filters_, group_by):
    q = ok(text).query
    assert (q.filter_dict, q.group_by) == (filters_, group_by)


def test_vs_previous_before_other_words_compares_with_the_previous_period():
    q = ok("vs previous in APAC").query
    assert q.compare.kind == "previous" and q.filter_dict == {"region": ("APAC",)}


def test_grain_words_set_the_trend_grain():
    assert ok("monthly").query.grain == "month"
    assert ok("by month").query.grain == "month"
    assert ok("quarterly").query.grain == "quarter"
    assert ok("by region and quarter").query.grain == "quarter"


def test_help_word_asks_for_help():
    assert p("help").help is True
    assert p("APAC --help").help is True
    assert p("APAC").help is False


# -- periods ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, kind, args",
    [
        ("2024Q1", "calendar", ("quarter", 2024, 1)),
        ("2024q1", "calendar", ("quarter", 2024, 1)),
        ("2024-q3", "calendar", ("quarter", 2024, 3)),
        ("q1 2024", "calendar", ("quarter", 2024, 1)),
        ("Q2-2023", "calendar", ("quarter", 2023, 2)),
        ("2024-03", "calendar", ("month", 2024, 3)),
        ("2024", "calendar", ("year", 2024, 1)),
        ("last quarter", "relative", ("quarter", -1)),
        ("last month", "relative", ("month", -1)),
        ("this quarter", "relative", ("quarter", 0)),
        ("last 90d", "last_days", (90,)),
        ("last 90 days", "last_days", (90,)),
        ("last 12 weeks", "last_days", (84,)),
        ("last 2 quarters", "last_n", ("quarter", 2)),
        ("last 6 months", "last_n", ("month", 6)),
        ("ytd", "to_date", ("year",)),
        ("qtd", "to_date", ("quarter",)),
        ("year to date", "to_date", ("year",)),
        ("all time", "all", ()),
        ("2024-01-01..2024-03-31", "range", (dt.date(2024, 1, 1), dt.date(2024, 3, 31))),
        ("2024-01-01 .. 2024-03-31", "range", (dt.date(2024, 1, 1), dt.date(2024, 3, 31))),
        ("from 2024-01-01 to 2024-02-01", "range", (dt.date(2024, 1, 1), dt.date(2024, 2, 1))),
        ("2024-01-01 to 2024-02-01", "range", (dt.date(2024, 1, 1), dt.date(2024, 2, 1))),
        ("2024-05-06", "range", (dt.date(2024, 5, 6), dt.date(2024, 5, 6))),
    ],
)
def test_periods_parse_to_their_spec(text, kind, args):
    period = ok(text).query.period
    assert (period.kind, period.args) == (kind, args)
    assert ok(text).query.compare is None


@pytest.mark.parametrize(
    "text, compare_kind, compare_args",
    [
        ("2024Q2 vs previous", "previous", ()),
        ("2024Q2 vs. prior period", "previous", ()),
        ("2024Q2 vs", "previous", ()),
        ("2024Q2 vs last year", "year_ago", ()),
        ("2024Q2 yoy", None, None),  # yoy only follows vs
        ("2024Q2 vs yoy", "year_ago", ()),
        ("2024Q2 vs 2023Q4", "calendar", ("quarter", 2023, 4)),
        ("2024Q2 compared to 2024-01", "calendar", ("month", 2024, 1)),
        ("2024Q2 vs the 2023Q4", "calendar", ("quarter", 2023, 4)),  # "the", "in" before the period are words of a sentence
        ("2024Q2 vs in the last year", "year_ago", ()),
    ],
)
def test_vs_sets_the_comparison_and_keeps_the_period(text, compare_kind, compare_args):
    parsed = p(text)
    if compare_kind is None:
        assert [pr.word for pr in parsed.problems] == ["yoy"]
        return
    assert parsed.problems == ()
    assert parsed.query.period == PeriodSpec("calendar", ("quarter", 2024, 2), "2024Q2")
    assert (parsed.query.compare.kind, parsed.query.compare.args) == (compare_kind, compare_args)


@pytest.mark.parametrize(
    "text, start, end, complete",
    [
        ("2024Q1", "2024-01-01", "2024-03-31", True),
        ("q1 2024", "2024-01-01", "2024-03-31", True),
        ("2024-03", "2024-03-01", "2024-03-31", True),
        ("2024-02", "2024-02-01", "2024-02-29", True),
        ("2024", "2024-01-01", "2024-07-15", False),
        ("2023", "2023-01-01", "2023-12-31", True),
        ("last quarter", "2024-04-01", "2024-06-30", True),
        ("this quarter", "2024-07-01", "2024-07-15", False),
        ("last month", "2024-06-01", "2024-06-30", True),
        ("last 90d", "2024-04-17", "2024-07-15", True),
        ("last 2 quarters", "2024-01-01", "2024-06-30", True),
        ("ytd", "2024-01-01", "2024-07-15", False),
        ("2024-01-01..2024-03-31", "2024-01-01", "2024-03-31", True),
        ("2024-06-01..2024-12-31", "2024-06-01", "2024-07-15", False),
        ("from 2024-01-01 to 2024-02-01", "2024-01-01", "2024-02-01", True),
        ("2024Q3", "2024-07-01", "2024-07-15", False),
        ("all", "2023-01-18", "2024-07-15", True),
    ],
)
def test_periods_resolve_to_dates_against_as_of(text, start, end, complete):
    period = period_of(text)
    assert (period.start.isoformat(), period.end.isoformat(), period.complete) == (start, end, complete)


def test_resolved_periods_are_labelled():
    assert period_of("last quarter").label == "2024Q2"
    assert period_of("this quarter").label == "2024Q3 (to date)"
    assert period_of("2024-03").label == "2024-03"
    assert period_of("last 2 quarters").label == "last 2 complete quarters (2024Q1 to 2024Q2)"


@pytest.mark.parametrize(
    "text, start, end, label",
    [
        ("2024Q2 vs previous", "2024-01-01", "2024-03-31", "2024Q1"),
        ("last quarter vs previous", "2024-01-01", "2024-03-31", "2024Q1"),
        ("2024Q2 vs last year", "2023-04-01", "2023-06-30", "2023Q2"),
        ("2024-03 vs previous", "2024-02-01", "2024-02-29", "2024-02"),
        ("2024-03 vs last year", "2023-03-01", "2023-03-31", "2023-03"),
        ("2024Q2 vs 2023Q4", "2023-10-01", "2023-12-31", "2023Q4"),
        ("last 90d vs previous", "2024-01-18", "2024-04-16", "2024-01-18 to 2024-04-16"),
        ("2024-02-05..2024-02-14 vs previous", "2024-01-26", "2024-02-04", "2024-01-26 to 2024-02-04"),
        # a partial calendar period is compared with the whole period before it
        ("this quarter vs previous", "2024-04-01", "2024-06-30", "2024Q2"),
        ("ytd vs previous", "2023-01-01", "2023-12-31", "2023"),
        ("qtd vs previous", "2024-04-01", "2024-06-30", "2024Q2"),
        # ... but a year earlier, the same days: a partial quarter against a whole one would carry the
        # quarter-end push into the change
        ("this quarter vs last year", "2023-07-01", "2023-07-15", "2023-07-01 to 2023-07-15"),
        ("ytd vs last year", "2023-01-01", "2023-07-15", "2023-01-01 to 2023-07-15"),
        ("2024Q3 vs previous", "2024-04-01", "2024-06-30", "2024Q2"),
        # a run of whole quarters: the same number of whole quarters just before
        ("last 2 quarters vs previous", "2023-07-01", "2023-12-31", "2023Q3 to 2023Q4 (2 quarters)"),
        # spans that are not whole calendar periods: the same number of days just before
        ("2024-01-01..2024-02-15 vs previous", "2023-11-16", "2023-12-31", "2023-11-16 to 2023-12-31"),
        # a range that is exactly one calendar quarter is compared as that quarter
        ("2024-01-01..2024-03-31 vs previous", "2023-10-01", "2023-12-31", "2023Q4"),
        ("2024-02-29..2024-03-10 vs last year", "2023-02-28", "2023-03-10", "2023-02-28 to 2023-03-10"),
        ("2023 vs previous", "2022-01-01", "2022-12-31", "2022"),
    ],
)
def test_comparisons_resolve_against_the_current_period(text, start, end, label):
    compare = compare_of(text)
    assert (compare.start.isoformat(), compare.end.isoformat(), compare.label) == (start, end, label)


def test_a_full_question_parses_every_part():
    parsed = ok("win rate for apac enterprise by lead source last quarter vs previous")
    q = parsed.query
    assert q.filters == (("region", ("APAC",)), ("product_type", ("Enterprise",)))
    assert q.group_by == ("lead_source",)
    assert q.period.kind == "relative" and q.compare.kind == "previous"
    assert q.text == "win rate for apac enterprise by lead source last quarter vs previous"


# -- problems ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, word, suggestion",
    [
        ("apca", "apca", "APAC"),
        ("eurpoe", "eurpoe", "Europe"),
        ("enterprize", "enterprize", "Enterprise"),
        ("refferal", "refferal", "Referral"),
        ("indai", "indai", "India"),
        ("APAC ydt", "ydt", "ytd"),
        ("regin", "regin", "by region"),
    ],
)
def test_unknown_words_are_problems_naming_the_word_with_close_suggestions(text, word, suggestion):
    parsed = p(text)
    assert not parsed.ok
    (problem,) = [pr for pr in parsed.problems if pr.word == word]
    assert problem.kind == "unknown_word"
    assert suggestion in problem.suggestions


def test_an_unknown_word_like_nothing_gets_no_guess_from_its_first_letters():
    # "enchilada" shares only "en" with Enterprise: naming it back without a "did you mean" is the honest reply
    (problem,) = p("enchilada").problems
    assert (problem.kind, problem.word, problem.suggestions) == ("unknown_word", "enchilada", ())


def test_known_parts_still_parse_next_to_an_unknown_word():
    parsed = p("APAC blorp by region")
    assert parsed.problems == (Problem("unknown_word", "blorp", parsed.problems[0].suggestions),)
    assert parsed.query.filter_dict == {"region": ("APAC",)}
    assert parsed.query.group_by == ("region",)


def test_unknown_value_after_equals_suggests_that_dimensions_values():
    (problem,) = p("region=apca").problems
    assert (problem.kind, problem.word) == ("unknown_value", "region=apca")
    assert "APAC" in problem.suggestions
    (problem,) = p("industry=foo").problems
    assert problem.kind == "unknown_value"
    assert set(problem.suggestions) <= set(VOCAB.values["industry"]) and problem.suggestions


def test_unknown_dimension_is_a_problem_with_known_dimension_names():
    (problem,) = p("colour=red").problems
    assert (problem.kind, problem.word) == ("unknown_dimension", "colour")
    (problem,) = p("by regoin").problems
    assert (problem.kind, problem.word) == ("unknown_dimension", "regoin")
    assert problem.suggestions[0] == "region"
    (problem,) = p("APAC by").problems
    assert (problem.kind, problem.word) == ("unknown_dimension", "by")


def test_a_value_in_two_dimensions_is_ambiguous():
    vocab = Vocabulary({"industry": ("Partner", "SaaS"), "lead_source": ("Partner", "Inbound")}, 2024)
    (problem,) = _Parser("partner", vocab).parse().problems
    assert problem.kind == "ambiguous"
    assert problem.suggestions == ("industry=Partner", "lead_source=Partner")
    assert _Parser("source=partner", vocab).parse().query.filter_dict == {"lead_source": ("Partner",)}


def test_too_short_a_prefix_is_not_guessed():
    (problem,) = p("en").problems  # Enterprise? EdTech? Europe? two letters are not enough
    assert (problem.kind, problem.word) == ("unknown_word", "en")


@pytest.mark.parametrize(
    "text, word",
    [
        ("2024Q5", "2024Q5"),
        ("2024Q0", "2024Q0"),
        ("q5 2024", "q5 2024"),
        ("2024-13", "2024-13"),
        ("2024-00", "2024-00"),
        ("2024-02-30..2024-03-01", "2024-02-30..2024-03-01"),
        ("2024-03-31..2024-01-01", "2024-03-31..2024-01-01"),
        ("from 2024-03-01 to 2024-01-01", "from 2024-03-01 to 2024-01-01"),
        ("2024-02-30", "2024-02-30"),
        ("last 0d", "last 0d"),
        ("last 5 fortnights", "last 5 fortnights"),
        ("last 99999 days", "last 99999 days"),
        # years the calendar cannot resolve (or compare) are refused up front, not left to crash later
        ("0000Q1", "0000Q1"),
        ("9999Q4", "9999Q4"),
        ("9999-12", "9999-12"),
        ("0001-01-01..0001-01-05", "0001-01-01..0001-01-05"),
        ("9999-12-31", "9999-12-31"),
        ("last 3660 years", "last 3660 years"),
    ],
)
def test_bad_periods_are_problems_not_exceptions(text, word):
    parsed = p(text)
    assert [(pr.kind, pr.word) for pr in parsed.problems] == [("bad_period", word)]
    assert parsed.query.period is None


def test_bad_period_suggestions_are_usable_periods():
    assert p("2024Q5").problems[0].suggestions == ("2024Q1", "2024Q4")
    assert p("0000Q1").problems[0].suggestions == ("2024Q1", "2024Q4")
    assert p("2024-13").problems[0].suggestions == ("2024-01", "2024-12")
    assert p("2024-03-31..2024-01-01").problems[0].suggestions == ("2024-01-01..2024-03-31",)
    for text in ("2024Q5", "0000Q1", "2024-13", "2024-03-31..2024-01-01", "last 0d"):
        for suggestion in p(text).problems[0].suggestions:
            assert ok(suggestion).query.period is not None


def test_a_quarter_without_a_year_asks_for_the_year():
    (problem,) = p("q1").problems
    assert problem == Problem("missing_year", "q1", ("2024Q1",))


def test_vs_followed_by_no_period_is_a_problem():
    parsed = p("APAC vs banana")
    assert [pr.kind for pr in parsed.problems] == ["empty_vs", "unknown_word"]
    assert parsed.problems[0].word == "vs"
    assert "vs previous" in parsed.problems[0].suggestions


@pytest.mark.parametrize("text", ["2020Q1 vs previous", "1900Q1 vs last year", "2099Q4", "last 100 years",
                                  "2099-12-31 vs previous", "last 400 quarters vs previous"])
def test_edge_of_calendar_periods_that_parse_also_resolve(text):
    q = ok(text).query
    current = resolve(q.period, AS_OF, FIRST)
    assert current is not None
    if q.compare is not None:
        assert resolve(q.compare, AS_OF, FIRST, current=current) is not None


# -- never raises -----------------------------------------------------------------------------------------

GRAMMAR_WORDS = st.sampled_from([
    "by", "per", "vs", "vs.", "versus", "and", "x", ",", "=", "..", "...", "region=", "=APAC", "region=,", "last",
    "this", "past", "from", "to", "until", "through", "year", "quarter", "month", "date", "ytd", "all", "time",
    "previous", "prior", "yoy", "ago", "q1", "q9", "2024", "2024Q1", "2024-q3", "q2-2024", "2024-03", "2024-1",
    "2024-13", "2024-01-01", "2024-02-30", "0000-01-01", "9999-12-31", "2024-01-01..", "..2024-01-01", "0", "-1",
    "99999999999999999999", "90d", "3w", "2q", "1y", "apac", "north", "america", "rep", "12", "ent", "help", "?",
    "\u00a0", "“", "”", '"', "'", "é", "ß", "İ", "🙂", "\u200b", "\t", "\n",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(GRAMMAR_WORDS, st.text(max_size=6)), max_size=25).map(" ".join),
    st.lists(GRAMMAR_WORDS, max_size=25).map("".join),
    st.lists(GRAMMAR_WORDS, min_size=200, max_size=400).map(" ".join),
))
@example("=..é ✓ \"\"")
@example("from 2024-01-01 to")
@example("2024-01-01 to")
@example("last")
@example("vs to")
@example("region=" + ",".join(["APAC"] * 500))
@example("x" * 10_000)
@example("0000Q1 vs previous 9999-12 last 3660 years")
def test_arbitrary_text_never_raises_and_always_returns_parsed(text):
    parsed = _Parser(text, VOCAB).parse()
    assert isinstance(parsed, Parsed)
    assert all(isinstance(pr, Problem) and isinstance(pr.word, str) for pr in parsed.problems)
    assert parsed.query.text == text.strip()
    for dim, values in parsed.query.filters:
        assert set(values) <= set(VOCAB.values[dim])
    assert set(parsed.query.group_by) <= set(VOCAB.values)
    # whatever period was accepted resolves to real dates (no year 0 or 10000 later)
    current = resolve(parsed.query.period, AS_OF, FIRST)
    resolve(parsed.query.compare, AS_OF, FIRST, current=current or resolve(PeriodSpec("all"), AS_OF, FIRST))


def test_parse_wrapper_accepts_none_and_empty_text():
    assert parse(None, VOCAB).ok and parse("", VOCAB).query.filters == ()


def test_vocabulary_from_snapshot_knows_the_data_values():
    from insights.load import from_table
    from insights.synthetic import DealSpec, generate_deals

    snapshot = from_table(generate_deals(DealSpec(n_deals=400, seed=3, rep_count=12)))
    vocab = Vocabulary.from_snapshot(snapshot)
    assert vocab.latest_year == snapshot.as_of.year
    assert vocab.values["region"] == ("APAC", "Europe", "India", "North America")
    assert vocab.values["sales_rep_id"] == tuple(f"rep_{i}" for i in range(1, 13))
    assert _Parser("rep 12 na", vocab).parse().query.filter_dict == {
        "region": ("North America",), "sales_rep_id": ("rep_12",)}


@pytest.mark.parametrize("text, word, suggestions", [
    ("2024Q2 last year", "last year", ("2024Q2", "last year")),
    ("APAC 2024Q2 2023", "2023", ("2024Q2", "2024Q2 vs 2023", "2023")),
])
def test_a_second_period_outside_vs_is_a_problem_never_read_over_the_first(text, word, suggestions):
    (problem,) = p(text).problems
    assert problem == Problem("two_periods", word, suggestions)
    assert p(text).query.period.text == "2024Q2"
    for suggestion in suggestions:
        assert ok(suggestion).query.period is not None


def test_a_bare_all_gives_way_to_the_period_named():
    assert ok("all deals last quarter").query.period.text == "last quarter"
    assert ok("2024Q2 all").query.period.text == "2024Q2"
    assert ok("2024Q2 2024Q2").query.period.text == "2024Q2"


@pytest.mark.parametrize("text, filters", [
    ("source!=Partner", {"lead_source": ("Inbound", "Outbound", "Referral")}),
    ("region != APAC,Europe", {"region": ("India", "North America")}),
    ("region!=apac industry=SaaS", {"region": ("Europe", "India", "North America"), "industry": ("SaaS",)}),
])
def test_a_not_equal_filter_keeps_every_other_value_never_the_one_named(text, filters):
    parsed = parse(text, VOCAB)
    assert parsed.ok and parsed.query.filter_dict == filters


def test_a_not_equal_filter_leaving_no_value_is_a_problem_not_an_answer():
    parsed = parse("product!=Core,Pro,Enterprise", VOCAB)
    assert not parsed.ok and parsed.problems[0].word == "product!=Core,Pro,Enterprise"
