"""The App Home view: built from the same analyses and templates as the commands."""
from __future__ import annotations

from insights.query import Query
from insights.trend import trend

from .blocks import json_lines, split_reply
from .listeners.services import Services
from .render import environment, mrkdwn_escape, render

MAX_HOME_BLOCKS = 100


def home_view(services: Services) -> dict:
    loaded = services.data.current
    headline = trend(loaded.snapshot, Query()) if loaded else None
    text = render("text/home.j2", loaded=loaded, t=headline, report=loaded.snapshot.report if loaded else None,
                  data_error=services.data.last_error, rules=services.rules())
    sections, footer = split_reply(mrkdwn_escape(text))
    blocks = json_lines(environment().get_template("blocks/reply.json.j2").render(
        sections=sections[: MAX_HOME_BLOCKS - 2], cut_lines=0, footer=footer, image=None, share=False,
        shared_by=None, command_line=""))
    return {"type": "home", "blocks": blocks}
