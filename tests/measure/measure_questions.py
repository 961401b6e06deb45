"""How plain questions are read: answered as asked, asked back, or answered wrongly, over the corpora.

    python tests/measure/measure_questions.py            # both corpora, the table
    python tests/measure/measure_questions.py --misread  # and every question not answered as asked

A question is answered as asked when the bot's reading has the expected command and the same
filters, grouping, period (as dates), comparison, grain and outcome. A question that opens with a command's word
("win rate trend", "alerts list") is read the way `ask()` reads it: as that command only when
`reads_as_command` says so, else as a question. It is asked back when the bot
asks instead of answering (it offers readings, or names what it could not place). Anything else is
answered wrongly. The readings are the intent layer's own, so no analysis runs.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from insights.focus import period_in_question  # noqa: E402
from insights.periods import resolve, shifted  # noqa: E402

from bot.core.commands import reads_as_command, resolve_command  # noqa: E402
from bot.core.follows import parse_follow  # noqa: E402
from bot.core.grammar import Vocabulary, parse, split_command  # noqa: E402
from bot.core.intents import interpret, sentence_arguments  # noqa: E402

CORPORA = {"development": ROOT / "tests/measure/corpus/questions.tsv", "first blind set": ROOT / "tests/measure/corpus/blind1.tsv",
           "second blind set": ROOT / "tests/measure/corpus/blind2.tsv", "third blind set": ROOT / "tests/measure/corpus/blind3.tsv",
           "held-out": ROOT / "tests/measure/corpus/heldout.tsv", "second held-out": ROOT / "tests/measure/corpus/heldout2.tsv",
           "fourth held-out": ROOT / "tests/measure/corpus/heldout4.tsv",
           "third held-out": ROOT / "tests/measure/corpus/heldout3.tsv",
           "fifth held-out": ROOT / "tests/measure/corpus/heldout5.tsv",
           "sixth held-out": ROOT / "tests/measure/corpus/heldout6.tsv",
           "seventh held-out": ROOT / "tests/measure/corpus/heldout7.tsv",
           "eighth held-out": ROOT / "tests/measure/corpus/heldout8.tsv",
           "ninth held-out": ROOT / "tests/measure/corpus/heldout9.tsv",
           "tenth held-out": ROOT / "tests/measure/corpus/heldout10.tsv",
           "eleventh held-out": ROOT / "tests/measure/corpus/heldout11.tsv",
           "twelfth held-out": ROOT / "tests/measure/corpus/heldout12.tsv"}
ASK = "ask"


@dataclass(frozen=True)
class Outcome:
    question: str
    expected: str
    got: str  # the command line the bot answers, or "ask: …" when it asks back
    verdict: str  # as_asked, asked_back, wrong


def load_corpus(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        question, expected = line.split("\t")
        rows.append((question, expected.strip()))
    return rows


def meaning(line: str, vocab: Vocabulary, snapshot) -> tuple | None:
    """What a command line asks, with periods as dates; None when it cannot be answered as it is."""
    name, args = split_command(line)
    command = resolve_command(name) if name else None
    if command is None:
        return None
    if command in ("help", "digest", "health"):
        return (command,)
    if command in ("alerts", "follow", "feedback"):  # managing rules and follows: the words, listing by default
        words = tuple(args.lower().split()) or ("list",)
        if command == "follow" and words[0] not in ("list", "ls", "show", "remove", "delete", "rm", "stop",
                                                    "unfollow", "mute"):
            question, frequency, destination = parse_follow(args)
            inner = meaning(question, vocab, snapshot)
            return (command, inner, frequency, destination) if inner is not None else None
        return (command, words)
    parsed = parse(args, vocab)
    if parsed.problems:
        return None
    q = parsed.query
    first = snapshot.report.closed_range[0] if snapshot.report.closed_range else None
    period = resolve(q.period, snapshot.as_of, first)
    relative = q.compare is not None and q.compare.kind in ("previous", "year_ago")
    if relative and period is None:  # against the period in question: the latest complete one, as the analyses read it
        period = period_in_question(snapshot, q.grain or "quarter").current
    if relative and period is None:
        compare = q.compare.kind
    else:
        compare = shifted(period, q.compare.kind) if relative else resolve(q.compare, snapshot.as_of, first)
        compare = (compare.start, compare.end) if compare is not None else None
    span = (period.start, period.end) if period is not None else None
    if command == "trend" and q.period is not None and q.period.kind == "all" and q.compare is None:
        span = None  # /trend with no period already runs over every quarter the data holds: "all" answers the same
    # a filter to every value of a dimension keeps every deal ("Core vs Pro vs Enterprise" is by product)
    everything = {d: frozenset(map(str, snapshot.values(d))) for d, _ in q.filters if d in snapshot.dimensions}
    filters = frozenset((d, frozenset(v)) for d, v in q.filters if frozenset(v) != everything.get(d))
    group_by = tuple(q.group_by) or (("sales_rep_id",) if command == "reps" else ())  # /reps is by rep
    grain = q.grain or ("quarter" if command == "trend" else None)  # /trend is quarterly
    return command, filters, group_by, span, compare, grain, q.outcome


def as_typed_command(question: str, vocab: Vocabulary, snapshot) -> str | None:
    """The command line `ask()` answers when a question opening with a command's word reads as that command
    (`reads_as_command`), with a sentence's words cleaned as the command path cleans them; else None."""
    text = question.strip()
    name, args = split_command("/" + text.lstrip("/"))
    command = resolve_command(name) if name else None
    if command is None or text.startswith("/") or not reads_as_command(command, text, vocab, snapshot.as_of):
        return None
    if command in ("alerts", "follow", "feedback"):  # managing commands: their own parsers read the words
        return f"/{command} {args}"
    if not parse(args, vocab).ok:
        cleaned = sentence_arguments(args, vocab, snapshot.as_of)
        args = cleaned if parse(cleaned, vocab).ok else args
    return f"/{command} {args}"


