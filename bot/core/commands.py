"""The commands every front end serves: parse the text, ask insights/, render the reply."""
from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import logging
import re
from dataclasses import dataclass
from typing import Callable

from insights.deals import deals_behind
from insights.drivers import drivers
from insights.load import DataError
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

from bot.core.grammar import REFUSED_KINDS, Parsed, Problem, Vocabulary, parse, split_command
from bot.core.intents import Intent, Request, interpret, query_text, sentence_arguments
from bot.core.admin import alerts_command, digest_preview, feedback_report
from bot.core.follows import follow_command, parse_follow
from bot.core.render import SLACK_MARKUP, render
from bot.core.reply import Reply
from bot.core.scope import REP, without_reps
from bot.store import STORE_DOWN

log = logging.getLogger(__name__)

# What each part of the grammar is called when a command ignores it.
FEATURES = ("filters", "by", "period", "vs", "grain", "outcome", "limit")


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
        Command("risk", risk, frozenset({"filters", "by", "period", "limit"})),
        Command("funnel", funnel, frozenset({"filters", "by", "period"})),
        Command("why", explain_change, frozenset({"filters", "period", "vs"})),
        Command("drivers", drivers, frozenset({"filters", "period"})),
        Command("reps", rep_performance, frozenset({"filters", "by", "period", "limit"})),
        Command("deals", deals_behind, frozenset({"filters", "period", "outcome", "limit"})),
        Command("pipeline", open_pipeline, frozenset({"filters", "by"})),
        Command("health", health, frozenset()),
    )
}
ALIASES = {"win": "winrate", "wr": "winrate", "win_rate": "winrate", "trends": "trend", "data": "health",
           "quality": "health", "stages": "funnel", "risks": "risk", "commands": "help", "sales": "help",
           "driver": "drivers", "rep": "reps", "explain": "why", "subscribe": "follow", "follows": "follow",
           "forecast": "pipeline", "bookings": "pipeline"}


def ignored_features(command: Command, query: Query) -> list[str]:
    present = {
        "filters": bool(query.filters),
        "by": bool(query.group_by),
        "period": query.period is not None,
        "vs": query.compare is not None,
        "grain": query.grain is not None,
        "outcome": query.outcome is not None,
        "limit": query.limit is not None,
    }
    return [f for f in FEATURES if present[f] and f not in command.uses]


# Commands about the bot itself rather than the deals: they need the state store, not a Query.
ADMIN_COMMANDS = ("digest", "alerts", "follow", "feedback")
ALL_COMMANDS = tuple(COMMANDS) + ADMIN_COMMANDS


@dataclass(frozen=True)
class Context:
    """Who is asking and what else the answer may use: the state store, the last refresh error."""

    store: object | None = None  # bot.store.Store
    user_id: str | None = None
    channel_id: str | None = None  # where the command was typed (for `/follow ... here`)
    data_error: str | None = None
    now: dt.datetime | None = None
    reps: bool = True  # may see individual reps (REPS_USERS); False: nothing that names a rep is answered
    admin: bool = True  # may mute or remove any alert rule (ADMIN_USERS); False: only rules they added
    restricted: bool = False  # sees less than every deal (a scope): alert rules about others are not shown
    reps_alone: bool = False  # with reps False: the asker may see reps, but not where the answer is read
    reps_here: bool = True  # a post into channel_id may name reps (for `/follow ... here`)
    deals_here: bool = True  # a post into channel_id on their behalf would show deals (SEGMENT_ACCESS)


# -- who may see reps: the one place it is enforced ---------------------------------------------------
def names_reps(command_name: str, query: Query | None) -> bool:
    """Whether answering would name individual reps: /reps itself, or a grouping or filter by rep."""
    if command_name == "reps":
        return True
    return query is not None and (REP in query.group_by or any(d == REP for d, _ in query.filters))


def reps_denied(command_name: str, where: bool = False) -> Reply:
    """The refusal of an answer naming reps: to someone outside REPS_USERS, or (`where`) in a channel
    whose readers may not all see reps."""
    reason = "rep_channel" if where else "managers_only" if command_name == "reps" else "rep_dimension"
    return Reply(command_name, "refused", render("text/denied.j2", reason=reason, command=command_name))


