"""Alert rules evaluated against a Snapshot: only findings that pass the tests and the minimum n fire.

The rules are plain data (kind, filters, threshold); evaluation is pure and returns Findings with
the numbers, the evidence, the owner and the suggested action. De-duplication, cooldowns and
posting belong to the bot, which remembers what it already said.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats as sps

from .actions import stake
from .counting import NeedsRows, counts_of, rate_in
from .drivers import drivers
from .focus import period_in_question
from .kinds import AlertKind
from .periods import PeriodSpec
from .query import Query
from .results import Rate, _round, _sig
from .select import filter_mask, period_mask
from .snapshot import Snapshot
from .stats import two_proportion_test
from .trend import trend
from .why import explain_change
from .winrate import MIN_N

log = logging.getLogger(__name__)

# Which way a finding's value moves when it gets worse (for re-alerting); None: any new finding is new.
WORSE = {AlertKind.WINRATE_BELOW: -1, AlertKind.DROP: -1, AlertKind.LEAD_SOURCE_GAP: 1, AlertKind.LONG_CYCLE: -1,
         AlertKind.DRIVER_FLIP: None, AlertKind.DATA: None,
         AlertKind.BIG_DEAL_AT_RISK: -1}
LAST_FOUR = PeriodSpec("last_n", ("quarter", 4), "last 4 quarters")
LONG_CYCLE_BAND = "90d+"
LONG_CYCLE_DAYS = 90
BIG_DEAL_AMOUNT = 100_000  # default amount threshold of big_deal_at_risk
BIG_DEAL_MAX_PROBABILITY = 0.3  # at risk below this chance of being won by next quarter's end (or when stalled)
BIG_DEAL_MAX_FINDINGS = 5


@dataclass(frozen=True)
class AlertRule:
    id: int
    kind: str
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    threshold: float | None = None  # a rate (0-1) for winrate_below, percentage points for lead_source_gap


@dataclass(frozen=True, kw_only=True)
class Finding:
    rule_id: int
    kind: str
    segment: dict[str, str]
    label: str
    period: str  # the period the finding is about, part of its fingerprint
    value: float | None  # the number that worsens (a win rate, a gap in pp, an effect in pp)
    rate: Rate | None = None
    baseline: Rate | None = None
    change_pp: float | None = None
    p_value: float | None = None
    test: str = ""
    threshold: float | None = None
    open_deals: int | None = None
    open_amount: float | None = None
    open_without_amount: int = 0  # open deals with no amount: counted in open_deals, not in open_amount
    details: dict = field(default_factory=dict)
    demo: bool = False  # found on the generated demo data (not part of what makes it the same finding)

    @property
    def fingerprint(self) -> str:
        """What makes a finding the same one again: rule, kind, segment and period, hashed to a fixed
        length (a segment label of any length fits the store's key and a button's 2,000-character value)."""
        import hashlib

        segment = ",".join(f"{k}={v}" for k, v in sorted(self.segment.items())) or "all"
        digest = hashlib.sha256(f"{segment}:{self.period}".encode("utf-8", "replace")).hexdigest()[:40]
        return f"{self.rule_id}:{str(self.kind)[:40]}:{digest}"


def evaluate(snapshot: Snapshot, rules: list[AlertRule], min_n: int = MIN_N) -> list[Finding]:
    """Every finding the rules produce now; rules of kind `data` are the bot's to evaluate."""
    out = []
    for rule in rules:
        evaluator = EVALUATORS.get(rule.kind)
        if evaluator is None:
            continue
        try:
            out.extend(evaluator(snapshot, rule, min_n))
        except NeedsRows:  # counted where the data lives: a rule on single deals (big_deal_at_risk) waits
            log.info("alert rule %s (%s) needs the deals one by one: not evaluated on this source", rule.id, rule.kind)
    if snapshot.report.demo:
        out = [replace(f, demo=True) for f in out]
    return out


def _quarter_label(snapshot: Snapshot) -> str:
    return period_in_question(snapshot).current.label


def winrate_below(snapshot: Snapshot, rule: AlertRule, min_n: int) -> list[Finding]:
    """The segment's win rate in the period in question is significantly below the threshold
    (exact one-sided binomial test)."""
    period = period_in_question(snapshot).current
    mask = filter_mask(snapshot, rule.filters) & period_mask(snapshot, period)
    rate = rate_in(snapshot, mask)
    if rate.n < min_n or rule.threshold is None or rate.win_rate >= rule.threshold:
        return []
    p = sps.binomtest(rate.won, rate.n, rule.threshold, alternative="less").pvalue
    if p >= 0.05:
        return []
    segment = {d: " or ".join(v) for d, v in rule.filters}
    at_stake = _at_stake(snapshot, rule.filters)
    return [Finding(rule_id=rule.id, kind=rule.kind, segment=segment, label=_label(segment), period=period.label,
                    value=rate.win_rate, rate=rate, p_value=_sig(p), test="exact_binomial", threshold=rule.threshold,
                    **at_stake,
                    details={"period": f"{period.start} to {period.end}"})]


