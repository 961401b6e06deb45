"""The commands every front end serves: parse the text, ask insights/, render the reply."""
from __future__ import annotations

import datetime as dt
import difflib
import logging
from dataclasses import dataclass
from typing import Callable

from insights.deals import deals_behind
from insights.drivers import drivers
from insights.funnel import funnel
from insights.health import health
from insights.periods import PeriodConflict
from insights.pipeline import open_pipeline
from insights.query import Query
from insights.results import Result
from insights.reps import rep_performance
from insights.risk import risk
from insights.snapshot import Snapshot
from insights.trend import trend
from insights.why import explain_change
from insights.winrate import win_rate

from bot.core.grammar import Vocabulary, parse, split_command
from bot.core.intents import interpret, sentence_arguments
from bot.core.render import render

log = logging.getLogger(__name__)

# What each part of the grammar is called when a command ignores it.
FEATURES = ("filters", "by", "period", "vs", "grain", "outcome")


@dataclass(frozen=True)
class Command:
    name: str
    analysis: Callable[[Snapshot, Query], Result]
    uses: frozenset[str]


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("winrate", win_rate, frozenset({"filters", "by", "period", "vs"})),
        Command("trend", trend, frozenset({"filters", "period", "grain"})),
        Command("risk", risk, frozenset({"filters", "by", "period"})),
        Command("funnel", funnel, frozenset({"filters", "by", "period"})),
        Command("why", explain_change, frozenset({"filters", "period", "vs"})),
        Command("drivers", drivers, frozenset({"filters", "period"})),
        Command("reps", rep_performance, frozenset({"filters", "by", "period"})),
        Command("deals", deals_behind, frozenset({"filters", "period", "outcome"})),
        Command("pipeline", open_pipeline, frozenset({"filters", "by"})),
        Command("health", health, frozenset()),
    )
}
ALIASES = {"win": "winrate", "wr": "winrate", "win_rate": "winrate", "trends": "trend", "data": "health",
           "quality": "health", "stages": "funnel", "risks": "risk", "commands": "help", "sales": "help",
           "driver": "drivers", "rep": "reps", "explain": "why", "subscribe": "follow", "follows": "follow",
           "forecast": "pipeline", "bookings": "pipeline"}


@dataclass(frozen=True)
class Reply:
    """What a front end shows. kind: answer, help, usage (the text could not be used) or error."""

    command: str
    kind: str
    text: str
    result: Result | None = None
    line: str = ""  # the command line answered ("/why region=APAC last quarter"), for follow-ups

    @property
    def ok(self) -> bool:
        return self.kind in ("answer", "help")


def ignored_features(command: Command, query: Query) -> list[str]:
    present = {
        "filters": bool(query.filters),
        "by": bool(query.group_by),
        "period": query.period is not None,
        "vs": query.compare is not None,
        "grain": query.grain is not None,
        "outcome": query.outcome is not None,
    }
    return [f for f in FEATURES if present[f] and f not in command.uses]


# Commands about the bot itself rather than the deals: they need the state store, not a Query.
ADMIN_COMMANDS = ("digest", "alerts", "follow")
ALL_COMMANDS = tuple(COMMANDS) + ADMIN_COMMANDS


@dataclass(frozen=True)
class Context:
    """Who is asking and what else the answer may use: the state store, the last refresh error."""

    store: object | None = None  # bot.store.Store
    user_id: str | None = None
    channel_id: str | None = None  # where the command was typed (for `/follow ... here`)
    data_error: str | None = None
    now: dt.datetime | None = None


def resolve_command(name: str) -> str | None:
    name = name.lower().lstrip("/")
    return name if name in ALL_COMMANDS or name == "help" else ALIASES.get(name)


def converse(snapshot: Snapshot, text: str, vocab: Vocabulary | None = None, context: Context | None = None,
             thread_line: str | None = None) -> Reply:
    """Answer a plain question or a command line; `thread_line` is the thread's last command, which a
    follow-up ("what about Europe?") changes. Never raises."""
    vocab = vocab or Vocabulary.from_snapshot(snapshot)
    try:
        intent = interpret(text, vocab, snapshot.as_of, thread_line)
    except Exception:  # the intent layer is tested never to raise; a bug still gets an answer
        log.exception("could not read the question: %r", text[:200])
        intent = None
    if intent is None or not intent.understood:
        return Reply("", "usage", render("text/not_understood.j2", question=text, typed=None, suggestions=[],
                                         commands=list(ALL_COMMANDS)))
    return answer(snapshot, intent.line, vocab, context, questions=False)


