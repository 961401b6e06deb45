"""End to end: a CRO talks to the bot in a DM, a mention and the assistant pane, and follows up in
the thread. Signed Events API requests to the running app (HTTP mode), answers through the Web API
stand-in over real HTTP on 127.0.0.1."""
from __future__ import annotations

import itertools

import pytest
from slack_harness import TOKEN, RunningApp, all_text
from slack_standin import SlackStandIn, block_errors

TS = itertools.count(1_700_000_000)


def ts() -> str:
    return f"{next(TS)}.000100"


@pytest.fixture(scope="module")
def slack():
    with SlackStandIn(bot_token=TOKEN, channels={"C0SALES": "sales"},
                      users={"U0CRO": "cro", "U0VP": "vp", "U0STRANGER": "stranger"}) as standin:
        yield standin


@pytest.fixture(scope="module")
def app(slack, tmp_path_factory):
    database = f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.sqlite'}"
    running = RunningApp(slack, DATABASE_URL=database, ALLOWED_USERS="U0CRO,U0VP",
                         CRM_DEAL_URL="https://example.my.salesforce.com/{deal_id}")
    yield running
    running.stop()


def in_thread(slack, channel: str, thread_ts: str, count: int = 1, timeout: float = 15) -> list[dict]:
    """The bot's messages in a thread, once there are at least `count`."""
    def found(s):
        mine = [m for m in s.messages.get(channel, []) if m.get("thread_ts") == thread_ts]
        return mine if len(mine) >= count else None
    return slack.wait_for(found, timeout=timeout)


def dm(app, text, thread_ts=None, user="U0CRO", channel="D0CRO", **kw) -> str:
    sent = ts()
    event = {"type": "message", "channel_type": "im", "channel": channel, "user": user, "text": text, "ts": sent}
    if thread_ts:
        event["thread_ts"] = thread_ts
    assert app.event(event, **kw) == 200
    return sent


def test_a_dm_question_is_answered_in_its_thread_and_follow_ups_keep_the_context(app, slack):
    question = dm(app, "why did win rate drop in APAC last quarter?")
    first = in_thread(slack, "D0CRO", question)[0]
    assert block_errors(first["blocks"]) == []
    text = all_text(first)
    assert "Why did the win rate change? · APAC* — 2024Q2 against 2023Q2 to 2024Q1" in text
    buttons = [b for b in first["blocks"] if b["type"] == "actions"][-1]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Drivers", "Reps", "By region", "Show deals", "Vs last year"]

    dm(app, "what about Europe?", thread_ts=question)
    second = in_thread(slack, "D0CRO", question, 2)[1]
    assert "Why did the win rate change? · Europe* — 2024Q2" in all_text(second)

    dm(app, "which deals?", thread_ts=question)
    third = in_thread(slack, "D0CRO", question, 3)[2]
    deals = all_text(third)
    assert "The deals behind the number · Europe · 2024Q2*" in deals
    assert "https://example.my.salesforce.com/" in deals
    csv = slack.wait_for(lambda s: [f for f in s.files.values() if f.get("completed")
                                    and f.get("filename") == "deals.csv"])
    assert csv[-1]["bytes"].startswith(b"deal_id,sales_rep_id,region") and csv[-1]["thread_ts"] == question
    listed = int(deals.split(" closed deals")[0].rsplit("— ", 1)[1].replace(",", ""))
    assert csv[-1]["bytes"].count(b"\n") - 1 == listed > 15  # every deal, not only the 15 shown


