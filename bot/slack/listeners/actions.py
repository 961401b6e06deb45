"""Buttons: "Share in channel", Acknowledge and Snooze on an alert, next questions, readings and 👍/👎."""
from __future__ import annotations

import functools
import logging
import re
import threading

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.ask import ask
from bot.core.render import render
from bot.slack.answering import answer_later, button_question, keep, now, run_analysis, where
from bot.slack.blocks import escape, reply_message
from bot.slack.io import send_response, upload_chart
from bot.slack.services import Services

log = logging.getLogger(__name__)


def share_reply(ack, body: dict, client: WebClient, *, services: Services) -> None:
    """Post the same answer (and its chart) into the channel, answered again as the channel may see it:
    the asker's scope, and reps only where every reader may see them (else refused, to the asker)."""
    ack()
    run_analysis(services, body["response_url"], lambda claim: share(body, client, claim, services))


def share(body: dict, client: WebClient, claim, services: Services) -> None:
    line = body["actions"][0].get("value", "")
    user_id = body.get("user", {}).get("id")
    channel_id = (body.get("channel") or body.get("container") or {}).get("id") or \
        body.get("container", {}).get("channel_id")
    reply = ask(services.data, services.policy.asker(user_id, channel_id, posted=True), line, store=services.store)
    if not claim():
        return
    if reply.kind != "answer":
        send_response(body["response_url"], {"response_type": "ephemeral", **reply_message(reply, line)})
        return
    shared = {"response_type": "in_channel", "replace_original": False,
              **reply_message(reply, line, shared_by=user_id)}
    if not send_response(body["response_url"], shared):
        return
    chart = reply.chart() if services.charts else None
    if chart is not None and channel_id:
        upload = upload_chart(client, channel_id, chart)
        if not upload.ok:
            failed = render("text/chart_failed.j2", error=upload.error)
            send_response(body["response_url"], {"response_type": "ephemeral", "replace_original": False,
                                                 "text": escape(failed)})


class AlertNotes:
    """Who acknowledged or snoozed each alert, so a second click's update keeps the first one's note."""

    def __init__(self):
        self.lock = threading.Lock()  # two clicks at once: the second update must include the first's note
        self.seen: dict[str, dict[str, str]] = {}  # fingerprint -> {"ack": note, "snooze": note}


def alert_button(ack, body: dict, client: WebClient, *, services: Services, notes: AlertNotes) -> None:
    """Acknowledge and Snooze on an alert: record it, then show who did what on the message itself."""
    ack()
    action = "ack" if body["actions"][0].get("action_id") == "alert_ack" else "snooze"
    with notes.lock:
        handle_alert(body, client, action, services, notes.seen)


def handle_alert(body: dict, client: WebClient, action: str, services: Services, notes: dict) -> None:
    fingerprint = body["actions"][0].get("value", "")
    user_id = body.get("user", {}).get("id", "")
    if services.store is None:
        return
    # the allow-lists apply to buttons as to commands: anyone allowed may acknowledge; snoozing
    # silences the alert for everyone, so it takes an admin (ADMIN_USERS; everyone allowed when empty)
    asker = services.policy.asker(user_id)
    if not asker.allowed:
        return deny(body, "user")
    if action == "snooze" and not asker.admin:
        return deny(body, "admins_only")
    moment = now()
    if action == "ack":
        row = services.store.acknowledge(fingerprint, user_id)
        note = render("text/alert_handled.j2", action="ack", user=user_id)
    else:
        row = services.store.snooze(fingerprint, moment + services.snooze)
        note = render("text/alert_handled.j2", action="snooze", user=user_id,
                      until=(moment + services.snooze).strftime("%Y-%m-%d"))
    seen = notes.setdefault(fingerprint, {})
    seen[action] = note
    if "ack" not in seen and (row or {}).get("acknowledged_by"):
        seen["ack"] = render("text/alert_handled.j2", action="ack", user=row["acknowledged_by"])
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or (row or {}).get("channel")
    ts = message.get("ts") or (row or {}).get("ts")
    if not (channel and ts):
        return
    known = set(seen.values())
    blocks = [b for b in message.get("blocks", []) if b.get("type") != "actions"
              and not (b.get("type") == "context" and any(e.get("text") in known for e in b.get("elements", [])))]
    for kind in ("ack", "snooze"):  # every note so far, in a fixed order, whichever click came last
        if kind in seen:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": seen[kind]}]})
    try:
        client.chat_update(channel=channel, ts=ts, text=message.get("text") or note, blocks=blocks)
    except SlackApiError as exc:
        log.error("could not update alert %s: %s", fingerprint, exc.response.get("error"))


def deny(body: dict, reason: str) -> None:
    log.warning("alert button refused to %s: %s", body.get("user", {}).get("id"), reason)
    if body.get("response_url"):
        send_response(body["response_url"], {"response_type": "ephemeral", "replace_original": False,
                                             "text": render("text/denied.j2", reason=reason, command="alerts")})


def next_question(ack, body: dict, client: WebClient, *, services: Services) -> None:
    """A next-question or another-reading button under an answer: asked in the same thread, on that answer."""
    ack()
    channel, thread_ts = where(body)
    if not channel or not thread_ts:
        return
    action, user_id = body["actions"][0], (body.get("user") or {}).get("id")
    question, context_line = button_question(action.get("value", ""))
    if action.get("action_id", "").startswith("reading_") and services.store is not None \
            and services.policy.allowed_user(user_id):  # another reading picked: the first one missed
        keep(services.store.record_feedback, question, context_line, "other", user_id, now(), chosen=question)
    answer_later(services, client, question, user_id, channel, thread_ts, context_line)


def verdict(ack, body: dict, client: WebClient, *, services: Services) -> None:
    """👍/👎 under an answer: kept in the store (`/feedback` lists the misreads), thanked privately."""
    ack()
    user_id = (body.get("user") or {}).get("id")
    channel, thread_ts = where(body)
    if not services.policy.allowed_user(user_id) or services.store is None or not channel:
        return  # outside the allow-list: a button press changes nothing
    action = body["actions"][0]
    question, line = button_question(action.get("value", ""))
    right = action["action_id"] == "verdict_right"
    keep(services.store.record_feedback, question, line, "right" if right else "wrong", user_id, now())
    client.chat_postEphemeral(channel=channel, user=user_id, thread_ts=thread_ts,
                              text=render("text/feedback_thanks.j2", right=right).strip())


def register(app: App, services: Services) -> None:
    notes = AlertNotes()
    app.action("share_reply")(functools.partial(share_reply, services=services))
    app.action("alert_ack")(functools.partial(alert_button, services=services, notes=notes))
    app.action("alert_snooze")(functools.partial(alert_button, services=services, notes=notes))
    app.action(re.compile(r"^(followup|reading)_\d+$"))(functools.partial(next_question, services=services))
    app.action(re.compile(r"^verdict_(right|wrong)$"))(functools.partial(verdict, services=services))
