"""Follow-ups in a thread: what a reply keeps of the thread's question and what it replaces (docs/conversation.md)."""
import datetime as dt

import pytest

from bot.core.commands import converse
from bot.core.grammar import Vocabulary
from bot.core.intents import interpret

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
