"""Plain questions to commands: a deterministic intent layer on top of the one grammar.

"why did our win rate drop in APAC last quarter?" becomes `/why APAC last quarter`; "what about
Europe?" in the same thread becomes the thread's last command with Europe for APAC. No model and no
network: ordered keyword rules pick the command, a few sales phrasings are rewritten into the
grammar's words (EMEA, last Q, H1, this FY, Q2 without a year), and everything else is left to the
grammar, which matches segment values forgivingly and names the closest ones when it cannot.
Words that only make the question a sentence ("did", "our", "drop") are dropped; a word that looks
like a segment the data does not have is kept, so the reply can say so and suggest the closest.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from insights.query import Query

from bot.core.grammar import NEAREST_VALUES, Vocabulary, norm, parse, split_command

# Ordered: the first rule whose pattern matches the question picks the command.
RULES: tuple[tuple[str, str], ...] = (
    ("help", r"^(help|hi|hello|hey|thanks|thank you)\b|what can you (do|answer|tell)|how do i use|^commands?$"),
    ("pipeline", r"\bforecast\w*\b|\bwill (we )?(close|win|book|land)\b|\bwhat (will|would) (we )?book\b|\bbookings?\b"
                 r"|\bdeals? (are |is )?(at risk|slipping|likely to (close|win))\b|\bslipping deals?\b"
                 r"|\bmake (the|our) (quarter|number)\b|\bwin probabilit\w*\b|^(?!.*\brisk).*\bpipeline\b"),
    ("funnel", r"\bfunnel\b|\bstages?\b|\bstall\w*\b|\bdrop[- ]?offs?\b|\bstuck\b|\bcycle[- ](gap|time|length)s?\b"
               r"|\bwhere do (deals|we) (stop|stall|die)\b"),
    ("deals", r"\b(which|what|list|show( me)?|see|open up|drill( down)?( into)?)\b(\s+\w+){0,4}\s+deals\b"
              r"|\bdeals behind\b|\bdeal list\b|^deals\b|\b(the|won|lost|open) deals\b"),
    ("why", r"\bwhy\b|\bwhat (happened|caused|changed|explains|is behind|went wrong)\b|\bexplain\b|\breasons?\b"
            r"|\bcauses?\b|\bbehind the (drop|change|decline|rise)\b"),
    ("health", r"\bdata (quality|health)\b|\bhow (fresh|old|recent) is the data\b|\bset aside\b|\bbad rows\b"
               r"|\bwhen was the data\b|^health\b"),
    ("digest", r"\bdigest\b|\bweekly (summary|report)\b|\b(give me|send me) a summary\b"),
    ("drivers", r"\bdrives?\b|\bdrivers?\b|\bfactors?\b|\bwhat (makes|helps) (us )?win\b|\bpredicts?\b"
                r"|\bcorrelat\w*\b|\bwhat matters\b"),
    ("risk", r"\brisks?\b|\brisky\b|\bat stake\b|\blos(e|ing) (the )?most\b|\bwhere (are|do) we lose\b"
             r"|\bbiggest (problems?|loss(es)?|leaks?)\b|\bimpact\b"),
    ("reps", r"\breps?\b|\bsales ?(people|persons?|reps?)\b|\bsellers?\b|\bwho (needs|should|is|are)\b"
             r"|\bweakest\b|\bworst (performers?|sellers?)\b|\bcoach\w*\b|\bowners?\b|\bperformers?\b"
             r"|\bunderperform\w*\b"),
    ("trend", r"\b(real|noise|noisy|significant|random|luck|trend\w*|over time|each (quarter|month)"
              r"|quarter (by|over) quarter|month (by|over) month|by (month|quarter)|monthly|quarterly|history)\b"
              r"|\bhow (is|are|was|were)\b.*\bdoing\b|\bhow('s| is| are) (it|things|we) going\b"),
    ("winrate", r"\bwin ?rates?\b|\bwinrate\b|\bconversion\b|\bclose rate\b|\bhow (many|much) (did )?we win\b"
                r"|\bcompare\b|\bversus\b|\bvs\b|\bhit rate\b"),
)
# A plain question naming reps but asking for a rate by them is still /winrate ("win rate by rep").
WINRATE_BY = re.compile(r"\bwin ?rates?\b.*\bby\b|\bwinrate\b.*\bby\b")
FOLLOW_UP_START = re.compile(r"^(and|what about|how about|what of|same for|now|ok|okay|then|also)\b[\s,]*")
EVERYTHING = re.compile(r"\b(overall|all deals|everything|whole team|the team|everyone|all regions)\b")
# Words that only make a question a sentence. Unknown to the grammar, they are dropped quietly.
SENTENCE_WORDS = frozenset("""
why did does do done our we us the a an drop dropped drops dropping fall fell falling fallen decline declined
declining go gone went going down up change changed changes changing happen happened happening is are was were
be been being how doing who whom which what whats what's when where weakest worst best strongest top bottom
segments segment biggest big largest smallest risk risks risky drives drive driving driver drivers wins
winning won't real noise noisy or trend trending explain explains explanation show me list deals deal from that
this these those there any can could would should will you your please tell give i my it its it's has have had
so very really much many more less than then same too also just lately recently now currently overall total
team performance performing perform lose losing loss losses happening get got make makes made rate rates win
win-rate winrate conversion close closing closed factors factor matters matter need needs needed attention
help helps look looking see seeing compare compared comparison versus and what's up down hurt hurting slip
slipping slipped worse better improve improved improving stuck stall stalled stalling funnel stage stages
reps rep sales salespeople people sellers seller owners owner coach coaching performers performer behind
most key main top problems problem impact impacts pipeline over under into drill die dies dying getting get
gap gaps cycle-gap drop-off drop-offs dropoff predicts predict correlate correlates correlated time times
worst-performing over-time underperforming underperform below above team's how's whats quarter month year
caused cause causes reason reasons went wrong going on with for of in on at to by about vs is real luck
random significant number numbers digest summary weekly report quality health fresh data rows set aside
thing things it okay ok hi hello hey thanks thank
forecast forecasts forecasting book books booking bookings booked land likely probability probabilities
""".split())
# Sales phrasings rewritten into the grammar's words before it reads them.
PHRASES: tuple[tuple[str, str], ...] = (
    (r"\bquarter (by|over|on) quarter\b", "quarterly"), (r"\bmonth (by|over|on) month\b", "monthly"),
    (r"\b(close|closing|hit|conversion) rates?\b", "win rate"), (r"\bcycle (gap|time|length)s?\b", "cycle-gap"),
    (r"\bwill (we )?(close|win|land)\b|\blikely to (close|win|land)\b", "forecast"),
    (r"\bopen pipeline\b", "pipeline"),
    (r"\blast (q|qtr)\b", "last quarter"), (r"\bthis (q|qtr)\b", "this quarter"),
    (r"\bprevious (q|qtr)\b", "last quarter"), (r"\bprior (q|qtr)\b", "last quarter"),
    (r"\b(this|current) (fy|fiscal year)\b|\bfytd\b|\bfy to date\b|\byear to date\b", "ytd"),
    (r"\b(last|previous|prior) (fy|fiscal year)\b", "last year"),
    (r"\bquarter to date\b", "qtd"), (r"\bmonth to date\b", "mtd"),
    (r"\bthis year\b", "ytd"),
    (r"\bvs\.?\s+(the\s+)?(previous|prior)\s+(quarter|period|month|one)\b", "vs previous"),
    (r"\bvs\.?\s+(the\s+)?same (quarter|period|time) last year\b", "vs last year"),
    (r"\b(year over year|yoy)\b", "vs last year"),
    (r"\b(compared (to|with)|against|relative to)\b", "vs"),
    (r"\bemea\b", "europe"), (r"\bamericas\b", "north america"),
)


@dataclass(frozen=True)
class Intent:
    """What a plain question asks: the command line the grammar answers, and how it was read."""

    command: str  # a command name, or "unknown"
    line: str  # "/why APAC last quarter": what the commands module answers
    dropped: tuple[str, ...] = ()  # sentence words left out (for the record; never shown as problems)
    follow_up: bool = False

    @property
    def understood(self) -> bool:
        return self.command != "unknown"


def command_of(question: str) -> str | None:
    """The command a plain question asks for, by the first matching rule; None when none matches."""
    q = question.casefold()
    if WINRATE_BY.search(q):
        return "winrate"
    for command, pattern in RULES:
        if re.search(pattern, q):
            return command
    return None


def rewrite(question: str, as_of: dt.date) -> str:
    """The question in the grammar's words: punctuation off, sales phrasings and bare quarters spelt out."""
    text = re.sub(r"\bus\b", " ", question)  # "what makes us win": a pronoun; "US" (upper case) is a region
    text = text.casefold().replace("’", "'")
    text = re.sub(r"<@[A-Z0-9]+>", " ", text, flags=re.I)  # a mention of the bot
    text = re.sub(r"(?<![\d.])[?!;:](?!\d)|(?<!\d)[.,](?!\d)", " ", text)
    text = re.sub(r"\bcompare (.+?) (with|to|and) (.+)", r"\1 vs \3", text)
    for pattern, words in PHRASES:
        text = re.sub(pattern, words, text)
    text = re.sub(r"\b(h[12])\b(?:\s+(\d{4}))?", lambda m: _half(m.group(1), m.group(2), as_of), text)
    text = re.sub(r"(?<![\d-])\bq([1-4])\b(?!\s*-?\d{4})", lambda m: _quarter(int(m.group(1)), as_of), text)
    return re.sub(r"\s+", " ", text).strip()