def rep_refusal(command_name: str, args: str, vocab: Vocabulary, context: Context,
                query: Query | None = None) -> Reply | None:
    """The refusal when answering would name reps to someone, or into a channel, that may not see them:
    /reps, a grouping or filter by rep, or a follow of such a question (posted where it was typed
    unless it goes by DM, so judged by that channel's readers)."""
    if command_name == "follow" and args.split():
        question, _, destination = parse_follow(args)
        inner, rest = split_command(question)
        inner = resolve_command(inner) or ""
        if destination != "dm" and not context.deals_here and inner in COMMANDS:
            return Reply(inner, "refused", render("text/denied.j2", reason="channel_scope", command=inner))
        if inner in COMMANDS and names_reps(inner, parse(rest, vocab).query) and \
                not (context.reps and (destination == "dm" or context.reps_here)):
            return reps_denied(inner, where=context.reps)
        return None
    if context.reps or command_name in ADMIN_COMMANDS:
        return None
    if command_name == "reps" or names_reps(command_name, query if query is not None else parse(args, vocab).query):
        return reps_denied(command_name, where=context.reps_alone)
    return None


UMBRELLA = "sales"  # `/sales winrate APAC` runs `/winrate APAC`, in Slack (bot.slack.manifest) and everywhere else


def unwrap_umbrella(text: str) -> str:
    """'/sales winrate APAC' -> '/winrate APAC', as Slack's /sales command runs it; '/sales' alone is help.
    Only with the slash: "sales last quarter" is a question."""
    name, rest = split_command((text or "").strip())
    return "/" + rest.lstrip("/") if name == UMBRELLA and rest else text


def resolve_command(name: str) -> str | None:
    name = name.lower().lstrip("/")
    return name if name in ALL_COMMANDS or name == "help" else ALIASES.get(name)


def reads_as_command(command: str, text: str, vocab: Vocabulary, as_of: dt.date,
                     thread_line: str | None = None) -> bool:
    """Whether `text`, typed without a slash but opening with a command's name or alias, is that command
    ("health", "winrate APAC by region" in the console) rather than a plain question that happens to open
    with such a word ("win rate trend", "bookings last quarter", "pipeline health", "rep 12 win rate").
    Managing commands (alerts, follows, feedback) are commands: they are never done from a sentence. Any
    other is a question whenever the intent layer reads it with confidence (for a command line it reads the
    same as the grammar) or asks back on purpose, and the command only when the intent layer cannot read it
    at all and the grammar reads it all."""
    if command in ("alerts", "follow", "feedback"):
        return True
    try:
        intent = interpret(text, vocab, as_of, thread_line)
    except Exception:  # the intent layer is tested never to raise; the grammar still answers
        log.exception("could not read the question: %r", text[:200])
        intent = None
    if intent is not None and (intent.understood or intent.choices or intent.unsupported or intent.note):
        return False  # read, or asked back on purpose (no deals then, nothing measures it)
    return parse(split_command("/" + text.lstrip("/"))[1], vocab).ok


def read_question(text: str, vocab: Vocabulary, as_of: dt.date,
                  thread_line: str | None = None) -> tuple[Intent | None, Reply | None]:
    """How a plain question reads (the intent layer, with the thread's last command, which a follow-up
    changes), and the reply when it cannot be answered as read: asked back with its likeliest readings,
    or not understood. Never raises."""
    try:
        intent = interpret(text, vocab, as_of, thread_line)
    except Exception:  # the intent layer is tested never to raise; a bug still gets an answer
        log.exception("could not read the question: %r", text[:200])
        intent = None
    if intent is not None and intent.choices:
        choices = labelled(intent.choices, vocab)
        contested = bool(intent.contested)
        return intent, Reply("", "usage", render("text/ask_back.j2", question=text, choices=choices,
                                                 unsupported=intent.unsupported, note=intent.note, contested=contested,
                                                 buttons=False), choices=choices,
                             question=text, unsupported=intent.unsupported, note=intent.note, contested=contested)
    if intent is None or not intent.understood:
        return intent, Reply("", "usage", render("text/not_understood.j2", question=text, typed=None,
                                                 suggestions=[], commands=list(ALL_COMMANDS)), question=text)
    return intent, None


