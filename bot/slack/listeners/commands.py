"""Slash commands: acknowledge at once, answer from a lazy listener through response_url."""
from __future__ import annotations

import dataclasses
import logging

from slack_bolt import App
from slack_sdk import WebClient

from insights.load import DataError

from bot.slack.blocks import escape, fallback_text, reply_blocks
from bot.core.commands import ALL_COMMANDS, Context, answer, resolve_command
from bot.core.render import render
from bot.core.scope import outside_scope
from bot.core.charts import chart_or_none
from bot.slack.io import send_response, upload_chart
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


def with_note_before_footer(text: str, note: str) -> str:
    """Add a line above the reply's "data as of" footer (so the footer stays last), or at the end."""
    lines = text.rstrip().splitlines()
    if lines and lines[-1].startswith("_") and "data as of" in lines[-1]:
        return "\n".join(lines[:-1] + [note, lines[-1]])
    return "\n".join(lines + [note])


def reply_message(services: Services, line: str, user_id: str | None, channel_id: str | None):
    """(message dict for response_url, Reply or None). Never raises."""
    name = resolve_command(line.split()[0]) or ""
    denial = services.access.denial(name, user_id, channel_id)
    scope = services.scope_for(user_id) if not denial else None
    if scope is not None and scope.empty and name != "help":
        denial = "no_segments"
    if denial:
        text = render("text/denied.j2", reason=denial, command=name)
        return {"response_type": "ephemeral", "text": escape(text), "blocks": reply_blocks(text, line, share=False)}, None
    try:
        if services.data.current is None:
            raise DataError(services.data.last_error or "the deal data has not loaded")
        loaded = services.data.scoped(scope)
        hidden = [] if scope.unrestricted else outside_scope(line, services.data.current.vocab, loaded.vocab)
        if hidden:  # a segment they may not see: say so, rather than answer for what is left
            text = render("text/denied.j2", reason="outside_scope", command=name, values=hidden,
                          scope=scope.describe())
            return {"response_type": "ephemeral", "text": text, "blocks": reply_blocks(text, line, share=False)}, None
        context = Context(store=services.store, user_id=user_id, channel_id=channel_id,
                          data_error=services.data.last_error, reps=services.access.may_see_reps(user_id),
                          admin=services.access.is_admin(user_id))
        reply = answer(loaded.snapshot, line, loaded.vocab, context)
        text = reply.text
        if not scope.unrestricted and reply.result is not None:
            text = with_note_before_footer(text, render("text/scope_note.j2", scope=scope.describe()))
        if services.data.last_error:  # answering from the last good data: say so
            text += "\n" + render("text/stale_note.j2", error=services.data.last_error,
                                  loaded_at=loaded.loaded_at)
    except DataError as exc:
        text = render("text/data_error.j2", message=str(exc), last_good=None)
        return {"response_type": "ephemeral", "text": escape(text), "blocks": reply_blocks(text, line, share=False)}, None
    share = reply.kind == "answer" and reply.command not in ("alerts", "digest", "follow")
    # the Reply carries the text as sent (with the stale-data and access notes), so "Share" repeats it
    return {"response_type": "ephemeral", "text": fallback_text(text),
            "blocks": reply_blocks(text, line, share=share)}, dataclasses.replace(reply, text=text)


def limit_message(reason: str, **extra) -> dict:
    text = render("text/limits.j2", reason=reason, **extra)
    return {"response_type": "ephemeral", "replace_original": False, "text": escape(text),
            "blocks": reply_blocks(text, "", share=False)}


def run_analysis(services: Services, response_url: str, work) -> None:
    """`work(claim)` on the analysis pool, with the timeout and busy answers sent to `response_url`."""
    pool = services.analyses
    pool.submit(work, on_timeout=lambda: send_response(response_url, limit_message("timeout", seconds=pool.timeout)),
                on_busy=lambda: send_response(response_url, limit_message("busy")))


def register(app: App, services: Services) -> None:
    def acknowledge(ack):
        ack()  # nothing else before the 3-second deadline: the answer follows through response_url

    def answer_command(command: dict, client: WebClient):
        """Queue the answer on the analysis pool and return: Bolt's threads stay free for acks."""
        line = command_line(command.get("command", ""), command.get("text", ""), services.command_prefix)
        channel_id, user_id = command.get("channel_id"), command.get("user_id")
        url = command["response_url"]

        def work(claim):
            message, reply = reply_message(services, line, user_id, channel_id)
            if not claim():  # the timeout answered already
                return
            send_response(url, message)
            # In a direct message the chart can go straight in; in a channel it waits for "Share".
            if reply is not None and services.charts and (channel_id or "").startswith("D"):
                chart = chart_or_none(reply.result)
                if chart is not None:
                    upload_chart(client, channel_id, chart)

        run_analysis(services, url, work)

    names = {command_name(n, p) for n in list(ALL_COMMANDS) + [UMBRELLA] for p in {"", services.command_prefix}}
    for name in sorted(names):
        app.command(f"/{name}")(ack=acknowledge, lazy=[answer_command])
