"""Plain questions as sales leaders ask them, read as asked: the development corpus and the held-out
ones (written blind to the rules), measured as `python tests/measure/measure_questions.py` measures them."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.core.grammar import Vocabulary
from measure_questions import CORPORA, load_corpus, meaning, measure, rates

# (corpus, at least this share answered as asked, at most this share answered wrongly), each just under what it
# reads now (python tests/measure/measure_questions.py, 2026-12-07), so a change that reads worse fails here.
# The blind sets were each measured once blind, then used for development. The held-out set (92.5% as asked,
# 6.0% wrongly when first measured) and the second held-out set (73.3% and 17.4% the first time) were then
# used for development too. The fourth held-out set was written after the rules of issue 22's second round
# and measured once before being read (99.3% as asked, 0.7% wrongly), then used for development. What is
# still read wrongly in the second held-out set is where the corpora disagree ("how are we doing": the
# others expect the trend, it expects the rate) and "close rate by rep" (/winrate by rep, pinned in
# test_intents.py; it expects /reps). The third held-out set (365, kept unread) was measured once blind at
# the end of issue 22's second round: 74.5% as asked, 13.4% asked back, 12.1% wrongly; then used for development
# (77.5% as asked, 10.4% wrongly after the third round's period, band and abbreviation rules; 95.1% as asked,
# 0.0% wrongly after its second rules: context sentences, comparisons in sentences, more words for each analysis;
# what it still asks back is changes to alerts and follows asked in words, asked back by design). The fifth
# held-out set (335, written blind by someone who read only the commands' reference) was measured once blind
# after that: 84.5% as asked, 4.8% asked back, 10.7% wrongly; then used for development (94.3% as asked, 2.4% asked
# back, 3.3% wrongly after the fourth round's rules; what it still reads wrongly is mostly where its writer's
# conventions differ from the other sets': "how are we doing" and "rep 12 win rate") The sixth held-out
# set (336, in the voices of a CRO, a CFO, regional VPs, managers, RevOps, marketing and a founder) was measured
# once blind on the rules after that: 82.4% as asked, 4.5% asked back, 13.1% wrongly; then used for development
# (94.9% as asked, 2.1% asked back, 3.0% wrongly after the fifth round's rules).
# The seventh (296, blind: a new CRO, regional leaders, a manager, RevOps, a CFO, a CEO) was measured once on the
# rules after the sixth's round and ask()'s routing fix: 88.9% as asked, 3.4% asked back, 7.8% wrongly.
# Then used for development: the seventh round's rules (issue 22) took it from 89.2% as asked, 3.4% asked back and
# 7.4% wrongly to 95.3%, 1.0% and 3.7%, and the sixth from 94.9% / 3.0% to 96.1% / 2.7%, every other set unchanged.
# The structural round (issue 22) asks back the contested shapes, where the corpora's writers read the same shape
# differently (bot/core/intents.py CONTESTS): wrong readings across the corpora fell from 80 to 38, and 42 questions
# answered as asked are asked back now, 40 of them in the seven earliest sets (docs/conversation.md, "Contested shapes").
# Then eleven rule gaps of the ninth set (class b there) took it to 85.2% / 4.0% and the sixth and eighth to 0.3% and 1.4%.
# floors lowered where the unplaced-word guard asks back questions it used to answer (issue 22: asking back over
# answering wrongly); tenth: blind 80.3% as asked / 11.7% wrong, after the guard 80.6% / 10.3%
# The tenth set's development round (issue 22): concepts out of the data said plainly (OUT_OF_DATA), rule gaps, new
# contested shapes (how many deals, how many open deals, a rep vs the team, win rate by stage) and follow-ups asked back
# as fresh questions are: ninth 83.5/12.5/4.0 -> 88.0/10.5/1.4, tenth 80.6/9.1/10.3 -> 92.0/6.8/1.1; the development,
# first and third blind sets' floors lowered where the new contested shapes ask back what they read one way.
# Dropped period words (issue: words silently dropped): two periods outside `vs` are asked back with each reading
# (ninth 1.4% -> 1.1% wrongly), and the measure dates a comparison with no period as the analyses do, against the
# latest complete quarter ("did win rate in india improve vs previous quarter"): seventh 95.3/1.0 -> 95.6/0.7,
# eighth 92.0/1.1 -> 92.3/0.9.
# The eleventh set's second round (issue 22, development on the eighth to eleventh sets; docs/conversation.md):
# eleventh 87.2/9.4/3.4 -> 90.6/8.3/1.1, ninth 88.0/10.8/1.1 -> 89.5/10.0/0.6, eighth 92.3/6.8/0.9 -> 94.9/4.3/0.9,
# tenth 92.3/6.8/0.9 -> 92.9/6.3/0.9, fifth 94.3 -> 94.6, seventh 95.6 -> 95.9 as asked; every other set identical.
# The twelfth set's round (issue 22), periods and numbers in other forms (docs/conversation.md): twelfth
# 70.0/17.4/12.6 -> 75.8/15.7/8.5; every other set identical.
TARGETS = {"development": (0.93, 0.003), "first blind set": (0.965, 0.005), "second blind set": (0.965, 0.005),
           "third blind set": (0.96, 0.005), "held-out": (0.935, 0.005), "second held-out": (0.915, 0.003),
           "fourth held-out": (0.975, 0.003), "third held-out": (0.94, 0.003),
           "fifth held-out": (0.945, 0.004),
           "sixth held-out": (0.97, 0.003),
           "seventh held-out": (0.955, 0.008),
           "eighth held-out": (0.945, 0.01),
           "ninth held-out": (0.89, 0.008),
           "tenth held-out": (0.925, 0.01),
           "eleventh held-out": (0.90, 0.012),
           "twelfth held-out": (0.80, 0.08)}


@pytest.fixture(scope="module")
def demo_vocab(demo_csv):
    return demo_csv, Vocabulary.from_snapshot(demo_csv)


@pytest.mark.parametrize("corpus", list(TARGETS))
def test_plain_questions_are_answered_as_asked_and_almost_never_wrongly(demo_vocab, corpus):
    snapshot, vocab = demo_vocab
    outcomes = measure(CORPORA[corpus], vocab, snapshot)
    share = rates(outcomes)
    wrong = [(o.question, o.expected, o.got) for o in outcomes if o.verdict == "wrong"]
    least, most_wrong = TARGETS[corpus]
    assert share["as_asked"] >= least, [(o.question, o.got) for o in outcomes if o.verdict != "as_asked"]
    assert share["wrong"] <= most_wrong, wrong


def test_the_corpora_hold_four_hundred_phrasings_or_more():
    assert sum(len(load_corpus(path)) for path in CORPORA.values()) >= 400
    assert len(load_corpus(CORPORA["held-out"])) >= 150


def test_every_contested_shape_is_read_differently_by_at_least_two_corpora(demo_vocab):
    """A shape is asked back only where careful readers disagree: among the corpora's questions the layer asks back
    as that shape, one corpus expects the layer's own reading (the first button) and another corpus expects the other
    reading or asking back."""
    import re

    from bot.core.intents import CONTESTS, interpret
    from measure_questions import meaning

    snapshot, vocab = demo_vocab
    own: dict[str, set[str]] = {c.name: set() for c in CONTESTS}
    other: dict[str, set[str]] = {c.name: set() for c in CONTESTS}
    maybe = re.compile(r"\b(how|hw|hwo)\b|how's|hows|\brep|rank|perform|qoq|q/q|(over|on|to) quarter|quota|attainment"
                       r"|big|large|small|number|stage|commit", re.IGNORECASE)  # the questions that may fall in a shape, to read fewer
    for corpus, path in CORPORA.items():
        for question, expected in load_corpus(path):
            if not maybe.search(question):
                continue
            intent = interpret(question, vocab, snapshot.as_of)
            if not intent.contested:
                continue
            readings = [meaning(r.line, vocab, snapshot) for r in intent.choices]
            want = "ask" if expected == "ask" else meaning(expected, vocab, snapshot)
            if want == readings[0]:
                own[intent.contested].add(corpus)
            elif want == "ask" or want in readings[1:]:
                other[intent.contested].add(corpus)
    for shape in own:
        assert own[shape] and other[shape] and len(own[shape] | other[shape]) >= 2, (shape, own[shape], other[shape])


def test_a_comparison_with_no_period_is_dated_as_the_analyses_date_it(demo_vocab):
    """"/winrate vs previous" answers the latest complete quarter against the one before: the same dates as
    "/winrate last quarter vs previous" when the last quarter is complete (the demo data: as of 2024-07-15)."""
    snapshot, vocab = demo_vocab
    bare, named = (meaning(line, vocab, snapshot) for line in ("/winrate region=India vs previous",
                                                               "/winrate India last quarter vs previous"))
    assert bare == named
    assert bare[3] == (dt.date(2024, 4, 1), dt.date(2024, 6, 30)) and bare[4] == (dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    assert meaning("/winrate vs previous", vocab, snapshot) != meaning("/winrate 2024Q1 vs previous", vocab, snapshot)


def test_the_trend_over_all_history_means_the_trend_with_no_period(demo_vocab):
    """/trend with no period already covers every quarter the data holds, so "/trend all" asks the same; a period or
    a comparison still tells them apart, and "all" on another analysis stays all time."""
    snapshot, vocab = demo_vocab
    assert meaning("/trend FinTech all", vocab, snapshot) == meaning("/trend FinTech", vocab, snapshot)
    assert meaning("/trend all", vocab, snapshot) != meaning("/trend last 6 quarters", vocab, snapshot)
    assert meaning("/winrate all", vocab, snapshot) != meaning("/winrate", vocab, snapshot)
