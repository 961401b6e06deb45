"""Conversation: DMs, mentions and the assistant pane, answered in the question's thread.

A plain question goes through the intent layer with the thread's last command (kept in the state
store, so a follow-up works after a restart and across web processes), then through the same
answer path as a slash command: access lists, row-level scope, stale-data notes. Every answer
says how the question was read, with buttons for the next likeliest readings, 👍/👎 (kept in the
store; `/feedback` lists the misreads) and next questions; a question the bot cannot read with
confidence is asked back with its likeliest readings as buttons. A button carries the command of
the answer it sits under, so pressing one on an older answer follows up on that answer. An answer
slower than a second shows "working on it…" first, which the answer then replaces.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
import threading

from slack_bolt import App, Assistant
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from insights.deals import deals_csv
from bot.core.commands import MAX_COMMAND_TEXT, labelled, read_as_line, reading_of, without_reps
from bot.core.intents import Intent, interpret
from bot.core.render import render
from bot.slack.blocks import assemble_blocks, fallback_text
from bot.slack.io import upload_file
from bot.slack.listeners.commands import limit_message, reply_message, with_note_before_footer
from bot.slack.services import Services
from bot.store import STORE_DOWN

log = logging.getLogger(__name__)
MENTION = re.compile(r"<@[A-Z0-9]+>")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def thread_line(services: Services, channel: str, thread_ts: str | None) -> tuple[str | None, bool]:
    """The thread's last command, and whether it could be read (False: the state database is not answering)."""
    if not (services.store and thread_ts):
        return None, True
    try:
        return services.store.thread_line(channel, thread_ts, _now()), True
    except STORE_DOWN:
        log.warning("the state database is not answering: %s answered without its thread", channel)
        return None, False


def keep(write, *args, **kwargs) -> None:
    """A write to the state store that the answer does not depend on (the thread's context, feedback):
    skipped, and logged, while the database is not answering."""
    try:
        write(*args, **kwargs)
    except STORE_DOWN:
        log.warning("the state database is not answering: %s skipped", getattr(write, "__name__", "a write"))


def intent_for(services: Services, text: str, channel: str, thread_ts: str | None,
               context_line: str | None = None) -> tuple[Intent | None, bool]:
    """How a message reads, with the thread's last command (or `context_line`, the command of the answer
    whose button was pressed); None before the data has loaded (the answer path says so). And whether
    the thread's history could be read."""
    loaded = services.data.current
    if loaded is None:
        return None, True
    thread, history = (context_line, True) if context_line is not None else thread_line(services, channel, thread_ts)
    return interpret(text, loaded.vocab, loaded.snapshot.as_of, thread), history


def button_value(question: str, context_line: str) -> str:
    """What a button under an answer carries: the question it asks and the answer's own command."""
    return json.dumps({"q": question[:500], "ctx": context_line[:1000]})


def button_question(value: str) -> tuple[str, str | None]:
    """(question, the command of the answer the button was under); a plain value is a question alone."""
    try:
        data = json.loads(value)
    except ValueError:
        return value, None
    if not isinstance(data, dict):
        return value, None
    return str(data.get("q") or ""), (str(data["ctx"]) if data.get("ctx") else None)


class Progress:
    """A "working on it…" note posted in the thread when an answer takes longer than `after` seconds;
    the answer then replaces it, so the thread holds one message either way."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str, after: float):
        self.client, self.channel, self.thread_ts = client, channel, thread_ts
        self.ts: str | None = None
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(after, self._note)
        self._timer.daemon = True
        self._timer.start()

    def _note(self) -> None:
        with self._lock:
            if self._done:
                return
            try:
                self.ts = self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts,
                                                       text=render("text/working.j2").strip())["ts"]
            except SlackApiError as exc:  # the answer still comes, as a message of its own
                log.warning("could not post the progress note: %s", exc.response.get("error"))

    def cancel(self) -> None:
        """Someone else answered (the analysis pool's timeout): no note, no answer from here."""
        with self._lock:
            self._done = True
            self._timer.cancel()

    def deliver(self, **message) -> dict:
        """Post the answer, or put it in place of the progress note."""
        with self._lock:
            self._done = True
            self._timer.cancel()
            ts = self.ts
        if ts is not None:
            return self.client.chat_update(channel=self.channel, ts=ts, **message).data
        return self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, **message).data


