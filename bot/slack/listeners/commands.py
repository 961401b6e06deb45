"""Slash commands: acknowledge at once, answer from a lazy listener through response_url."""
from __future__ import annotations

import functools
import logging

from slack_bolt import App
from slack_sdk import WebClient

from bot.core.ask import ask
from bot.core.access import is_direct
from bot.core.commands import ALL_COMMANDS
from bot.slack.answering import respond_to_command, run_analysis
from bot.slack.io import upload_chart
from bot.slack.manifest import UMBRELLA, command_name, unprefixed
from bot.slack.services import Services

log = logging.getLogger(__name__)


def command_line(slash: str, text: str, prefix: str = "") -> str:
    """The line the shared grammar reads: '/winrate APAC' (from /winrate or /<prefix>winrate), or for
    the umbrella '/<first word> rest'."""
    name, text = unprefixed(slash, prefix), (text or "").strip()
    if name == UMBRELLA:
        return "/" + (text or "help")
    return f"/{name} {text}".strip()


def acknowledge(ack) -> None:
    ack()  # nothing else before the 3-second deadline: the answer follows through response_url


def answer_command(command: dict, client: WebClient, *, services: Services) -> None:
    """Queue the answer on the analysis pool and return: Bolt's threads stay free for acks. The reply
    is ephemeral, so it shows what the asker may see; in a direct message the chart follows at once,
    in a channel it waits for "Share"."""
    line = command_line(command.get("command", ""), command.get("text", ""), services.command_prefix)
    channel_id, user_id = command.get("channel_id"), command.get("user_id")
    url = command["response_url"]

    def work(claim):
        reply = ask(services.data, services.policy.asker(user_id, channel_id), line, store=services.store)
        if not claim():  # the timeout answered already
            return
        respond_to_command(url, reply, line)
        if services.charts and is_direct(channel_id):
            chart = reply.chart()
            if chart is not None:
                upload_chart(client, channel_id, chart)

    run_analysis(services, url, work)


def register(app: App, services: Services) -> None:
    names = {command_name(n, p) for n in list(ALL_COMMANDS) + [UMBRELLA] for p in {"", services.command_prefix}}
    lazy = functools.partial(answer_command, services=services)
    for name in sorted(names):
        app.command(f"/{name}")(ack=acknowledge, lazy=[lazy])
