"""Plain questions a sales leader asks, each mapped to the command it means; follow-ups in a thread."""
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.commands import answer, converse
from bot.core.grammar import Vocabulary
from bot.core.intents import interpret

AS_OF = dt.date(2024, 7, 15)


@pytest.fixture(scope="module")
def vocab(demo):
    return Vocabulary.from_snapshot(demo)


# (question, the command line it means)
QUESTIONS = [
    # why
    ("why did our win rate drop in APAC last quarter?", "/why region=APAC last quarter"),
    ("Why did win rate drop?", "/why"),
    ("why did we lose more deals in Europe", "/why region=Europe"),
    ("why is the win rate down this quarter", "/why this quarter"),
    ("what happened in APAC?", "/why region=APAC"),
    ("what caused the drop in Enterprise deals", "/why product_type=Enterprise"),
    ("explain the change in win rate for outbound", "/why lead_source=Outbound"),
    ("why emea", "/why region=Europe"),
    ("why did EMEA fall last q", "/why region=Europe last quarter"),
    ("what's behind the decline in India?", "/why region=India"),
    ("why did Q2 drop compared to Q1", "/why 2024q2 vs 2024q1"),
    ("why did win rate fall in H1", "/why 2024-01-01..2024-06-30"),
    ("why did referrals drop", "/why lead_source=Referral"),
    ("reasons for the drop in SaaS", "/why industry=SaaS"),
    ("why did APAC Enterprise drop year over year", "/why region=APAC product_type=Enterprise vs last year"),
    ("why did the win rate change vs the previous quarter", "/why vs previous"),
    ("explain APAC", "/why region=APAC"),
    ("why are we losing in north america", "/why North America"),
    ("why did AMER drop", "/why North America"),
    ("why did the americas decline", "/why North America"),
    # trend: is it real, how is X doing
    ("how is APAC doing lately?", "/trend region=APAC"),
    ("how has the win rate been doing", "/trend"),
    ("is Europe slipping this year", "/trend region=Europe ytd"),
    ("is the drop real or noise?", "/trend"),
    ("is the APAC drop real?", "/trend region=APAC"),
    ("is this significant or just luck", "/trend"),
    ("win rate trend for Enterprise", "/trend product_type=Enterprise"),
    ("show me the trend by month", "/trend monthly"),
    ("monthly win rate in India", "/trend region=India monthly"),
    ("quarter by quarter win rate for partner deals", "/trend lead_source=Partner quarterly"),
    ("how is outbound trending", "/trend lead_source=Outbound"),
    ("how's it going in EdTech lately", "/trend industry=EdTech"),
    ("how is the team doing these days", "/trend"),
    ("is APAC getting worse over time", "/trend region=APAC"),
    ("how were we trending last year", "/trend last year"),
    # "did it drop?": whether it fell is a trend's verdict, never one rate with nothing to compare (issue 22)
    ("did our close rate drop?", "/trend"),
    ("did india's win rate fall", "/trend region=India"),
    ("did hit rate go down for inbound", "/trend lead_source=Inbound"),
    # "who has the biggest pipeline": the open pipeline rep by rep
    ("who has the most open pipeline in APAC", "/pipeline region=APAC by sales_rep_id"),
    ("who's sitting on the biggest pipeline?", "/pipeline by sales_rep_id"),
    # reps
    ("who are the weakest reps in Europe?", "/reps region=Europe by sales_rep_id"),
    ("which reps need coaching", "/reps by sales_rep_id"),
    ("show the reps", "/reps by sales_rep_id"),
    ("who needs attention in APAC", "/reps region=APAC"),
    ("worst performers last quarter", "/reps by sales_rep_id last quarter"),
    ("who should I coach?", "/reps"),
    ("rep performance in india", "/reps region=India by sales_rep_id"),
    ("which sellers are below the team", "/reps by sales_rep_id"),
    ("weakest reps for enterprise deals", "/reps product_type=Enterprise by sales_rep_id"),
    ("who is underperforming in Europe", "/reps region=Europe"),
    # drivers
    ("what drives wins?", "/drivers"),
    ("what drives wins in APAC", "/drivers region=APAC"),
    ("which factors matter most", "/drivers"),
    ("what makes us win", "/drivers"),
    ("drivers of winning for enterprise", "/drivers product_type=Enterprise"),
    ("what predicts a win last 2 quarters", "/drivers last 2 quarters"),
    ("what factors correlate with winning in Europe", "/drivers region=Europe"),
    ("key drivers this year", "/drivers ytd"),
    # risk
    ("which segments are the biggest risk?", "/risk"),
    ("where are we losing the most", "/risk"),
    ("biggest risks in APAC", "/risk region=APAC"),
    ("what's at risk in the pipeline", "/pipeline"),
    ("where do we lose most this quarter", "/risk this quarter"),
    ("risky segments for outbound", "/risk lead_source=Outbound"),
    ("biggest problems last quarter", "/risk last quarter"),
    ("which segments have the biggest impact", "/risk"),
    # funnel
    ("where do deals stall?", "/funnel"),
    ("show me the funnel", "/funnel"),
    ("funnel for APAC", "/funnel region=APAC"),
    ("which stage do we lose deals at", "/funnel"),
    ("where do deals die in Enterprise", "/funnel product_type=Enterprise"),
    ("drop-off by stage last quarter", "/funnel last quarter"),
    ("cycle gap for Europe", "/funnel region=Europe"),
    # deals
    ("which deals?", "/deals"),
    ("which deals did we lose in APAC?", "/deals region=APAC lost"),
    ("show me the deals", "/deals"),
    ("list the lost deals in Europe", "/deals region=Europe lost"),
    ("show me the won deals last quarter", "/deals last quarter won"),
    ("which open deals are in APAC", "/deals region=APAC open"),
    ("what deals did we win in Enterprise", "/deals product_type=Enterprise won"),
    ("drill into the deals for referral", "/deals lead_source=Referral"),
    ("deals behind the APAC number", "/deals region=APAC"),
    # win rate
    ("win rate for enterprise deals from referrals this year", "/winrate product_type=Enterprise lead_source=Referral ytd"),
    ("compare Q2 with Q1", "/winrate 2024q2 vs 2024q1"),
    ("winrate apac", "/winrate region=APAC"),
    ("what is our win rate", "/winrate"),
    ("win rate in AMER last Q", "/winrate North America last quarter"),
    ("win rate H1", "/winrate 2024-01-01..2024-06-30"),
    ("win rate by region", "/winrate by region"),
    ("raw win rate by rep", "/winrate by sales_rep_id"),
    ("what's the win rate for inbound this fy", "/winrate lead_source=Inbound ytd"),
    ("conversion rate in Europe last quarter", "/winrate region=Europe last quarter"),
    ("compare APAC this quarter to last year", "/winrate region=APAC this quarter vs last year"),
    ("win rate for Pro in India", "/winrate product_type=Pro region=India"),
    ("APAC", "/winrate region=APAC"),
    ("Enterprise last quarter", "/winrate product_type=Enterprise last quarter"),
    ("win rate for outbound vs inbound", "/winrate lead_source=Outbound,Inbound by lead_source"),
    ("win rate for deals over 100k", "/winrate size_band=100k+"),
    ("close rate for healthtech in 2024", "/winrate industry=HealthTech 2024"),
    ("win rate in Q1 2024", "/winrate 2024q1"),
    ("hit rate for partner deals", "/winrate lead_source=Partner"),
    ("win rate year to date", "/winrate ytd"),
    ("win rate for fintech and saas by product", "/winrate industry=FinTech,SaaS by product_type"),
    # the bot and its data
    ("help", "/help"),
    ("hi", "/help"),
    ("what can you do?", "/help"),
    ("how fresh is the data?", "/health"),
    ("data quality", "/health"),
    ("how many rows were set aside", "/health"),
    ("send me a summary", "/digest"),
    ("show me the weekly digest", "/digest"),
]


def test_there_are_at_least_a_hundred_questions():
    assert len(QUESTIONS) >= 100


@pytest.mark.parametrize("question, line", QUESTIONS)
def test_a_plain_question_means_its_command(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line, question


@pytest.mark.parametrize("question", ["what is the meaning of life", "tell me a joke", "asdf qwerty", "", "???"])
def test_questions_it_cannot_place_get_what_it_can_answer(demo, question):
    reply = converse(demo, question)
    assert reply.kind == "usage"
    assert "Try:" in reply.text and "how is APAC doing lately?" in reply.text and "`/help`" in reply.text


def test_a_segment_the_data_does_not_have_gets_the_closest_values(demo):
    reply = converse(demo, "win rate for SMB")
    assert reply.kind == "usage" and "Did you mean Core, <10k?" in reply.text


CONTEXT = "/why region=APAC last quarter"
FOLLOW_UPS = [
    ("what about Europe?", "/why region=Europe last quarter"),
    ("and vs last year?", "/why region=APAC last quarter vs last year"),
    ("why?", "/why region=APAC last quarter"),
    ("by product", "/winrate region=APAC by product_type last quarter"),
    ("show the reps", "/reps region=APAC by sales_rep_id last quarter"),
    ("which deals?", "/deals region=APAC last quarter"),
    ("and the lost deals?", "/deals region=APAC last quarter lost"),
    ("what about overall?", "/why last quarter"),
    ("drivers", "/drivers region=APAC last quarter"),
    ("how about this quarter", "/why region=APAC this quarter"),
    ("and Enterprise?", "/why region=APAC product_type=Enterprise last quarter"),
    ("is it real?", "/trend region=APAC last quarter"),
]


@pytest.mark.parametrize("text, line", FOLLOW_UPS)
def test_a_follow_up_changes_only_what_its_words_say(vocab, text, line):
    intent = interpret(text, vocab, AS_OF, CONTEXT)
    assert intent.follow_up and intent.line == line


def test_a_new_question_in_a_thread_is_not_read_as_a_follow_up(vocab):
    intent = interpret("who are the weakest reps in Europe?", vocab, AS_OF, CONTEXT)
    assert not intent.follow_up and intent.line == "/reps region=Europe by sales_rep_id"


def test_every_front_end_gives_a_question_the_same_answer_as_its_command(demo):
    asked = answer(demo, "why did our win rate drop in APAC last quarter?")
    typed = answer(demo, "/why APAC last quarter")
    sentence_after_slash = answer(demo, "/why did our win rate drop in APAC last quarter?")
    assert asked.kind == typed.kind == sentence_after_slash.kind == "answer"
    assert asked.text == typed.text == sentence_after_slash.text
    assert asked.line == "/why region=APAC last quarter"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120), st.one_of(st.none(), st.sampled_from([CONTEXT, "/winrate", "/deals APAC open"])))
def test_arbitrary_text_never_raises_in_the_intent_layer(vocab, text, context):
    intent = interpret(text, vocab, AS_OF, context)
    assert intent.line.startswith("/")


def test_a_word_that_is_no_segment_here_is_named_not_silently_dropped(demo):
    # a regional VP's vocabulary has only APAC: "Europe" must not quietly become all of APAC
    scoped = Vocabulary({**Vocabulary.from_snapshot(demo).values, "region": ("APAC",)}, 2024)
    intent = interpret("how is Europe doing?", scoped, AS_OF)
    assert intent.command == "trend" and "europe" in intent.line
    reply = answer(demo, intent.line, scoped)
    assert reply.kind == "usage" and '"europe" is not a segment' in reply.text.lower()


def test_a_slack_mention_in_a_question_is_no_word_of_it(vocab):
    # "<!channel>" once read as "channel", the lead-source dimension: a win rate split nobody asked for
    assert interpret("<!channel> win rate", vocab, AS_OF).line == "/winrate"
    assert interpret("<@U0CRO> <#C0SALES|sales> how is APAC doing lately?", vocab, AS_OF).line == "/trend region=APAC"


def test_the_intent_layer_hands_over_the_query_the_grammar_reads_back_from_its_line(vocab):
    """A question is parsed once: ask() answers the intent's Query as it is, which is exactly what its
    command line (kept as the thread's context, carried by buttons) reads back as."""
    from measure_questions import CORPORA, load_corpus

    from bot.core.grammar import parse, split_command

    checked = 0
    for question, _ in load_corpus(CORPORA["development"]):
        for context in (None, "/why region=APAC last quarter"):
            intent = interpret(question, vocab, AS_OF, context)
            for request in (intent.request, *intent.alternatives):
                if request.query is None:
                    continue
                assert parse(split_command(request.line)[1], vocab).query == request.query, (question, request.line)
                checked += 1
    assert checked > 400


@pytest.mark.parametrize("question, line", [
    ("win rate since March", "/winrate 2024-03-01..2024-07-15"),
    ("win rate for healthtech since January", "/winrate industry=HealthTech 2024-01-01..2024-07-15"),
    ("H1 this year vs H1 last year", "/winrate 2024-01-01..2024-06-30 vs 2023-01-01..2023-06-30"),
    ("europe q1 this year vs q1 last year", "/winrate region=Europe 2024q1 vs 2023q1"),
    ("June vs May win rate", "/winrate 2024-06 vs 2024-05"),
    ("explain June vs May", "/why 2024-06 vs 2024-05"),
    ("win rate each month this year", "/trend monthly ytd"),
])
def test_month_ranges_halves_and_months_compared_keep_their_dates(vocab, question, line):
    """The data ends on 2024-07-15: "since March" runs from March 1st to that day; a half or quarter
    "this year" is 2024's; a month named before "vs" is the period in question, not dropped."""
    assert interpret(question, vocab, dt.date(2024, 7, 15)).line == line


@pytest.mark.parametrize("question, line, choices", [
    ("what alerts are set up?", "/alerts list", []),
    ("what am I following?", "/follow list", []),
    ("help with the pipeline command", "/help pipeline", []),
    ("how do I set up alerts?", "/help alerts", []),
    # a change is asked back: its exact command first (one click to confirm), then the commands' help
    ("alert me if APAC win rate drops below 40%", "/help",
     ["/alerts add winrate region=APAC below 40%", "/help alerts", "/help follow"]),
    ("send me the APAC win rate every week in DM", "/help", ["/follow /winrate region=APAC weekly dm", "/help follow",
                                                              "/help alerts"]),
    ("delete alert 3", "/help", ["/alerts remove 3", "/help alerts", "/help follow"]),
    ("send me the weekly summary", "/digest", []),
    ("tell me why europe underperformed", "/why region=Europe", []),
])
def test_managing_alerts_and_follows_in_words_is_listed_or_asked_back_never_answered_as_an_analysis(
        vocab, question, line, choices):
    """A sentence never changes what a channel receives: it lists, shows the help, or asks back."""
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, [c.line for c in intent.choices]) == (line, choices)


