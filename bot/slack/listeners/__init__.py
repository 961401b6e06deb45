"""Bolt listeners, one module per kind; `register_listeners` wires them all to an App."""
from slack_bolt import App

from . import actions, commands, events, messages
from bot.slack.services import Services


def register_listeners(app: App, services: Services) -> None:
    commands.register(app, services)
    actions.register(app, services)
    events.register(app, services)
    messages.register(app, services)
