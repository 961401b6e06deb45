"""Conversation: DMs, mentions and the assistant pane, answered in the question's thread.

A plain question goes through the intent layer with the thread's last command (kept in the state
store, so a follow-up works after a restart and across web processes), then through the same
answer path as a slash command: access lists, row-level scope, stale-data notes. Every answer
carries next-question buttons; "which deals?" also brings the full list as a CSV file.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re

from slack_bolt import App, Assistant
from slack_sdk import WebClient

from insights.deals import deals_csv
from bot.core.commands import MAX_COMMAND_TEXT, without_reps
from bot.core.intents import interpret
from bot.core.render import render
from bot.slack.blocks import assemble_blocks, fallback_text
from bot.slack.io import upload_file
from bot.slack.listeners.commands import limit_message, reply_message, with_note_before_footer
from bot.store import STORE_DOWN
from bot.slack.services import Services

log = logging.getLogger(__name__)
MENTION = re.compile(r"<@[A-Z0-9]+>")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def line_for(services: Services, text: str, channel: str, thread_ts: str | None) -> tuple[str, bool]:
    """The command line a message asks for, read with its thread's last command; and whether the
    thread's history could be read (False when the state database is not answering)."""
    loaded = services.data.current
    if loaded is None:
        return text, True  # the answer path says the data has not loaded
    thread, history = None, True
    if services.store and thread_ts:
        try:
            thread = services.store.thread_line(channel, thread_ts, _now())
        except STORE_DOWN:
            log.warning("the state database is not answering: %s answered without its thread", channel)
            history = False
    return interpret(text, loaded.vocab, loaded.snapshot.as_of, thread).line, history


def answer_later(services: Services, client: WebClient, text: str, user_id: str | None, channel: str,
                 thread_ts: str) -> None:
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
    pool.submit(lambda claim: answer_in_thread(services, client, text, user_id, channel, thread_ts, claim),
                on_timeout=lambda: post(limit_message("timeout", seconds=pool.timeout)),
                on_busy=lambda: post(limit_message("busy")))


def answer_in_thread(services: Services, client: WebClient, text: str, user_id: str | None, channel: str,
                     thread_ts: str, claim=lambda: True) -> dict | None:
    """Answer one message in its thread; returns what was posted (None when nothing was, or when the
    pool's timeout answered first: `claim()` is False)."""
    text = MENTION.sub(" ", text or "").strip()
    line, history = line_for(services, text, channel, thread_ts)
    message, reply = reply_message(services, line, user_id, channel)
    if not claim():
        return None
    if reply is not None and not history:  # the answer stands; say what is missing
        reply = dataclasses.replace(reply, text=with_note_before_footer(
            reply.text, render("text/state_unavailable.j2", where="thread")))
    if reply is None:  # refused or no data: the sentence, in the thread
        return client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=message["text"],
                                       blocks=message["blocks"]).data
    buttons = render("text/followups.j2", command=reply.command).split("\n") if reply.kind == "answer" else []
    posted = client.chat_postMessage(
        channel=channel, thread_ts=thread_ts, text=fallback_text(reply.text),
        blocks=assemble_blocks(reply.text, command_line=reply.line,
                               followups=[b.split("|", 1) for b in buttons if "|" in b])).data
    if reply.kind == "answer" and services.store is not None and history:
        try:
            services.store.remember_thread(channel, thread_ts, reply.line, user_id, _now())
        except STORE_DOWN:
            log.warning("the state database is not answering: thread %s not remembered", thread_ts)
    if reply.command == "deals" and reply.result is not None and reply.result.count:
        snapshot = services.data.scoped(services.scope_for(user_id)).snapshot
        if not services.access.may_see_reps(user_id):  # REPS_USERS: the CSV names no owner either
            snapshot, _ = without_reps(snapshot)
        upload_file(client, channel, deals_csv(snapshot, reply.result.query), "deals.csv", "The deals behind the number",
                    thread_ts=thread_ts)
    return posted


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

    @app.action(re.compile(r"^followup_\d+$"))
    def next_question(ack, body: dict, client: WebClient):
        ack()
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts")
        if not channel or not thread_ts:
            return
        answer_later(services, client, body["actions"][0].get("value", ""), (body.get("user") or {}).get("id"),
                         channel, thread_ts)