def answer_later(services: Services, client: WebClient, text: str, user_id: str | None, channel: str,
                 thread_ts: str, context_line: str | None = None) -> None:
    """What a listener does with a message. Someone outside ALLOWED_USERS and a text over the cap are
    answered at once, before the text is read at all (a set lookup and a length: an outsider's 300,000
    characters cost what ten do); the rest is queued on the analysis pool, so Bolt's threads, which
    also run every acknowledgement, never interpret a question."""
    def post(message: dict) -> None:
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=message["text"], blocks=message["blocks"])

    if not services.access.allowed_user(user_id):
        post(reply_message(services, "/help", user_id, channel)[0])  # the denial, worded as for a command
        return
    if len(text or "") > MAX_COMMAND_TEXT:
        post(limit_message("message_too_long", length=len(text), limit=MAX_COMMAND_TEXT))
        return
    pool = services.analyses
    pool.submit(lambda claim: answer_in_thread(services, client, text, user_id, channel, thread_ts, context_line,
                                               claim),
                on_timeout=lambda: post(limit_message("timeout", seconds=pool.timeout)),
                on_busy=lambda: post(limit_message("busy")))


def answer_in_thread(services: Services, client: WebClient, text: str, user_id: str | None, channel: str,
                     thread_ts: str, context_line: str | None = None, claim=lambda: True) -> dict | None:
    """Answer one message in its thread; returns what was posted (None when nothing was, or when the
    pool's timeout answered first: `claim()` is False)."""
    text = MENTION.sub(" ", text or "").strip()
    intent, history = intent_for(services, text, channel, thread_ts, context_line)
    plain = intent is not None and not text.startswith("/")
    if plain and intent.choices and services.access.allowed_user(user_id):
        return ask_back(services, client, text, intent, user_id, channel, thread_ts) if claim() else None
    progress = Progress(client, channel, thread_ts, services.progress_after)
    message, reply = reply_message(services, intent.line if intent is not None else text, user_id, channel)
    if not claim():
        progress.cancel()
        return None
    if reply is not None and not history:  # the answer stands; say what is missing
        reply = dataclasses.replace(reply, text=with_note_before_footer(
            reply.text, render("text/state_unavailable.j2", where="thread")))
    if reply is None:  # refused or no data: the sentence, in the thread
        return progress.deliver(text=message["text"], blocks=message["blocks"])
    loaded = services.data.current
    answered = reply.kind == "answer"
    buttons = render("text/followups.j2", command=reply.command).split("\n") if answered else []
    followups = [(label, button_value(value, reply.line)) for label, value in (b.split("|", 1) for b in buttons
                                                                                if "|" in b)]
    read_as, others, verdict = "", [], None
    if plain and answered:
        understood = dataclasses.replace(reply, reading=reading_of(intent.line, loaded.vocab),
                                         choices=labelled(intent.alternatives, loaded.vocab))
        read_as = read_as_line(understood, buttons=True)
        others = [(label, button_value(line, reply.line)) for label, line in understood.choices]
        verdict = button_value(text, reply.line)
    elif plain and services.store is not None and reply.kind == "usage":
        keep(services.store.record_feedback, text, None, "unread", user_id, _now())
    posted = progress.deliver(
        text=fallback_text(reply.text),
        blocks=assemble_blocks(reply.text, command_line=reply.line, followups=followups, read_as=read_as,
                               readings=others, verdict=verdict))
    if answered and services.store is not None and history:
        keep(services.store.remember_thread, channel, thread_ts, reply.line, user_id, _now())
    if reply.command == "deals" and reply.result is not None and reply.result.count:
        snapshot = services.data.scoped(services.scope_for(user_id)).snapshot
        if not services.access.may_see_reps(user_id):  # REPS_USERS: the CSV names no owner either
            snapshot, _ = without_reps(snapshot)
        upload_file(client, channel, deals_csv(snapshot, reply.result.query), "deals.csv",
                    "The deals behind the number", thread_ts=thread_ts)
    return posted


