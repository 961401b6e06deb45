"""A sentence with a word the bot cannot use is answered in the asker's own words: the reply quotes what
they typed and shows how it was read, so "win rate in Narnia" is never echoed back as a command line the
user did not write."""
from __future__ import annotations

import pytest

from bot.config import BUNDLED_DEALS
from bot.core.access import Policy
from bot.core.ask import ask
from bot.core.data import DealData


@pytest.fixture(scope="module")
def asker():
    data = DealData(str(BUNDLED_DEALS))
    assert data.refresh().ok
    return data, Policy(users=frozenset({"U0CRO"})).asker("U0CRO", "D0CRO")


@pytest.mark.parametrize("text, read_as, word", [
    ("win rate in Narnia", "/winrate rate in Narnia", "Narnia"),
    ("what is the win rate for fintech in atlantis", "/winrate what is the win rate for fintech in atlantis",
     "atlantis"),
])
def test_a_sentence_with_an_unusable_word_is_quoted_as_typed_with_its_reading(asker, text, read_as, word):
    data, who = asker
    reply = ask(data, who, text)
    assert reply.kind == "usage"
    first = reply.text.splitlines()[0]
    assert first == f"I couldn't use all of “{text}” (read as `{read_as}`):"
    assert f'"{word}" is not a segment, period or keyword I know.' in reply.text


def test_a_typed_command_with_an_unusable_word_is_quoted_as_the_command(asker):
    data, who = asker
    reply = ask(data, who, "/winrate Narnia")
    assert reply.text.splitlines()[0] == "I couldn't use all of `/winrate Narnia`:"
