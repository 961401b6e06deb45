"""Follow-ups in a thread: what a reply keeps of the thread's question and what it replaces (docs/conversation.md)."""
import datetime as dt

import pytest

from bot.core.commands import converse
from bot.core.grammar import Vocabulary
from bot.core.intents import interpret
from insights.synthetic import crm_spec
from tests.conftest import snapshot_of

AS_OF = dt.date(2024, 7, 15)


@pytest.fixture(scope="module")
def vocab(demo):
    return Vocabulary.from_snapshot(demo)


@pytest.mark.parametrize("question, context, line", [
    ("which region is worst?", "/winrate region=APAC", "/winrate by region"),
    ("by region", "/why region=APAC", "/winrate by region"),
    ("which rep is best", "/winrate region=APAC sales_rep_id=rep_7", "/reps region=APAC by sales_rep_id"),
    # the split's own values stay, and a split by another dimension keeps the filter
    ("APAC and Europe by region", "/winrate region=APAC", "/winrate region=APAC,Europe by region"),
    ("by product", "/winrate region=APAC", "/winrate region=APAC by product_type"),
])
def test_a_split_by_a_dimension_drops_the_thread_s_filter_on_it(vocab, question, context, line):
    intent = interpret(question, vocab, AS_OF, context)
    assert intent.line == line and intent.follow_up and not intent.choices


def test_which_region_is_worst_in_an_apac_thread_shows_every_region(demo):
    reply = converse(demo, "which region is worst?", thread_line="/winrate region=APAC")
    assert reply.kind == "answer" and reply.command == "winrate"
    for region in ("APAC", "Europe", "India", "North America"):
        assert region in reply.text


@pytest.mark.parametrize("question, context, readings", [
    ("how's APAC trending", "/winrate sales_rep_id=rep_7", ["/trend region=APAC", "/trend sales_rep_id=rep_7 region=APAC"]),
    ("why is APAC down", "/winrate sales_rep_id=rep_7", ["/why region=APAC", "/why sales_rep_id=rep_7 region=APAC"]),
    ("show the reps for APAC", "/winrate product_type=Enterprise",
     ["/reps region=APAC by sales_rep_id", "/reps product_type=Enterprise region=APAC by sales_rep_id"]),
])
def test_a_new_segment_with_its_own_analysis_in_a_thread_filtered_elsewhere_is_asked_back(vocab, question, context,
                                                                                         readings):
    intent = interpret(question, vocab, AS_OF, context)
    assert not intent.understood and intent.follow_up and intent.contested == "follow-up-scope"
    assert [r.line for r in intent.choices] == readings


@pytest.mark.parametrize("question, context, line", [
    ("what about APAC", "/winrate sales_rep_id=rep_7", "/winrate sales_rep_id=rep_7 region=APAC"),  # no analysis: narrows
    ("why is Europe down", "/winrate region=APAC", "/why region=Europe"),  # the same dimension: replaced
    ("why is APAC down overall", "/winrate sales_rep_id=rep_7", "/why region=APAC"),  # "overall" settles it
    ("why?", "/winrate region=APAC", "/why region=APAC"),
])
def test_a_follow_up_that_settles_its_scope_is_answered(vocab, question, context, line):
    intent = interpret(question, vocab, AS_OF, context)
    assert intent.line == line and not intent.choices and not intent.contested


def test_the_scope_question_asks_back_in_the_reply_with_both_readings(demo):
    reply = converse(demo, "how's APAC trending", thread_line="/winrate sales_rep_id=rep_7")
    assert reply.asked_back and reply.contested and "only within rep_7" in reply.text
    assert [line for _, line in reply.choices] == ["/trend region=APAC", "/trend sales_rep_id=rep_7 region=APAC"]


@pytest.mark.parametrize("question, line", [
    ("and why is APAC down", "/why sales_rep_id=rep_7 region=APAC"),  # "and …" ties it to the answer above: narrows
    ("APAC?", "/winrate sales_rep_id=rep_7 region=APAC"),
])
def test_a_follow_up_tied_to_the_answer_above_keeps_its_filters(vocab, question, line):
    intent = interpret(question, vocab, AS_OF, "/winrate sales_rep_id=rep_7")
    assert intent.line == line and not intent.choices


@pytest.mark.parametrize("question, context, readings", [
    ("compare Q1 to Q2", "/funnel region=APAC", ["/funnel region=APAC 2024q1", "/funnel region=APAC 2024q2",
                                                 "/winrate region=APAC 2024q1 vs 2024q2", "/why region=APAC 2024q1 vs 2024q2"]),
    ("and vs last year?", "/funnel", ["/funnel", "/winrate vs last year", "/why vs last year"]),
    ("compare Q1 to Q2", "/pipeline by region", ["/pipeline by region", "/winrate by region 2024q1 vs 2024q2",
                                                 "/why 2024q1 vs 2024q2"]),
])
def test_a_comparison_the_thread_s_analysis_cannot_make_is_asked_back(vocab, question, context, readings):
    intent = interpret(question, vocab, AS_OF, context)
    assert not intent.understood and intent.follow_up and "cannot compare two periods" in intent.note
    assert [r.line for r in intent.choices] == readings


