"""End to end: a CRO talks to the bot in a DM, a mention and the assistant pane, and follows up in
the thread. Signed Events API requests to the running app (HTTP mode), answers through the Web API
stand-in over real HTTP on 127.0.0.1."""
from __future__ import annotations

import itertools

import pytest
from slack_harness import TOKEN, RunningApp, all_text, reply
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


def buttons(message, prefix: str) -> list[dict]:
    """The buttons of a message whose action ids start with `prefix` (followup_, reading_, verdict_)."""
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
            if e["action_id"].startswith(prefix)]


def press(app, slack, button: dict, message: dict, thread_ts: str, channel: str = "D0CRO", user: str = "U0CRO"):
    assert app.interact(slack, {
        "type": "block_actions", "user": {"id": user}, "channel": {"id": channel},
        "container": {"type": "message", "channel_id": channel, "message_ts": message["ts"]},
        "message": {"ts": message["ts"], "thread_ts": thread_ts},
        "actions": [{"action_id": button["action_id"], "value": button["value"], "type": "button"}],
        "response_url": slack.response_url(f"press-{button['action_id']}"), "trigger_id": "t"})[0] == 200


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
    assert [b["text"]["text"] for b in buttons(first, "followup_")] == [
        "Drivers", "Reps", "By region", "Show deals", "Vs last year"]

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
    question = dm(app, "how is APAC doing lately?")
    answer = in_thread(slack, "D0CRO", question)[0]
    assert "Win rate trend · APAC" in all_text(answer)
    why = next(b for b in buttons(answer, "followup_") if b["text"]["text"] == "Why?")
    press(app, slack, why, answer, question)
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


def test_an_answer_says_how_it_read_the_question_and_another_reading_is_one_click(app, slack):
    question = dm(app, "is our close rate slipping in APAC?")
    answer = in_thread(slack, "D0CRO", question)[0]
    assert block_errors(answer["blocks"]) == []
    assert answer["blocks"][0]["type"] == "context"
    assert answer["blocks"][0]["elements"][0]["text"] == "_Read as: Trend of win rate · APAC_"
    readings = buttons(answer, "reading_")
    assert [b["text"]["text"] for b in readings] == ["Meant: Win rate · APAC", "Meant: Why win rate changed · APAC"]
    press(app, slack, readings[1], answer, question)
    picked = in_thread(slack, "D0CRO", question, 2)[1]
    assert "Why did the win rate change? · APAC*" in all_text(picked)
    assert "Read as" not in all_text(picked)  # a reading picked is answered as the command it is


def test_a_thumbs_down_is_kept_with_the_question_and_feedback_lists_it_for_admins(app, slack):
    question = dm(app, "how is partner doing vs referral?", channel="D0FEED")
    answer = in_thread(slack, "D0FEED", question)[0]
    down = next(b for b in buttons(answer, "verdict_") if b["action_id"] == "verdict_wrong")
    press(app, slack, down, answer, question, channel="D0FEED", user="U0STRANGER")  # outside the allow-list
    press(app, slack, down, answer, question, channel="D0FEED")
    thanks = slack.wait_for(lambda s: [m for m in s.ephemerals if m.get("channel") == "D0FEED"])
    assert len(thanks) == 1 and thanks[0]["user"] == "U0CRO" and "misread" in thanks[0]["text"]
    assert app.command(slack, "/feedback", "", name="feedback", user="U0VP")[0] == 200
    listed = all_text(reply(slack, "feedback"))
    assert "👎 1" in listed and "“how is partner doing vs referral?” read as" in listed
    assert "/winrate lead_source=Partner,Referral by lead_source vs" not in listed


def test_a_question_it_cannot_read_is_asked_back_with_readings_as_buttons(app, slack):
    question = dm(app, "what's the average deal size?", channel="D0ASK")
    asked = in_thread(slack, "D0ASK", question)[0]
    assert "I don't measure what" in all_text(asked)
    choices = buttons(asked, "followup_")
    assert [b["text"]["text"] for b in choices] == [
        "Win rate · by deal size", "Open pipeline and forecast", "Deals behind the number · won deals"]
    press(app, slack, choices[0], asked, question, channel="D0ASK")
    answered = in_thread(slack, "D0ASK", question, 2)[1]
    assert "Win rate by deal size" in all_text(answered)


def test_a_button_on_an_older_answer_follows_up_on_that_answer_not_the_latest(app, slack):
    question = dm(app, "why did win rate drop in APAC?", channel="D0OLD")
    first = in_thread(slack, "D0OLD", question)[0]
    dm(app, "what about Europe?", thread_ts=question, channel="D0OLD")
    assert "· Europe*" in all_text(in_thread(slack, "D0OLD", question, 2)[1])
    by_region = next(b for b in buttons(first, "followup_") if b["text"]["text"] == "Reps")
    press(app, slack, by_region, first, question, channel="D0OLD")
    third = all_text(in_thread(slack, "D0OLD", question, 3)[2])
    assert "APAC" in third and "Europe" not in third.split("\n")[0]


def test_a_slow_answer_shows_working_on_it_first_and_the_answer_replaces_it(slack, tmp_path_factory):
    database = f"sqlite:///{tmp_path_factory.mktemp('slow') / 'state.sqlite'}"
    slow = RunningApp(slack, DATABASE_URL=database, ALLOWED_USERS="U0CRO", PROGRESS_AFTER_SECONDS="0")
    try:
        question = dm(slow, "why did win rate drop?", channel="D0SLOW")
        slack.wait_for(lambda s: [c for c in s.calls_to("chat.update") if c.params.get("channel") == "D0SLOW"])
        posts = [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == "D0SLOW"]
        assert len(posts) == 1 and posts[0].params["text"] == "_Working on it…_"
        thread = in_thread(slack, "D0SLOW", question)
        assert len(thread) == 1 and "Why did the win rate change?" in all_text(thread[0])
    finally:
        slow.stop()
