"""Issue 22, the words a reading used to drop: a count of rows ("the 4 weakest reps"), a threshold on a count
("industries that won fewer than 8 deals"), a named period compared with "the last half" or "the year before",
words no reading can place left inside the choices asked back, and junk typed after a command."""
import datetime as dt

import pytest

from bot.core.commands import answer
from bot.core.grammar import Vocabulary, parse
from bot.core.intents import interpret
from bot.core.render import code, typed

AS_OF = dt.date(2024, 7, 15)


@pytest.fixture(scope="module")
def vocab(demo):
    return Vocabulary.from_snapshot(demo)


def rows(text: str, prefix: str) -> list[str]:
    """The table lines of a reply that start with `prefix` (a rep id, a deal id, a rank)."""
    return [line for line in text.splitlines() if line.startswith(prefix)]


# -- 1. a count of rows: honoured where the command's own order is the one asked, else said ------------------------
@pytest.mark.parametrize("question, line", [
    ("who are the 4 weakest reps this quarter", "/reps by sales_rep_id this quarter top 4"),
    ("give me the 7 largest won deals in Europe", "/deals region=Europe won top 7"),
    ("top three risk segments", "/risk top 3"),
    ("lowest 6 reps in APAC", "/reps region=APAC by sales_rep_id top 6"),
    ("bottom 2 industries", "/winrate by industry top 2"),  # /winrate lists every row, and says so
])
def test_a_count_of_rows_is_kept_in_the_reading(vocab, question, line):
    intent = interpret(question, vocab, AS_OF)
    assert intent.line == line
    assert not intent.choices


def test_the_other_end_of_a_list_is_asked_back_not_cut_from_the_wrong_end(vocab):
    intent = interpret("the 3 strongest reps", vocab, AS_OF)
    assert not intent.understood
    assert [c.line for c in intent.choices] == ["/reps by sales_rep_id"]
    assert intent.note == ("/reps lists lowest win rate first, so it cannot show the strongest 3 on their own; "
                           "the whole list has them at its other end.")


def test_a_count_that_is_a_period_or_an_amount_is_no_row_count(vocab):
    assert interpret("win rate over the last 3 quarters", vocab, AS_OF).line == "/winrate last 3 quarters"
    assert interpret("deals over 100k", vocab, AS_OF).line == "/deals size_band=100k+"


def test_reps_risk_and_deals_list_exactly_the_count_asked(demo, vocab):
    reps = answer(demo, "/reps top 4", vocab).text
    assert len(rows(reps, "rep_")) == 4
    assert "_The first 4 of 25, as asked (`top 4`)" in reps
    full = answer(demo, "/reps", vocab).text
    assert rows(full, "rep_")[:4] == rows(reps, "rep_")  # the first four of the same order
    deals = answer(demo, "/deals won top 7", vocab).text
    assert len(rows(deals, "D0")) == 7
    assert "_The 7 largest of 421, as asked (`top 7`)" in deals
    risk = answer(demo, "/risk top 2", vocab).text
    assert [line[:3] for line in rows(risk, " ") if line[1].isdigit()] == [" 1 ", " 2 "]
    assert "_The first 2 of" in risk and "segments by impact, as asked (`top 2`)._" in risk


def test_more_deals_than_a_reply_lists_is_said(demo, vocab):
    text = answer(demo, "/deals lost top 30", vocab).text
    assert len(rows(text, "D0")) == 15
    assert "_A reply lists at most 15 deals, so these are the 15 largest of 756, not 30;" in text


def test_a_command_that_lists_every_row_says_the_count_was_not_used(demo, vocab):
    text = answer(demo, "/winrate by industry top 2", vocab).text
    assert "_/winrate does not use a row count (`top N`): that part of the question was not applied._" in text
    assert len([line for line in rows(text, "  ") if line.strip()[0].isdigit()]) == 5  # every industry


def test_a_count_the_grammar_cannot_list_is_named(demo, vocab):
    assert parse("top 3", vocab).query.limit == 3
    assert [p.kind for p in parse("top 0", vocab).problems] == ["bad_limit"]
    reply = answer(demo, "/reps top 500", vocab)
    assert reply.kind == "usage"
    assert '• "top 500": a list can show 1 to 50 rows, e.g. `top 5`.' in reply.text