def test_a_comparison_the_thread_s_analysis_makes_is_answered(vocab):
    assert interpret("compare Q1 to Q2", vocab, AS_OF, "/winrate region=APAC").line == "/winrate region=APAC 2024q1 vs 2024q2"
    assert interpret("vs last year", vocab, AS_OF, "/why region=APAC").line == "/why region=APAC vs last year"


def test_compare_after_the_funnel_asks_back_in_the_reply(demo):
    reply = converse(demo, "compare Q1 to Q2", thread_line="/funnel")
    assert reply.asked_back and "/funnel answers one period at a time and cannot compare two periods." in reply.text
    assert [line for _, line in reply.choices][:2] == ["/funnel 2024q1", "/funnel 2024q2"]
    assert "not applied._" not in reply.text


# -- a column the export lacks: said plainly, in a thread or not (the messy CRM exports of the hand-check) -----------
@pytest.fixture(scope="module")
def without():
    return {c: snapshot_of(crm_spec(seed=23, amount_as_text=True, absent_columns=(c,), messy_label_share=0.05))
            for c in ("region", "industry", "lead_source")}


@pytest.mark.parametrize("column, question, context, note", [
    ("region", "what about Europe?", "/winrate",
     "“Europe” is a region, but this data has no region column, so it cannot be split or filtered by region."),
    ("region", "which region is worst?", "/winrate region=APAC",
     "This data has no region column, so it cannot be split or filtered by region."),
    ("region", "how is EMEA trending", None,
     "“Europe” is a region, but this data has no region column, so it cannot be split or filtered by region."),
    ("industry", "which industry should we focus on?", None,
     "This data has no industry column, so it cannot be split or filtered by industry."),
    ("industry", "win rate in fintech", None,
     "“Fintech” is an industry, but this data has no industry column, so it cannot be split or filtered by industry."),
    ("lead_source", "is inbound better than outbound", None,
     "“Inbound” is a lead source, but this data has no lead source column, so it cannot be split or filtered by lead "
     "source."),
    # a negated value of the absent column: never the win rate of all deals with "excluding partner" dropped
    ("lead_source", "win rate excluding partner", None,
     "“Partner” is a lead source, but this data has no lead source column, so it cannot be split or filtered by lead "
     "source."),
    ("lead_source", "win rate not including partner deals", None,
     "“Partner” is a lead source, but this data has no lead source column, so it cannot be split or filtered by lead "
     "source."),
    ("lead_source", "win rate for partner deals", None,
     "“Partner” is a lead source, but this data has no lead source column, so it cannot be split or filtered by lead "
     "source."),
])
def test_a_question_naming_a_column_the_data_lacks_says_so(without, column, question, context, note):
    snapshot = without[column]
    intent = interpret(question, Vocabulary.from_snapshot(snapshot), snapshot.as_of, context)
    assert not intent.understood and intent.unsupported and intent.note == note
    assert intent.follow_up == (context is not None)
    lines = [r.line for r in intent.choices]
    assert len(lines) == 3 and all(line.startswith("/winrate by ") for line in lines)
    assert f"/winrate by {column}" not in lines


def test_a_column_the_data_has_is_read_as_ever(without):
    snapshot = without["industry"]
    vocab = Vocabulary.from_snapshot(snapshot)
    assert interpret("what about Europe?", vocab, snapshot.as_of, "/winrate").line == "/winrate region=Europe"
    assert interpret("which region is worst?", vocab, snapshot.as_of).line == "/winrate by region"


def test_the_reply_on_data_without_a_region_names_the_missing_column(without):
    reply = converse(without["region"], "what about Europe?", thread_line="/winrate")
    assert reply.asked_back and "this data has no region column" in reply.text
    assert "not a segment, period or keyword" not in reply.text


@pytest.mark.parametrize("column, typed, said", [
    ("region", "/winrate Europe",
     "• “Europe” is a region, but this data has no region column, so it cannot be split or filtered by region."),
    ("region", "/winrate north america last quarter",
     "• “north america” is a region, but this data has no region column, so it cannot be split or filtered by region."),
    ("industry", "/why fintech", "• “fintech” is an industry, but this data has no industry column"),
    ("lead_source", "/winrate inbound", "• “inbound” is a lead source, but this data has no lead source column"),
])
def test_a_typed_value_of_a_column_the_data_lacks_says_so_as_the_question_does(without, column, typed, said):
    reply = converse(without[column], typed)
    assert said in reply.text
    assert "not a segment, period or keyword" not in reply.text


def test_a_value_the_data_has_is_not_taken_for_an_absent_column_s(without):
    reply = converse(without["industry"], "/winrate Europe")
    assert reply.text.startswith("*Win rate · Europe")


@pytest.mark.parametrize("question, readings", [
    ("funnel q1 vs q2", ["/funnel 2024q1", "/funnel 2024q2", "/winrate 2024q1 vs 2024q2", "/why 2024q1 vs 2024q2"]),
    ("pipeline vs last quarter", ["/pipeline", "/winrate vs previous", "/why vs previous"]),
])
def test_a_fresh_question_comparing_what_its_analysis_cannot_is_asked_back(vocab, question, readings):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood and not intent.follow_up and "cannot compare two periods" in intent.note
    assert [r.line for r in intent.choices] == readings
