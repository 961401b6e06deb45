"""How `ask()` reads what is typed without a slash. A question that opens with a command's word ("win rate
trend", "bookings last quarter", "pipeline health") is read as a question, not as that command with the rest
as its arguments; a command line typed without its slash in the console ("health", "winrate APAC") is still
the command. A sentence with a word the bot cannot use is quoted in the asker's own words with how it was
read, never echoed back as a command line the user did not write."""
from __future__ import annotations

import pytest

from bot.config import BUNDLED_DEALS
from bot.core.access import Policy
from bot.core.ask import ask
from bot.core.data import DealData
from bot.store import Store


@pytest.fixture(scope="module")
def asker():
    data = DealData(str(BUNDLED_DEALS))
    assert data.refresh().ok
    return data, Policy(users=frozenset({"U0CRO"})).asker("U0CRO", "D0CRO")


@pytest.mark.parametrize("text, read_as, word", [
    ("win rate in Narnia", "/winrate", "narnia"),  # the question's own words never leak into the reading
    ("what is the win rate for fintech in atlantis", "/winrate industry=FinTech", "atlantis"),
    ("win rate for fintech by narnia last quarter", "/winrate industry=FinTech last quarter", "narnia"),
])
def test_a_sentence_with_an_unusable_word_is_quoted_as_typed_with_its_reading(asker, text, read_as, word):
    data, who = asker
    reply = ask(data, who, text)
    assert reply.kind == "usage"
    first = reply.text.splitlines()[0]
    assert first == f"I couldn't use all of “{text}” (read as `{read_as}`):"
    assert f'"{word}" is not ' in reply.text  # the unusable word is named in the bullets


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """An export whose lost deals are recorded at $0 (deal-size bands withheld) and without a lead source."""
    from insights.synthetic import crm_spec, generate_deals, write_csv
    path = tmp_path_factory.mktemp("messy") / "messy.csv"
    write_csv(generate_deals(crm_spec(seed=11, amount_as_text=True, absent_columns=("lead_source",))), str(path))
    data = DealData(str(path))
    assert data.refresh().ok
    return data, Policy(users=frozenset({"U0CRO"})).asker("U0CRO", "D0CRO")


@pytest.mark.parametrize("text, word, why", [
    ("what is our win rate on deals bigger than 50 thousand?", "size_band", "deal-size bands are withheld"),
    ("win rate by lead", "lead", "this data has no lead source column"),
])
def test_a_question_with_a_withheld_or_absent_column_reads_as_the_clean_command(messy, text, word, why):
    data, who = messy
    reply = ask(data, who, text)
    assert reply.kind == "usage"
    assert reply.text.splitlines()[0] == f"I couldn't use all of “{text}” (read as `/winrate`):"
    assert reply.text.splitlines()[1].startswith(f'• "{word}": {why}')


def test_a_typed_command_with_a_withheld_column_is_quoted_as_typed(messy):
    data, who = messy
    reply = ask(data, who, "/winrate by lead source")
    assert reply.text.splitlines()[0] == "I couldn't use all of `/winrate by lead source`:"


def test_a_typed_command_with_an_unusable_word_is_quoted_as_the_command(asker):
    data, who = asker
    reply = ask(data, who, "/winrate Narnia")
    assert reply.text.splitlines()[0] == "I couldn't use all of `/winrate Narnia`:"


@pytest.mark.parametrize("text, first_line, read_as", [
    ("win rate trend", "*Win rate trend · all deals* — by quarter of closed date", "Trend of win rate"),
    ("bookings last quarter", "*The deals behind the number · all deals · 2024Q2* — 421 won deals, $14.9M in all",
     "Deals behind the number · won deals · last quarter"),
    ("pipeline health", "*Open pipeline · all deals* — 662 open deals, $21.5M", "Open pipeline and forecast"),
    ("sales cycle length by region", "*Where deals stop · all deals* — 1,177 closed deals (421 won, 756 lost)",
     "Where deals stop · by region"),
])
def test_a_question_opening_with_a_commands_word_is_read_as_a_question(asker, text, first_line, read_as):
    data, who = asker
    reply = ask(data, who, text)
    assert reply.kind == "answer"
    assert reply.text.splitlines()[0] == first_line
    assert reply.reading.startswith(read_as), reply.reading


@pytest.mark.parametrize("text, first_line", [
    ("health", "*Data health*"),
    ("winrate APAC", "*Win rate · APAC · 2024Q2* — 20.9% (66 won of 315;"),
    ("alerts list", "*Alert rules*"),
])
def test_a_command_typed_without_its_slash_is_still_that_command(asker, text, first_line, tmp_path):
    data, who = asker
    reply = ask(data, who, text, store=Store.from_url(f"sqlite:///{tmp_path / 'state.sqlite'}"))
    assert reply.text.startswith(first_line)


@pytest.mark.parametrize("text", ["/follow /winrate Atlantis weekly", "/alerts add drop region=Atlantis"])
def test_a_follow_or_alert_rule_with_an_unknown_word_names_it(asker, tmp_path, text):
    # the managing commands render the same "couldn't use" reply without a question to quote
    data, who = asker
    admin = Policy(users=frozenset({"U0CRO"}), admins=frozenset({"U0CRO"})).asker("U0CRO", "D0CRO")
    reply = ask(data, admin, text, store=Store.from_url(f"sqlite:///{tmp_path / 'state.sqlite'}"))
    assert "went wrong" not in reply.text
    assert "Atlantis" in reply.text and ("is not a segment" in reply.text or "no deals have that value" in reply.text)