def converse(snapshot: Snapshot, text: str, vocab: Vocabulary | None = None, context: Context | None = None,
             thread_line: str | None = None, repless: tuple[Snapshot, Vocabulary] | None = None) -> Reply:
    """Answer a plain question on one snapshot (a command line typed as a sentence, "/sales why did APAC
    drop", lands here too); `ask()` is the way in for every front end. Never raises."""
    vocab = vocab or Vocabulary.from_snapshot(snapshot)
    intent, unread = read_question(text, vocab, snapshot.as_of, thread_line)
    if unread is not None:
        return unread
    reply = answer(snapshot, intent.line, vocab, context, questions=False, repless=repless, query=intent.request.query,
                   asked=text)
    if reply.kind != "answer":
        return reply
    return dataclasses.replace(reply, reading=reading_of(intent.request, vocab),
                               choices=labelled(intent.alternatives, vocab))


def reading_of(request: Request, vocab: Vocabulary) -> str:
    """A request in a few words ("Trend of win rate · APAC · last quarter"), from the Query the intent
    layer read; a reading named in advance ("/winrate by region") is read here, once."""
    name, args = split_command(request.line)
    command = resolve_command(name) or name
    query = request.query
    if query is None and command in COMMANDS:
        query = parse(args, vocab).query
    return render("text/reading.j2", command=command, q=query if command in COMMANDS else None, args=args).strip()


def labelled(requests: tuple[Request, ...], vocab: Vocabulary) -> tuple[tuple[str, str], ...]:
    """(label, command line) of each reading: the label shown, the line a button carries."""
    return tuple((reading_of(r, vocab), r.line) for r in requests)


def read_as_line(reply: "Reply", buttons: bool = False) -> str:
    """The "Read as" line under an answer to a plain question (empty for a command)."""
    if not reply.reading:
        return ""
    return render("text/read_as.j2", reading=reply.reading, others=reply.choices, buttons=buttons).strip()


# -- the cost budget of one command: what it may ask, refused in words before any work -----------------
MAX_COMMAND_TEXT = 5_000  # characters after the command name
MAX_GROUP_BY = 2  # `by` dimensions at once
MAX_CELLS = 500  # segments a grouping may produce (the product of its dimensions' values)
MAX_REPLY_CHARS = 40_000  # a longer reply is cut, with a note (Slack shows at most 50 blocks anyway)


def over_budget(command_name: str, query: Query, snapshot: Snapshot, vocab: Vocabulary) -> str | None:
    """The refusal text when a parsed command would cost too much, else None."""
    dims = list(query.group_by)
    example = next((vs[0] for _, vs in query.filters), None) or next(
        (v for d in snapshot.dimensions if d != "sales_rep_id" for v in snapshot.values(d)[:1]), "APAC")
    if len(dims) > MAX_GROUP_BY:
        return render("text/limits.j2", reason="too_many_dims", command=command_name, dims=dims, limit=MAX_GROUP_BY,
                      example=example)
    cells = 1
    for d in dims:
        cells *= max(1, len(snapshot.values(d))) if d in snapshot.deals.columns else 1
    if cells > MAX_CELLS:
        return render("text/limits.j2", reason="too_many_cells", command=command_name, dims=dims, cells=cells,
                      limit=MAX_CELLS, example=example)
    return None


def cut_reply(text: str) -> str:
    """A reply within MAX_REPLY_CHARS: whole lines kept, an open code block closed, a note added."""
    if len(text) <= MAX_REPLY_CHARS:
        return text
    kept, size, fences = [], 0, 0
    for line in text.splitlines():
        if size + len(line) + 1 > MAX_REPLY_CHARS - 400:
            break
        kept.append(line)
        size += len(line) + 1
        fences += line.strip().startswith("```")
    if fences % 2:
        kept.append("```")
    return "\n".join(kept + [render("text/limits.j2", reason="reply_cut", length=len(text))])


def answer(snapshot: Snapshot, line: str, vocab: Vocabulary | None = None, context: Context | None = None,
           questions: bool = True, repless: tuple[Snapshot, Vocabulary] | None = None,
           query: Query | None = None, asked: str | None = None) -> Reply:
    """Answer one command line such as '/winrate APAC', or a plain question. Never raises. `repless`:
    the snapshot without reps and its vocabulary, made once with the data (else made here when needed);
    `query`: the line's arguments as the intent layer read them already (else the grammar reads them);
    `asked`: the plain question the line was read from, quoted when a word of it cannot be used."""
    reply = _answer(snapshot, line, vocab, context, questions, repless, query, asked)
    if len(reply.text) > MAX_REPLY_CHARS:
        reply = dataclasses.replace(reply, text=cut_reply(reply.text))
    return reply


