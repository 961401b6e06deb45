"""/follow: any question's answer, posted on a schedule into a channel or a DM.

`/follow <question> [weekly|daily] [here|dm]` adds one (default weekly, here); `/follow list`,
`/follow remove N` and `/follow mute N 7d` manage them, like alert rules. The clock posts each
follow once per period (bot.clock.follows); the follower's row-level access decides what it shows.
"""
from __future__ import annotations

import datetime as dt

from bot.core.admin import parse_duration
from bot.core.grammar import Vocabulary, parse, split_command
from bot.core.render import render

FREQUENCIES = {"weekly": "weekly", "week": "weekly", "daily": "daily", "day": "daily", "everyday": "daily"}
DESTINATIONS = {"here": "here", "channel": "here", "dm": "dm", "me": "dm", "direct": "dm"}


def describe_follow(f, now: dt.datetime) -> dict:
    return {"id": f.id, "question": f.question, "frequency": f.frequency, "to_dm": f.to_dm,
            "destination": f.destination, "muted": f.muted(now),
            "muted_until": f.muted_until.strftime("%Y-%m-%d %H:%M UTC") if f.muted_until else None}


def worded_follows(store, user_id: str | None, now: dt.datetime) -> list[str]:
    """A user's follows in words (for the Home tab)."""
    return [render("text/follow_item.j2", f=describe_follow(f, now)) for f in store.follows(user_id)]


def parse_follow(text: str) -> tuple[str, str, str]:
    """(question, frequency, destination) from '/winrate APAC weekly dm'; the last words may say
    how often and where, in either order."""
    words = text.split()
    frequency, destination = "weekly", "here"
    for _ in range(2):
        if words and words[-1].lower() in FREQUENCIES:
            frequency = FREQUENCIES[words.pop().lower()]
        elif words and words[-1].lower() in DESTINATIONS:
            destination = DESTINATIONS[words.pop().lower()]
    question = " ".join(words).strip()
    if question and not question.startswith("/"):
        question = "/" + question
    return question, frequency, destination


def follow_command(args: str, store, vocab: Vocabulary, user: str | None, channel: str | None,
                   now: dt.datetime, followable: tuple[str, ...], resolve) -> tuple[str, bool]:
    """(reply text, ok). Never raises. `resolve` turns a typed command name into a known one."""
    if store is None:
        return render("text/follow_reply.j2", action="no_store"), False
    words = args.split()
    verb = words[0].lower() if words else "list"
    owner = user or "console"
    if verb in ("list", "ls", "show"):
        items = [describe_follow(f, now) for f in store.follows(owner)]
        return render("text/follow_reply.j2", action="list", follows=items), True
    if verb in ("remove", "delete", "rm", "stop", "unfollow") and len(words) == 2 and words[1].isdigit():
        ok = store.remove_follow(int(words[1]), owner)
        return render("text/follow_reply.j2", action="removed" if ok else "no_follow", follow_id=int(words[1])), ok
    if verb == "mute" and len(words) >= 3 and words[1].isdigit() and parse_duration(" ".join(words[2:])):
        until = now + parse_duration(" ".join(words[2:]))
        ok = store.mute_follow(int(words[1]), until, owner)
        return render("text/follow_reply.j2", action="muted" if ok else "no_follow", follow_id=int(words[1]),
                      until=until.strftime("%Y-%m-%d %H:%M UTC")), ok
    question, frequency, destination = parse_follow(args)
    name, rest = split_command(question) if question else ("", "")
    command = resolve(name) if name else None
    if command not in followable:
        return render("text/follow_reply.j2", action="usage", typed=args, followable=followable), False
    parsed = parse(rest, vocab)
    if parsed.problems or parsed.help:
        return render("text/problems.j2", command=command, text=rest, problems=parsed.problems), False
    question = f"/{command} {rest}".strip()
    where = owner if destination == "dm" or not channel else channel
    follow_id = store.add_follow(question, frequency, where, owner)
    added = next(f for f in store.follows(owner) if f.id == follow_id)
    return render("text/follow_reply.j2", action="added", f=describe_follow(added, now)), True
