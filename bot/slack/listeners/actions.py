"""Buttons: "Share in channel" posts the same answer (and its chart) where everyone can see it."""
from __future__ import annotations

import datetime as dt
import logging
import threading

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import escape, fallback_text, reply_blocks
from bot.core.render import render
from bot.core.charts import chart_or_none
from bot.slack.io import send_response, upload_chart
from bot.slack.listeners.commands import reply_message, run_analysis
from bot.slack.services import Services

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    register_alert_buttons(app, services)

    @app.action("share_reply")
    def share_reply(ack, body: dict, client: WebClient):
        ack()
        run_analysis(services, body["response_url"], lambda claim: share(body, client, claim))

    def share(body: dict, client: WebClient, claim):
        line = body["actions"][0].get("value", "")
        user_id = body.get("user", {}).get("id")
        channel_id = (body.get("channel") or body.get("container") or {}).get("id") or \
            body.get("container", {}).get("channel_id")
        message, reply = reply_message(services, line, user_id, channel_id)
        if not claim():
            return
        if reply is None or reply.kind != "answer":
            send_response(body["response_url"], message)
            return
        shared = {"response_type": "in_channel", "replace_original": False, "text": fallback_text(reply.text),
                  "blocks": reply_blocks(reply.text, line, share=False, shared_by=user_id)}
        if not send_response(body["response_url"], shared):
            return
        chart = chart_or_none(reply.result) if services.charts else None
        if chart is not None and channel_id:
            upload = upload_chart(client, channel_id, chart)
            if not upload.ok:
                text = render("text/chart_failed.j2", error=upload.error)
                send_response(body["response_url"], {"response_type": "ephemeral", "replace_original": False,
                                                     "text": escape(text)})


def register_alert_buttons(app: App, services: Services) -> None:
    """Acknowledge and Snooze on an alert: record it, then show who did what on the message itself."""

    lock = threading.Lock()  # two clicks at once: the second update must include the first's note
    notes: dict[str, dict[str, str]] = {}  # fingerprint -> {"ack": note, "snooze": note}

    def handle(body: dict, client: WebClient, action: str):
        with lock:
            _handle(body, client, action)

    def _handle(body: dict, client: WebClient, action: str):
        fingerprint = body["actions"][0].get("value", "")
        user_id = body.get("user", {}).get("id", "")
        if services.store is None:
            return
        # the allow-lists apply to buttons as to commands: anyone allowed may acknowledge; snoozing
        # silences the alert for everyone, so it takes an admin (ADMIN_USERS; everyone allowed when empty)
        if not services.access.allowed_user(user_id):
            return deny(body, "user")
        if action == "snooze" and not services.access.is_admin(user_id):
            return deny(body, "admins_only")
        now = dt.datetime.now(dt.timezone.utc)
        if action == "ack":
            row = services.store.acknowledge(fingerprint, user_id)
            note = render("text/alert_handled.j2", action="ack", user=user_id)
        else:
            row = services.store.snooze(fingerprint, now + services.snooze)
            note = render("text/alert_handled.j2", action="snooze", user=user_id,
                          until=(now + services.snooze).strftime("%Y-%m-%d"))
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

    @app.action("alert_ack")
    def acknowledge(ack, body: dict, client: WebClient):
        ack()
        handle(body, client, "ack")

    @app.action("alert_snooze")
    def snooze(ack, body: dict, client: WebClient):
        ack()
        handle(body, client, "snooze")