def ask_back(services: Services, client: WebClient, text: str, intent: Intent, user_id: str | None, channel: str,
             thread_ts: str) -> dict:
    """A question read with too little confidence: its likeliest readings as buttons, never a guess."""
    loaded = services.data.current
    choices = labelled(intent.choices, loaded.vocab)
    if services.store is not None:
        keep(services.store.record_feedback, text, None, "unread", user_id, _now())
    context, _ = thread_line(services, channel, thread_ts)
    words = render("text/ask_back.j2", question=text, choices=choices, unsupported=intent.unsupported, buttons=True)
    return client.chat_postMessage(
        channel=channel, thread_ts=thread_ts, text=fallback_text(words),
        blocks=assemble_blocks(words, followups=[(label[:75], button_value(line, context or ""))
                                                 for label, line in choices])).data


def _from_a_person(event: dict, context) -> bool:
    """Bots (this one included), edits, joins and other sub-events are not questions."""
    if event.get("bot_id") or event.get("subtype") or not event.get("user"):
        return False
    return event.get("user") != getattr(context, "bot_user_id", None)


def register(app: App, services: Services) -> None:
    assistant = Assistant()

    def deals_seen_by(user_id: str | None) -> int:
        """How many closed deals this user may see (row-level access), for the greeting and status."""
        loaded = services.data.scoped(services.scope_for(user_id)) if services.data.current else None
        return len(loaded.snapshot.deals) if loaded else 0

    @assistant.thread_started
    def greet(payload: dict, say, set_suggested_prompts):
        say(render("text/assistant_greeting.j2",
                   deals=deals_seen_by((payload.get("assistant_thread") or {}).get("user_id"))))
        set_suggested_prompts(prompts=[{"title": t, "message": m} for t, m in (
            line.split("|", 1) for line in render("text/assistant_prompts.j2").splitlines() if "|" in line)])

    @assistant.user_message
    def in_the_pane(payload: dict, client: WebClient, set_status, set_title, context):
        if not _from_a_person(payload, context):
            return
        if services.access.allowed_user(payload.get("user")):  # an outsider's text sets nothing
            set_status(render("text/assistant_status.j2", deals=deals_seen_by(payload.get("user"))))
            set_title((payload.get("text") or "")[:60])
        answer_later(services, client, payload.get("text", ""), payload.get("user"), payload["channel"],
                         payload.get("thread_ts") or payload["ts"])

    app.use(assistant)

    @app.event("app_mention")
    def mentioned(event: dict, client: WebClient, context):
        if _from_a_person(event, context):
            answer_later(services, client, event.get("text", ""), event.get("user"), event["channel"],
                             event.get("thread_ts") or event["ts"])

    @app.event("message")
    def direct_message(event: dict, client: WebClient, context):
        # channel messages reach the bot only through mentions (answered above)
        if event.get("channel_type") == "im" and _from_a_person(event, context):
            answer_later(services, client, event.get("text", ""), event.get("user"), event["channel"],
                             event.get("thread_ts") or event["ts"])

    def where(body: dict) -> tuple[str | None, str | None]:
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        message = body.get("message") or {}
        return channel, message.get("thread_ts") or message.get("ts")

    @app.action(re.compile(r"^(followup|reading)_\d+$"))
    def next_question(ack, body: dict, client: WebClient):
        ack()
        channel, thread_ts = where(body)
        if not channel or not thread_ts:
            return
        action, user_id = body["actions"][0], (body.get("user") or {}).get("id")
        question, context_line = button_question(action.get("value", ""))
        if action.get("action_id", "").startswith("reading_") and services.store is not None \
                and services.access.allowed_user(user_id):  # another reading picked: the first one missed
            keep(services.store.record_feedback, question, context_line, "other", user_id, _now(), chosen=question)
        answer_later(services, client, question, user_id, channel, thread_ts, context_line)

    @app.action(re.compile(r"^verdict_(right|wrong)$"))
    def verdict(ack, body: dict, client: WebClient):
        ack()
        user_id = (body.get("user") or {}).get("id")
        channel, thread_ts = where(body)
        if not services.access.allowed_user(user_id) or services.store is None or not channel:
            return  # outside the allow-list: a button press changes nothing
        action = body["actions"][0]
        question, line = button_question(action.get("value", ""))
        right = action["action_id"] == "verdict_right"
        keep(services.store.record_feedback, question, line, "right" if right else "wrong", user_id, _now())
        client.chat_postEphemeral(channel=channel, user=user_id, thread_ts=thread_ts,
                                  text=render("text/feedback_thanks.j2", right=right).strip())
