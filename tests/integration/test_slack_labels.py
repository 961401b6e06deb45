"""A CRM label holding Slack styling characters shows as written in Slack, never as styling.

At load a label's `*`, `~`, backtick, `<` and `>` become look-alikes (insights/labels.py); `_` cannot
(rep_12 is a real value), so in Slack text only a `_` that could open or close italics gets a
zero-width space on either side (bot/slack/blocks.py `unstyled`). The console text, the command line
and the buttons keep the label as loaded, and a button's line still filters on it."""
from __future__ import annotations

import json

import pytest

from bot.core.access import Policy
from bot.core.ask import ask
from bot.core.data import DealData
from bot.slack.blocks import ZWSP, escape, reply_message, styled_labels, unstyled
from insights.synthetic import crm_spec, generate_deals, write_csv

RAW = "_x_ *boom* ~y~"
LOADED = "_x_ \u2217boom\u2217 \u223cy\u223c"  # `*` and `~` already look-alikes from the load
SLACK = f"{ZWSP}_{ZWSP}x{ZWSP}_{ZWSP} \u2217boom\u2217 \u223cy\u223c"


@pytest.fixture(scope="module")
def styled(tmp_path_factory):
    frame = generate_deals(crm_spec(seed=23))
    frame.loc[frame.index[::9], "region"] = RAW
    frame.loc[frame.index[1::40], "industry"] = "<!channel>"
    path = tmp_path_factory.mktemp("styled") / "styled.csv"
    write_csv(frame, path)
    data = DealData(str(path))
    assert data.refresh().ok
    return data, Policy(users=frozenset({"U0CRO"})).asker("U0CRO", "D0CRO")


def _mrkdwn(message: dict) -> str:
    texts = [b["text"]["text"] for b in message["blocks"] if b.get("text", {}).get("type") == "mrkdwn"]
    texts += [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]]
    return "\n".join(texts)


def _buttons(message: dict) -> list[str]:
    return [e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if "value" in e]


def test_a_label_with_styling_characters_reaches_slack_unstyled_and_its_button_filters_on_it(styled):
    data, who = styled
    reply = ask(data, who, f"win rate in {RAW}")
    assert reply.kind == "answer"
    assert reply.text.splitlines()[0].startswith(f"*Win rate · {LOADED} · 2025Q2* — 48.9% (85 won of 174;")
    message = reply_message(reply, reply.line, share=True)
    text = _mrkdwn(message)
    assert text.splitlines()[0].startswith(f"*Win rate · {SLACK} · 2025Q2* — 48.9% (85 won of 174;")
    assert "_x_" not in text and "*boom*" not in text and "~y~" not in text
    assert message["text"].startswith(f"Win rate · {SLACK} · 2025Q2")  # the notification too
    # the Share button carries the label as loaded (no zero-width space), and answers the same deals
    assert _buttons(message) == [f"/winrate {LOADED}"]
    again = ask(data, who, _buttons(message)[0])
    assert again.kind == "answer" and (again.result.overall.won, again.result.overall.n) == (85, 174)


def test_a_label_in_a_code_block_table_is_left_as_loaded(styled):
    data, who = styled
    reply = ask(data, who, "/winrate by region")
    table = _mrkdwn(reply_message(reply, reply.line)).split("```")[1]
    assert f"  {LOADED}  " in table and ZWSP not in table


def test_a_channel_mention_label_stays_text_and_a_suggested_label_is_unstyled(styled):
    data, who = styled
    reply = ask(data, who, "/winrate by industry")
    text = _mrkdwn(reply_message(reply, reply.line))
    assert "\u2039!channel\u203a" in text and "<!channel>" not in text  # a look-alike from the load
    typed = reply_message(ask(data, who, "/winrate <!channel> by region"), "")
    assert "\\u2039!channel\\u203a" in json.dumps(typed) and "<!channel>" not in json.dumps(typed)  # read as the label
    unknown = reply_message(ask(data, who, f'/winrate region="{RAW}"'), "")
    assert f"Known values include {SLACK}." in _mrkdwn(unknown)


def test_only_an_underscore_that_could_style_is_fenced():
    assert unstyled("rep_12 and _x_ · `_x_`", ("rep_12", "_x_")) == f"rep_12 and {ZWSP}_{ZWSP}x{ZWSP}_{ZWSP} · `_x_`"
    assert escape("a <b> & _x_", ("_x_",)) == f"a &lt;b&gt; &amp; {ZWSP}_{ZWSP}x{ZWSP}_{ZWSP}"
    assert styled_labels(None) == ()