def _half(half: str, year: str | None, as_of: dt.date) -> str:
    first = half == "h1"
    y = int(year) if year else (as_of.year if first or as_of.month >= 7 else as_of.year - 1)
    return f"{y}-01-01..{y}-06-30" if first else f"{y}-07-01..{y}-12-31"


def _quarter(q: int, as_of: dt.date) -> str:
    """A quarter named without a year: the latest one of that number that has started."""
    year = as_of.year if dt.date(as_of.year, 3 * q - 2, 1) <= as_of else as_of.year - 1
    return f"{year}q{q}"


def interpret(question: str, vocab: Vocabulary, as_of: dt.date, context_line: str | None = None) -> Intent:
    """Read a plain question (or a slash command, passed through) into a command line. Never raises."""
    text = (question or "").strip()
    if text.startswith("/"):
        return Intent(split_command(text)[0] or "unknown", text)
    words = rewrite(text, as_of)
    follow_up = context_line is not None and _is_follow_up(words, vocab)
    if follow_up:
        return _follow_up(words, vocab, context_line)
    command = command_of(words)
    args, dropped = _arguments(words, vocab)
    if command is None:
        parsed = parse(args, vocab)
        named = parsed.query.filters or parsed.query.period or any(
            norm(p.word) in NEAREST_VALUES for p in parsed.problems)  # "SMB": say which values are closest
        if not args or not named:
            return Intent("unknown", "/help", dropped)
        command = "winrate"  # only segments and periods: their win rate
    if command in ("help", "digest", "health"):
        args = ""
    if command == "funnel":  # the funnel is by stage already; "stage" and "cycle gap" are its subject
        args = re.sub(r"\bby (deal_stage|cycle_band)( and (deal_stage|cycle_band))?\b", "", args).strip()
    return Intent(command, f"/{command} {args}".strip(), dropped)