def answer(snapshot: Snapshot, line: str, vocab: Vocabulary | None = None, context: Context | None = None,
           questions: bool = True) -> Reply:
    """Answer one command line such as '/winrate APAC', or a plain question. Never raises."""
    name, args = split_command(line)
    command_name = resolve_command(name) if name else None
    if command_name is None and not name and questions and line.strip():
        return converse(snapshot, line, vocab, context)  # a plain question, typed without a slash
    if command_name is None:
        typed = name or (line.split()[0] if line.strip() else "")
        close = difflib.get_close_matches(typed.lower().lstrip("/"), list(ALL_COMMANDS) + ["help"], n=3,
                                        cutoff=0.7)  # close typos only: "foo" is not "follow"
        if questions and not close:  # not a command: maybe a question ("how is APAC doing", "/sales why ...")
            reply = converse(snapshot, line.lstrip("/") if name else line, vocab, context)
            if reply.kind != "usage" or reply.command:
                return reply
        return Reply("", "usage", render("text/unknown_command.j2", typed=typed, suggestions=close,
                                         commands=list(ALL_COMMANDS)))
    if command_name == "help":
        topic = resolve_command(args.split()[0]) if args.split() else None
        return Reply("help", "help", render("text/help.j2", topic=topic, commands=list(ALL_COMMANDS)))
    vocab = vocab or Vocabulary.from_snapshot(snapshot)
    if command_name in ADMIN_COMMANDS:
        return _admin(command_name, args, snapshot, vocab, context or Context())
    parsed = parse(args, vocab)
    if parsed.problems:  # a sentence after the command ("/why did APAC drop"): its sentence words go
        cleaned = sentence_arguments(args, vocab, snapshot.as_of)
        if cleaned != args and parse(cleaned, vocab).ok:
            args, parsed = cleaned, parse(cleaned, vocab)
    if parsed.help:
        return Reply(command_name, "help", render("text/help.j2", topic=command_name, commands=list(ALL_COMMANDS)))
    if parsed.problems:
        return Reply(command_name, "usage", render("text/problems.j2", command=command_name, text=args,
                                                   problems=parsed.problems))
    command = COMMANDS[command_name]
    try:
        result = command.analysis(snapshot, parsed.query)
        text = render(f"text/{command_name}.j2", r=result, report=snapshot.report,
                      ignored=ignored_features(command, parsed.query))
    except PeriodConflict as conflict:  # a comparison that cannot be tested is refused in words
        return Reply(command_name, "usage", render("text/period_conflict.j2", command=command_name, text=args,
                                                   c=conflict))
    except Exception:  # a bug must reach the log, not the user as a traceback
        log.exception("command failed: /%s %s", command_name, args)
        return Reply(command_name, "error", render("text/internal_error.j2", command=command_name, text=args))
    return Reply(command_name, "answer", text, result, f"/{command_name} {args}".strip())



def _admin(command_name: str, args: str, snapshot: Snapshot, vocab: Vocabulary, context: Context) -> Reply:
    from bot.core.admin import alerts_command, digest_preview
    from bot.core.follows import follow_command

    if args.strip().lower() in ("help", "?", "--help"):
        return Reply(command_name, "help", render("text/help.j2", topic=command_name, commands=list(ALL_COMMANDS)))
    now = context.now or dt.datetime.now(dt.timezone.utc)
    try:
        if command_name == "digest":
            return Reply(command_name, "answer", digest_preview(snapshot, context.data_error))
        if command_name == "follow":
            text, ok = follow_command(args, context.store, vocab, context.user_id, context.channel_id, now,
                                      tuple(COMMANDS), resolve_command)
            return Reply(command_name, "answer" if ok else "usage", text)
        text, ok = alerts_command(args, context.store, vocab, context.user_id, now)
        return Reply(command_name, "answer" if ok else "usage", text)
    except Exception:
        log.exception("command failed: /%s %s", command_name, args)
        return Reply(command_name, "error", render("text/internal_error.j2", command=command_name, text=args))