@pytest.mark.parametrize("question, line", [
    # a known value misspelt by one slip (five letters or more, one value that close)
    ("Eurpoe win rate ytd", "/winrate region=Europe ytd"),
    ("win rate for fintec", "/winrate industry=FinTech"),
    ("win rate eurpoe vs indai", "/winrate region=Europe,India by region"),
    # pooling words: the values counted together, not side by side
    ("APAC plus India win rate", "/winrate region=APAC,India"),
    ("fintech and saas together, win rate", "/winrate industry=FinTech,SaaS"),
    ("win rate APAC + India combined", "/winrate region=APAC,India"),
    # a value's own dimension named after it is no split
    ("the Core product win rate in 2024Q1", "/winrate product_type=Core 2024q1"),
    # splits and bands in words
    ("win rate by cycle length", "/winrate by cycle_band"),
    ("do bigger deals close less often?", "/winrate by size_band"),
    ("win rate for deals that take more than 90 days to close", "/winrate cycle_band=90d+"),
    ("how does Europe stack up against the other regions", "/winrate by region"),
    # periods and comparisons
    ("trailing twelve months close rate", "/winrate last 12 months"),
    ("how'd we do in the first quarter?", "/winrate 2024q1"),
    ("win rate for each of the last 3 quarters", "/trend quarterly last 3 quarters"),
    ("QoQ change in partner win rate", "/winrate lead_source=Partner vs previous"),
    ("what explains the change since last year?", "/why vs last year"),
    ("is referral really better than inbound or just noise?", "/winrate lead_source=Referral,Inbound by lead_source"),
    # analyses named in other words
    ("is it mix or rate?", "/why"),
    ("why are segments losing more in apac", "/why region=APAC"),
    ("hwo is india doing lately", "/trend region=India"),
    ("are outbound deals holding up?", "/trend lead_source=Outbound"),
    ("whree are we loosing deals", "/risk"),
    ("riskiest regions", "/risk by region"),
    ("does cycle length affect whether we win?", "/drivers"),
    ("all else equal, do longer cycles hurt our odds?", "/drivers"),
    ("demo to proposal conversion", "/funnel"),
    ("which of my reps are struggling", "/reps by sales_rep_id"),
    ("compare the regions after allowing for luck", "/reps by region"),
    ("give me every big deal we lost this year", "/deals size_band=100k+ ytd lost"),
    ("show me the losses in europe", "/deals region=Europe lost"),
    ("bookings last quarter", "/deals last quarter won"),
    ("what's rep_2 got open right now", "/deals sales_rep_id=rep_2 open"),
    ("what are we going to land this qtr", "/pipeline"),
    ("deals in negotiation - will they close this quarter?", "/pipeline deal_stage=Negotiation"),
    ("how many deals are in the dataset", "/health"),
    ("were any rows dropped?", "/health"),
    ("tl;dr for my board meeting", "/digest"),
    ("what kinds of questions can I ask?", "/help"),
    # and not where the same words mean something else
    ("give me the reasons for the losses in apac", "/why region=APAC"),
    ("which deals will close within 30 days", "/pipeline"),
    ("how much do we have open in pipeline", "/pipeline"),
    ("is there a regression in apac win rate", "/winrate region=APAC"),
    ("what did the apac team lose in june", "/deals region=APAC 2024-06 lost"),
    ("show the big deal losses", "/deals size_band=100k+ lost"),
    ("what moved win rate qoq", "/why vs previous"),
    ("which deals are missing a close date", "/health"),
    ("is apac behind last year", "/winrate region=APAC vs last year"),
])
def test_sales_phrasings_of_the_second_held_out_round_are_read_as_meant(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question", [
    "win rate for the pro plus tier",  # "plus" after one value only: a product name, named back
    "win rate in apca",  # four letters: too short to correct safely
])
def test_a_word_that_is_not_safely_a_known_value_is_named_back_not_corrected(vocab, question):
    intent = interpret(question, vocab, AS_OF)
    assert intent.request.query is None and intent.choices == () and intent.understood, intent.line


@pytest.mark.parametrize("question", ["what's our quota attainment this quarter?", "how are we tracking against plan",
                                      "are we ahead of plan this quarter", "which areas are under target",
                                      "post the trend for Enterprise here daily", "ping us when enterprise win rate drops"])
def test_targets_the_data_lacks_and_changes_to_alerts_are_asked_back(vocab, question):
    assert interpret(question, vocab, AS_OF).choices


@pytest.mark.parametrize("question,line", [
    # periods in words (issue 22, third held-out round)
    ("win rate last week", "/winrate last 7 days"),
    ("apac win rate past week", "/winrate region=APAC last 7 days"),
    ("win rate 2023 H2", "/winrate 2023-07-01..2023-12-31"),
    ("win rate H2 2023", "/winrate 2023-07-01..2023-12-31"),
    ("win rate in the second half of 2023", "/winrate 2023-07-01..2023-12-31"),
    ("partner win rate in the first half of this year", "/winrate lead_source=Partner 2024-01-01..2024-06-30"),
    ("win rate trailing 12 months", "/winrate last 12 months"),
    ("TTM win rate for SaaS", "/winrate industry=SaaS last 12 months"),
    ("Q1 '24 win rate for SaaS", "/winrate industry=SaaS 2024q1"),
    ("how does last qtr compare with the same qtr last year", "/winrate last quarter vs last year"),
    # bands in words: every band from an edge up, or cycle bands, never a period
    ("win rate for deals 50k and up this year", "/winrate size_band=50k-100k,100k+ ytd"),
    ("win rate for deals over 25k", "/winrate size_band=25k-50k,50k-100k,100k+"),
    ("win rate when the sales cycle runs past 90 days", "/winrate cycle_band=90d+"),
    ("win rate for deals that closed in under 30 days", "/winrate cycle_band=<30d"),
    ("win rate for deals that took more than 60 days", "/winrate cycle_band=60-90d,90d+"),
    # abbreviations
    ("wr by region", "/winrate by region"),
    ("Win rate on the Pro SKU, trailing 12 months.", "/winrate product_type=Pro last 12 months"),
    # and not where the same words mean something else
    ("which deals will close within 30 days", "/pipeline"),
    ("deals closed in the last 30 days", "/deals last 30 days"),
])
def test_periods_bands_and_abbreviations_of_the_third_held_out_round_are_read_as_meant(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question", [
    "flag any open deal over 250k that looks shaky",  # 250k is no band's edge: not turned into bands
    "how many calls did the SDRs make last week",  # activity is not in the data: asked back, not a win rate
])
def test_what_is_not_a_band_or_not_in_the_data_is_not_answered_as_something_else(vocab, question):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.choices, intent.line  # asked back with the closest readings


# Issue 22, the third held-out round's second rules: each class general, with a case where the same words mean
# something else. Lines are what the intent layer answers (as of the demo data's last day).
@pytest.mark.parametrize("question, line", [
    # a sentence or opening clause that asks nothing and names nothing the rest does not is context, left out
    ("I'm prepping for the board on Thursday. Can you tell me what our overall win rate was last quarter?",
     "/winrate last quarter"),
    ("Our Partner program is up for renewal next month. How does the partner channel's win rate compare with "
     "Referral this year?", "/winrate lead_source=Partner,Referral by lead_source ytd"),
    ("Before I go into the pricing review I'd like to understand whether Pro wins more often than Core.",
     "/winrate product_type=Pro,Core by product_type"),
    ("Hey, quick one before my 1:1 with Sarah: how's India trending this year?", "/trend region=India ytd"),
    # ... but a context sentence that names a segment keeps it
    ("Quick context: APAC had a reorg. Why did the win rate drop last quarter?", "/why region=APAC last quarter"),
    ("we are launching in japan next quarter. what's our apac win rate?", "/winrate region=APAC"),
    # people, days, files and pronouns are sentence words; a word after a possessive is no segment
    ("The CFO wants a bookings forecast for this quarter. What can you give me?", "/pipeline"),
    # a team's name is no split ("RevOps" was fuzzed into the rep split)
    ("RevOps question: how does healthtech win rate compare across regions for 2023?",
     "/winrate industry=HealthTech by region 2023"),
    ("sales ops wants the win rate by region", "/winrate by region"),
    ("I want to focus the team's energy next quarter. Which segments are costing us the most deals?", "/risk"),
    ("Could you break the win rate down by lead source for this year before we set next year's marketing budget?",
     "/winrate by lead_source ytd"),
])
def test_context_around_a_question_is_left_out(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


def test_a_context_sentence_with_a_segment_the_data_lacks_is_kept_and_named_back(vocab):
    intent = interpret("Retail is our new segment. How is it doing?", vocab, AS_OF)  # "it" is Retail: never dropped
    assert intent.request.query is None and "retail" in intent.line, intent.line


@pytest.mark.parametrize("question, line", [
    ("what does /risk do?", "/help risk"), ("how does the drivers model work", "/help drivers"),
    ("help pipeline", "/help pipeline"), ("what's the syntax for the follow command", "/help follow"),
    ("how can I make an alert", "/help alerts"), ("any alerts set up?", "/alerts list"),
    ("list my subscriptions", "/follow list"),
    ("follow up on APAC", "/winrate region=APAC"),  # "follow up" asks no follow
])
def test_help_with_a_command_and_lists_of_alerts_and_follows_in_words(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, intent.choices) == (line, ())


@pytest.mark.parametrize("question, first_choice", [
    ("what's net revenue retention for FinTech", "/deals won"),  # nothing after the sale: the deals won are the closest
    ("what are the main loss reasons our reps log", "/why"),
    ("average days spent in each stage", "/funnel"),
    ("can you forecast next year's revenue", "/pipeline"),  # the forecast covers this quarter and the next
    ("how's my region doing", "/trend"),  # whose region is not in the data
    ("We hired 5 reps in Q1. How are the new reps doing?", "/reps"),  # nor hire dates
    ("open deals with no activity", "/trend"),  # nor activity
    ("follow why emea weekly", "/follow /why region=Europe weekly"),  # a change: offered, never done
    ("alert on any significant drop in enterprise", "/alerts add drop product_type=Enterprise"),
])
def test_what_no_analysis_measures_and_changes_in_words_are_asked_back(vocab, question, first_choice):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.choices[0].line == first_choice, intent.line


@pytest.mark.parametrize("question, line", [
    ("Did North America do better in Q2 than in Q1?", "/winrate North America 2024q2 vs 2024q1"),
    ("why was 2024Q1 so different from 2023Q1", "/why 2024q1 vs 2023q1"),
    ("why is our win rate this year below last year's", "/why ytd vs last year"),
    ("which segments account for the change between H1 this year and H2 last year",
     "/why 2024-01-01..2024-06-30 vs 2023-07-01..2023-12-31"),
    ("is APAC worse than the rest of the team", "/winrate by region"),  # a segment against the others of its kind
    ("how am I doing against the team", "/reps"),  # ... a person against the team
    ("rep_3 and rep_8, who is closing better in NA?", "/winrate sales_rep_id=rep_3,rep_8 North America by sales_rep_id"),
    ("are APAC and Europe getting worse", "/trend region=APAC,Europe"),  # no comparison between the two
    ("is win rate higher in APAC than in Europe", "/winrate region=APAC,Europe by region"),
    ("is the difference between rep_1 and rep_2 real", "/winrate sales_rep_id=rep_1,rep_2 by sales_rep_id"),
])
def test_comparisons_in_sentences(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("NA q2 vs q2 ly", "/winrate North America 2024q2 vs 2023q2"),
    ("healthtech wr l4q", "/winrate industry=HealthTech last 4 quarters"),
    ("jan-mar win rate", "/winrate 2024-01-01..2024-03-31"),
    ("win rate from january to march 2023", "/winrate 2023-01-01..2023-03-31"),
    ("Enterprise win rate: this half vs last half",
     "/winrate product_type=Enterprise 2024-07-01..2024-12-31 vs 2024-01-01..2024-06-30"),
    ("win rate trend over the last year", "/trend last 12 months"),  # a span; "last year" alone is 2023
    ("is the latest quarter's decline significant against the trailing four quarters", "/trend"),  # its baseline
    ("Show me the win rate of Referral during the months", "/trend lead_source=Referral monthly"),
    ("Which quarter was our best ever?", "/trend quarterly ever"),  # quarter by quarter
    ("Compare the last two quarters", "/trend quarterly last 2 quarters"),
    ("win rate this quarter so far", "/winrate this quarter"),
    ("Are we losing more deals to Outbound than before?", "/trend lead_source=Outbound"),  # the usual baseline
    ("Please give me the win rate of the Europe for the last semester", "/winrate region=Europe 2024-01-01..2024-06-30"),
    ("win rate of the first semester of 2024", "/winrate 2024-01-01..2024-06-30"),
    ("How many time take to close one deal?", "/funnel"),
    ("There is some problem with the data?", "/health"), ("From which date the data starts?", "/health"),
])
def test_periods_in_more_words(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("what's the win rate of deals that reached negotiation", "/funnel"),
    ("are we dragging out the deals we end up losing in apac", "/funnel region=APAC"),
    ("what's the median cycle for won deals", "/funnel"),
    ("expected won amount this quarter", "/pipeline"),
    ("which deals will be closing this quarter in Europe", "/pipeline region=Europe"),
    ("how likely are the open fintech deals to close", "/pipeline industry=FinTech"),
    ("how many deals are in negotiation right now", "/pipeline deal_stage=Negotiation"),
    ("wins past 30 days", "/deals last 30 days won"),
    ("which NA deals did we lose at the demo stage this year", "/deals North America deal_stage=Demo ytd lost"),
    ("What share of Outbound deals did we win last quarter?", "/winrate lead_source=Outbound last quarter"),
    ("how many open deals have no amount", "/health"), ("until which date does the data go", "/health"),
    ("what actually moves win rate for saas", "/drivers industry=SaaS"),
    ("whether lead source really matters once you account for region", "/drivers"),
    ("what moved the needle in q1 vs q4", "/why 2024q1 vs 2023q4"),  # the drivers take no comparison: the change
    ("decompose the qoq change into rate and mix", "/why vs previous"),
    ("any segment that fell even though the total looks flat", "/why"),
    ("Dollar-weighted win rate for last quarter, i.e. won amount over closed amount.", "/winrate last quarter"),
    ("What's the expected close rate of open deals in Q3?", "/pipeline"),
    ("I'm curious whether bigger deals are harder to win.", "/winrate by size_band"),
    ("Are big deals getting harder to win?", "/trend size_band=100k+"),  # getting harder: over time
    ("Give me a quick health check on the sales org.", "/digest"),  # not HealthTech
    ("sort the regions by win rate", "/winrate by region"), ("bottom 3 industries by win rate", "/winrate by industry top 3"),
    ("Enterprise deals are taking forever. Is that true?", "/funnel product_type=Enterprise"),
    ("Sales ops wants to know: how clean is the CRM data?", "/health"),
    ("Something is off in Europe. Can you dig in?", "/why region=Europe"),
    ("Could you pull together the win rate for each of our verticals this year?", "/winrate by industry ytd"),
    ("What are the chances we close the big Europe deals this quarter?", "/pipeline region=Europe"),
    ("do enterprise deals close slower", "/funnel product_type=Enterprise"),
    ("What proportion of enterprise deals close within 60 days?", "/funnel product_type=Enterprise"),  # cycle lengths
    ("which deals will close within 30 days", "/pipeline"),  # ... but "will close within" is the forecast
])
def test_analyses_in_more_words(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("reps by region", "/reps by region"),  # /reps is by rep already
    ("is rep_14 actually bad or just unlucky", "/reps"),  # luck is judged among every rep
    ("REPS BELOW TEAM AVERAGE??", "/reps by sales_rep_id"),
    ("which of my reps has the most open pipeline", "/pipeline by sales_rep_id"),  # the forecast by rep
    ("what's rep_8 closing this quarter", "/pipeline sales_rep_id=rep_8"),
    ("show me rep_3's open opportunities", "/deals sales_rep_id=rep_3 open"),
    ("which AEs are below average after accounting for sample size", "/reps by sales_rep_id"),
])
def test_reps_in_more_words(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("win rate for deals between 10k and 50k", "/winrate size_band=10k-25k,25k-50k"),  # pooled, not side by side
    ("win rate for deals between 25k and 50k", "/winrate size_band=25k-50k"),
    ("deals that dragged 90+ days and still lost", "/deals cycle_band=90d+ lost"),
])
def test_bands_in_more_words(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question", ["win rate for deals over 30k", "win rate for 30k-50k deals",
                                      "win rate for deals between 30k and 50k"])