def sentence_arguments(text: str, vocab: Vocabulary, as_of: dt.date) -> str:
    """A sentence typed after a command ("/why did our win rate drop in APAC?") in the grammar's words."""
    return _arguments(rewrite(text, as_of), vocab)[0]


def _arguments(words: str, vocab: Vocabulary) -> tuple[str, tuple[str, ...]]:
    """The grammar's words of a question: sentence words it cannot place are dropped; what is left
    is written back from the parsed Query, or kept as typed when something in it is unknown (so
    the reply can name it and suggest the closest values)."""
    words = _segment_versus(words, vocab)
    parsed = parse(words, vocab)
    drop = {p.word.casefold() for p in parsed.problems if p.kind == "unknown_word"
            and p.word.casefold() in SENTENCE_WORDS}
    kept = " ".join(w for w in words.split() if w.casefold() not in drop)
    again = parse(kept, vocab)
    return (query_text(again.query) if again.ok else kept), tuple(sorted(drop))


def _segment_versus(words: str, vocab: Vocabulary) -> str:
    """"outbound vs inbound" compares segments, not periods: both, split by their dimension."""
    left, sep, right = words.partition(" vs ")
    if not sep:
        return words
    other = parse(right, vocab)
    mine = parse(left, vocab).query.filter_dict
    if other.query.period is not None or not other.query.filters or len(other.query.filters) != 1:
        return words
    (dim, values), = other.query.filters
    both = tuple(dict.fromkeys(mine.get(dim, ()) + values))
    rest = " ".join(w for w in left.split() if not vocab.match(norm(w), dim))
    return f"{rest} {dim}={','.join(v.replace(' ', '') for v in both)} by {dim}" if all(
        " " not in v for v in both) else f"{rest} {' '.join(both)} by {dim}"