def _answer(snapshot: Snapshot, line: str, vocab: Vocabulary | None, context: Context | None,
            questions: bool, repless: tuple[Snapshot, Vocabulary] | None, query: Query | None,
            asked: str | None = None) -> Reply:
    name, args = split_command(line)
    if len(args) > MAX_COMMAND_TEXT:  # before any parsing: 100k characters of anything cost nothing
        command_name = (resolve_command(name) if name else None) or "help"
        return Reply(command_name, "usage", render("text/limits.j2", reason="text_too_long", command=command_name,
                                                   length=len(args), limit=MAX_COMMAND_TEXT))
    command_name = resolve_command(name) if name else None
    if command_name is None and not name and questions and line.strip():
        return converse(snapshot, line, vocab, context, repless=repless)  # a plain question, typed without a slash
    if command_name is None:
        typed = name or (line.split()[0] if line.strip() else "")
        close = difflib.get_close_matches(typed.lower().lstrip("/"), list(ALL_COMMANDS) + ["help"], n=3,
                                        cutoff=0.7)  # close typos only: "foo" is not "follow"
        if questions and not close:  # not a command: maybe a question ("how is APAC doing", "/sales why ...")
            reply = converse(snapshot, line.lstrip("/") if name else line, vocab, context, repless=repless)
            if reply.kind != "usage" or reply.command:
                return reply
        return Reply("", "usage", render("text/unknown_command.j2", typed=typed, suggestions=close,
                                         commands=list(ALL_COMMANDS)))
    vocab = vocab or Vocabulary.from_snapshot(snapshot)
    if command_name == "help":
        topic = resolve_command(args.split()[0]) if args.split() else None
        return Reply("help", "help", help_text(vocab, "text/help.j2", topic=topic, commands=list(ALL_COMMANDS),
                                            missing=vocab.missing, asked=args.strip() if topic is None else ""))
    context = context or Context()
    refusal = rep_refusal(command_name, args, vocab, context, query)
    if refusal is not None:
        return refusal
    if not context.reps:
        # nothing below can group, search or suggest by rep
        if repless is not None:
            snapshot, vocab = repless
        elif REP in snapshot.dimensions:
            snapshot = without_reps(snapshot)
            vocab = Vocabulary.from_snapshot(snapshot)
    if command_name in ADMIN_COMMANDS:
        return _admin(command_name, args, snapshot, vocab, context)
    parsed = Parsed(query) if query is not None else parse(args, vocab)
    junk = junk_words(args) if query is None else ()
    if junk:  # "/winrate ~~~", "/why <!here>": named back, never dropped as a sentence's punctuation
        return _junk_reply(command_name, args, junk, vocab, snapshot)
    if parsed.problems and not any(p.kind in REFUSED_KINDS for p in parsed.problems):
        # a sentence after the command ("/why did APAC drop"): its sentence words go; never a word the
        # grammar recognised and cannot answer ("weekly", "by source" without that column), said instead
        cleaned = sentence_arguments(args, vocab, snapshot.as_of)
        if cleaned != args and parse(cleaned, vocab).ok:
            args, parsed = cleaned, parse(cleaned, vocab)
    if parsed.help:
        return Reply(command_name, "help", help_text(vocab, "text/help.j2", topic=command_name, commands=list(ALL_COMMANDS),
                                                  missing=vocab.missing))
    if parsed.problems:  # with the data's notes: "by source" on data without a lead source says why
        # a plain question is quoted as asked, read as the command with only the words read as arguments
        # (the words it could not use are the bullets); a typed command is quoted as typed
        typed = not asked or split_command("/" + asked.strip().lstrip("/"))[1].strip() == args.strip()
        reading = args if typed else usable_arguments(args, parsed.problems, vocab)
        return Reply(command_name, "usage", with_data_notes(render("text/problems.j2", command=command_name,
                                                                   text=args, problems=parsed.problems,
                                                                   question=asked, reading=reading), snapshot),
                     view=snapshot)  # the data's labels it suggests, shown as written in Slack
    command = COMMANDS[command_name]
    refusal = over_budget(command_name, parsed.query, snapshot, vocab)
    if refusal is not None:
        return Reply(command_name, "usage", refusal)
    try:
        result = command.analysis(snapshot, parsed.query)
        text = render(f"text/{command_name}.j2", r=result, report=snapshot.report,
                      ignored=ignored_features(command, parsed.query))
        text = with_data_notes(text, snapshot)
    except PeriodConflict as conflict:  # a comparison that cannot be tested is refused in words
        return Reply(command_name, "usage", render("text/period_conflict.j2", command=command_name, text=args,
                                                   c=conflict))
    except DataError as exc:  # counted where the data lives: what needs rows, or a query that failed, in words
        return Reply(command_name, "error", str(exc))
    except Exception:  # a bug must reach the log, not the user as a traceback
        log.exception("command failed: /%s %s", command_name, args)
        return Reply(command_name, "error", render("text/internal_error.j2", command=command_name, text=args))
    return Reply(command_name, "answer", text, result, f"/{command_name} {args}".strip(), view=snapshot)



