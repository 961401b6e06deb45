"""One way to answer a question: `ask(data, asker, text, thread)` for every front end.

Slack (slash commands, messages, mentions, the assistant pane, buttons, Share), the clock's follows,
`python -m bot ask` and the console all call it. The text is read once: a command line goes to the
grammar, a plain question through the intent layer (with the thread's last command for a follow-up)
on the whole data's vocabulary, so a segment the asker may not see is refused by name rather than
taken for a typo. The asker's scope and the rep rule are applied once, by choosing the view of the
data that answers; the Reply keeps that view, so its chart and its table show no more than its text.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from insights.counting import NeedsRows

from bot.core.access import Asker
from bot.core.commands import (COMMANDS, Context, answer, labelled, read_question, reading_of, reads_as_command,
                               resolve_command, unwrap_umbrella)
from bot.core.data import DealData, Loaded
from bot.core.grammar import split_command
from bot.core.render import render, values_shown
from bot.core.reply import Reply
from bot.core.scope import SCOPE_NOT_APPLIED, outside_scope

log = logging.getLogger(__name__)


def ask(data: DealData, asker: Asker, text: str, thread: str | None = None, *, store=None,
        now: dt.datetime | None = None) -> Reply:
    """The answer to `text` as `asker` may see it where it will be read. `thread`: the thread's last
    command, which a follow-up changes; `store`: the state store the admin commands use. Never raises."""
    with values_shown() as shown:  # the deal ids its text prints, for Slack to show as written
        reply = _ask(data, asker, text, thread, store=store, now=now)
    return dataclasses.replace(reply, shown=tuple(dict.fromkeys(shown))) if shown else reply


def _ask(data: DealData, asker: Asker, text: str, thread: str | None = None, *, store=None,
         now: dt.datetime | None = None) -> Reply:
    text = unwrap_umbrella((text or "").strip())
    typed = text if text.startswith("/") else "/" + text
    name = split_command(typed)[0] or ""
    command = resolve_command(name) if text.startswith("/") or resolve_command(name) else None
    if not asker.allowed:
        return refused(asker.refusal, command or "")
    full = data.current
    if full is None:
        return Reply(command or "", "error", render("text/data_error.j2", message=data.last_error or
                                                    "the deal data has not loaded", last_good=None))
    if asker.scope.empty and command != "help":
        return refused("channel_scope" if asker.for_channel else "no_segments", command or "")
    try:
        view = data.view(asker.scope)
        repless = data.view(asker.scope, reps=False) if not asker.reps else None
    except NeedsRows as exc:  # a scope the source cannot apply where the data lives: said, never answered wider
        return Reply(command or "", "error", str(exc))
    if view is None or (not asker.reps and repless is None):
        return Reply(command or "", "error", SCOPE_NOT_APPLIED)
    context = Context(store=store, user_id=asker.user, channel_id=asker.channel, data_error=data.last_error,
                      now=now, reps=asker.reps, admin=asker.admin, restricted=not asker.scope.unrestricted,
                      reps_alone=asker.reps_alone, reps_here=asker.reps_here, deals_here=asker.deals_here)
    if command is not None and not text.startswith("/") and not reads_as_command(command, text, full.vocab,
                                                                                 full.snapshot.as_of, thread):
        command = None  # a question that opens with a command's word: read as a question
    if command is not None:  # a command, with or without its slash: read by the grammar
        line, query, reading, choices = typed, None, "", ()
    else:  # a plain question: read once by the intent layer, on the whole data's words
        intent, unread = read_question(text, full.vocab, full.snapshot.as_of, thread)
        if unread is not None:  # asked back, or not read: its words may name labels, shown as written in Slack
            return dataclasses.replace(unread, view=view.snapshot)
        line, query = intent.line, intent.request.query
        reading, choices = reading_of(intent.request, full.vocab), labelled(intent.alternatives, full.vocab)
    if not asker.scope.unrestricted:
        hidden = outside_scope(line, full.vocab, view.vocab)
        if hidden:  # a segment they may not see: say so, rather than answer for what is left
            return refused("outside_scope", resolve_command(split_command(line)[0] or "") or "", values=hidden,
                           scope=asker.scope.describe(), channel=asker.for_channel)
    reply = answer(view.snapshot, line, view.vocab, context, questions=command is not None,
                   repless=(repless.snapshot, repless.vocab) if repless is not None else None, query=query,
                   asked=None if text.startswith("/") else text)
    if reply.view is None:  # /feedback, /alerts, /follow: their lists name labels, shown as written in Slack
        reply = dataclasses.replace(reply, view=view.snapshot)
    if command is None:
        reply = dataclasses.replace(reply, question=text, **({"reading": reading, "choices": choices}
                                                             if reply.kind == "answer" else {}))
    return with_notes(reply, asker, data, view)


def refused(reason: str, command: str, **extra) -> Reply:
    return Reply(command, "refused", render("text/denied.j2", reason=reason, command=command, **extra))


def with_notes(reply: Reply, asker: Asker, data: DealData, view: Loaded) -> Reply:
    """The notes every answer carries: the asker's access when it is limited, and the last good data's
    age when the latest refresh failed."""
    text = reply.text
    if not asker.scope.unrestricted and reply.result is not None:
        text = with_note_before_footer(text, render("text/scope_note.j2", scope=asker.scope.describe(),
                                                    channel=asker.for_channel))
    if data.last_error:  # answering from the last good data: say so
        text += "\n" + render("text/stale_note.j2", error=data.last_error, loaded_at=view.loaded_at)
    return reply if text == reply.text else dataclasses.replace(reply, text=text)


def with_note_before_footer(text: str, note: str) -> str:
    """Add a line above the reply's "data as of" footer (so the footer stays last), or at the end."""
    lines = text.rstrip().splitlines()
    if lines and lines[-1].startswith("_") and "data as of" in lines[-1]:
        return "\n".join(lines[:-1] + [note, lines[-1]])
    return "\n".join(lines + [note])


def warm_up(loaded: Loaded) -> None:
    """Answer every command once before the snapshot goes live, so no user waits for cached arrays
    to be built or templates to be compiled."""
    for name in COMMANDS:
        reply = answer(loaded.snapshot, f"/{name}", loaded.vocab)
        if name == "trend":
            reply.chart()  # the first chart pays for matplotlib's start-up, not a user
