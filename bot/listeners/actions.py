"""Buttons: "Share in channel" posts the same answer (and its chart) where everyone can see it."""
from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient

from ..blocks import fallback_text, reply_blocks
from ..render import render
from ..slack_io import chart_or_none, send_response, upload_chart
from .commands import reply_message
from .services import Services

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.action("share_reply")
    def share_reply(ack, body: dict, client: WebClient):
        ack()
        line = body["actions"][0].get("value", "")
        user_id = body.get("user", {}).get("id")
        channel_id = (body.get("channel") or body.get("container") or {}).get("id") or \
            body.get("container", {}).get("channel_id")
        message, reply = reply_message(services, line, user_id, channel_id)
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
                                                     "text": text})
