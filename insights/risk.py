"""/risk: where the team loses most (Segment Impact Score) and how much open pipeline is at stake."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .actions import Action, from_risk, rank
from .query import Query
from .results import Comparison, Rate, Result, _round
from .cells import Cells, cached_cells
from .select import censoring_notes, filter_mask, period_mask, resolve_periods
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
    period, _ = resolve_periods(snapshot, query)
    mask = filter_mask(snapshot, query.filters) & period_mask(snapshot, period)
    open_mask = filter_mask(snapshot, query.filters, open_pipeline=True)
    overall = Rate.of(snapshot.won[mask].sum(), mask.sum())
    open_amount_all = float(snapshot.open_amount[open_mask].sum())
    result = RiskResult(command="risk", as_of=snapshot.as_of, query=query, period=period, overall=overall,
                        open_deals=int(open_mask.sum()), open_amount=open_amount_all,
                        open_without_amount=int((open_mask & ~snapshot.open_has_amount).sum()),
                        revenue_at_risk=round(open_amount_all * (1 - (overall.win_rate or 0)), 2), min_n=min_n)
    result.notes.extend(censoring_notes(snapshot, period))
    if overall.n == 0:
        result.notes.append("no_deals")
        return result

    candidates = []
    # the period's closed deals and the open pipeline, each counted once into cells (insights/cells.py):
    # the many groupings below cost the number of cells, not of deals
    groupings = segment_groupings(snapshot, query)
    dims = tuple(dict.fromkeys(d for g in groupings for d in g))
    closed = cached_cells(snapshot, ("risk", period, query.filters, dims), lambda: Cells.of(snapshot, [mask], dims))
    open_dims = tuple(d for d in dims if d != "cycle_band")  # an open deal has no cycle yet
    pipeline = cached_cells(snapshot, ("risk-open", query.filters, open_dims),
                            lambda: Cells.of(snapshot, [open_mask], open_dims, open_pipeline=True))
    for grouping in groupings:
        counts = closed.count(closed.everything(), grouping)
        pipeline_known = "cycle_band" not in grouping
        if pipeline_known:
            open_n = pipeline.count(pipeline.everything(), grouping).n
            open_amount = pipeline.amounts(pipeline.everything(), grouping)
        for i in np.flatnonzero(counts.n >= min_n):
            candidates.append((counts.labels(snapshot, i), int(counts.won[i]), int(counts.n[i]),
                               int(open_n[i]) if pipeline_known else None,
                               float(open_amount[i]) if pipeline_known else None))
    if not candidates:
        result.notes.append("too_few_segments")
        return result
    won = np.array([c[1] for c in candidates])
    n = np.array([c[2] for c in candidates])
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
        segment, _, _, open_n, amount = candidates[k]
        rate = Rate.of(won[k], n[k])
        at_risk = (lambda loss: None if amount is None else round(amount * loss, 2))
        rows.append(SegmentRisk(
            **rate.rate_fields(), segment=segment, label=segment_label(segment),
            shortfall_pp=_round(100 * (team - won[k] / n[k]), 2), impact_score=_round(impact[k], 1),
            vs_rest=Comparison.build(rate, Rate.of(rest_won[k], rest_n[k]), "rest of selection", adjusted[k],
                                     significant[k], tests[k], tested),
            open_deals=open_n, open_amount=amount,
            revenue_at_risk=at_risk(1 - rate.win_rate),
            revenue_at_risk_low=at_risk(1 - rate.ci_high),
            revenue_at_risk_high=at_risk(1 - rate.ci_low),
        ))
    result.segments = rows
    result.folded = len(fold)
    result.tested = tested
    result.significant_count = int(sum(r.vs_rest.significant for r in rows))
    result.actions = rank(from_risk(snapshot, result))
    return result


def _explained_by_parent(candidates, significant, impact) -> set[int]:
    """Two-way segments that only repeat a significant single segment's story.

    APAC · Pro under a significant APAC is folded unless it differs significantly (BH across
    these checks) from the rest of APAC; a drop that lives in Europe · Pro alone stays listed even
    when it also drags the whole of Pro down.
    """
    singles = {next(iter(c[0].items())): k for k, c in enumerate(candidates)
               if len(c[0]) == 1 and significant[k] and impact[k] > 0}
    checks = []  # (pair index, p-value against the parent's other deals; worst over parents)
    for k, (segment, won, n, _, _) in enumerate(candidates):
        parents = [singles[item] for item in segment.items() if item in singles]
        if len(segment) < 2 or not parents or impact[k] <= 0:
            continue
        worst = 0.0
        for j in parents:
            _, parent_won, parent_n, _, _ = candidates[j]
            p, _ = two_proportion_test(won, n, parent_won - won, parent_n - n)
            worst = max(worst, 1.0 if np.isnan(p[0]) else float(p[0]))
        checks.append((k, worst))
    if not checks:
        return set()
    _, differs = benjamini_hochberg([c[1] for c in checks])
    return {k for (k, _), d in zip(checks, differs) if not d}