_BY_KINDS = ("unknown_dimension", "absent_dimension", "zeroed_dimension")
# Punctuation a sentence after a command may hold on its own ("/why did APAC drop ?", "/winrate APAC - 2024")
PUNCTUATION = frozenset("?!.,;:-\u2013\u2014&+\u00d7/()\u2026=\"'\u201c\u201d") | {"...", "--", "?!", "!?", "??", "!=", "..", "=="}


def junk_words(args: str) -> tuple[str, ...]:
    """Typed words that are no word at all: symbols only ("~~~", "@@@") or Slack markup ("<!here>",
    "<https://x.y|click>"). A sentence's words are dropped before the grammar reads it; these are named
    back instead, so nothing typed is ignored in silence."""
    return tuple(dict.fromkeys(t for t in args.split() if SLACK_MARKUP.search(t) or "<!" in t or "<@" in t
                               or (not re.search(r"\w", t) and t not in PUNCTUATION)))


def _junk_reply(command_name: str, args: str, junk: tuple[str, ...], vocab: Vocabulary, snapshot: Snapshot) -> Reply:
    """The usage reply for typed junk: each junk word named (inert: no ping, link or styling) and the
    command the rest reads as, to type instead."""
    kept = [t for t in args.split() if t not in junk]
    rest = sentence_arguments(" ".join(kept), vocab, snapshot.as_of) if kept else ""
    parsed = parse(rest, vocab)
    without = f"/{command_name} {query_text(parsed.query) if parsed.ok else ''}".strip() if parsed.ok else ""
    problems = tuple(Problem("unknown_word", w) for w in junk) + (() if parsed.ok else parsed.problems)
    return Reply(command_name, "usage", with_data_notes(render("text/problems.j2", command=command_name, text=args,
                                                               problems=problems, without=without), snapshot),
                 view=snapshot)


def usable_arguments(args: str, problems, vocab: Vocabulary) -> str:
    """The arguments of a plain question's reading with the words the grammar could not use taken out
    (and a `by` left without its dimension), written in the grammar's words: "what is our win rate on
    deals size_band=50k-100k" with size bands withheld reads as "" (all deals). The sentence words the
    grammar skips are never shown. Falls back to the arguments as read when no clean reading parses."""
    tokens = args.split()
    for _ in range(4):  # a removal can leave a new problem ("by" without its dimension): a few rounds
        for problem in problems:
            words = problem.word.casefold().split()
            if not words:
                continue
            n = len(words)
            for i in range(len(tokens) - n + 1):
                window = [t.casefold() for t in tokens[i:i + n]]
                window[0] = window[0].split("=", 1)[0] if n == 1 and "=" in window[0] else window[0]
                if window == words or (n == 1 and window[0].strip(",.?!") == words[0]):
                    start = i - 1 if problem.kind in _BY_KINDS and i and tokens[i - 1].casefold() == "by" else i
                    del tokens[start:i + n]
                    break
        parsed = parse(" ".join(tokens), vocab)
        if parsed.ok:
            return query_text(parsed.query)
        if not parsed.problems:
            break
        problems = parsed.problems
    return args


def with_data_notes(text: str, snapshot: Snapshot) -> str:
    """A reply with the lines about the whole data (columns it lacks, demo data), said once at its end."""
    notes = render("text/data_notes.j2", absent=snapshot.report.absent, demo=snapshot.report.demo)
    return f"{text}\n{notes}" if notes else text