def test_an_amount_that_is_no_band_edge_is_named_back_never_dropped(vocab, question):
    intent = interpret(question, vocab, AS_OF)
    assert intent.understood and intent.request.query is None and "30k" in intent.line, intent.line


@pytest.mark.parametrize("question, word", [("win rate last sprint", "sprint"), ("win rate this season", "season")])
def test_a_period_the_grammar_does_not_know_is_named_back_never_dropped(vocab, question, word):
    intent = interpret(question, vocab, AS_OF)  # answering over all time would be answering another question
    assert intent.request.query is None and word in intent.line, intent.line


def test_a_period_compared_with_itself_is_asked_back_with_the_likely_comparisons(vocab):
    intent = interpret("win rate q1 vs q1", vocab, AS_OF)
    assert not intent.understood
    assert [c.line for c in intent.choices] == ["/winrate 2024q1 vs last year", "/winrate 2024q1 vs previous"]


@pytest.mark.parametrize("question, exact", [
    ("remove alert 3", "/alerts remove 3"), ("Please stop the alert number 4, I don't need it anymore", "/alerts remove 4"),
    ("mute alert 2 for a week", "/alerts mute 2 7d"), ("snooze alert 1 for 2 weeks", "/alerts mute 1 14d"),
    ("stop follow 2", "/follow remove 2"), ("unfollow #2", "/follow remove 2"), ("mute my follow 1 for a week", "/follow mute 1 7d"),
    ("Set up an alert if North America win rate goes under 40%.", "/alerts add winrate North America below 40%"),
    ("Add an alert when the gap between lead sources exceeds 15pp.", "/alerts add gap 15pp"),
    ("warn me if a driver flips", "/alerts add driver-flip"), ("add a long-cycle alert", "/alerts add long-cycle"),
    ("flag any open deal over 250k that looks shaky", "/alerts add big-deal above 250k"),
    ("DM me the NA reps table every week.", "/follow /reps North America by sales_rep_id weekly dm"),
    ("Could you post the win-rate trend for Enterprise into this channel every morning?",
     "/follow /trend product_type=Enterprise daily"),
    ("send me the pipeline forecast every morning by DM", "/follow /pipeline daily dm"),
])
def test_a_change_to_alerts_or_follows_in_words_is_offered_as_its_exact_command_never_done(vocab, question, exact):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.choices[0].line == exact, [c.line for c in intent.choices]
    assert [c.line for c in intent.choices[1:]] in (["/help alerts", "/help follow"], ["/help follow", "/help alerts"])


def test_an_offered_change_says_it_is_not_made_from_the_sentence(demo):
    reply = converse(demo, "remove alert 3")
    assert reply.asked_back and reply.choices[0] == ("Alert rules · remove 3", "/alerts remove 3")
    assert "don't change alert rules or follows from a sentence" in reply.text and "`/alerts remove 3`" in reply.text


# -- issue 22, fourth round (the fifth held-out set's misreadings) ------------------------------------------------

@pytest.mark.parametrize("question, first_choice", [
    ("pipeline coverage ratio for Q3", "/pipeline"),  # coverage against a quota: no quota in the data
    ("what's our 3x coverage vs quota", "/pipeline"),
    ("what's in commit for Q3", "/pipeline"),  # a forecast category: not in the data
    ("which deals moved into commit this week", "/pipeline"),
    ("show me best-case deals", "/pipeline"),
    ("how much did we spend on partners", "/winrate by lead_source"),
    ("what was our marketing spend last quarter", "/winrate by lead_source"),
    ("which customers renewed last quarter", "/deals won"),
    ("how many accounts renew in Q4", "/deals won"),
])
def test_what_the_data_cannot_answer_is_asked_back_never_answered(vocab, question, first_choice):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.unsupported and intent.choices[0].line == first_choice, (
        intent.line, [c.line for c in intent.choices])


@pytest.mark.parametrize("question, line", [
    ("pipeline coverage for EMEA?", "/pipeline region=Europe"),  # the open pipeline: answered
    ("how long do deals spend in negotiation", "/funnel"),  # time, not money
    ("Our Partner program is up for renewal next month. How is Partner doing lately?", "/trend lead_source=Partner"),
    ("win rate in 2023Q3", "/winrate 2023q3"),  # inside the data
    ("forecast for 2024Q4", "/pipeline"),  # the next quarter: inside the forecast's horizon
    ("win rate by region X industry", "/winrate by region and industry"),  # "X" joins two dimensions
    ("Win rates by segment - region x industry", "/winrate by region and industry"),
])
def test_the_same_words_where_the_data_answers_are_answered(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, first_choice, says", [
    ("win rate in Q3 2019", "/winrate", "No deals closed in 2019Q3"),
    ("why did APAC drop in 2021", "/why region=APAC", "No deals closed in 2021"),
    ("win rate in 2023 vs 2022", "/winrate", "No deals closed in 2022"),
    ("win rate in Q1 2026", "/winrate", "No deals have closed in 2026Q1 yet"),
    ("give me the forecast for 2026", "/pipeline", "2026 is beyond it"),
    ("what will we book in 2025Q2", "/pipeline", "2025Q2 is beyond it"),
])
def test_a_period_with_no_deals_in_the_data_is_asked_back_saying_so(vocab, question, first_choice, says):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.choices[0].line == first_choice and says in intent.note, (
        intent.line, [c.line for c in intent.choices], intent.note)


def test_the_reply_asking_back_says_there_are_no_deals_then(demo):
    reply = converse(demo, "win rate in Q3 2019")
    assert reply.asked_back and "No deals closed in 2019Q3" in reply.text and "`/winrate`" in reply.text


@pytest.mark.parametrize("question", ["is X better than Y", "win rate in <region>", "compare [industry] to [industry]",
                                      "does Z beat Y on conversion"])
def test_a_template_s_stand_ins_are_asked_back(vocab, question):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.choices and "name the two" in intent.note


@pytest.mark.parametrize("question, line", [
    # a rate of deals is the rate, however the deals are described
    ("give me the overall conversion rate on closed deals", "/winrate"),
    ("what's the win rate on closed deals in APAC", "/winrate region=APAC"),
    # a list of deals asked outright is the list, though a rate or a stage is named
    ("show me the apac deals we lost at negotiation stage", "/deals region=APAC deal_stage=Negotiation lost"),
    ("the europe deals we won at proposal stage", "/deals region=Europe deal_stage=Proposal won"),
    ("give me the deal list behind the north america win rate", "/deals North America"),
    ("list of the deals behind the APAC number", "/deals region=APAC"),
    ("show me closed deals in APAC", "/deals region=APAC"),
    # the same words asking something else
    ("what share of the deals we lost were outbound", "/winrate lead_source=Outbound"),
    ("why did the deals we lost stall", "/why"),
    ("where do deals stall in the funnel", "/funnel"),
])
def test_deals_asked_for_as_a_list_or_as_a_rate(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("trajectory of outbound win rate", "/trend lead_source=Outbound"),
    ("what changed? win rate dropped and pipeline looks fine", "/why"),  # "fine" is a word, not "FinTech" misspelt
    ("what's the win rate trajectory in APAC", "/trend region=APAC"),
    ("what's the story behind partner deals losing", "/why lead_source=Partner"),
    ("what is the backstory of the APAC drop", "/why region=APAC"),
    ("run the win/loss regression", "/drivers"),
    ("show me the logistic regression for Europe", "/drivers region=Europe"),
    ("is there a regression in APAC win rate", "/winrate region=APAC"),  # not a model (as pinned above)
    ("what segments should I worry about last quarter", "/risk last quarter"),
    ("which industries should we be worried about", "/risk by industry"),
    ("where is our loss rate above team average", "/risk"),
    ("any reps I should worry about in europe", "/reps region=Europe by sales_rep_id"),  # reps, not segments
    ("which open deals should I worry about", "/pipeline"),  # open deals: the forecast
    ("what's slipping", "/pipeline"),
    ("anything likely to slip in APAC?", "/pipeline region=APAC"),
    ("is our win rate slipping?", "/trend"),  # a rate slipping is its trend
    ("at-risk deals in north america", "/pipeline North America"),
    ("at risk opps for Enterprise", "/pipeline product_type=Enterprise"),
    ("what's the revenue at risk by product", "/risk by product_type"),  # revenue at risk: the segments
    ("how much will fintech bring in this quarter", "/pipeline industry=FinTech"),
    ("what is APAC going to bring in", "/pipeline region=APAC"),
    ("what explains the change in hit rate this year vs last", "/why ytd vs last year"),
    ("win rate this year vs last", "/winrate ytd vs last year"),
    ("this year vs last year win rate", "/winrate ytd vs last year"),
    ("why is referral down this quarter vs last", "/why lead_source=Referral this quarter vs previous"),
    ("who's the weakest rep in the healthtech book", "/reps industry=HealthTech by sales_rep_id"),
    ("best rep in APAC", "/reps region=APAC by sales_rep_id"),
    ("which industry are we worst at closing", "/winrate by industry"),
    ("where are we strongest by region?", "/winrate by region"),
    ("which product are we best at winning", "/winrate by product_type"),
    ("where are we weakest this year", "/risk ytd"),  # the weak spots: /risk
    ("strongest predictors of a win in North America?", "/drivers North America"),
    ("do fast deals (under 30 days) win more often? whats their win rate", "/winrate cycle_band=<30d"),
    ("win rate for long deals (90+ days)", "/winrate cycle_band=90d+"),
    ("win rate of deals under 30 days", "/winrate cycle_band=<30d"),
])
def test_words_of_the_fifth_held_out_round(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


def test_a_deal_s_age_is_not_its_cycle_band(vocab):
    assert "cycle_band" not in interpret("win rate for deals under 30 days old", vocab, AS_OF).line


@pytest.mark.parametrize("question, line", [
    ("compare Q4 to Q3 hit rate", "/winrate 2023q4 vs 2023q3"),  # the latest complete Q4, and the Q3 before it
    ("Q3 vs Q4", "/winrate 2023q4 vs 2023q3"),  # the later one is asked about, whichever is named first
    ("Q1 vs Q4", "/winrate 2024q1 vs 2023q4"),  # the Q4 before that Q1
    ("Q2 vs Q1", "/winrate 2024q2 vs 2024q1"),
    ("Q3 vs Q2", "/winrate 2024q3 vs 2024q2"),  # one year: this Q3 so far against Q2
    ("compare Q1 and Q2 win rates", "/winrate 2024q2 vs 2024q1"),
    ("did the enterprise close rate improve from Q1 to Q2?", "/winrate product_type=Enterprise 2024q2 vs 2024q1"),
    ("how did win rate move from 2023Q4 to 2024Q1", "/winrate 2024q1 vs 2023q4"),
    ("why did APAC drop from Q1 to Q2", "/why region=APAC 2024q2 vs 2024q1"),
])
def test_two_bare_quarters_compared_are_a_pair_in_order(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


def test_a_quarter_range_without_a_change_is_not_made_a_comparison(vocab):
    assert " vs " not in interpret("win rate from Q1 to Q2", vocab, AS_OF).line


@pytest.mark.parametrize("question, line", [
    ("show me raw win rate per rep for APAC", "/winrate region=APAC by sales_rep_id"),  # as "close rate by rep"
    ("rep 5 vs rep 9 win rate", "/winrate sales_rep_id=rep_5,rep_9 by sales_rep_id"),  # two reps side by side
    ("rep 12 win rate", "/winrate sales_rep_id=rep_12"),  # one rep: against the team (as pinned)
    ("which open deals should we prioritize to save the quarter", "/pipeline"),
    ("which deals did we lose in APAC", "/deals region=APAC lost"),
    ("what questions has the bot been getting wrong", "/feedback"),
    ("show the misread questions", "/feedback"),
    ("what questions can you answer", "/help"),
])
def test_reps_side_by_side_open_deals_to_prioritise_and_feedback_in_words(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, exact", [
    ("stop following #2", "/follow remove 2"),
    ("ping us on any deal over 250k in europe", "/alerts add big-deal region=Europe above 250k"),
])
def test_more_changes_in_words_are_offered_as_their_exact_command(vocab, question, exact):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.choices[0].line == exact, [c.line for c in intent.choices]


def test_feedback_asked_in_words_is_answered_as_the_command(demo):
    reply = converse(demo, "show the misread questions")  # no store here: the command says so, never a traceback
    assert reply.kind == "usage" and "no feedback is kept" in reply.text


def test_a_follow_up_with_nothing_before_it_is_asked_back(vocab):
    alone = interpret("what about last quarter?", vocab, AS_OF)
    assert not alone.understood
    assert [c.line for c in alone.choices] == ["/winrate last quarter", "/trend last quarter", "/why last quarter"]
    in_thread = interpret("what about last quarter?", vocab, AS_OF, "/why region=APAC")
    assert in_thread.follow_up and in_thread.line == "/why region=APAC last quarter"
    assert interpret("APAC last quarter", vocab, AS_OF).line == "/winrate region=APAC last quarter"  # no opener: the rate


@pytest.mark.parametrize("question, line", [
    # money won, or deals named with "won": the deals won (the list totals their amounts and counts them)
    ("how much did we close last quarter", "/deals last quarter won"),
    ("how much revenue did we win in Q1", "/deals 2024q1 won"),
    ("closed-won amount ytd", "/deals ytd won"),
    ("booked dollars in EMEA last quarter", "/deals region=Europe last quarter won"),
    ("largest enterprise deals closed-won this year", "/deals product_type=Enterprise ytd won"),
    ("referral deals won ytd", "/deals lead_source=Referral ytd won"),
    ("india pro deals won this year", "/deals region=India product_type=Pro ytd won"),
    # open deals named by a band, a stage or a segment's open pipe: the open deals
    ("NA deals over 100k still open", "/deals North America size_band=100k+ open"),
    ("deals in proposal stage right now", "/deals deal_stage=Proposal open"),
    ("india open pipe", "/deals region=India open"),
    # the same words meaning something else
    ("win rate on deals won vs lost in Europe", "/winrate region=Europe"),
    ("Dollar-weighted win rate for last quarter, i.e. won amount over closed amount.", "/winrate last quarter"),
    ("how much will we win next quarter", "/pipeline"),
    ("open pipe by lead source", "/pipeline by lead_source"),
    ("deals stuck in negotiation", "/pipeline deal_stage=Negotiation"),
])
def test_money_won_and_deals_named_with_their_outcome_are_the_deals(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("pipeline health", "/pipeline"),  # a field word next to a command word is the command's subject, no HealthTech
    ("health of the pipeline in APAC", "/pipeline region=APAC"),
    ("win rate in healthtech", "/winrate industry=HealthTech"),  # the value named in full stays the value
    ("data health", "/health"),
    ("team performance by rep 2023", "/reps by sales_rep_id 2023"),  # a year after "rep" is no rep
    ("compare APAC and Europe", "/winrate region=APAC,Europe by region"),  # both sides named: compared
    ("compare APAC vs last year", "/winrate region=APAC vs last year"),
    ("how many deals make it past demo?", "/funnel"),  # the demo stage, not demos run
])
def test_words_are_never_fuzzed_into_a_wrong_segment(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, first", [
    ("how many demos did we run in June", "/funnel"),  # activities are not in the data
    ("why did we lose deal D0002416", "/deals lost"),  # one named deal's story is not in the data
    ("why did we lose the big deal last week", "/deals lost"),
    ("what's our gross margin on enterprise deals", "/deals won"),  # no costs
    ("how are we doing with the new product", "/winrate by product_type"),  # which product?
    ("win rate for the big region", "/winrate by region"),
    ("pipeline generated last quarter", "/pipeline"),  # no creation history
    ("compare APAC", "/winrate by region"),  # one side only: against what?
])
def test_what_the_data_cannot_answer_or_names_no_second_side_is_asked_back(vocab, question, first):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.choices[0].line == first, [c.line for c in intent.choices]


