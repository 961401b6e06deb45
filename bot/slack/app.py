"""The Bolt app: build it, register the listeners. Nothing else lives here."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltResponse
from slack_bolt.logger import get_bolt_logger
from slack_sdk import WebClient

from bot.config import Settings
from bot.core.access import Policy
from bot.core.data import DealData
from bot.slack.listeners import register_listeners
from bot.slack.services import Services
from bot.slack.io import web_client
from bot.slack.replay import Seen


def skip_slack_retries(request, response, next):
    """Slack re-sends a request it thinks went unanswered (X-Slack-Retry-Num); the first one is
    already being answered, so acknowledge the retry and do nothing else."""
    retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
    if str(retry).strip() not in ("", "0"):  # Socket Mode sends "0" for a first delivery
        return BoltResponse(status=200, body="")
    return next()


def skip_repeated_events(seen: Seen):
    """An event whose event_id was handled already (a copy, re-sent or replayed) is acknowledged and dropped."""
    def middleware(body, next):
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if isinstance(event_id, str) and event_id and not seen.first(event_id):
            return BoltResponse(status=200, body="")
        return next()
    return middleware


class _ClientCarriesTheToken(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and then warns that the `client` we
    hand it (the same token, with our retries and base URL) makes that token unused. It is not a
    problem, so the one warning is dropped; every other Bolt message still gets through."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_TOKEN_FILTER = _ClientCarriesTheToken()


def build_app(settings: Settings, data: DealData, client: WebClient | None = None,
              socket_mode: bool = False, services: Services | None = None) -> App:
    client = client or web_client(settings.slack_bot_token, settings.api_url)
    bolt_log = get_bolt_logger(App)
    if _TOKEN_FILTER not in bolt_log.filters:
        bolt_log.addFilter(_TOKEN_FILTER)
    app = App(
        client=client,
        signing_secret=None if socket_mode else settings.slack_signing_secret,
        request_verification_enabled=not socket_mode,  # Socket Mode has no HTTP requests to sign
        process_before_response=False,  # ack first; lazy listeners do the work
        # acks and lazy listeners share this executor; the lazy listeners only queue work on the
        # analysis pool (bot/slack/pool.py), so its threads are never held by an analysis
        listener_executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="bolt"),
    )
    app.use(skip_slack_retries)
    app.use(skip_repeated_events(Seen()))
    register_listeners(app, services or Services(data=data, policy=Policy.from_settings(settings),
                                                 command_prefix=settings.command_prefix))
    return app