def judge(question: str, expected: str, vocab: Vocabulary, snapshot) -> Outcome:
    typed = as_typed_command(question, vocab, snapshot)
    if typed is not None:  # read by the grammar, as ask() reads it
        got = meaning(typed, vocab, snapshot)
        if got is None:
            return Outcome(question, expected, f"ask: {typed}", "as_asked" if expected == ASK else "asked_back")
        want = meaning(expected, vocab, snapshot) if expected != ASK else None
        return Outcome(question, expected, typed, "as_asked" if got == want else "wrong")
    intent = interpret(question, vocab, snapshot.as_of)
    got = meaning(intent.line, vocab, snapshot) if intent.understood and not intent.choices else None
    if got is None:
        shown = "ask: " + " · ".join(r.line for r in intent.choices) if intent.choices else f"ask: {intent.line}"
        return Outcome(question, expected, shown, "as_asked" if expected == ASK else "asked_back")
    if expected == ASK:
        return Outcome(question, expected, intent.line, "wrong")
    want = meaning(expected, vocab, snapshot)
    if want is None:
        raise ValueError(f"the corpus's expected line cannot be answered: {expected!r}")
    return Outcome(question, expected, intent.line, "as_asked" if got == want else "wrong")


def measure(path: Path, vocab: Vocabulary, snapshot) -> list[Outcome]:
    return [judge(q, e, vocab, snapshot) for q, e in load_corpus(path)]


def rates(outcomes: list[Outcome]) -> dict[str, float]:
    n = len(outcomes)
    return {v: sum(o.verdict == v for o in outcomes) / n for v in ("as_asked", "asked_back", "wrong")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--misread", action="store_true", help="list every question not answered as asked")
    args = ap.parse_args()
    from insights.load import load_deals

    snapshot = load_deals(ROOT / "data/deals.csv")
    vocab = Vocabulary.from_snapshot(snapshot)
    print("| corpus | questions | answered as asked | asked back | answered wrongly |")
    print("|---|---|---|---|---|")
    misread = []
    for name, path in CORPORA.items():
        if not path.exists():
            continue
        outcomes = measure(path, vocab, snapshot)
        r = rates(outcomes)
        print(f"| {name} | {len(outcomes)} | {r['as_asked']:.1%} | {r['asked_back']:.1%} | {r['wrong']:.1%} |")
        misread += [(name, o) for o in outcomes if o.verdict != "as_asked"]
    if args.misread:
        for name, o in misread:
            print(f"{name[:3]} {o.verdict:10s} {o.question!r}\n    expected {o.expected}\n    got      {o.got}")


if __name__ == "__main__":
    main()