def test_an_unknown_rep_is_named_back_never_answered_for_every_rep(vocab):
    intent = interpret("rep 30 win rate", vocab, AS_OF)
    assert intent.request.query is None and "rep_30" in intent.line  # the reply names rep_30
    assert interpret("rep 12 win rate", vocab, AS_OF).line == "/winrate sales_rep_id=rep_12"  # one rep's rate


@pytest.mark.parametrize("question, line", [
    ("Board meeting Thursday. Need overall win rate for Q2 and how it compares to Q1", "/winrate 2024q2 vs 2024q1"),
    ("APAC win rate last quarter and how that stacks up against a year ago", "/winrate region=APAC last quarter vs last year"),
    ("winrate 2023 Q1 vs 2024 Q1", "/winrate 2024q1 vs 2023q1"),  # a space between year and quarter; later first
    ("win rate 2023 q4", "/winrate 2023q4"),
    ("whats the overall win rate since we started tracking", "/winrate all"),
    ("win rate all time", "/winrate all"),
    ("win rate since the start of the year", "/winrate ytd"),  # the year's start is the year to date
    ("Enterprise quarterly trend since we started tracking", "/trend product_type=Enterprise quarterly"),
    ("why the drop? compare to same quarter last year", "/why vs last year"),
    ("compare Q4 to Q3", "/winrate 2023q4 vs 2023q3"),
    ("APAC Q2 vs Q2 last year — what moved", "/why region=APAC 2024q2 vs 2023q2"),
    ("what moved the needle in Q1", "/drivers 2024q1"),  # what moves the needle drives winning
])
def test_periods_and_comparisons_in_sentences(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("do big deals close less often", "/winrate by size_band"),  # one band, nothing to compare with: across the split
    ("do referral deals win more", "/winrate by lead_source"),
    ("do small deals (<10k) close more often than big ones (100k+)?", "/winrate size_band=<10k,100k+ by size_band"),  # both named
    ("do fast deals (under 30 days) win more often? whats their win rate", "/winrate cycle_band=<30d"),  # their rate
    ("does cycle length matter for win rate", "/winrate by cycle_band"),
    ("does lead source matter for winning", "/drivers"),  # a driver of winning stays the drivers
    ("where in APAC are we losing?", "/risk region=APAC"),
    ("where in the funnel do we lose FinTech deals?", "/funnel industry=FinTech"),
    ("who on the APAC team is struggling", "/reps region=APAC"),
    ("region leaderboard", "/winrate by region"),  # a leaderboard of a dimension that is no rep
    ("rep leaderboard", "/reps by sales_rep_id"),
    ("which deals have been open too long", "/pipeline"),  # stalled open deals: the forecast's subject
    ("expected won deals this quarter by region", "/pipeline by region"),
])
def test_comparisons_across_a_split_leaderboards_and_open_deals(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("win rate July so far", "/winrate 2024-07"),  # a month "so far" is that month
    ("win rate in may so far", "/winrate 2024-05"),
    ("win rate for Q2 2023", "/winrate 2023q2"),  # the quarter before its year
    ("wr by src ytd", "/winrate by lead_source ytd"),
    ("NAMER reps leaderboard", "/reps North America by sales_rep_id"),
    ("what's likely to close by end of quarter", "/pipeline"),
    ("which industries should we double down on", "/winrate by industry"),
    ("which region is worst", "/winrate by region"),
    ("deal velocity by lead source", "/funnel by lead_source"),
    ("are we getting better at selling or worse", "/trend"),
])
def test_more_words_for_periods_splits_and_analyses(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, choices", [
    ("bookings 2024q2 vs 2024q1", ["/deals 2024q2 won", "/deals 2024q1 won", "/winrate 2024q2 vs 2024q1"]),
    ("show me the won deals last quarter vs the quarter before", ["/deals last quarter won", "/winrate last quarter vs previous"]),
    ("win rate for deals lost at negotiation", ["/deals lost", "/funnel", "/winrate"]),  # lost deals win none
    ("stop the weekly update", ["/follow list", "/help follow", "/digest"]),  # which follow? its number
])
def test_a_list_compared_a_rate_of_lost_deals_and_stopping_an_update_are_asked_back(vocab, question, choices):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and [c.line for c in intent.choices] == choices


@pytest.mark.parametrize("question, line", [
    ("lost deals in apac last quarter", "/deals region=APAC last quarter lost"),  # no comparison: the list
    ("give me the weekly update", "/digest"),
    ("win rate for deals that reached negotiation", "/funnel"),
])
def test_the_same_words_without_a_comparison_or_a_stop_are_answered(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


# The seventh held-out round's rules (issue 22): each class with cases where the same words mean something else.
@pytest.mark.parametrize("question, line", [
    # what a segment will close, book or bring in: the forecast (a rate or how long it takes stays theirs)
    ("how much will europe close this q", "/pipeline region=Europe"),
    ("what will the APAC team book next quarter", "/pipeline region=APAC"),
    ("how long will it take to close these deals", "/funnel"),
    ("how quickly will these deals close", "/pipeline"),
    ("fcst for APAC", "/pipeline region=APAC"),
    # a stage's conversion, and deals dying or dropping out at a stage: the funnel (the list of deals lost there stays a list)
    ("conversion from demo to proposal?", "/funnel"),
    ("what's the conversion between proposal and negotiation", "/funnel"),
    ("what % of proposals turn into wins", "/funnel"),
    ("proposal to close rate", "/funnel"),
    ("conversion rate by stage", "/funnel"),
    ("how many deals die in negotiation", "/funnel"),
    ("how many enterprise deals drop out at proposal stage", "/funnel product_type=Enterprise"),
    ("the APAC deals we lost at negotiation stage", "/deals region=APAC deal_stage=Negotiation lost"),
    ("deals stuck in negotiation", "/pipeline deal_stage=Negotiation"),
    ("win rate from january to march", "/winrate 2024-01-01..2024-03-31"),  # months, not stages
    ("win rate by region", "/winrate by region"),
    # how long deals take, and the cycle getting longer: the funnel
    ("time to close by region", "/funnel by region"),
    ("how fast do partner deals close compared to inbound", "/funnel lead_source=Partner,Inbound by lead_source"),
    ("are our cycles getting longer in APAC?", "/funnel region=APAC"),
])
def test_forecast_funnel_and_cycle_words_of_the_seventh_round(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    # every deal asked for, or what someone closed: the deals (a rate of them, or how many, stays the rate)
    ("all deals closed in june", "/deals 2024-06"),
    ("every deal we lost in APAC last quarter", "/deals region=APAC last quarter lost"),
    ("win rate on all deals closed in june", "/winrate 2024-06"),
    ("what did rep_4 close last quarter", "/deals sales_rep_id=rep_4 last quarter won"),
    ("what did we close last quarter", "/deals last quarter won"),
    ("What did we close at in Q4?", "/winrate 2023q4"),  # the rate we closed at
    ("drill into the europe losses", "/deals region=Europe lost"),
    # the pipeline's deals listed are the open deals; its at-risk amount is the forecast's (revenue at risk stays /risk)
    ("show open pipeline deals for north america", "/deals North America open"),
    ("at-risk amount per region", "/pipeline by region"),
    ("revenue at risk by region", "/risk by region"),
    ("which pipeline deals will close this quarter", "/pipeline"),
    # one rep's deals are that rep's, not the reps
    ("which of rep 9's deals will close this quarter", "/pipeline sales_rep_id=rep_9"),
    ("which of my reps has the most open pipeline", "/pipeline by sales_rep_id"),
])
def test_deals_asked_for_and_the_pipeline_s_deals(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    # a dimension's effect on winning, or a confounder named: the drivers (a split asked outright stays the split)
    ("does deal size affect win rate", "/drivers"),
    ("how does lead source impact our odds", "/drivers"),
    ("what is the effect of region on win rate", "/drivers"),
    ("Does cycle length matter, or is that just correlation with size?", "/drivers"),
    ("does being inbound help win rate in APAC", "/drivers region=APAC"),
    ("what distinguishes won from lost deals", "/drivers"),
    ("does cycle length matter for win rate", "/winrate by cycle_band"),  # the drivers' model takes no cycle
    ("does cycle length affect win rate - split by cycle band", "/winrate by cycle_band"),
    ("did the mix change affect the win rate", "/why"),
    # a claim checked, or a comparative about one value: the rate across its dimension
    ("I keep hearing partner deals are better. Is that actually true in the data?", "/winrate by lead_source"),
    ("The Europe team says their cycle got longer. Is that true for deals closed this year?", "/funnel region=Europe ytd"),
    ("referral deals are better than inbound ones", "/winrate lead_source=Referral,Inbound by lead_source"),
    ("is APAC doing better", "/trend region=APAC"),
    # worry and fixing: the weak segments (deals or reps to worry about stay theirs)
    ("what should I worry about in north america", "/risk North America"),
    ("which region should I be most worried about?", "/risk by region"),
    ("which deals should I worry about", "/pipeline"),
    ("what's the one thing I should fix", "/risk"),
    ("which region wins best", "/winrate by region"),
    ("how did each region do in Q1", "/winrate by region 2024q1"),
    ("how is APAC doing lately", "/trend region=APAC"),
])
def test_effects_claims_and_worries_of_the_seventh_round(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("why is q2 worse than last year's q2", "/why 2024q2 vs 2023q2"),
    ("this year's q1 vs last year's q1", "/winrate 2024q1 vs 2023q1"),
    ("win rate from feb 1 to april 30", "/winrate 2024-02-01..2024-04-30"),
    ("win rate between 1 march and 15 june 2024", "/winrate 2024-03-01..2024-06-15"),
    ("deals closed from Nov 15th 2023 to Jan 31st 2024", "/deals 2023-11-15..2024-01-31"),
    ("win rate since 2023q3", "/winrate 2023-07-01..2024-07-15"),  # since a quarter: from it on, not it alone
    ("trend since H2 2023", "/trend 2023-07-01..2024-07-15"),
    ("We changed our enterprise pricing in Q1. How has enterprise win rate looked since then, quarter by quarter?",
     "/trend product_type=Enterprise quarterly 2024-01-01..2024-07-15"),
    ("what explains the win rate change since last year?", "/why vs last year"),
    ("what has changed in enterprise since last year", "/why product_type=Enterprise vs last year"),
    ("why did win rate drop since last quarter", "/why last quarter vs previous"),
    ("how did march compare to february", "/winrate 2024-03 vs 2024-02"),
    ("Rank my reps — I care about H1 2024 only.", "/reps by sales_rep_id 2024-01-01..2024-06-30"),
    ("wn rate by prodcut", "/winrate by product_type"),
    ("winrat by regoin", "/winrate by region"),
    ("win% by industry", "/winrate by industry"),
    ("Just got off a call with the APAC lead. She says enterprise is fine. Is it?",
     "/winrate region=APAC product_type=Enterprise"),  # a person called a lead is no lead source
    ("win rate by lead source", "/winrate by lead_source"),
])
def test_periods_typos_and_people_of_the_seventh_round(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, first", [
    ("how does our win rate compare to industry benchmarks", "/trend"),  # no outside benchmarks in the data
    ("lost deals by reason", "/why"),  # no loss reasons
    ("are we on track against plan", "/pipeline"),  # no plan
])
def test_what_the_data_does_not_hold_is_asked_back_in_the_seventh_round(vocab, question, first):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.choices[0].line == first, [c.line for c in intent.choices]


def test_on_track_for_the_quarter_is_the_forecast(vocab):
    assert interpret("are we on track for the quarter", vocab, AS_OF).line == "/pipeline"


@pytest.mark.parametrize("question, line", [
    # the rate by amount is shown beside the win rate: no split (a split by size is asked by size or by amount band)
    ("give me the win rate by amount for enterprise", "/winrate product_type=Enterprise"),
    ("win rate by dollar value vs by count last quarter", "/winrate last quarter"),
    ("win rate by amount band", "/winrate by size_band"),
    ("win rate by deal size", "/winrate by size_band"),
    # the analyses' own words, as the commands' reference names them
    ("which two-way segments are worst", "/risk"),
    ("rate effect vs mix effect for the Q2 drop", "/why 2024q2"),
    ("marginal effect of referral on win rate", "/drivers"),  # a value's effect: over every deal, not Referral's alone
    ("impact of the apac drop on the quarter", "/risk region=APAC"),
    ("shrunk win rate by rep", "/reps by sales_rep_id"),
    ("show me raw win rate per rep for APAC", "/winrate region=APAC by sales_rep_id"),  # the rate by rep, said raw
    ("what's the smallest change we could detect", "/trend"),
    # a period's possessive before what it owns ("last quarter's losses"); a budget's owner is no period
    ("deals.csv for last quarter's losses", "/deals last quarter lost"),
    ("last quarter's win rate in apac", "/winrate region=APAC last quarter"),
])
def test_the_commands_own_words_and_the_rate_by_amount(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    # "my region" is the segment the message says is theirs; alone, whose it is stays asked back (below)
    ("Hi! I run the APAC team. Can you tell me how my region did last quarter compared to the quarter before?",
     "/winrate region=APAC last quarter vs previous"),
    ("I manage fintech - how is my vertical trending?", "/trend industry=FinTech"),
    # a comparative about one value, and idioms of "what happened"
    ("Our partner team keeps asking for more budget. Do partner deals actually close at a higher rate?",
     "/winrate by lead_source"),
    ("Looking at europe - anything weird going on?", "/why region=Europe"),
    ("so whats the deal with fintech lately", "/why industry=FinTech"),
    ("what's the deal list for apac", "/deals region=APAC"),  # the deal list is no idiom
    # periods: an ordinal quarter of a year (a fiscal year is asked back: its start is not known), after a month; a month never dropped
    ("win rate in the 2nd quarter of 2023", "/winrate 2023q2"),
    ("win rate after march", "/winrate 2024-04-01..2024-07-15"),
    ("what may slip this quarter", "/pipeline"),  # "may" the verb
    ("is close rate decling in fintech??", "/trend industry=FinTech"),  # letters left out of a keyword
])
def test_whose_segment_idioms_and_more_periods(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, unknown", [
    ("win rate through june", "june"),  # from when? named back, never answered over all time
    ("healtech win rate last year", "healtech"),  # two slips from HealthTech, never the data's health
])
def test_a_month_or_a_far_slip_is_named_back_never_dropped(vocab, question, unknown):
    intent = interpret(question, vocab, AS_OF)
    assert intent.command == "winrate" and intent.request.query is None and unknown in intent.line


def test_my_region_alone_is_still_asked_back(vocab):
    assert not interpret("how is my region doing", vocab, AS_OF).understood


