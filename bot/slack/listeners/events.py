"""Events: the App Home tab shows the headline numbers, data freshness and quality, and alert rules."""
from __future__ import annotations

import functools

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.home import home_view
from bot.slack.services import Services


def publish_home(event: dict, client: WebClient, *, services: Services) -> None:
    if event.get("tab", "home") != "home":
        return
    client.views_publish(user_id=event["user"], view=home_view(services, event["user"]))


def register(app: App, services: Services) -> None:
    app.event("app_home_opened")(functools.partial(publish_home, services=services))