def drop(snapshot: Snapshot, rule: AlertRule, min_n: int) -> list[Finding]:
    """A significant drop in the period in question against its baseline (the four complete quarters
    before): for a named segment, its own; with no filters, every segment that /why finds falling
    (hierarchical FDR control), whether or not the total moved, or, when the total fell with no
    segment finding, the total itself (details["story"]: "diffuse" broad, or "unlocated")."""
    if rule.filters:
        t = trend(snapshot, Query(filters=rule.filters), min_n)
        if t.verdict != "drop":
            return []
        point = next(p for p in t.points if p.label == t.tested_period)
        segment = {d: " or ".join(v) for d, v in rule.filters}
        at_stake = _at_stake(snapshot, rule.filters)
        return [Finding(rule_id=rule.id, kind=rule.kind, segment=segment, label=_label(segment),
                        period=t.tested_period, value=point.win_rate, rate=Rate(**point.rate_fields()),
                        baseline=t.change.baseline, change_pp=t.change.change_pp, p_value=t.change.p_value,
                        test=t.change.test, **at_stake,
                        details={"baseline_label": t.change.baseline_label})]
    why = explain_change(snapshot, Query(), min_n)
    out = []
    for c in why.contributors:
        if c.label not in why.findings or c.change_pp >= 0:
            continue
        at_stake = _at_stake(snapshot, (), c.segment)
        out.append(Finding(rule_id=rule.id, kind=rule.kind, segment=c.segment, label=c.label,
                           period=why.period.label, value=c.current.win_rate, rate=c.current, baseline=c.baseline,
                           change_pp=c.change_pp, p_value=c.p_value, test="own log-odds change, hierarchical BH", **at_stake,
                           details={"baseline_label": why.compare_period.label, "tested": why.tested}))
    if not out and why.significant and why.change_pp < 0:
        # the total fell and no segment carries it: a company-wide fall alerts as one, worded by its story
        at_stake = _at_stake(snapshot, ())
        season = why.season if why.season is not None and why.season.pattern else None
        out.append(Finding(rule_id=rule.id, kind=rule.kind, segment={}, label=_label({}), period=why.period.label,
                           value=why.current.win_rate, rate=why.current, baseline=why.baseline,
                           change_pp=why.change_pp, p_value=season.unusual_p_value if season else why.p_value,
                           test="against the usual seasonal change" if season else why.test,
                           **at_stake,
                           details={"baseline_label": why.compare_period.label, "tested": why.tested,
                                    "story": why.story}))
    return out


def lead_source_gap(snapshot: Snapshot, rule: AlertRule, min_n: int) -> list[Finding]:
    """The best and worst lead sources of the period in question differ by at least the threshold
    (pp), significantly after Bonferroni correction across every pair of sources."""
    if "lead_source" not in snapshot.dimensions:
        return []
    period = period_in_question(snapshot).current
    mask = filter_mask(snapshot, rule.filters) & period_mask(snapshot, period)
    counts = counts_of(snapshot, mask, ("lead_source",))
    ok = np.flatnonzero(counts.n >= min_n)
    if len(ok) < 2:
        return []
    rates = counts.won[ok] / counts.n[ok]
    best, worst = ok[np.argmax(rates)], ok[np.argmin(rates)]
    gap_pp = 100 * (counts.won[best] / counts.n[best] - counts.won[worst] / counts.n[worst])
    threshold = rule.threshold if rule.threshold is not None else 8.0
    if gap_pp < threshold:
        return []
    pairs = len(ok) * (len(ok) - 1) / 2
    p = min(1.0, float(two_proportion_test(counts.won[worst], counts.n[worst], counts.won[best],
                                           counts.n[best])[0][0]) * pairs)
    if p >= 0.05:
        return []
    names = snapshot.values("lead_source")
    worst_rate, best_rate = Rate.of(counts.won[worst], counts.n[worst]), Rate.of(counts.won[best], counts.n[best])
    at_stake = _at_stake(snapshot, rule.filters, {"lead_source": names[worst]})
    return [Finding(rule_id=rule.id, kind=rule.kind, segment={"lead_source": names[worst]}, label=names[worst],
                    period=period.label, value=_round(gap_pp, 2), rate=worst_rate, baseline=best_rate,
                    change_pp=_round(-gap_pp, 2), p_value=_sig(p), test="two_proportion_z, Bonferroni",
                    threshold=threshold, **at_stake,
                    details={"best": names[best], "pairs": int(pairs)})]