@pytest.mark.parametrize("question, line", [
    # a value left out is every other value of its dimension, pooled: never the value itself (the opposite answer)
    ("win rate excluding partner deals", "/winrate lead_source=Inbound,Outbound,Referral"),
    ("win rate for everything except enterprise", "/winrate product_type=Core,Pro"),
    ("win rate outside north america", "/winrate region=APAC,Europe,India"),
    ("non-apac win rate", "/winrate Europe India North America"),
    ("win rate apac without saas", "/winrate region=APAC industry=Ecommerce,EdTech,FinTech,HealthTech"),
    # the same words before no value stay what they were
    ("win rate without the lost deals", "/winrate"),
    ("win rate in APAC", "/winrate region=APAC"),
])
def test_a_value_left_out_is_the_other_values_pooled(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    # deals named with only segments and a period: the deals (a sentence about them stays the rate)
    ("rep_3 deals this quarter", "/deals sales_rep_id=rep_3 this quarter"),
    ("apac deals last quarter", "/deals region=APAC last quarter"),
    ("how are we converting fintech deals?", "/winrate industry=FinTech"),
    ("apac q2", "/winrate region=APAC 2024q2"),
    # a stage "or later": it and the stages after it
    ("how much pipeline is in proposal or later", "/pipeline deal_stage=Proposal,Negotiation"),
    ("open deals in demo stage and beyond", "/deals deal_stage=Demo,Proposal,Negotiation open"),
])
def test_deals_named_alone_and_stages_onwards(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    # an amount or a cycle bound at a band's edge is the bands on its side, pooled
    ("win rate on sub-25k deals", "/winrate size_band=<10k,10k-25k"),
    ("win rate for deals under 50k", "/winrate size_band=<10k,10k-25k,25k-50k"),
    ("50k and under", "/winrate size_band=<10k,10k-25k,25k-50k"),  # was the 50k-100k band, the other side
    ("win rate over 50k", "/winrate size_band=50k-100k,100k+"),
    ("deals that took longer than 3 months", "/deals cycle_band=90d+"),
    ("deals that took more than two months to close", "/deals cycle_band=60-90d,90d+"),
    ("win rate's down 5 points, why", "/why"),  # a change's size is no bound
])
def test_bounds_at_a_band_s_edge_in_other_units(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, unknown", [
    ("deals that closed in under 2 weeks", "14"),  # no band ends at 14 days: named back, never every deal
    ("deals that took longer than 6 months", "180"),
])
def test_a_bound_no_band_has_is_named_back(vocab, question, unknown):
    intent = interpret(question, vocab, AS_OF)
    assert intent.request.query is None and unknown in intent.line.split()