# -- 2. a threshold on a count: asked back, never answered as if it had been applied ------------------------------
@pytest.mark.parametrize("question, choices, said", [
    ("industries that won fewer than 8 deals", ["/winrate by industry"], "fewer than 8 deals"),
    ("which pockets lost over 40 deals", ["/risk"], "over 40 deals"),
    ("reps with at least 30 opportunities in Europe", ["/reps region=Europe by sales_rep_id"], "at least 30 opportunities"),
    ("products with 100+ wins", ["/winrate by product_type"], "100+ wins"),
])
def test_a_threshold_on_a_count_is_asked_back(vocab, question, choices, said):
    intent = interpret(question, vocab, AS_OF)
    assert not intent.understood
    assert [c.line for c in intent.choices] == choices
    assert intent.note == (f"I can't filter a list by a count (“{said}”): every row shows its win rate and its deals "
                           "(n), so you can see which pass.")


# -- 3. a named period against "the last half", "the half before", "the year before" ------------------------------
@pytest.mark.parametrize("question, line", [
    ("2023 H1 versus last half", "/winrate 2023-01-01..2023-06-30 vs previous"),
    ("first half of 2024 compared with the half before", "/winrate 2024-01-01..2024-06-30 vs previous"),
    ("Q3 2023 vs the year before", "/winrate 2023q3 vs last year"),
    ("2023 win rate vs the year before", "/winrate 2023 vs last year"),
    ("2024Q1 against the quarter before", "/winrate 2024q1 vs previous"),
])
def test_a_comparison_is_read_against_the_named_period(vocab, question, line):
    assert interpret(question, vocab, AS_OF).line == line


# -- 4. the choices asked back are clean command lines ----------------------------------------------------------
def test_words_no_reading_places_are_named_not_left_in_the_choices(vocab):
    intent = interpret("close rate in wakanda and genovia this quarter", vocab, AS_OF)
    assert [c.line for c in intent.choices] == ["/winrate this quarter", "/trend this quarter", "/why this quarter"]
    assert intent.note.startswith("I don't have “wakanda” or “genovia” in this data")
    for choice in intent.choices:
        assert parse(choice.line.split(" ", 1)[1], vocab).ok


def test_a_comparison_with_no_side_left_is_no_choice(vocab):
    intent = interpret("win rate in gotham vs metropolis", vocab, AS_OF)
    assert [c.line for c in intent.choices] == ["/winrate", "/trend", "/why"]
    assert intent.unplaced == ("gotham", "metropolis")


def test_a_word_no_reading_places_is_named_when_a_question_reads_two_ways(vocab):
    intent = interpret("how is gotham doing in India", vocab, AS_OF)
    assert [c.line for c in intent.choices] == ["/trend region=India", "/winrate region=India"]
    assert intent.unplaced == ("gotham",)
    assert intent.note.endswith("I don't have “gotham” in this data, so both readings leave it out.")


# -- 5. junk typed after a command: named, inert, with what the rest reads as -------------------------------------
@pytest.mark.parametrize("line, shown, rest", [
    ("/trend ###", '"###"', "/trend"),
    ("/funnel <!channel>", "`‹!channel›`", "/funnel"),
    ("/risk <https://evil.example|here>", "`‹https://evil.example|here›`", "/risk"),
    ("/why APAC ~~~ last quarter", "`~~~`", "/why region=APAC last quarter"),
    ("/reps <@U0BOSS>", "`‹@U0BOSS›`", "/reps"),
])
def test_junk_typed_after_a_command_is_named_back(demo, vocab, line, shown, rest):
    reply = answer(demo, line, vocab)
    assert reply.kind == "usage" and reply.result is None
    assert f"• {shown} is not a segment, period or keyword I know." in reply.text
    assert f"Without it, that reads as `{rest}`: type that to get its answer" in reply.text
    assert "<!" not in reply.text and "<@" not in reply.text and "<http" not in reply.text


@pytest.mark.parametrize("line", ["/why did APAC drop ?", "/why region = APAC", "/why APAC - last quarter"])
def test_punctuation_in_a_typed_sentence_is_still_no_junk(demo, vocab, line):
    reply = answer(demo, line, vocab)
    assert reply.kind == "answer" and reply.result.query.filters == (("region", ("APAC",)),)


def test_a_typed_word_with_slack_styling_is_shown_inert():
    assert typed("blorp") == '"blorp"'
    assert typed("rep_99") == '"rep_99"'
    assert typed("*boom*") == "`*boom*`"
    assert typed("_x_") == "`_x_`"
    assert code("/winrate <!here> <#C1|sales>") == "/winrate ‹!here› ‹#C1|sales›"
