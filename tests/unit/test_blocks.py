"""Block Kit assembly: what a user typed or a CRM label holds can never ping a channel or break a
message, and a reply of any length fits Slack's limits (checked by the stand-in's own validator)."""
from __future__ import annotations

import json

from slack_standin import block_errors

from bot.core.reply import Reply
from bot.slack.blocks import (MAX_BLOCKS, MAX_SECTION, assemble_blocks, code_span, escape, fallback_text,
                              reply_message, shareable, split_reply)

FOOTER = "_deals.csv · data as of 2024-06-30_"


def test_mentions_of_everyone_and_links_stay_text_while_people_and_channels_stay_links():
    assert escape("<!channel> and <!here> & <https://evil.example|click>") == \
        "&lt;!channel&gt; and &lt;!here&gt; &amp; &lt;https://evil.example|click&gt;"
    assert escape("ask <@U0CRO> in <#C0SALES>") == "ask <@U0CRO> in <#C0SALES>"
    assert fallback_text("*<!channel> Win rate fell*\nmore lines") == "&lt;!channel&gt; Win rate fell"
    assert fallback_text("") == "Sales Intelligence" and len(fallback_text("x" * 1000)) == 300


def test_a_code_span_stays_one_span_on_one_line():
    assert code_span("/winrate `APAC`\n<!here>") == "/winrate ˋAPACˋ &lt;!here&gt;"


def test_a_long_table_is_split_into_fenced_sections_and_the_footer_kept_apart():
    rows = [f"{n:4d}  segment {n:<5d}  {n % 97:5.1f}%" for n in range(400)]
    text = "*Win rate by rep*\n```\n" + "\n".join(rows) + "\n```\n" + FOOTER
    sections, footer = split_reply(text)
    assert footer == FOOTER and sections[0] == "*Win rate by rep*"
    tables = sections[1:]
    assert len(tables) >= 4 and all(len(s) <= MAX_SECTION for s in tables)
    assert all(s.startswith("```\n") and s.endswith("\n```") for s in tables)
    assert [line for s in tables for line in s.splitlines()[1:-1]] == rows  # every row once, in order


def test_a_reply_too_long_for_one_message_is_cut_with_a_note_and_slack_accepts_it():
    text = "\n\n".join(f"Paragraph {n} <!channel>" for n in range(120)) + "\n" + FOOTER
    blocks = assemble_blocks(text, command_line="/why `x`", share=True)
    assert len(blocks) <= MAX_BLOCKS and block_errors(blocks) == []
    notes = [b for b in blocks if b["type"] == "context" and "Cut to fit Slack" in json.dumps(b)]
    assert len(notes) == 1 and "78 more lines" in notes[0]["elements"][0]["text"]  # 120 paragraphs, 42 shown
    assert "<!channel>" not in json.dumps(blocks)
    assert blocks[-1]["elements"][0]["value"] == "/why `x`"  # the Share button carries the command as typed


def test_a_question_asked_back_offers_its_readings_and_a_refusal_is_escaped():
    asked = Reply("", "usage", "", question="how are we doing <!here>",
                  choices=(("Trend of win rate", "/trend"), ("Win rate", "/winrate")))
    asked = reply_message(asked, followups=[("Trend of win rate", "/trend"), ("Win rate", "/winrate")])
    buttons = [e for b in asked["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["value"] for b in buttons] == ["/trend", "/winrate"] and block_errors(asked["blocks"]) == []
    refused = reply_message(Reply("why", "refused", "Sorry, <!channel> is not a segment."))
    assert refused["text"] == "Sorry, &lt;!channel&gt; is not a segment."
    assert shareable(Reply("why", "answer", "x")) and not shareable(Reply("alerts", "answer", "x"))
    assert not shareable(Reply("why", "refused", "x"))