@pytest.mark.parametrize("question, line", [
    ("give me a breakdown by size and region", "/winrate by size_band and region"),  # a split asked alone: the rates
    ("breakdown by industry please", "/winrate by industry"),
])
def test_a_breakdown_asked_alone_is_the_rate_split(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question", ["compare the two regions", "cost per lead by source"])
def test_a_split_without_a_breakdown_word_is_still_asked_back(vocab, question):
    assert not interpret(question, vocab, AS_OF).understood


@pytest.mark.parametrize("question, line", [
    ("what's our revenue this year", "/deals ytd won"),  # revenue is the deals won, totalled
    ("what was revenue in q1 for apac", "/deals region=APAC 2024q1 won"),
    ("what revenue should I expect from the open pipeline", "/pipeline"),  # expected: the forecast
    ("what is our revenue at risk", "/risk"),
    ("what will we close this quarter", "/pipeline"),
    ("big deals (100k+) vs small ones (<10k), who wins more", "/winrate size_band=100k+,<10k by size_band"),  # bands given
])
def test_revenue_asked_is_the_deals_won(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


def test_hitting_a_plan_is_asked_back_with_the_forecast_first(vocab):
    intent = interpret("are we going to hit plan", vocab, AS_OF)  # no plan in the data
    assert not intent.understood and intent.choices[0].line == "/pipeline"


@pytest.mark.parametrize("question, line", [
    ("demo-to-proposal conversion by region", "/funnel by region"),
    ("what percent of demos move to proposal", "/funnel"),  # demos moving on: the stage, not demos run
    ("where do most deals fall out", "/funnel"),
    ("what impact does product have on win rate", "/drivers"),
    ("does the size of the deal change our odds", "/drivers"),
    ("is the size effect real or is it just region", "/drivers"),
    ("how much will we lose this quarter", "/pipeline"),
])
def test_more_words_for_stage_moves_effects_and_forecast_losses(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


def test_demos_run_are_still_asked_back(vocab):
    assert not interpret("how many demos did we run in June", vocab, AS_OF).understood


@pytest.mark.parametrize("question, line", [
    ("is anyone significantly underperforming", "/reps"),
    ("has APAC recovered yet", "/trend region=APAC"),
    ("is our win rate stable", "/trend"),
    ("how volatile is the win rate", "/trend"),
    ("state of the business", "/digest"),  # "state" is no slip of "stale"
    ("is the pipeline stale", "/pipeline"),
])
def test_more_words_for_reps_the_trend_and_the_digest(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


def test_any_updates_alone_is_still_asked_back(vocab):
    assert not interpret("any updates", vocab, AS_OF).understood


@pytest.mark.parametrize("question, line", [
    ("what's our win rate for the year", "/winrate ytd"),
    ("which months were weakest", "/trend monthly"),
    ("top opportunities to close this quarter", "/pipeline"),
    ("which deals should we focus on this week", "/pipeline"),  # open deals to prioritise
    ("where are the biggest opportunities", "/risk"),  # segments, not deals
    ("where should I focus", "/risk"),
])
def test_the_year_ranked_months_and_deals_to_focus_on(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


def test_an_event_the_data_does_not_date_is_named_back(vocab):
    intent = interpret("what's the win rate since the reorg", vocab, AS_OF)
    assert intent.request.query is None and "reorg" in intent.line.split()


# Issue 22, ninth round: filters and periods kept, comparisons in order, forecast/risk/funnel/drivers words.
@pytest.mark.parametrize("question, line", [
    ("what was march's win rate", "/winrate 2024-03"),  # a month as a possessive
    ("why did march go so badly", "/why 2024-03"),  # a month as the subject
    ("march deals", "/deals 2024-03"),
    ("may's win rate", "/winrate 2024-05"),
    ("list lost deals with a 90+ day cycle", "/deals cycle_band=90d+ lost"),
    ("dump all closed-won from h1 2024", "/deals 2024-01-01..2024-06-30 won"),
    ("ytd win rate vs ytd last year", "/winrate ytd vs last year"),  # ytd against the same span a year before
    ("any danger zones in 2024 so far", "/risk ytd"),
])
def test_months_cycle_bands_halves_and_same_span_comparisons_are_kept(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("we may win rate it", "/winrate"),  # "may" as a verb is no month
    ("did we win more", "/winrate"),  # "did" before a pronoun names no month
    ("win rate 2023 so far", "/winrate 2023"),  # a past year "so far" is that year
    ("list lost deals with a cycle over 90 days", "/deals cycle_band=90d+ lost"),
])
def test_counter_examples_month_words_that_are_verbs_and_past_years(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("whats the chance the NA deals close this qtr", "/pipeline North America"),
    ("most likely deals to close for rep_2", "/pipeline sales_rep_id=rep_2"),
    ("are we going to have a good Q3 or not, in dollars", "/pipeline"),
    ("which open deals are rotting", "/pipeline"),
    ("which open deals should we give up on", "/pipeline"),
    ("which lead sources are under the team rate", "/risk by lead_source"),
    ("which combos of region and product are underwater", "/risk"),
    ("where is the pipeline most exposed, by region", "/risk by region"),
    ("risk by rep", "/risk by sales_rep_id"),
    ("proposal → negotiation conversion?", "/funnel"),
    ("are we losing them at demo or at negotiation", "/funnel"),
    ("does lead source actually matter or is it all noise", "/drivers"),
    ("what goes with losing in enterprise deals", "/drivers product_type=Enterprise"),
    ("whats the secret sauce in our won NA deals", "/drivers North America"),
    ("is it the region or the product that makes the difference?", "/drivers"),
    ("does it matter whether the lead came inbound vs outbound", "/drivers"),
    ("rep 7 close rate last quarter", "/winrate sales_rep_id=rep_7 last quarter"),
])
def test_forecast_risk_funnel_and_drivers_words(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("the chances of winning by lead source", "/drivers"),  # what raises the odds: the drivers, not the forecast
    ("win rate for deals with a good chance to close", "/winrate"),  # a rate named stays a rate
    ("the APAC deals we lost at negotiation", "/deals region=APAC deal_stage=Negotiation lost"),  # listed, not the funnel
    ("win rate for the fintech vertical", "/winrate industry=FinTech"),  # a vertical the data holds
])
def test_counter_examples_same_words_meaning_something_else(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question", [
    "win rate for the medical devices vertical",  # an industry the data lacks
    "our LATAM region win rate",  # a region the data lacks
    "how many customers expanded this year",  # revenue after the sale
    "what was the win rate before we launched pro?",  # a launch the data does not date
])
def test_what_the_data_cannot_answer_is_asked_back(vocab, question):
    assert not interpret(question, vocab, AS_OF).understood


def test_a_missing_segment_is_named_with_the_values_held(vocab):
    intent = interpret("win rate for the medical devices vertical", vocab, AS_OF)
    assert "medical devices" in intent.note and "FinTech" in intent.note
    assert [c.line for c in intent.choices] == ["/winrate by industry"]


@pytest.mark.parametrize("question, line", [
    ("how does the trend thing work", "/help trend"),
    ("break down the drop — which segments account for it", "/why"),  # segments behind a change: the why
    ("who won the most deals last quarter", "/reps last quarter"),
    ("is anyone on the team statistically worse than everyone else", "/reps"),
    ("whats hurting us most, segment-wise", "/risk"),
    ("what is hurting the win rate", "/why"),  # counter-example: what hurts the rate, not which segment most
    ("are we better at selling core or enterprise", "/winrate product_type=Core,Enterprise by product_type"),
    ("what is the biggest deal we won", "/deals won"),  # counter-example: the biggest deal is in the list
])
def test_help_by_topic_why_segments_rep_rankings_and_a_choice_of_two(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


def test_the_big_one_is_asked_back(vocab):
    assert not interpret("how did the big one go", vocab, AS_OF).understood  # which deal? the data does not say


@pytest.mark.parametrize("question, line", [
    ("manager here — show me rep numbers for the last 2 quarters", "/reps by sales_rep_id last 2 quarters"),
    ("what did the loader throw out?", "/health"),
    ("team performance by region", "/reps by region"),
    ("our deals sitting open in proposal", "/deals deal_stage=Proposal open"),
    ("our win rate went from like 40 to 30, WHY", "/why"),  # percentages said, no period
    ("who is the manager for APAC", "/help"),  # counter-example: a manager asked about is not in the data
])
def test_who_is_asking_percentages_said_and_team_performance(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("What's the win rate on deals whose last stage was negotiation?", "/winrate deal_stage=Negotiation"),
    ("how many deals die in negotiation", "/funnel"),  # counter-example: a stage's drop-off is the funnel
])
def test_a_deals_last_stage_is_a_filter_not_the_funnel(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


def test_here_inside_the_question_is_kept(vocab):
    assert interpret("anything odd here, in APAC", vocab, AS_OF).line == "/why region=APAC"  # not who is asking


def test_by_count_and_by_dollars_is_the_win_rate_as_it_is(vocab):
    assert interpret("CFO here. I need the win rate for full-year 2023, by count and by dollars.", vocab,
                     AS_OF).line == "/winrate 2023"  # the reply shows the rate by count and by amount
    assert interpret("win rate by region, by count and by dollars", vocab, AS_OF).line == "/winrate by region"


@pytest.mark.parametrize("question, line", [
    # money words with an outcome: the deals and their amounts, not the rate
    ("how much did we win in dollars last quarter", "/deals last quarter won"),
    ("how much $ did we lose in enterprise deals this year", "/deals product_type=Enterprise ytd lost"),
    ("big deals over 100k that we lost last quarter", "/deals size_band=100k+ last quarter lost"),
    ("what percent of pipeline dollars did we actually win", "/winrate"),  # counter-example: a share is the rate
    ("win rate by region, by count and by dollars", "/winrate by region"),  # counter-example: the rate named
    # lost or open deals at a stage: those deals, not the forecast
    ("deals stuck in qualified, open", "/deals deal_stage=Qualified open"),
    ("lost deals that stalled at proposal last quarter", "/deals deal_stage=Proposal last quarter lost"),
    ("deals stuck in proposal", "/pipeline deal_stage=Proposal"),  # counter-example: stuck alone is the forecast
    ("how much pipeline in proposal is open", "/pipeline deal_stage=Proposal"),  # counter-example: the pipeline named
    # "lst q": a typo of last quarter
    ("deals lost lst q", "/deals last quarter lost"),
    ("deals lost lst qtr", "/deals last quarter lost"),
    # two values typed as a filter: pooled as typed, unless a split is asked
    ("win rate for region=APAC,India closed 2024-04-01..2024-06-30", "/winrate region=APAC,India 2024-04-01..2024-06-30"),
    ("wr source=Referral,Partner from 2024-01-01 to 2024-06-30",
     "/winrate lead_source=Referral,Partner from 2024-01-01 to 2024-06-30"),
    ("win rate region=APAC,India by region", "/winrate region=APAC,India by region"),  # counter-example: split asked
    ("win rate for APAC and India", "/winrate region=APAC,India by region"),  # counter-example: said in words
])
def test_money_words_stage_deals_lst_q_and_typed_filters(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


def test_an_event_the_data_lacks_is_asked_back_naming_it(vocab):
    intent = interpret("did the training in may help win rates", vocab, AS_OF)
    assert not intent.understood and intent.unsupported and "no record of the training" in intent.note
    assert [c.line for c in intent.choices] == ["/trend"]
    # counter-example: a program the data holds as a lead source is answered
    assert interpret("did the partner program help win rates", vocab, AS_OF).line == "/winrate lead_source=Partner"


def test_a_change_to_the_data_is_asked_back_saying_the_bot_reads_only(vocab):
    intent = interpret("can you fix the data for rep_3", vocab, AS_OF)
    assert not intent.understood and intent.unsupported and "cannot change it" in intent.note
    # counter-examples: a change to an alert is offered as the command; a request to show is answered
    assert interpret("can you remove alert 2", vocab, AS_OF).choices[0].line == "/alerts remove 2"
    assert interpret("can you show the deals for rep_3", vocab, AS_OF).line == "/deals sales_rep_id=rep_3"


@pytest.mark.parametrize("question, line", [
    ("us saas win rate last quarter", "/winrate North America industry=SaaS last quarter"),  # region before a segment
    ("us win rate", "/winrate North America"),  # region before a metric
    ("tell us the win rate", "/winrate"),  # counter-example: the pronoun
    ("how are we doing lately for us", "/trend"),  # counter-example: the pronoun, not opening the question
    ("what makes us win", "/drivers"),  # counter-example
    ("us folks want the win rate", "/winrate"),  # counter-example: "folks" names no segment
])
def test_us_opening_a_question_before_a_segment_or_metric_is_the_region(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


# -- contested shapes (issue 22, the structural round): a question careful readers read two ways is asked back
# with each reading as a button, the layer's own first; the words that settle it are answered as read
@pytest.mark.parametrize("question, shape, readings", [
    ("how are we doing", "how-doing", ["/trend", "/winrate"]),
    ("how is APAC doing?", "how-doing", ["/trend region=APAC", "/winrate region=APAC"]),
    ("how did we do last quarter", "how-doing", ["/trend last quarter", "/winrate last quarter"]),
    ("how is rep_12 doing", "rep-doing", ["/reps sales_rep_id=rep_12", "/winrate sales_rep_id=rep_12"]),
    ("win rate by rep", "rate-by-rep", ["/winrate by sales_rep_id", "/reps by sales_rep_id"]),
    ("apac win rate by rep", "rate-by-rep", ["/winrate region=APAC by sales_rep_id", "/reps region=APAC by sales_rep_id"]),
    ("rank regions", "rank-segments", ["/winrate by region", "/reps by region"]),
    ("which region performs best", "rank-segments", ["/winrate by region", "/reps by region"]),
    ("NA qoq", "quarter-on-quarter", ["/trend North America quarterly", "/winrate North America vs previous"]),
    ("qoq win rate by region", "quarter-on-quarter", ["/trend quarterly", "/winrate by region vs previous"]),
    ("are we losing the big deals more than the small ones", "big-and-small",
     ["/winrate size_band=100k+,<10k by size_band", "/winrate by size_band"]),
    # the rate with its counts, or the deals listed (questions against heldout10, the same words)
    ("how many deals did we close in q2", "how-many-deals", ["/winrate 2024q2", "/deals 2024q2"]),
    ("how many deals closed in june", "how-many-deals", ["/winrate 2024-06", "/deals 2024-06"]),
    ("how many deals did we lose last quarter", "how-many-deals", ["/winrate last quarter", "/deals last quarter lost"]),
    ("how many open deals do we have in apac", "how-many-open", ["/pipeline region=APAC", "/deals region=APAC open"]),
    # that rep's row, or every rep (blind1/blind3 against heldout2/heldout10)
    ("how is rep_7 doing vs the team", "rep-vs-team", ["/reps sales_rep_id=rep_7", "/reps"]),
    ("how is rep_12 doing against the team", "rep-vs-team", ["/reps sales_rep_id=rep_12", "/reps"]),
    ("rep 7 win rate vs the team", "rep-vs-team", ["/reps sales_rep_id=rep_7 by sales_rep_id", "/reps"]),
])
def test_a_contested_shape_is_asked_back_with_each_reading_as_a_button(vocab, question, shape, readings):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.contested == shape and not intent.unsupported
    assert [r.line for r in intent.choices] == readings
    assert all(r.query is not None for r in intent.choices)  # each button carries a reading the grammar reads back


@pytest.mark.parametrize("question, shape, reading", [
    ("quota attainment by rep", "attainment", "/reps by sales_rep_id"),  # the data holds no quota
    ("can we hit the number", "the-number", "/pipeline"),  # nor a target
])
def test_a_contested_shape_whose_other_reading_the_data_lacks_offers_the_closest(vocab, question, shape, reading):
    intent = interpret(question, vocab, AS_OF)
    assert intent.contested == shape and intent.unsupported and [r.line for r in intent.choices] == [reading]
    assert "holds none" in intent.note


@pytest.mark.parametrize("question, line", [
    ("how is APAC doing lately", "/trend region=APAC"),  # a word of change over time: the trend
    ("how has the win rate been doing", "/trend"),
    ("how did APAC do vs last year", "/winrate region=APAC vs last year"),  # a comparison named: the tested change
    ("how are the reps doing", "/reps by sales_rep_id"),  # the reps named: their table
    ("how's the pipeline looking", "/pipeline"),  # the pipeline named: the forecast
    ("what's rep_7's win rate", "/winrate sales_rep_id=rep_7"),  # the rate asked: the rate
    ("what share of deals did we lose last quarter", "/winrate last quarter"),  # a share: the rate
    ("how many deals did we win last quarter, as a %", "/winrate last quarter"),
    ("rep_3 vs rep_9 close rate", "/winrate sales_rep_id=rep_3,rep_9 by sales_rep_id"),  # two reps side by side
    ("raw win rate by rep", "/winrate by sales_rep_id"),
    ("rank the reps by win rate", "/reps by sales_rep_id"),
    ("which region wins best", "/winrate by region"),  # no ranking word: the rates
    ("is APAC getting worse quarter over quarter?", "/trend region=APAC quarterly"),  # worse over time: the trend
    ("QoQ change in win rate", "/winrate vs previous"),  # a change: against the quarter before
    ("what will we close this quarter", "/pipeline"),
    ("big deals (100k+) vs small ones (<10k), who wins more", "/winrate size_band=100k+,<10k by size_band"),  # bands given
])
def test_the_words_that_settle_a_contested_shape_are_answered_as_read(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices and not intent.contested


def test_a_contested_question_asks_back_in_the_reply_with_both_readings_labelled(demo):
    reply = converse(demo, "how is APAC doing?")
    assert reply.asked_back and reply.contested and not reply.unsupported
    assert [line for _, line in reply.choices] == ["/trend region=APAC", "/winrate region=APAC"]
    assert "reads two ways" in reply.text and "Which did you mean?" in reply.text
    assert "`/trend region=APAC`" in reply.text and "`/winrate region=APAC`" in reply.text
    settled = converse(demo, "how is APAC doing lately?")
    assert settled.kind == "answer" and settled.command == "trend"


@pytest.mark.parametrize("question, line", [
    # rule gaps of heldout9.tsv, each with words where the same shape means something else
    ("explain what /why does", "/help why"), ("explain what happened in APAC", "/why region=APAC"),
    ("what questions has the bot misread lately", "/feedback"),
    ("where do deals usually stall", "/funnel"), ("which deals are stalled", "/pipeline"),
    ("give me the story on win rate yoy for the deck", "/why vs last year"),
    ("what's driving wins in apac", "/drivers region=APAC"), ("what's driving the decline in EMEA", "/why region=Europe"),
    ("which apac industries are the problem", "/risk region=APAC by industry"),
    ("which industry x region combos are underperforming", "/risk"),
    ('"something is off in q2" — what is it', "/why 2024q2"),
    ("win rate for rep 19 last quarter vs previous", "/winrate sales_rep_id=rep_19 last quarter vs previous"),
    ("has win rate gotten steadily worse", "/trend"),
    ("has outbound gotten better vs last year", "/winrate lead_source=Outbound vs last year"),  # a comparison: tested
    ("which lead sources win best historically", "/winrate by lead_source all"),  # all of the data
    ("what's the overall win rate across everything we have", "/winrate all"),
    ("how accurate has the forecast been historically", "/pipeline"),  # the forecast takes no period
    ("what's the win rate history", "/trend"),  # history alone: over time
])
def test_rule_gaps_of_the_ninth_held_out_set(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


# -- the unplaced-word guard: a word nothing places is asked back, named, never silently dropped ---------------
@pytest.mark.parametrize("question, word, reading", [
    ("mumbai vs bangalore", "mumbai", "/winrate"),  # no side left to compare: no "vs previous"
    ("EBITDA impact of the win rate drop", "ebitda", None),
    ("bangalore win rate in APAC last quarter", "bangalore", "/winrate region=APAC last quarter"),
])
def test_a_word_nothing_places_is_asked_back_and_named(vocab, question, word, reading):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and word in intent.unplaced
    assert f"“{word}”" in intent.note and "I don't have" in intent.note
    assert intent.choices, "the best reading is offered as a button"
    if reading is not None:
        assert intent.choices[0].line == reading


def test_the_guard_names_the_word_in_the_reply(demo):
    reply = converse(demo, "bangalore win rate in APAC last quarter")
    assert "I don't have “bangalore” in this data" in reply.text and "APAC" in reply.text


@pytest.mark.parametrize("filler", ["pls", "rn", "tbh", "🙏", "pls rn tbh 🚀", "thx", "lol"])
def test_chat_filler_does_not_trigger_the_guard(vocab, filler):
    plain = interpret("win rate in APAC last quarter", vocab, AS_OF)
    padded = interpret(f"win rate in APAC last quarter {filler}", vocab, AS_OF)
    assert plain.understood and padded.understood and padded.line == plain.line == "/winrate region=APAC last quarter"
    assert padded.unplaced == ()


@pytest.mark.parametrize("question", ["why did our win rate drop in APAC last quarter?", "which reps need coaching",
                                      "teh win rate trend", "stage-by-stage conversion last quarter"])
def test_questions_of_known_words_and_slips_answer_as_before(vocab, question):
    intent = interpret(question, vocab, AS_OF)
    assert intent.understood and intent.unplaced == () and not intent.choices


# -- concepts out of the data: said plainly, the nearest analyses offered (issue 22, the tenth set's round) ---------
@pytest.mark.parametrize("question, says, nearest", [
    ("sales velocity", "Sales velocity is not one of my analyses", ["/funnel", "/winrate", "/pipeline"]),
    ("health score of accounts we closed in q1", "no account or customer health scores",
     ["/deals won", "/winrate by industry", "/trend"]),
    ("time to first value for q2 cohort", "nothing after the sale", ["/deals won", "/winrate", "/trend"]),
    ("what's our churn in APAC", "nothing after the sale", ["/deals won", "/winrate", "/trend"]),
    ("what's our FY24 win rate", "fiscal year", ["/winrate 2024", "/winrate ytd", "/trend"]),
    ("fy2023 win rate", "fiscal year", ["/winrate 2023", "/winrate ytd", "/trend"]),
    ("what was the win rate last fiscal year", "fiscal year", ["/winrate last year", "/winrate ytd", "/trend"]),
    ("which deals slipped from last quarter", "not its history", ["/pipeline", "/deals open", "/risk"]),
    ("what's a good win rate for a company like ours?", "none of other companies'",
     ["/winrate", "/trend", "/winrate by industry"]),
    ("which partners bring in the most revenue?", "Partner as a lead source only",
     ["/winrate lead_source=Partner", "/winrate by lead_source", "/deals lead_source=Partner won"]),
    ("co-sell / partner-influenced deals win rate", "Partner as a lead source only",
     ["/winrate lead_source=Partner", "/winrate by lead_source", "/deals lead_source=Partner won"]),
    ("how many days from demo to close", "not when it entered each one",
     ["/funnel", "/winrate by cycle_band", "/deals won"]),
])
def test_a_concept_out_of_the_data_is_said_plainly_with_the_nearest_analyses(vocab, question, says, nearest):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.unsupported and says in intent.note
    assert [r.line for r in intent.choices] == nearest


@pytest.mark.parametrize("question, line", [
    ("why has our hit rate slipped", "/why"),  # a rate slipping is the rate's change, not deals slipping
    ("deal velocity by lead source", "/funnel by lead_source"),  # the cycle's speed: the funnel
    ("Our Partner program is up for renewal next month. How does the partner channel's win rate compare with Referral "
     "and Inbound this year?", "/winrate lead_source=Partner,Referral,Inbound by lead_source ytd"),  # context sentence
    ("what's the win rate for pro deals sourced by partners in north america?",
     "/winrate product_type=Pro lead_source=Partner North America"),
])
def test_words_near_a_concept_out_of_the_data_still_answer(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices


def test_a_concept_out_of_the_data_reads_plainly_in_the_reply(demo):
    reply = converse(demo, "sales velocity")
    assert reply.asked_back and reply.unsupported and not reply.contested
    assert "Sales velocity is not one of my analyses" in reply.text and "The closest I answer:" in reply.text
    assert [line for _, line in reply.choices] == ["/funnel", "/winrate", "/pipeline"]


@pytest.mark.parametrize("question, line", [
    # rule gaps of heldout10.tsv, each next to words where the same shape means something else
    ("health check on the data", "/health"), ("quick health check", "/digest"),
    ("pipeline health check", "/pipeline"),
    ("how does /why work", "/help why"), ("how does the risk model work", "/help risk"),
    ("north america vs everyone else", "/winrate by region"),
    ("win rate for deals that closed inside 30 days", "/winrate cycle_band=<30d"),
    ("does cycle length affect win rate?", "/winrate by cycle_band"), ("do long cycles kill win rate?", "/winrate by cycle_band"),
    ("is the spread between reps more than luck?", "/reps by sales_rep_id"),
    ("are the regional differences real or noise?", "/winrate by region"),
    ("is the industry gap real", "/winrate by industry"),
    ("did referral get worse this year?", "/winrate lead_source=Referral ytd vs last year"),
    ("win rate 2024 so far vs all of 2023", "/winrate ytd vs 2023"),
    ("revenue at risk in the open book", "/risk"), ("how much revenue is at risk across the pipeline", "/risk"),
    ("show me what rep_10 lost in june", "/deals sales_rep_id=rep_10 2024-06 lost"),
    ("lost deals that reached negotiation this year", "/deals deal_stage=Negotiation ytd lost"),
    ("enterprise deals that died in negotiation", "/deals product_type=Enterprise deal_stage=Negotiation lost"),
    ("how many deals die in negotiation", "/funnel"),  # how many: the drop-off, not the list
    ("open deals sitting in proposal", "/deals deal_stage=Proposal open"),
    ("new customers won in APAC last quarter — the list", "/deals region=APAC last quarter won"),
    ("do partner deals predict wins after controlling for region", "/drivers"),
])
def test_rule_gaps_of_the_tenth_held_out_set(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices


@pytest.mark.parametrize("question, readings", [
    ("win rate h1 vs h2", ["/winrate 2024-01-01..2024-06-30 vs 2023-07-01..2023-12-31",
                           "/winrate 2023-07-01..2023-12-31 vs 2023-01-01..2023-06-30"]),
    ("this month so far", ["/winrate this month", "/why this month", "/deals this month"]),
])
def test_a_period_with_no_year_or_nothing_to_measure_is_asked_back(vocab, question, readings):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and [r.line for r in intent.choices] == readings


@pytest.mark.parametrize("question, line", [
    ("H1 2024 vs H1 2023 win rate", "/winrate 2024-01-01..2024-06-30 vs 2023-01-01..2023-06-30"),
    ("H1 this year vs H2 last year", "/winrate 2024-01-01..2024-06-30 vs 2023-07-01..2023-12-31"),
    ("what did we close at in Q4?", "/winrate 2023q4"),
])
def test_halves_with_a_year_and_periods_with_a_measure_answer(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, line", [
    ("is the q2 dip seasonal", "/why 2024q2"), ("is the decline seasonal?", "/why"),
    ("is q2 always weak", "/trend"),  # every quarter: each Q2 among them
    ("what's driving apac losses", "/drivers region=APAC"), ("what's driving the decline in EMEA", "/why region=Europe"),
    ("Add an alert when the gap between lead sources exceeds 15pp.", "/help"),  # an alert's words stay the alert's
])
def test_seasons_always_and_what_drives_losses(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, readings", [
    ("why is my win rate down", ["/why", "/reps"]),
    ("which of my deals will close this month?", ["/pipeline", "/reps"]),
])
def test_whose_my_is_asked_back_when_the_message_names_no_one(vocab, question, readings):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and "whose “my”" in intent.note and [r.line for r in intent.choices] == readings


def test_my_with_the_segment_named_is_answered(vocab):
    assert interpret("I run APAC. How is my region doing lately?", vocab, AS_OF).line == "/trend region=APAC"
    assert interpret("my win rate in APAC last quarter", vocab, AS_OF).line == "/winrate region=APAC last quarter"


# -- a thread's follow-up falls in a contested shape or asks for what the data lacks: asked back there too ---------
@pytest.mark.parametrize("question, readings", [
    ("how is Europe doing?", ["/trend region=Europe", "/winrate region=Europe"]),
    ("and how is rep_7 doing", ["/reps region=APAC sales_rep_id=rep_7", "/winrate region=APAC sales_rep_id=rep_7"]),
    ("what about rep_7 vs the team", ["/reps region=APAC sales_rep_id=rep_7", "/reps region=APAC"]),
    ("what about how many deals did we lose", ["/winrate region=APAC", "/deals region=APAC lost"]),
    ("what about sales velocity", ["/funnel", "/winrate", "/pipeline"]),
    ("what about churn", ["/deals won", "/winrate", "/trend"]),
    ("and FY24?", ["/winrate 2024", "/trend 2024", "/winrate ytd"]),
    ("same for h1 vs h2", ["/winrate 2024-01-01..2024-06-30 vs 2023-07-01..2023-12-31",
                           "/winrate 2023-07-01..2023-12-31 vs 2023-01-01..2023-06-30"]),
])
def test_a_contested_or_out_of_data_follow_up_is_asked_back_in_the_thread(vocab, question, readings):
    intent = interpret(question, vocab, AS_OF, "/winrate region=APAC")
    assert not intent.understood and intent.follow_up and [r.line for r in intent.choices] == readings


@pytest.mark.parametrize("question, line", [
    ("what about europe", "/winrate region=Europe"), ("and last quarter?", "/winrate region=APAC last quarter"),
    ("how is it doing lately", "/trend region=APAC"),  # a word of change over time settles it: the trend
])
def test_a_plain_follow_up_keeps_the_thread_s_reading(vocab, question, line):
    intent = interpret(question, vocab, AS_OF, "/winrate region=APAC")
    assert intent.line == line and intent.follow_up and not intent.choices


def test_a_contested_follow_up_asks_back_in_the_reply(demo):
    reply = converse(demo, "how is Europe doing?", thread_line="/winrate region=APAC")
    assert reply.asked_back and reply.contested and "reads two ways" in reply.text
    assert [line for _, line in reply.choices] == ["/trend region=Europe", "/winrate region=Europe"]
    plain = converse(demo, "what about europe", thread_line="/winrate region=APAC")
    assert plain.kind == "answer" and plain.command == "winrate"


@pytest.mark.parametrize("question, line", [
    # read-only asks with one clear reading: answered (issue 22, the tenth set's round)
    ("what alerts do i have", "/alerts list"), ("what misreads have people flagged", "/feedback"),
    ("what did people thumbs-down", "/feedback"), ("what are my subscriptions", "/follow list"),
    ("how do alerts work", "/help alerts"), ("data ok?", "/health"),
    ("win rate jan", "/winrate 2024-01"), ("win rate may", "/winrate 2024-05"),
    ("win rate between march and may", "/winrate 2024-03-01..2024-05-31"),
    ("is outbound worse than it was last year", "/winrate lead_source=Outbound vs last year"),
])
def test_read_only_asks_with_one_clear_reading_are_answered(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices


def test_win_rate_by_salesperson_is_the_contested_rate_by_rep(vocab):
    intent = interpret("win rate by salesperson", vocab, AS_OF)
    assert intent.contested == "rate-by-rep"
    assert [r.line for r in intent.choices] == ["/winrate by sales_rep_id", "/reps by sales_rep_id"]


@pytest.mark.parametrize("question, first", [
    # a change in words is never made from the sentence: its exact command is the first button, a confirmation
    ("ping me daily with the apac win rate", "/follow /winrate region=APAC daily dm"),
    ("send me the apac win rate every week", "/follow /winrate region=APAC weekly dm"),  # "send me": a DM
    ("post the apac win rate here every day", "/follow /winrate region=APAC daily"),  # here: the channel
    ("let me know if any deal runs too long", "/alerts add long-cycle"),
    ("tell me when a deal over 250k shows up", "/alerts add big-deal above 250k"),
    ("add a big deal alert above 250k", "/alerts add big-deal above 250k"),
    ("alert me on any big deal over 300k in europe", "/alerts add big-deal region=Europe above 300k"),
    ("alert if india win rate falls under 45", "/alerts add winrate region=India below 45%"),
    ("remove alert 2", "/alerts remove 2"), ("mute alert 1 for a week", "/alerts mute 1 7d"),
])
def test_a_change_in_words_offers_its_exact_command_first(vocab, question, first):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.choices[0].line == first


def test_win_rate_by_stage_is_asked_back_between_the_funnel_and_the_rate_by_last_stage(vocab):
    for question in ("winrate by stage", "win rate by last stage reached"):
        intent = interpret(question, vocab, AS_OF)
        assert intent.contested == "rate-by-stage"
        assert [r.line for r in intent.choices] == ["/funnel", "/winrate by deal_stage"]
    assert interpret("conversion by stage", vocab, AS_OF).line == "/funnel"  # conversion by stage: the funnel, as before


@pytest.mark.parametrize("question, line", [
    ("I need the won deals from q2 for the appendix", "/deals 2024q2 won"),  # words of the asker's purpose: not segments
    ("sorry if this is dumb but what is our win rate", "/winrate"),
    ("headline win rate for last quarter", "/winrate last quarter"),
    ("win rate by quarter for forecasting purposes", "/trend quarterly"),
    ("data quality check: how many rows got thrown out on load?", "/health"),
    ("board will ask what drove the decline. what drove it?", "/why"),
    ("is the decline concentrated in one region or everywhere?", "/why"),
    ("do long cycles lose more", "/winrate by cycle_band"),
])
def test_more_words_of_the_ninth_and_tenth_sets_are_placed(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices and intent.unplaced == ()


def test_a_word_nothing_places_is_still_asked_back_next_to_the_new_filler(vocab):
    intent = interpret("headline bangalore win rate in APAC last quarter", vocab, AS_OF)
    assert not intent.understood and intent.unplaced == ("bangalore",)


@pytest.mark.parametrize("question, line", [
    ("What is our win rate on deals smaller than ten thousand dollars?", "/winrate size_band=<10k"),
    ("What is win rate for deals bigger than 50 thousand?", "/winrate size_band=50k-100k,100k+"),
    ("Are we winning more or fewer of the 100k-plus deals than a year ago?", "/winrate size_band=100k+ vs last year"),
    ("win rate for deals over $10,000", "/winrate size_band=10k-25k,25k-50k,50k-100k,100k+"),
    ("win rate on deals under twenty-five thousand", "/winrate size_band=<10k,10k-25k"),
])
def test_amounts_in_words_become_the_size_bands_they_bound(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices


@pytest.mark.parametrize("question, amount", [("win rate for deals bigger than 30 thousand", "30k"),
                                              ("win rate on deals over $37,000", "37k")])
def test_an_amount_at_no_band_edge_is_kept_and_asked_back_never_dropped(vocab, question, amount):
    intent = interpret(question, vocab, AS_OF)
    assert intent.request.query is None and amount in intent.line.split() and "size_band" not in intent.line


@pytest.mark.parametrize("question, line", [
    ("What did Partner deals book in H1?", "/deals lead_source=Partner 2024-01-01..2024-06-30 won"),
    ("Partner-sourced bookings ytd", "/deals lead_source=Partner ytd won"),
    ("what will we book this quarter", "/pipeline"),  # what we will book: the forecast, which has no period
])
def test_bookings_in_a_past_period_are_the_won_deals_not_the_forecast(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices


def test_bookings_split_over_time_are_asked_back_never_the_forecast_with_the_period_dropped(vocab):
    intent = interpret("Bookings by quarter for the last two years", vocab, AS_OF)
    assert not intent.understood
    assert [r.line for r in intent.choices] == ["/deals last 2 years won", "/trend quarterly last 2 years"]


@pytest.mark.parametrize("question, choices", [
    ("How much did we win in December?", ["/winrate 2023-12", "/deals 2023-12 won"]),
    ("how much did we win in APAC", ["/winrate region=APAC", "/deals region=APAC won"]),
    ("how many deals did rep_19 lose last quarter",
     ["/winrate sales_rep_id=rep_19 last quarter", "/deals sales_rep_id=rep_19 last quarter lost"]),
])
def test_how_much_did_we_win_is_contested_and_asked_back_with_both_readings(vocab, question, choices):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.contested in ("how-much-won", "how-many-deals")
    assert [r.line for r in intent.choices] == choices


@pytest.mark.parametrize("question, line", [
    ("win rate in the first quarter of this year", "/winrate 2024q1"),
    ("The board wants first-half win rate against the first half of last year",
     "/winrate 2024-01-01..2024-06-30 vs 2023-01-01..2023-06-30"),
    ("How many deals did we lose in the Negotiation stage in the first quarter of this year?",
     "/deals deal_stage=Negotiation 2024q1 lost"),
])
def test_quarters_and_halves_in_words_keep_their_year(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices


@pytest.mark.parametrize("question, line", [
    ("Please tell me the close ratio of SaaS segment in the quarter passed", "/winrate industry=SaaS last quarter"),
    ("I need the list of won deals of Referral in the month of May", "/deals lead_source=Referral 2024-05 won"),
    ("What is the win rate of rep number 21 in last 6 months?", "/winrate sales_rep_id=rep_21 last 6 months"),
    ("compare all four regions year to date", "/winrate by region ytd"),
    ("Please do the comparison of this year with last year for win rate", "/winrate ytd vs last year"),
])
def test_periods_and_reps_in_words_are_kept_not_dropped(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices


def test_the_possessive_of_an_alias_is_the_value_not_a_dropped_word(vocab):
    intent = interpret("Show me NA's lost Enterprise deals from last quarter", vocab, AS_OF)
    assert intent.line == "/deals North America product_type=Enterprise last quarter lost" and not intent.choices


@pytest.mark.parametrize("question, choices", [
    ("what will next year's win rate be?", ["/pipeline", "/winrate"]),
    ("why will APAC drop next quarter", ["/pipeline region=APAC", "/why region=APAC"]),
])
def test_a_period_still_to_come_is_asked_back_never_dropped(vocab, question, choices):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and [r.line for r in intent.choices] == choices and "still to come" in intent.note


def test_a_commit_call_is_contested_and_offers_the_forecast(vocab):
    intent = interpret("What's our commit for Q3?", vocab, AS_OF)
    assert not intent.understood and intent.contested == "commit" and [r.line for r in intent.choices] == ["/pipeline"]


@pytest.mark.parametrize("question", ["how many new logos this quarter", "Lead-to-opportunity conversion rate?"])
def test_logos_and_leads_are_not_in_the_data_and_asked_back(vocab, question):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and intent.unsupported


@pytest.mark.parametrize("question, line", [
    ("Could you please explain which commands I can use with you?", "/help"),
    ("data health check", "/health"),
    ("health check", "/digest"),  # a health check alone stays the digest
    ("FinTech in India, what's the story?", "/why industry=FinTech region=India"),
    ("how has Partner trended ever since the data starts", "/trend lead_source=Partner ever"),
    ("What is the single biggest driver of winning across all our deals?", "/drivers"),
    ("WHICH REPS ARE LOSING ALL THESE DEALS", "/reps by sales_rep_id"),
])
def test_more_words_of_the_eleventh_set_read_as_asked(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices


def test_a_schedule_said_first_is_still_a_follow_asked_back(vocab):
    intent = interpret("every week send me why win rate changed", vocab, AS_OF)
    assert not intent.understood and intent.choices[0].line == "/follow /why weekly dm"


@pytest.mark.parametrize("question, line", [
    ("lost deals stage=Proposal last q", "/deals deal_stage=Proposal last quarter lost"),  # a typed filter names no command
    ("won 50-100k q2", "/deals size_band=50k-100k 2024q2 won"),  # the outcome first: those deals, never dropped
    ("lost 100k+ last quarter", "/deals size_band=100k+ last quarter lost"),
])
def test_terse_outcome_lines_keep_their_outcome_and_filters(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices


def test_the_worst_quarter_in_a_named_quarter_is_the_worst_segment_then(vocab):
    intent = interpret("Which region had the worst quarter last quarter?", vocab, AS_OF)
    assert intent.line == "/winrate by region last quarter" and not intent.choices
    assert interpret("which quarter was our best", vocab, AS_OF).line == "/trend quarterly"  # still quarter by quarter


def test_a_bare_quarter_that_has_only_begun_is_asked_back_with_last_years(vocab):
    intent = interpret("what's the win rate in q3", vocab, AS_OF)  # Q3 2024 has 15 days by AS_OF
    assert not intent.understood and [r.line for r in intent.choices] == ["/winrate 2024q3", "/winrate 2023q3"]
    assert interpret("win rate q2", vocab, AS_OF).line == "/winrate 2024q2"  # a complete quarter: answered
    assert interpret("q3 forecast", vocab, AS_OF).line == "/pipeline"


@pytest.mark.parametrize("question, line", [
    ("How did win rate move year over year: last quarter against the same quarter of 2023?",
     "/winrate last quarter vs last year"),
    ("What's our win rate for the year so far compared with the same stretch of 2023?", "/winrate ytd vs last year"),
    ("Which industries respond best to outbound?", "/winrate lead_source=Outbound by industry"),
    ("Where does the data come from, and how fresh is it?", "/health"),
    ("Can you give me the reason of the decrease of win rate in last quarter?", "/why last quarter"),
    ("What is the tendency of win rate month by month?", "/trend monthly"),
    ("Win rate of ecommerce since beginning of the year", "/winrate industry=Ecommerce ytd"),
    ("win rate for Proposal-stage deals in Europe", "/winrate deal_stage=Proposal region=Europe"),
    ("win rate for proposal stage deals in Europe", "/winrate deal_stage=Proposal region=Europe"),  # never the funnel
])
def test_asked_back_lines_of_the_eleventh_set_with_one_reading_are_answered(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line and not intent.choices and intent.unplaced == ()


def test_two_periods_in_a_question_are_asked_back_with_each_reading_never_one_dropped(vocab):
    intent = interpret("why did we lose more deals in q2 than the rest of last year", vocab, AS_OF)
    assert not intent.understood
    assert [r.line for r in intent.choices] == ["/why 2024q2", "/why 2024Q2 vs 2023", "/why last year"]


def test_a_typed_second_period_is_named_with_the_readings(demo):
    reply = converse(demo, "/why 2024Q2 last year")
    assert '"last year" is a second period' in reply.text and "`2024Q2`, `last year`" in reply.text


@pytest.mark.parametrize("question, line", [
    ("did we improve vs previous month", "/winrate last month vs previous"),
    ("did apac improve vs the prior month", "/winrate region=APAC last month vs previous"),
    ("did we improve in march vs previous month", "/winrate 2024-03 vs previous"),
    ("did we improve vs previous quarter", "/winrate vs previous"),  # the latest complete quarter vs the one before
])
def test_a_month_compared_with_the_one_before_is_never_read_as_the_default_quarter(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


@pytest.mark.parametrize("question, readings", [
    ("win rate this quarter vs previous month", ["/winrate this quarter vs previous", "/winrate last month vs previous"]),
    ("this month compared to last quarter", ["/winrate this month vs previous", "/winrate last quarter vs previous"]),
    ("win rate ytd vs the previous 2 months", ["/winrate ytd vs previous", "/winrate last 2 months vs previous"]),
    ("win rate last 2 quarters against last month", ["/winrate last 2 quarters vs previous",
                                                     "/winrate last month vs previous"]),
])
def test_a_compared_span_of_another_length_is_asked_back_never_dropped(vocab, question, readings):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood
    assert [c.line for c in intent.choices] == readings
    assert "which comparison" in intent.note


@pytest.mark.parametrize("question, line", [
    ("win rate last month vs the month before", "/winrate last month vs previous"),
    ("win rate last 90 days vs the 90 days before", "/winrate last 90 days vs previous"),
    ("win rate last quarter vs previous quarter", "/winrate last quarter vs previous"),
    ("win rate last 6 weeks vs previous 6 weeks", "/winrate last 42 days vs previous"),
])
def test_a_compared_span_as_long_as_the_period_is_the_period_before(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, intent.choices) == (line, ())


@pytest.mark.parametrize("question, line", [
    ("win rate not including partner", "/winrate lead_source=Inbound,Outbound,Referral"),
    ("win rate not counting partner deals", "/winrate lead_source=Inbound,Outbound,Referral"),
    ("win rate excluding fintech and saas", "/winrate industry=Ecommerce,EdTech,HealthTech"),
    ("win rate exclude APAC and Europe", "/winrate India North America"),
    ("win rate excluding APAC, Europe or India last quarter", "/winrate North America last quarter"),
    ("win rate excluding APAC and enterprise", "/winrate Europe India North America product_type=Core,Pro"),
    ("everything but Europe win rate", "/winrate APAC India North America"),
    ("Europe not including partner, what's the win rate by product",
     "/winrate region=Europe lead_source=Inbound,Outbound,Referral by product_type"),
])
def test_every_value_a_negation_names_is_left_out_never_kept(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, intent.choices) == (line, ())


@pytest.mark.parametrize("question, line", [
    ("win rate this week than last week", "/winrate last 7 days vs previous"),
    ("how is APAC this week vs last week", "/winrate region=APAC last 7 days vs previous"),
])
def test_this_week_against_last_week_keeps_the_comparison(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, intent.choices) == (line, ())


@pytest.mark.parametrize("question, line", [
    ("win rate all regions except APAC", "/winrate Europe India North America by region"),
    ("win rate all deals except partner", "/winrate lead_source=Inbound,Outbound,Referral"),
    ("win rate all time except APAC", "/winrate Europe India North America all"),
])
def test_all_before_an_exception_is_every_other_value_not_all_time(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, intent.choices) == (line, ())


@pytest.mark.parametrize("question, line", [
    ("win rate not APAC", "/winrate Europe India North America"),
    ("win rate with no partner deals", "/winrate lead_source=Inbound,Outbound,Referral"),
    ("deals not from partner", "/deals lead_source=Inbound,Outbound,Referral"),
    ("win rate for deals not sourced by partner", "/winrate lead_source=Inbound,Outbound,Referral"),
    ("excluding deals under 10k win rate", "/winrate size_band=10k-25k,25k-50k,50k-100k,100k+"),
    ("win rate apac only, no enterprise", "/winrate region=APAC product_type=Core,Pro"),
    ("win rate APAC not Europe", "/winrate region=APAC"),
    ("win rate APAC, not Europe, no enterprise", "/winrate region=APAC product_type=Core,Pro"),
    ("win rate excluding reps 3 and 7", "/winrate sales_rep_id=" + ",".join(
        f"rep_{i}" for i in range(1, 26) if i not in (3, 7))),
    ("why is APAC not winning", "/why region=APAC"),
])
def test_a_value_after_not_or_no_is_left_out_never_read_as_the_filter(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, intent.choices) == (line, ())


@pytest.mark.parametrize("question, said", [
    ("win rate except for Q1", "except for 2024q1"),
    ("win rate excluding last month", "excluding last month"),
    ("what was our win rate without q2", "without 2024q2"),
])
def test_a_period_left_out_is_asked_back_never_read_as_the_period(vocab, question, said):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood
    assert [c.line for c in intent.choices] == ["/winrate"]
    assert f"(“{said}”)" in intent.note


def test_compare_to_a_span_of_another_length_is_asked_back(vocab):
    intent = interpret("how does this quarter compare to the previous month", vocab, AS_OF)
    assert [c.line for c in intent.choices] == ["/winrate this quarter vs previous", "/winrate last month vs previous"]


@pytest.mark.parametrize("question, line", [
    ("win rate h2 2023 vs previous half", "/winrate 2023-07-01..2023-12-31 vs previous"),
    ("win rate second half of 2023 vs the previous half", "/winrate 2023-07-01..2023-12-31 vs previous"),
    ("win rate this half vs previous half", "/winrate 2024-07-01..2024-12-31 vs 2024-01-01..2024-06-30"),
])
def test_the_previous_half_is_the_one_before_the_half_asked_about(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, intent.choices) == (line, ())


def test_ytd_against_the_last_twelve_months_is_asked_back(vocab):
    intent = interpret("win rate this year vs last 12 months", vocab, AS_OF)
    assert [c.line for c in intent.choices] == ["/winrate ytd vs previous", "/winrate last 12 months vs previous"]


@pytest.mark.parametrize("question, line", [
    ("win rate excluding india vs last year", "/winrate APAC Europe North America vs last year"),
    ("win rate excluding north america vs last year", "/winrate region=APAC,Europe,India vs last year"),
])
def test_a_comparison_after_a_negation_is_kept(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, intent.choices) == (line, ())


@pytest.mark.parametrize("question, readings", [
    ("is APAC's win rate higher than 40%", ["/winrate region=APAC"]),
    ("is our win rate above 35% this quarter", ["/winrate this quarter"]),
    ("which regions are below 30% win rate", ["/winrate by region"]),
])
def test_a_rate_against_a_fixed_percentage_is_asked_back_never_a_period_comparison(vocab, question, readings):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and [c.line for c in intent.choices] == readings
    assert "against a fixed" in intent.note


def test_an_alert_with_a_percentage_is_still_an_alert(vocab):
    intent = interpret("alert me if apac drops below 35%", vocab, AS_OF)
    assert intent.choices[0].line == "/alerts add winrate region=APAC below 35%"


# heldout11's round, second pass: each rule with new phrasings, the exact reading asserted
@pytest.mark.parametrize("question, contested, readings", [
    # a question inside a sentence is the question itself: the how-doing shapes, asked back
    ("could you tell me how Europe is doing", "how-doing", ["/trend region=Europe", "/winrate region=Europe"]),
    ("I'd like to know how rep_12 has been performing", "rep-doing",
     ["/reps sales_rep_id=rep_12", "/winrate sales_rep_id=rep_12"]),
    # "what is X doing" asks what "how is X doing" asks
    ("what is india doing", "how-doing", ["/trend region=India", "/winrate region=India"]),
    ("what are outbound deals doing", "how-doing", ["/trend lead_source=Outbound", "/winrate lead_source=Outbound"]),
])
def test_a_question_inside_a_sentence_reads_as_the_question(vocab, question, contested, readings):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.contested, [c.line for c in intent.choices]) == (contested, readings)


def test_an_embedded_question_about_a_pronoun_keeps_its_reading(vocab):
    assert interpret("list every rep and how they are doing", vocab, AS_OF).line == "/reps by sales_rep_id"


@pytest.mark.parametrize("question", ["whats happening", "what is going on here?"])
def test_asking_what_is_going_on_with_nothing_named_is_asked_back(vocab, question):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and [c.line for c in intent.choices] == ["/trend", "/why", "/winrate by region"]
    assert interpret("what's going on with our win rate", vocab, AS_OF).line == "/why"


@pytest.mark.parametrize("question, readings", [
    ("and rep 8?", ["/winrate sales_rep_id=rep_8", "/trend sales_rep_id=rep_8", "/why sales_rep_id=rep_8"]),
    ("how about rep 11 this year", ["/winrate sales_rep_id=rep_11 ytd", "/trend sales_rep_id=rep_11 ytd",
                                    "/why sales_rep_id=rep_11 ytd"]),
])
def test_a_rep_named_as_a_follow_up_with_no_thread_is_asked_back_like_any_segment(vocab, question, readings):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and [c.line for c in intent.choices] == readings


@pytest.mark.parametrize("question, line", [
    ("win rate saas+fintech this year", "/winrate industry=SaaS,FinTech ytd"),
    ("deals referral+partner lost", "/deals lead_source=Referral,Partner lost"),
    ("win rate 100k+ deals", "/winrate size_band=100k+"),  # a band's plus is not a pooling
    # a title that names a segment says whose "my" is
    ("Europe VP here: break my win rate down by product", "/winrate region=Europe by product_type"),
    ("head of APAC - why did my region's win rate fall last quarter", "/why region=APAC last quarter"),
    # the same days a year before; the partner channel; the logistic model
    ("ytd vs prior ytd in india", "/winrate region=India ytd vs last year"),
    ("win rate for channel-sourced deals", "/winrate lead_source=Partner"),
    ("win rate by channel", "/winrate by lead_source"),
    ("logit model for apac", "/drivers region=APAC"),
    ("where are enterprise deals stopping", "/funnel product_type=Enterprise"),
    # a cycle bound after "versus" is the cycle's too
    ("win rate for deals that took under 30 days versus more than 90 days", "/winrate cycle_band=<30d,90d+ by cycle_band"),
    # a path down is the trend; "a blip" is noise
    ("is europe on a downward trajectory", "/trend region=Europe"),
    ("is the enterprise win rate heading down", "/trend product_type=Enterprise"),
    ("fintech dip: real, or just a blip?", "/trend industry=FinTech"),
    # the last month of this quarter (AS_OF is in Q3) is the forecast's own horizon
    ("what will we close by the end of september in apac", "/pipeline region=APAC"),
    ("can you sanity-check the data", "/health"),
    ("stack-rank the reps in apac", "/reps region=APAC by sales_rep_id"),
    ("how do region and lead source interact", "/winrate by region and lead_source"),
])
def test_heldout11_round_vocabulary(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, intent.choices) == (line, ())


@pytest.mark.parametrize("question, readings", [
    # a change since a point is measured against before it: never the level since then, answered as the change
    ("did the win rate go down after february in europe",
     ["/why region=Europe 2024-03-01..2024-07-15", "/trend region=Europe monthly"]),
    # two changes set against each other: each change side by side, or why each moved
    ("was the fintech decline steeper than the saas one",
     ["/winrate industry=FinTech,SaaS by industry vs previous", "/why industry=FinTech", "/why industry=SaaS"]),
    ("which fell further, apac or india",
     ["/winrate region=APAC,India by region vs previous", "/why region=APAC", "/why region=India"]),
])
def test_a_change_since_a_point_or_two_changes_compared_are_asked_back(vocab, question, readings):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and [c.line for c in intent.choices] == readings


@pytest.mark.parametrize("question, line", [
    # words a leader uses that place nothing and ask nothing more: never a reason to ask back
    ("still finding my bearings: of the deals decided in q1, what share did we win?", "/winrate 2024q1"),
    ("people say fintech collapsed. is that real, and what is behind it?", "/why industry=FinTech"),
    ("walk me through the journey deals take across the stages", "/funnel"),
    # with no thread, a split or the lost ones asked after a follow-up word are read as they stand
    ("ok, by region", "/winrate by region"),
    ("only the won ones in apac", "/deals region=APAC won"),
    # the week to act in is not seven days of closed deals
    ("where should my team focus this week", "/risk"),
    ("what do we prioritize this week", "/risk"),
])
def test_heldout11_round_words_and_bare_follow_ups(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, intent.choices) == (line, ())


def test_one_segments_change_contrasted_with_anothers_is_asked_back(vocab):
    intent = interpret("why did fintech grow while saas declined", vocab, AS_OF)
    assert not intent.understood and [c.line for c in intent.choices] == [
        "/winrate industry=FinTech,SaaS by industry vs previous", "/why industry=FinTech", "/why industry=SaaS"]
    assert interpret("why did apac and india both drop", vocab, AS_OF).line == "/why region=APAC,India"


# The twelfth set's round (issue 22): periods and numbers written in other forms, each read as exactly one period,
# or asked back when two readings are equally likely (phrasings not in the corpus)
@pytest.mark.parametrize("question, line", [
    # numbers said in words, and dictation's homophones of "two" and "four"
    ("APAC win rate twenty twenty four", "/winrate region=APAC 2024"),
    ("win rate in two thousand and twenty three", "/winrate 2023"),
    ("deals for rep nine", "/deals sales_rep_id=rep_9"),
    ("deals for rep number fifteen", "/deals sales_rep_id=rep_15"),
    ("win rate of rep eleven", "/winrate sales_rep_id=rep_11"),
    ("pipeline of rep for", "/pipeline sales_rep_id=rep_4"),
    ("APAC win rate over the past sixty days", "/winrate region=APAC last 60 days"),
    ("win rate in the last too months", "/winrate last 2 months"),
    ("lost deals in queue three", "/deals 2024q3 lost"),
    ("why did the win rate drop in quarter one", "/why 2024q1"),
    ("deals between twenty five and fifty k", "/deals size_band=25k-50k"),
    ("show the deals they one last quarter", "/deals last quarter won"),
    # month and year in figures, and months and quarters written short
    ("win rate 11/2023", "/winrate 2023-11"),
    ("win rate 2023/7", "/winrate 2023-07"),
    ("won deals Nov-23", "/deals 2023-11 won"),
    ("win rate Feb '24", "/winrate 2024-02"),
    ("lost deals sept 2023", "/deals 2023-09 lost"),
    ("3Q23 vs 2Q23 win rate", "/winrate 2023q3 vs 2023q2"),
    ("win rate Q4-23", "/winrate 2023q4"),
    ("win rate 1H24", "/winrate 2024-01-01..2024-06-30"),
    ("Jan—Apr win rate", "/winrate 2024-01-01..2024-04-30"),
    ("win rate 13/02/2024", "/winrate 2024-02-13"),
    # a quarter named by its end, its place, or twelve months up to a month
    ("lost deals for the quarter ending 30 September 2023", "/deals 2023q3 lost"),
    ("win rate for the quarter ended December 2023", "/winrate 2023q4"),
    ("APAC win rate the quarter before last", "/winrate region=APAC 2024q1"),
    ("win rate for the 12 months to March 2024", "/winrate 2023-04-01..2024-03-31"),
    # a range of sizes or days written with "to" is the band's, and "-to-" spells a to-date period
    ("25k to 50k deals in APAC win rate", "/winrate size_band=25k-50k region=APAC"),
    ("how often do we win deals that ran 30 to 60 days", "/winrate cycle_band=30-60d"),
    ("win rate month-to-date", "/winrate mtd"),
    ("second half of 2023 vs the first half", "/winrate 2023-07-01..2023-12-31 vs 2023-01-01..2023-06-30"),
])
def test_periods_and_numbers_in_other_forms_are_read_as_exactly_that_period(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert (intent.line, intent.choices) == (line, ()), question


@pytest.mark.parametrize("question, readings", [
    ("win rate 03/04/2024", ["/winrate 2024-03-04", "/winrate 2024-04-03"]),
    ("won deals on 5.6.2024", ["/deals 2024-05-06 won", "/deals 2024-06-05 won"]),
    ("deals closed 2/1/24", ["/deals 2024-02-01", "/deals 2024-01-02"]),
])
def test_a_day_that_reads_either_way_round_is_asked_back_with_both_readings(vocab, question, readings):
    """Day first or month first: a wrong day is worse than a question back, so both readings are offered."""
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood
    assert [c.line for c in intent.choices] == readings
    assert "month first" in intent.note and "day first" in intent.note


@pytest.mark.parametrize("question, kept", [
    ("deals closed dec 23", "2024-12-23"),  # a day of a month, no year: never read as December 2023
    ("win rate quarter ended 15 March 2024", None),  # no quarter ends on the 15th: not read as a quarter
    ("deals between fifty and seventy k", None),  # no size band is 50k-70k: not read as one
])
def test_forms_that_fit_no_exact_reading_are_not_forced_into_one(vocab, question, kept):
    line = interpret(question, vocab, AS_OF).line
    assert "2023-12" not in line and "2024q1" not in line and "size_band=50k-100k" not in line, line
