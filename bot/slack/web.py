"""HTTP mode: Bolt behind a real WSGI server (waitress), with /slack/events and /healthz."""
from __future__ import annotations

import hmac
import io
import json
import logging
import urllib.parse

import waitress

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from bot.core.data import DealData
from bot.core.render import redact
from bot.slack.replay import Seen

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # 1 MB: Slack's requests are a few kB; anything bigger is refused before it is read
# Slack sends a request and reads the answer within 3 s, so a connection idle for 10 s is nobody we
# serve: it is closed (checked every 2 s) instead of holding one of the server's places for waitress's
# default 120 s. 1,000 places (not 100) so a burst of idle or slow clients cannot take them all before
# the timeout frees them; poll() instead of select() because select() stops at 1,024 descriptors.
CONNECTION_LIMIT = 1000
IDLE_SECONDS = 10


class WebApp:
    """WSGI callable: /healthz answers here; a request to /slack/events is checked cheaply first (its
    size, then its signature, before anything parses it) and only then goes to Bolt's handler."""

    def __init__(self, app: App, data: DealData, signing_secret: str | None = None, max_body: int = MAX_BODY,
                 health_token: str | None = None):
        self.slack = SlackRequestHandler(app, path="/slack/events")
        self.data = data
        self.health_token = health_token
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.max_body = max_body
        self.seen = Seen()  # signatures already handled: a replayed copy is acknowledged, not answered again

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            return self.health(start_response, detailed=self.authenticated(environ))
        if environ.get("REQUEST_METHOD") == "POST" and self.verifier is not None:
            refusal = self.refuse(environ)
            if refusal is not None:
                return self.plain(start_response, *refusal)
            if not self.seen.first(environ.get("HTTP_X_SLACK_SIGNATURE") or ""):
                log.warning("a copy of an already handled request was acknowledged and ignored")
                return self.plain(start_response, "200 OK", "")
            problem = malformed(environ["wsgi.input"].getvalue(), environ.get("CONTENT_TYPE") or "")
            if problem:
                log.warning("a signed request of the wrong shape was refused: %s", problem)
                return self.plain(start_response, "400 Bad Request", "bad request")
        try:
            return self.slack(environ, start_response)
        except Exception:  # a request that got past the signature check and still broke Bolt
            log.exception("request to %s failed", environ.get("PATH_INFO"))
            return self.plain(start_response, "400 Bad Request", "bad request")

    def refuse(self, environ) -> tuple[str, str] | None:
        """(status, body) for a request that must not reach Bolt: too big (413), or not signed by
        Slack (401). The body is read only when its declared size is within the cap, then put back."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return "400 Bad Request", "bad content length"
        if length > self.max_body or length < 0:
            return "413 Payload Too Large", "request body too large"
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
        signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
        try:
            valid = bool(timestamp and signature) and self.verifier.is_valid(body, timestamp, signature)
        except Exception:  # a timestamp that is not a number, a body that is not bytes
            valid = False
        return None if valid else ("401 Unauthorized", "invalid request")

    @staticmethod
    def plain(start_response, status: str, text: str):
        payload = text.encode()
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(payload)))])
        return [payload]

    def authenticated(self, environ) -> bool:
        """The request carries `Authorization: Bearer <HEALTH_TOKEN>` (compared in constant time)."""
        if not self.health_token:
            return False
        given = environ.get("HTTP_AUTHORIZATION") or ""
        return hmac.compare_digest(given.encode(), f"Bearer {self.health_token}".encode())

    def health(self, start_response, detailed: bool = False):
        """ok or not, for anyone (a load balancer's check); what was loaded and the last refresh error
        only for a caller with HEALTH_TOKEN: a data path, a deal count and an upstream error are not
        for whoever finds the URL."""
        loaded = self.data.current
        body = {"ok": loaded is not None}
        if detailed:
            body.update({
                "source": redact(self.data.source),  # a file name, never the server's path or a password
                "as_of": loaded.snapshot.as_of.isoformat() if loaded else None,
                "closed_deals": len(loaded.snapshot.deals) if loaded else 0,
                "loaded_at": loaded.loaded_at.isoformat() if loaded else None,
                "last_refresh_error": redact(self.data.last_error) if self.data.last_error else None,
            })
        status = "200 OK" if loaded is not None else "503 Service Unavailable"
        payload = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


_EVENT_TEXT = ("type", "user", "channel", "text", "ts", "thread_ts", "channel_type", "tab", "subtype", "bot_id")
_ANSWERED_EVENTS = {"message": ("channel", "ts"), "app_mention": ("channel", "ts"), "app_home_opened": ("user",)}


def malformed(body: bytes, content_type: str) -> str | None:
    """Why a signed body is not a request of a shape the listeners read (answered 400, not a traceback
    and a 500), or None. Slack's requests always have these shapes; a body that lacks them was signed
    with the secret by something else, or by a Slack bug."""
    try:
        if content_type.startswith("application/json"):
            payload = json.loads(body or b"null")
        else:
            form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
            if "payload" not in form:  # a slash command: every field is text already
                return None if form.get("command") and form.get("response_url") else "a command without its fields"
            payload = json.loads(form["payload"][0])
    except (ValueError, UnicodeDecodeError):
        return "not JSON or form data"
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return "no type"
    if payload["type"] == "event_callback":
        event = payload.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "an event without an event"
        needed = _ANSWERED_EVENTS.get(event["type"], ())
        if needed and (any(event.get(k) is not None and not isinstance(event[k], str) for k in _EVENT_TEXT)
                       or not all(event.get(k) for k in needed)):
            return f"a {event['type']} event without {' and '.join(needed)} as text"
    if payload["type"] == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not all(
                isinstance(a, dict) and isinstance(a.get("action_id"), str)
                and isinstance(a.get("value", ""), str) for a in actions):
            return "block actions without actions"
        if not isinstance(payload.get("user"), dict) or not isinstance(payload.get("response_url", ""), str):
            return "block actions without a user"
    return None


def serve(web_app: WebApp, port: int, host: str = "0.0.0.0", threads: int = 8,
          connection_limit: int = CONNECTION_LIMIT, idle_seconds: int = IDLE_SECONDS) -> None:
    log.info("listening on http://%s:%s/slack/events", host, port)
    waitress.serve(web_app, host=host, port=port, threads=threads, ident="sales-intelligence",
                   max_request_body_size=web_app.max_body, connection_limit=connection_limit,
                   channel_timeout=idle_seconds, cleanup_interval=2, asyncore_use_poll=True)
