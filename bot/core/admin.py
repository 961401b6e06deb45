"""/alerts (list, add, remove, mute alert rules), /digest (preview the weekly digest) and /feedback
(the questions the bot misread or could not read, so its vocabulary can grow from real use)."""
from __future__ import annotations

import datetime as dt
import re

from insights.kinds import AlertKind
from insights.labels import match_key
from insights.snapshot import Snapshot

from bot.core.digest import digest_text
from bot.core.grammar import Vocabulary, parse
from bot.core.render import render
from bot.store import Store

DURATION = re.compile(r"^(\d+)\s*(h|hours?|d|days?|w|weeks?)$")


MAX_MUTE = dt.timedelta(days=366)


def parse_duration(text: str) -> dt.timedelta | None:
    """'12h', '7d', '2w' (at most a year: `3000000d` is a usage mistake, not a date past 9999)."""
    m = DURATION.match(text.strip().lower())
    if not m or len(m.group(1)) > 6:
        return None
    n, unit = int(m.group(1)), m.group(2)[0]
    duration = dt.timedelta(hours=n) if unit == "h" else dt.timedelta(days=n * (7 if unit == "w" else 1))
    return duration if duration <= MAX_MUTE else None


def describe_rule(rule, now: dt.datetime) -> dict:
    return {"id": rule.id, "kind": rule.kind, "filters": {d: list(v) for d, v in rule.filters},
            "threshold": rule.threshold, "origin": rule.origin, "muted": rule.muted(now),
            "muted_until": rule.muted_until.strftime("%Y-%m-%d %H:%M UTC") if rule.muted_until else None}


def rule_visible(rule, visible: Vocabulary | None) -> bool:
    """Whether someone who sees only `visible` (their scope, without reps when they may not see them)
    may read a rule: every segment it names is one they see. None: they see everything."""
    if visible is None:
        return True
    for dim, values in rule.filters:
        known = {match_key(dim, v) for v in visible.values.get(dim, ())}
        if not all(match_key(dim, v) in known for v in values):
            return False
    return True


def worded_rules(store: Store, now: dt.datetime, visible: Vocabulary | None = None) -> list[str]:
    """Active rules in words (for the Home tab), those naming segments or reps the reader may not see left out."""
    return [render("text/alert_rule.j2", r=describe_rule(r, now)) for r in store.rules() if rule_visible(r, visible)]


def may_change(store: Store, rule_id: int, user: str | None, admin: bool) -> bool:
    """Removing or muting a rule (which silences it for the whole channel): admins (ADMIN_USERS, or
    every allowed user when that list is empty) may change any rule, others only rules they added."""
    if admin:
        return True
    rule = next((r for r in store.rules() if r.id == rule_id), None)
    return rule is not None and rule.created_by is not None and rule.created_by == user


def alerts_command(args: str, store: Store | None, vocab: Vocabulary, user: str | None,
                   now: dt.datetime, admin: bool = True, visible: Vocabulary | None = None) -> tuple[str, bool]:
    """(reply text, ok). Never raises. `visible`: what a restricted user sees; rules about anything
    else are not listed to them."""
    if store is None:
        return render("text/alerts_reply.j2", action="no_store"), False
    words = args.split()
    verb = words[0].lower() if words else "list"
    if verb in ("list", "ls", "show"):
        rules = [describe_rule(r, now) for r in store.rules() if rule_visible(r, visible)]
        return render("text/alerts_reply.j2", action="list", rules=rules), True
    if verb in ("remove", "delete", "rm", "mute") and len(words) >= 2 and words[1].isdigit() \
            and len(words[1]) < 10 and not may_change(store, int(words[1]), user, admin):
        return render("text/denied.j2", reason="admins_only", command="alerts"), False
    if verb in ("remove", "delete", "rm") and len(words) == 2 and words[1].isdigit():
        ok = store.remove_rule(int(words[1]))
        return render("text/alerts_reply.j2", action="removed" if ok else "no_rule", rule_id=int(words[1])), ok
    if verb == "mute" and len(words) >= 3 and words[1].isdigit() and parse_duration(" ".join(words[2:])):
        until = now + parse_duration(" ".join(words[2:]))
        ok = store.mute_rule(int(words[1]), until)
        return render("text/alerts_reply.j2", action="muted" if ok else "no_rule", rule_id=int(words[1]),
                      until=until.strftime("%Y-%m-%d %H:%M UTC")), ok
    if verb == "add" and len(words) >= 2:
        return _add(words[1:], store, vocab, user, now)
    return render("text/alerts_reply.j2", action="usage", typed=args), False


def _add(words: list[str], store: Store, vocab: Vocabulary, user: str | None, now: dt.datetime) -> tuple[str, bool]:
    kind = AlertKind.parse(words[0])
    if kind is None:
        return render("text/alerts_reply.j2", action="usage", typed=" ".join(words)), False
    rest = " ".join(words[1:])
    threshold = None
    if kind.takes_threshold:
        m = re.search(r"(?:below|under|<|above|over|>|gap)?\s*(\d+(?:\.\d+)?)\s*(%|pp|points?)?\s*$", rest)
        if not m:
            return render("text/alerts_reply.j2", action="needs_threshold", kind=kind), False
        number = float(m.group(1))
        threshold = number / 100 if kind is AlertKind.WINRATE_BELOW else number
        if kind is AlertKind.WINRATE_BELOW and not 0 < threshold < 1:
            return render("text/alerts_reply.j2", action="needs_threshold", kind=kind), False
        rest = rest[: m.start()].strip()
        rest = re.sub(r"\b(below|under|above|over)\s*$", "", rest).strip()
    if kind is AlertKind.BIG_DEAL_AT_RISK:  # an optional amount: "above 250k", "over 1.5m"
        m = re.search(r"(?:above|over|>|at least)?\s*\$?(\d+(?:\.\d+)?)\s*([km])?\s*$", rest, re.IGNORECASE)
        if m:
            threshold = float(m.group(1)) * {"k": 1e3, "m": 1e6}.get((m.group(2) or "").lower(), 1.0)
            rest = rest[: m.start()].strip()
    parsed = parse(rest, vocab)
    if parsed.problems:
        return render("text/problems.j2", command="alerts add", text=" ".join(words), problems=parsed.problems), False
    rule_id = store.add_rule(kind, parsed.query.filters, threshold, created_by=user)
    rule = next(r for r in store.rules() if r.id == rule_id)
    return render("text/alerts_reply.j2", action="added", rule=describe_rule(rule, now)), True


def digest_preview(snapshot: Snapshot, data_error: str | None = None, reps: bool = True) -> str:
    text, _ = digest_text(snapshot, data_error, reps=reps)
    return render("text/digest_preview.j2", body=text)


def feedback_report(store: Store | None, admin: bool, limit: int = 20) -> tuple[str, bool]:
    """(text, ok): the latest questions answered wrongly (👎), re-read with another reading, or not read."""
    if not admin:
        return render("text/feedback.j2", denied=True, counts={}, rows=[]), False
    if store is None:
        return render("text/feedback.j2", denied=False, no_store=True, counts={}, rows=[]), False
    return render("text/feedback.j2", denied=False, no_store=False, counts=store.feedback_counts(),
                  rows=store.misread(limit)), True
