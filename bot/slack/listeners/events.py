"""Events: the App Home tab shows the headline numbers, data freshness and quality, and alert rules."""
from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.home import home_view
from bot.slack.services import Services

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.event("app_home_opened")
    def publish_home(event: dict, client: WebClient):
        if event.get("tab", "home") != "home":
            return
        client.views_publish(user_id=event["user"], view=home_view(services, event["user"]))