def long_cycle(snapshot: Snapshot, rule: AlertRule, min_n: int) -> list[Finding]:
    """Long cycles win significantly less (driver model, last 4 quarters) and open deals are already that old."""
    result = drivers(snapshot, Query(filters=rule.filters, period=LAST_FOUR), min_n)
    hit = next((d for d in result.drivers if d.feature == "cycle_band" and d.level == LONG_CYCLE_BAND
                and d.significant and d.effect_pp < 0), None)
    if hit is None:
        return []
    at_stake = _at_stake(snapshot, rule.filters, {"cycle_band": LONG_CYCLE_BAND})
    if not at_stake["open_deals"]:
        return []
    segment = {"cycle_band": LONG_CYCLE_BAND, **{d: " or ".join(v) for d, v in rule.filters}}
    return [Finding(rule_id=rule.id, kind=rule.kind, segment=segment, label=_label(segment),
                    period=_quarter_label(snapshot), value=hit.effect_pp, change_pp=hit.effect_pp, p_value=hit.p_value,
                    test="logistic regression AME, BH", **at_stake,
                    details={"reference": hit.reference, "ci_low_pp": hit.ci_low_pp, "ci_high_pp": hit.ci_high_pp,
                             "days": LONG_CYCLE_DAYS})]


def driver_flip(snapshot: Snapshot, rule: AlertRule, min_n: int) -> list[Finding]:
    """A driver that was reliably positive (negative) over the baseline (the four quarters before the
    period in question) reversed in the period in question, the difference significant after BH."""
    result = drivers(snapshot, Query(filters=rule.filters), min_n)
    return [Finding(rule_id=rule.id, kind=rule.kind, segment={c.feature: c.level}, label=c.level,
                    period=result.changes_period, value=c.now_pp, change_pp=c.change_pp, p_value=c.p_value,
                    test="difference of logistic-regression AMEs, BH",
                    details={"feature": c.feature, "reference": c.reference, "before_pp": c.before_pp,
                             "now_pp": c.now_pp, "baseline_label": result.changes_baseline})
            for c in result.flips]


def big_deal_at_risk(snapshot: Snapshot, rule: AlertRule, min_n: int) -> list[Finding]:
    """Open deals of at least the amount whose chance of being won by the end of next quarter is under
    BIG_DEAL_MAX_PROBABILITY (only when the pipeline's backtest checked its probabilities) or that are
    stalled; the largest expected losses first."""
    from .pipeline import open_pipeline

    result = open_pipeline(snapshot, Query(filters=rule.filters))
    checked = result.backtest is not None
    amount = rule.threshold if rule.threshold is not None else BIG_DEAL_AMOUNT
    out = []
    # only the deals of at least the amount are listed (on a source counted where it lives, chosen by the query)
    for d in result.listing.at_least(amount) if result.listing is not None else ():
        p = d.win_probability_next_quarter
        low = checked and p is not None and p < BIG_DEAL_MAX_PROBABILITY
        if d.amount is None or d.amount < amount or not (low or d.stalled):
            continue
        out.append(Finding(rule_id=rule.id, kind=rule.kind, segment={"deal": d.deal_id}, label=d.deal_id,
                           period=_quarter_label(snapshot), value=p if checked else None,
                           open_deals=1, open_amount=d.amount, test="pipeline model, backtest " + (
                               "with skill" if result.skill else "without skill"),
                           details={"rep": d.rep, "age_days": d.age_days, "stalled": d.stalled, "skill": result.skill,
                                    "checked": checked, "win_probability": d.win_probability,
                                    "win_probability_next_quarter": p, "expected_loss": d.expected_loss,
                                    "amount_threshold": amount, "max_probability": BIG_DEAL_MAX_PROBABILITY,
                                    "segment": d.segment}))
    out.sort(key=lambda f: -f.details["expected_loss"])
    return out[:BIG_DEAL_MAX_FINDINGS]


def _at_stake(snapshot: Snapshot, filters, segment: dict[str, str] | None = None) -> dict:
    """A finding's open pipeline at stake: its deals, their amount and how many have none (`stake`), as fields."""
    deals, amount, without = stake(snapshot, filters, segment or {})
    return {"open_deals": deals, "open_amount": amount, "open_without_amount": without}


def _label(segment: dict[str, str]) -> str:
    return " · ".join(segment.values()) or "all deals"


EVALUATORS = {
    AlertKind.WINRATE_BELOW: winrate_below,
    AlertKind.DROP: drop,
    AlertKind.LEAD_SOURCE_GAP: lead_source_gap,
    AlertKind.LONG_CYCLE: long_cycle,
    AlertKind.DRIVER_FLIP: driver_flip,
    AlertKind.BIG_DEAL_AT_RISK: big_deal_at_risk,
}