def test_a_next_question_button_answers_in_the_same_thread(app, slack):
    question = dm(app, "how is APAC doing?")
    answer = in_thread(slack, "D0CRO", question)[0]
    assert "Win rate trend · APAC" in all_text(answer)
    why = next(b for b in answer["blocks"][-1]["elements"] if b["text"]["text"] == "Why?")
    assert app.interact(slack, {
        "type": "block_actions", "user": {"id": "U0CRO"}, "channel": {"id": "D0CRO"},
        "container": {"type": "message", "channel_id": "D0CRO", "message_ts": answer["ts"]},
        "message": {"ts": answer["ts"], "thread_ts": question},
        "actions": [{"action_id": why["action_id"], "value": why["value"], "type": "button"}],
        "response_url": slack.response_url("button-why"), "trigger_id": "t"})[0] == 200
    follow = in_thread(slack, "D0CRO", question, 2)[1]
    assert "Why did the win rate change? · APAC*" in all_text(follow)


def test_a_mention_in_a_channel_is_answered_in_its_thread(app, slack):
    sent = ts()
    assert app.event({"type": "app_mention", "channel": "C0SALES", "user": "U0VP",
                      "text": "<@U0BOT> who are the weakest reps in Europe?", "ts": sent}) == 200
    reply = in_thread(slack, "C0SALES", sent)[0]
    assert "Who needs to act · by rep · Europe" in all_text(reply)


def test_the_assistant_pane_greets_with_prompts_and_answers_with_a_status(app, slack):
    thread = ts()
    assert app.event({"type": "assistant_thread_started", "assistant_thread": {
        "user_id": "U0CRO", "channel_id": "D0PANE", "thread_ts": thread, "context": {}}}) == 200
    greeting = in_thread(slack, "D0PANE", thread)[0]
    assert "Ask me about your win rate in plain words" in greeting["text"]
    prompts = slack.wait_for(lambda s: s.calls_to("assistant.threads.setSuggestedPrompts"))
    assert "why did our win rate drop last quarter?" in str(prompts[-1].params)
    dm(app, "is the drop real or noise?", thread_ts=thread, channel="D0PANE")
    answer = in_thread(slack, "D0PANE", thread, 2)[1]
    assert "Verdict: a significant drop." in all_text(answer)
    status = slack.wait_for(lambda s: s.calls_to("assistant.threads.setStatus"))
    assert "looking at 6,338 deals" in str(status[0].params)


def test_a_retried_event_is_answered_once(app, slack):
    sent = ts()
    event = {"type": "message", "channel_type": "im", "channel": "D0RETRY", "user": "U0CRO",
             "text": "what drives wins?", "ts": sent}
    assert app.event(event, event_id="Ev-retry") == 200
    in_thread(slack, "D0RETRY", sent)
    assert app.event(event, event_id="Ev-retry", retry=1) == 200
    assert app.event(event, event_id="Ev-retry", retry=2) == 200
    dm(app, "hello", channel="D0RETRY")  # a later message is answered: the queue is not stuck
    slack.wait_for(lambda s: len(s.messages.get("D0RETRY", [])) >= 2)
    assert len([m for m in slack.messages["D0RETRY"] if m.get("thread_ts") == sent]) == 1


def test_the_bots_own_messages_and_other_bots_are_ignored(app, slack):
    own = ts()
    assert app.event({"type": "message", "channel_type": "im", "channel": "D0QUIET", "user": "U0BOT",
                      "bot_id": "B0BOT", "text": "why did win rate drop?", "ts": own}) == 200
    assert app.event({"type": "message", "subtype": "bot_message", "channel_type": "im", "channel": "D0QUIET",
                      "bot_id": "B0OTHER", "text": "how is APAC doing?", "ts": ts()}) == 200
    dm(app, "hello", channel="D0QUIET")  # then a person: answered, and only that
    slack.wait_for(lambda s: s.messages.get("D0QUIET"))
    assert len(slack.messages["D0QUIET"]) == 1 and "answers questions" in slack.messages["D0QUIET"][0]["text"]


def test_a_user_outside_the_allow_list_is_refused_in_the_thread(app, slack):
    sent = dm(app, "why did win rate drop?", user="U0STRANGER", channel="D0STRANGER")
    refused = in_thread(slack, "D0STRANGER", sent)[0]
    assert "not opened Sales Intelligence to you" in all_text(refused)
    assert "Why did the win rate change" not in all_text(refused)