# the values help's examples name, and the dimension each belongs to: on data without that value (a book in
# one region, an export with other product names) an example says what this data has, never what it lacks
_EXAMPLE_VALUES = (("APAC", "region", 0), ("Europe", "region", 1), ("north america", "region", 1),
                   ("Enterprise", "product_type", 0), ("Referral", "lead_source", 0), ("rep_3", "sales_rep_id", 0))
_EXAMPLE_DIMS = (("by region", "region"), ("by product", "product_type"), ("region=", "region"))
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.&-]*")


def help_text(vocab: Vocabulary, template: str, **fields) -> str:
    """Help rendered with examples of this data: an example value the data lacks becomes one it has (the
    most common spelling: `APAC` on a book that is all Europe reads `Europe`), and an example of a dimension
    the data lacks is left out, with the `·` or `,` that joined it."""
    text = render(template, **fields)
    plain = {d: [v for v in values if _PLAIN_VALUE.fullmatch(v)] for d, values in vocab.values.items()}

    def swap(span: str) -> str | None:
        for word, dim in _EXAMPLE_DIMS:
            if word in span and dim not in plain:
                return None
        for word, dim, k in _EXAMPLE_VALUES:
            pattern = re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])", re.IGNORECASE)
            if not pattern.search(span):
                continue
            have = plain.get(dim)
            if not have:
                return None
            if any(v.lower() == word.lower() for v in have):
                continue
            span = pattern.sub(have[min(k, len(have) - 1)], span)
        if "region=" in span:  # `region=APAC,Europe` on a book with one region
            values = span.split("region=", 1)[1].split()[0].split(",")
            if len(set(values)) < len(values):
                return None
        return span

    def line(text_line: str) -> str:
        if "`" not in text_line:
            return text_line
        pieces = re.split(r"(`[^`]*`)", text_line)
        out, seen = [], set()
        for piece in pieces:
            if piece.startswith("`") and piece.endswith("`") and len(piece) > 1:
                new = swap(piece[1:-1])
                if new is not None and new != piece[1:-1] and new.lower() in seen:
                    new = None  # `APAC`, `north america` on a book in Europe alone: one `Europe`
                out.append(None if new is None else f"`{new}`")
                seen.add((new or "").lower())
            else:
                out.append(piece)
        # a dropped example takes one joiner with it (" · " or ", "), and brackets left empty go too
        joined = ""
        for k, piece in enumerate(out):
            if piece is None:
                for joiner in (" · ", ", "):
                    if joined.endswith(joiner):
                        joined = joined[: -len(joiner)]
                        break
                else:
                    if k + 1 < len(out) and out[k + 1] is not None:
                        for joiner in (" · ", ", "):
                            if out[k + 1].startswith(joiner):
                                out[k + 1] = out[k + 1][len(joiner):]
                                break
                continue
            joined += piece
        return joined.replace(" ()", "").replace("Examples: \n", "")

    if not vocab.values:
        return text
    return "\n".join(line(x) for x in text.splitlines())


def _admin(command_name: str, args: str, snapshot: Snapshot, vocab: Vocabulary, context: Context) -> Reply:
    if args.strip().lower() in ("help", "?", "--help"):
        return Reply(command_name, "help", help_text(vocab, "text/help.j2", topic=command_name, commands=list(ALL_COMMANDS),
                                                  missing=vocab.missing))
    now = context.now or dt.datetime.now(dt.timezone.utc)
    try:
        if command_name == "digest":
            return Reply(command_name, "answer", digest_preview(snapshot, context.data_error, reps=context.reps))
        if command_name == "feedback":
            text, ok = feedback_report(context.store, context.admin)
            return Reply(command_name, "answer" if ok else "usage", text)
        if command_name == "follow":
            text, ok = follow_command(args, context.store, vocab, context.user_id, context.channel_id, now,
                                      tuple(COMMANDS), resolve_command)
            return Reply(command_name, "answer" if ok else "usage", text)
        text, ok = alerts_command(args, context.store, vocab, context.user_id, now, admin=context.admin,
                                  visible=vocab if context.restricted or not context.reps else None)
        return Reply(command_name, "answer" if ok else "usage", text)
    except STORE_DOWN:
        log.exception("the state database is not answering: /%s %s", command_name, args)
        return Reply(command_name, "error", render("text/state_unavailable.j2", where="command", command=command_name))
    except Exception:
        log.exception("command failed: /%s %s", command_name, args)
        return Reply(command_name, "error", render("text/internal_error.j2", command=command_name, text=args))
