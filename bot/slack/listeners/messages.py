"""Conversation: direct messages, mentions and the assistant pane, each answered in its thread
(bot.slack.answering); the answer to a mention is read by the whole channel, and asked as such."""
from __future__ import annotations

import functools

from slack_bolt import App, Assistant
from slack_sdk import WebClient

from bot.core.render import render
from bot.slack.answering import answer_later
from bot.slack.services import Services


def from_a_person(event: dict, context) -> bool:
    """Bots (this one included), edits, joins and other sub-events are not questions."""
    if event.get("bot_id") or event.get("subtype") or not event.get("user"):
        return False
    return event.get("user") != getattr(context, "bot_user_id", None)


def deals_seen_by(services: Services, user_id: str | None) -> int:
    """How many closed deals this user may see (row-level access), for the greeting and status."""
    loaded = services.data.view(services.policy.scope_for(user_id)) if services.data.current else None
    return len(loaded.snapshot.deals) if loaded else 0


def greet(payload: dict, say, set_suggested_prompts, *, services: Services) -> None:
    """The assistant pane opens: what the bot knows, to someone allowed; to anyone else, only that they are not."""
    user_id = (payload.get("assistant_thread") or {}).get("user_id")
    if not services.policy.allowed_user(user_id):
        say(render("text/denied.j2", reason="user", command="").strip())
        return
    say(render("text/assistant_greeting.j2", deals=deals_seen_by(services, user_id)))
    set_suggested_prompts(prompts=[{"title": t, "message": m} for t, m in (
        line.split("|", 1) for line in render("text/assistant_prompts.j2").splitlines() if "|" in line)])


def in_the_pane(payload: dict, client: WebClient, set_status, set_title, context, *, services: Services) -> None:
    if not from_a_person(payload, context):
        return
    if services.policy.allowed_user(payload.get("user")):  # an outsider's text sets nothing
        set_status(render("text/assistant_status.j2", deals=deals_seen_by(services, payload.get("user"))))
        set_title((payload.get("text") or "")[:60])
    answer_later(services, client, payload.get("text", ""), payload.get("user"), payload["channel"],
                 payload.get("thread_ts") or payload["ts"])


def mentioned(event: dict, client: WebClient, context, *, services: Services) -> None:
    if from_a_person(event, context):
        answer_later(services, client, event.get("text", ""), event.get("user"), event["channel"],
                     event.get("thread_ts") or event["ts"])


def direct_message(event: dict, client: WebClient, context, *, services: Services) -> None:
    # channel messages reach the bot only through mentions (answered above)
    if event.get("channel_type") == "im" and from_a_person(event, context):
        answer_later(services, client, event.get("text", ""), event.get("user"), event["channel"],
                     event.get("thread_ts") or event["ts"])


def register(app: App, services: Services) -> None:
    assistant = Assistant()
    assistant.thread_started(functools.partial(greet, services=services))
    assistant.user_message(functools.partial(in_the_pane, services=services))
    app.use(assistant)
    app.event("app_mention")(functools.partial(mentioned, services=services))
    app.event("message")(functools.partial(direct_message, services=services))
