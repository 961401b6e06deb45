"""/risk: where the team loses most (Segment Impact Score) and how much open pipeline is at stake."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .actions import Action, rank, risk_actions
from .counting import open_total, open_without_amount
from .query import Query
from .results import Comparison, Rate, Result, _round
from .select import censoring_notes
from .selection import Selection
from .snapshot import Snapshot
from .stats import benjamini_hochberg, two_proportion_test
from .winrate import MIN_N, segment_label

# Dimensions a segment is made of. deal_stage is left out (a won deal's last stage is always
# Closed, so stage "explains" outcome trivially) and reps have their own command.
RISK_DIMENSIONS = ("region", "industry", "product_type", "lead_source", "size_band", "cycle_band")
PAIR_DIMENSIONS = ("region", "industry", "product_type", "lead_source")


@dataclass(frozen=True, kw_only=True)
class SegmentRisk(Rate):
    segment: dict[str, str]
    label: str
    shortfall_pp: float  # team rate minus segment rate
    impact_score: float  # deals lost beyond the team rate: n x shortfall
    vs_rest: Comparison
    # Open pipeline and revenue at risk (open amount x segment loss rate, and at the loss rate's
    # interval ends). None for cycle-length segments: an open deal's cycle is not known yet.
    open_deals: int | None
    open_amount: float | None
    revenue_at_risk: float | None
    revenue_at_risk_low: float | None
    revenue_at_risk_high: float | None


@dataclass(kw_only=True)
class RiskResult(Result):
    overall: Rate
    open_deals: int
    open_amount: float  # of the open deals that have an amount
    revenue_at_risk: float
    open_without_amount: int = 0  # open deals counted whose amount is blank
    segments: list[SegmentRisk] = field(default_factory=list)
    folded: int = 0  # two-way segments inside a listed single segment, not repeated
    tested: int = 0
    significant_count: int = 0
    actions: list[Action] = field(default_factory=list)
    min_n: int = MIN_N


def segment_groupings(snapshot: Snapshot, query: Query) -> list[tuple[str, ...]]:
    """The groupings searched: the one asked for, or every dimension and every pair of the main four
    that the data has (an export may lack a column)."""
    if query.group_by:
        return [tuple(query.group_by)]
    skip = {d for d, _ in query.filters} | (set(RISK_DIMENSIONS) - set(snapshot.dimensions))
    singles = [(d,) for d in RISK_DIMENSIONS if d not in skip]
    pairs = [p for p in itertools.combinations(PAIR_DIMENSIONS, 2) if not skip & set(p)]
    return singles + pairs


def risk(snapshot: Snapshot, query: Query, min_n: int = MIN_N) -> RiskResult:
    """Segments ranked by Segment Impact Score, each tested against the rest, with revenue at risk."""
    sel = Selection(snapshot, query)
    overall, open_mask = sel.overall, sel.open
    _, open_amount = open_total(snapshot, open_mask)
    notes = censoring_notes(snapshot, sel.period)
    candidates = _candidates(sel, min_n) if overall.n else []
    if overall.n == 0:
        notes.append("no_deals")
    elif not candidates:
        notes.append("too_few_segments")
    segments, folded, tested = _ranked(candidates, overall, min_n) if candidates else ([], 0, 0)
    return RiskResult(command="risk", as_of=snapshot.as_of, query=query, period=sel.period, overall=overall,
                      open_deals=open_total(snapshot, open_mask)[0], open_amount=open_amount,
                      open_without_amount=open_without_amount(snapshot, open_mask),
                      revenue_at_risk=round(open_amount * (1 - (overall.win_rate or 0)), 2), min_n=min_n,
                      notes=notes, segments=segments, folded=folded, tested=tested,
                      significant_count=int(sum(r.vs_rest.significant for r in segments)),
                      actions=rank(risk_actions(snapshot, query.filters, overall, segments)))


@dataclass(frozen=True)
class _Candidate:
    """A segment with enough closed deals in the period, and its open pipeline (None: a cycle band)."""

    segment: dict[str, str]
    won: int
    n: int
    open_deals: int | None
    open_amount: float | None


def _candidates(sel: Selection, min_n: int) -> list[_Candidate]:
    """Every segment of every grouping searched that has `min_n` closed deals. The period's closed deals
    and the open pipeline are each counted once into cells (insights/cells.py): the many groupings
    cost the number of cells, not of deals."""
    snapshot = sel.snapshot
    groupings = segment_groupings(snapshot, sel.query)
    dims = tuple(dict.fromkeys(d for g in groupings for d in g))
    closed = sel.cells(dims)
    pipeline = sel.open_cells(tuple(d for d in dims if d != "cycle_band"))  # an open deal has no cycle yet
    out = []
    for grouping in groupings:
        counts = closed.count(closed.everything(), grouping)
        pipeline_known = "cycle_band" not in grouping
        if pipeline_known:
            open_n = pipeline.count(pipeline.everything(), grouping).n
            open_amount = pipeline.amounts(pipeline.everything(), grouping)
        for i in np.flatnonzero(counts.n >= min_n):
            out.append(_Candidate(counts.labels(snapshot, i), int(counts.won[i]), int(counts.n[i]),
                                  int(open_n[i]) if pipeline_known else None,
                                  float(open_amount[i]) if pipeline_known else None))
    return out


def _ranked(candidates: list[_Candidate], overall: Rate, min_n: int) -> tuple[list[SegmentRisk], int, int]:
    """The segments below the team, largest impact first, each tested against the rest (BH); two-way
    segments that only repeat a listed single one's story folded. Returns them, how many were folded
    and how many were tested."""
    won = np.array([c.won for c in candidates])
    n = np.array([c.n for c in candidates])
    rest_won, rest_n = overall.won - won, overall.n - n
    p, tests = two_proportion_test(won, n, rest_won, rest_n)
    p = np.where(rest_n >= min_n, p, np.nan)
    adjusted, significant = benjamini_hochberg(p)
    tested = int((~np.isnan(p)).sum())
    team = overall.won / overall.n
    impact = n * team - won

    fold = _explained_by_parent(candidates, significant, impact)
    rows = []
    for k in np.argsort(-impact, kind="stable"):
        if impact[k] <= 0 or np.isnan(p[k]) or k in fold:
            continue
        c = candidates[k]
        rate = Rate.of(won[k], n[k])
        at_risk = (lambda loss, amount=c.open_amount: None if amount is None else round(amount * loss, 2))
        rows.append(SegmentRisk(
            **rate.rate_fields(), segment=c.segment, label=segment_label(c.segment),
            shortfall_pp=_round(100 * (team - won[k] / n[k]), 2), impact_score=_round(impact[k], 1),
            vs_rest=Comparison.build(rate, Rate.of(rest_won[k], rest_n[k]), "rest of selection", adjusted[k],
                                     significant[k], tests[k], tested),
            open_deals=c.open_deals, open_amount=c.open_amount,
            revenue_at_risk=at_risk(1 - rate.win_rate),
            revenue_at_risk_low=at_risk(1 - rate.ci_high),
            revenue_at_risk_high=at_risk(1 - rate.ci_low),
        ))
    return rows, len(fold), tested


def _explained_by_parent(candidates: list[_Candidate], significant, impact) -> set[int]:
    """Two-way segments that only repeat a significant single segment's story.

    APAC · Pro under a significant APAC is folded unless it differs significantly (BH across
    these checks) from the rest of APAC; a drop that lives in Europe · Pro alone stays listed even
    when it also drags the whole of Pro down.
    """
    singles = {next(iter(c.segment.items())): k for k, c in enumerate(candidates)
               if len(c.segment) == 1 and significant[k] and impact[k] > 0}
    checks = []  # (pair index, p-value against the parent's other deals; worst over parents)
    for k, c in enumerate(candidates):
        parents = [singles[item] for item in c.segment.items() if item in singles]
        if len(c.segment) < 2 or not parents or impact[k] <= 0:
            continue
        worst = 0.0
        for j in parents:
            parent = candidates[j]
            p, _ = two_proportion_test(c.won, c.n, parent.won - c.won, parent.n - c.n)
            worst = max(worst, 1.0 if np.isnan(p[0]) else float(p[0]))
        checks.append((k, worst))
    if not checks:
        return set()
    _, differs = benjamini_hochberg([c[1] for c in checks])
    return {k for (k, _), d in zip(checks, differs) if not d}
