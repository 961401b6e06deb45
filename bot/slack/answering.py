"""What the listeners share: answering in a thread (DMs, mentions, the assistant pane, their buttons),
the analysis pool's timeout and busy answers, and the values the thread's buttons carry.

A message is answered through `ask()` with the thread's last command (kept in the state store, so a
follow-up works after a restart and across web processes). Every answer to a plain question says how
it was read, with buttons for the next likeliest readings, 👍/👎 (kept in the store; `/feedback` lists
the misreads) and next questions; a question the bot cannot read with confidence is asked back with
its likeliest readings as buttons. A button carries the command of the answer it sits under, so
pressing one on an older answer follows up on that answer. An answer slower than a second shows
"working on it…" first, which the answer then replaces. The answer is posted into the conversation
for everyone there, so it is asked as such: rep-level detail only where every reader may see it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.ask import ask, with_note_before_footer
from bot.core.commands import MAX_COMMAND_TEXT, read_as_line
from bot.core.render import render
from bot.slack.blocks import assemble_blocks, escape, reply_message, shareable
from bot.slack.io import send_response, upload_file
from bot.slack.services import Services
from bot.store import STORE_DOWN

log = logging.getLogger(__name__)
MENTION = re.compile(r"<@[A-Z0-9]+>")
REPS_BUTTON = "show the reps"  # a next-question button that asks about reps, not offered where they are hidden


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def limit_message(reason: str, **extra) -> dict:
    text = render("text/limits.j2", reason=reason, **extra)
    return {"response_type": "ephemeral", "replace_original": False, "text": escape(text),
            "blocks": assemble_blocks(text)}


def run_analysis(services: Services, response_url: str, work) -> None:
    """`work(claim)` on the analysis pool, with the timeout and busy answers sent to `response_url`."""
    pool = services.analyses
    pool.submit(work, on_timeout=lambda: send_response(response_url, limit_message("timeout", seconds=pool.timeout)),
                on_busy=lambda: send_response(response_url, limit_message("busy")))


def thread_line(services: Services, channel: str, thread_ts: str | None) -> tuple[str | None, bool]:
    """The thread's last command, and whether it could be read (False: the state database is not answering)."""
    if not (services.store and thread_ts):
        return None, True
    try:
        return services.store.thread_line(channel, thread_ts, now()), True
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


def where(body: dict) -> tuple[str | None, str | None]:
    """The conversation and thread a button was pressed in."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    message = body.get("message") or {}
    return channel, message.get("thread_ts") or message.get("ts")


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

    asker = services.policy.asker(user_id, channel, posted=True)
    if not asker.allowed:
        post(reply_message(ask(services.data, asker, "/help")))  # the denial, worded as for a command
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
    asker = services.policy.asker(user_id, channel, posted=True)  # everyone in the conversation reads it
    thread, history = (context_line, True) if context_line is not None else thread_line(services, channel, thread_ts)
    progress = Progress(client, channel, thread_ts, services.progress_after)
    reply = ask(services.data, asker, text, thread, store=services.store)
    if not claim():
        progress.cancel()
        return None
    if reply.asked_back:  # its likeliest readings as buttons, never a guess
        if services.store is not None:
            keep(services.store.record_feedback, text, None, "unread", user_id, now())
        return progress.deliver(**reply_message(
            reply, followups=[(label[:75], button_value(line, thread or "")) for label, line in reply.choices]))
    if not history and reply.kind not in ("refused", "error"):  # the answer stands; say what is missing
        reply = dataclasses.replace(reply, text=with_note_before_footer(
            reply.text, render("text/state_unavailable.j2", where="thread")))
    answered = reply.kind == "answer"
    buttons = render("text/followups.j2", command=reply.command).split("\n") if answered else []
    followups = [(label, button_value(value, reply.line)) for label, value in (b.split("|", 1) for b in buttons
                                                                                if "|" in b)
                 if asker.reps or value != REPS_BUTTON]
    read_as, others, verdict = "", [], None
    if reply.question and answered:
        read_as = read_as_line(reply, buttons=True)
        others = [(label, button_value(line, reply.line)) for label, line in reply.choices]
        verdict = button_value(text, reply.line)
    elif reply.question and services.store is not None and reply.kind == "usage":
        keep(services.store.record_feedback, text, None, "unread", user_id, now())
    if answered and services.store is not None and history:
        # before the answer is posted: a follow-up typed the moment it appears finds the thread's question
        keep(services.store.remember_thread, channel, thread_ts, reply.line, user_id, now())
    posted = progress.deliver(**reply_message(reply, reply.line, followups=followups, read_as=read_as,
                                              readings=others, verdict=verdict))
    table, error = reply.table_or_error()
    if error is not None:  # the answer stands; its file could not be made, and the thread says why
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=error)
        except SlackApiError as exc:
            log.warning("could not say the CSV was not made: %s", exc.response.get("error"))
    if table is not None:
        upload_file(client, channel, table, "deals.csv", "The deals behind the number", thread_ts=thread_ts)
    return posted


def respond_to_command(response_url: str, reply, line: str) -> bool:
    """A slash command's reply, only to the person who asked, with Share for an answer about the deals."""
    return send_response(response_url, {"response_type": "ephemeral",
                                        **reply_message(reply, line, share=shareable(reply))})