def _is_follow_up(words: str, vocab: Vocabulary) -> bool:
    """A reply in a thread that changes part of the last question rather than asking a new one."""
    if FOLLOW_UP_START.match(words) or EVERYTHING.search(words):
        return True
    tokens = words.split()
    if len(tokens) > 5:
        return False
    args, _ = _arguments(FOLLOW_UP_START.sub("", words), vocab)
    return bool(command_of(words)) or (bool(args) and parse(args, vocab).ok)


def _follow_up(words: str, vocab: Vocabulary, context_line: str) -> Intent:
    """The thread's last command with what the new words change (filters per dimension, period,
    comparison, grouping, command)."""
    words = FOLLOW_UP_START.sub("", words)
    old_command, old_args = split_command(context_line)
    # "vs last year" changes the comparison, not the command
    command = command_of(re.sub(r"\bvs\b.*", "", words)) or old_command
    if command in ("help", "digest", "health"):
        return Intent(command, f"/{command}", follow_up=True)
    args, dropped = _arguments(words, vocab)
    new, old = parse(args, vocab), parse(old_args, vocab).query
    if new.problems:  # say what could not be used, on the words as typed
        return Intent(command, f"/{command} {args}".strip(), dropped, follow_up=True)
    q = new.query
    filters = dict(old.filters)
    if EVERYTHING.search(words):
        filters = {}
    filters.update(dict(q.filters))
    group_by = q.group_by or (old.group_by if command == old_command else ())
    if q.group_by and command in ("why", "drivers", "trend", "deals"):
        command = "winrate"  # "by product" after /why: the rates by product
    merged = Query(filters=tuple(filters.items()), group_by=group_by, period=q.period or old.period,
                   compare=q.compare or (old.compare if command in ("winrate", "why") else None),
                   grain=q.grain or old.grain, outcome=q.outcome or (old.outcome if command == "deals" else None))
    return Intent(command, f"/{command} {query_text(merged)}".strip(), dropped, follow_up=True)


def query_text(query: Query) -> str:
    """A Query back in the grammar's words, so a follow-up is answered as if it had been typed."""
    parts = []
    for dim, values in query.filters:
        if all(" " not in v and "," not in v for v in values):
            parts.append(f"{dim}={','.join(values)}")
        else:
            parts.extend(values)
    if query.group_by:
        parts.append("by " + " and ".join(query.group_by))
    if query.grain:
        parts.append(f"{query.grain}ly")
    if query.period is not None:
        parts.append(query.period.text)
    if query.compare is not None:
        kind = query.compare.kind
        parts.append("vs " + {"previous": "previous", "year_ago": "last year"}.get(kind, query.compare.text))
    if query.outcome:
        parts.append(query.outcome)
    return " ".join(p for p in parts if p)
