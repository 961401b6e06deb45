"""HTTP mode: Bolt behind a real WSGI server (waitress), with /slack/events and /healthz."""
from __future__ import annotations

import json
import logging

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.core.data import DealData

log = logging.getLogger(__name__)


class WebApp:
    """WSGI callable: /healthz answers here, everything else goes to Bolt's handler."""

    def __init__(self, app: App, data: DealData):
        self.slack = SlackRequestHandler(app, path="/slack/events")
        self.data = data

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            return self.health(start_response)
        return self.slack(environ, start_response)

    def health(self, start_response):
        loaded = self.data.current
        body = {
            "ok": loaded is not None,
            "source": self.data.source,  # named without passwords or tokens
            "as_of": loaded.snapshot.as_of.isoformat() if loaded else None,
            "closed_deals": len(loaded.snapshot.deals) if loaded else 0,
            "loaded_at": loaded.loaded_at.isoformat() if loaded else None,
            "last_refresh_error": self.data.last_error,
        }
        status = "200 OK" if loaded is not None else "503 Service Unavailable"
        payload = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


def serve(web_app: WebApp, port: int, host: str = "0.0.0.0", threads: int = 8) -> None:
    import waitress

    log.info("listening on http://%s:%s/slack/events", host, port)
    waitress.serve(web_app, host=host, port=port, threads=threads, ident="sales-intelligence")
