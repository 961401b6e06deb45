"""Plain questions as sales leaders ask them, read as asked: the development corpus and the held-out
one (written blind to the rules), measured as `python tests/measure_questions.py` measures them."""
from __future__ import annotations

import pytest

from bot.core.grammar import Vocabulary
from measure_questions import CORPORA, load_corpus, measure, rates

# (corpus, at least this share answered as asked, at most this share answered wrongly). The blind sets were
# each measured once blind, then used for development; the held-out set has never been used for it.
# Its floor is what it measured on 2026-12-06 (92.5% as asked, 6.0% wrongly), so a change that reads
# worse fails here; the goal (95% and 2%) is not reached yet. The second held-out set (written blind on
# 2026-12-07, in other people's words) measured 73.3% and 17.4% the first time; development began on it
# then (month ranges, halves, "June vs May"), and its floor is what it reads now.
TARGETS = {"development": (0.98, 0.01), "first blind set": (0.95, 0.02), "second blind set": (0.95, 0.02),
           "third blind set": (0.95, 0.02), "held-out": (0.92, 0.06), "second held-out": (0.775, 0.135)}


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
