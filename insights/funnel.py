"""/funnel: where lost deals stop (stage drop-off) and the Cycle-Outcome Gap per segment."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .labels import fold_key
from .query import Query
from .results import Rate, Result, _round, _sig
from .schema import STAGE_ORDER
from .counting import counter_of, counts_of
from .select import cell_index, median_days_by
from .selection import Selection
from .snapshot import Snapshot
from .stats import benjamini_hochberg, mann_whitney_from_counts, wilson_interval
from .winrate import MIN_N, segment_label

DEFAULT_GAP_DIMENSION = "region"


@dataclass(frozen=True, kw_only=True)
class StageRow:
    stage: str
    reached: int  # closed deals whose last stage is this one or later
    lost_here: int  # lost deals whose last stage was this one
    share_of_lost: float | None
    share_ci_low: float | None
    share_ci_high: float | None
    pass_rate: float | None  # of deals reaching this stage, the share that reached the next one
    pass_ci_low: float | None
    pass_ci_high: float | None


@dataclass(frozen=True, kw_only=True)
class CycleGap:
    segment: dict[str, str]
    label: str
    n_won: int
    n_lost: int
    median_won_days: float | None
    median_lost_days: float | None
    gap_days: float | None  # median Won minus median Lost
    p_value: float | None  # Mann-Whitney, BH-adjusted across the segments shown
    significant: bool
    enough: bool


@dataclass(kw_only=True)
class FunnelResult(Result):
    overall: Rate
    stages: list[StageRow] = field(default_factory=list)
    stage_order_known: bool = True
    gap_dimension: str = DEFAULT_GAP_DIMENSION
    overall_gap: CycleGap | None = None
    gaps: list[CycleGap] = field(default_factory=list)
    tested: int = 0
    min_n: int = MIN_N


def funnel(snapshot: Snapshot, query: Query, min_n: int = MIN_N) -> FunnelResult:
    """Where lost deals stop (when the stage column tells) and the Cycle-Outcome Gap per segment."""
    sel = Selection(snapshot, query)
    overall = sel.overall
    gap_dim = query.group_by[0] if query.group_by else DEFAULT_GAP_DIMENSION
    fields = {"command": "funnel", "as_of": snapshot.as_of, "query": query, "period": sel.period,
              "overall": overall, "gap_dimension": gap_dim, "min_n": min_n}
    if overall.n == 0:
        return FunnelResult(**fields, notes=["no_deals"])
    notes, stages, order_known = [], [], True
    if "deal_stage" in snapshot.dimensions and snapshot.report.stage_outcome_only:
        notes.append("stage_outcome_only")  # Closed Won / Closed Lost: where lost deals stopped is unknown
    elif "deal_stage" in snapshot.dimensions:
        stages, order_known = _stages(snapshot, sel.current)
    if len(query.group_by) > 1:
        notes.append("gap_uses_first_dimension")
    overall_gap, gaps, tested = _gaps(sel, gap_dim, min_n)
    return FunnelResult(**fields, notes=notes, stages=stages, stage_order_known=order_known,
                        overall_gap=overall_gap, gaps=gaps, tested=tested)


def _gaps(sel: Selection, gap_dim: str, min_n: int) -> tuple[CycleGap, list[CycleGap], int]:
    """The Cycle-Outcome Gap of all the period's deals and of each value of `gap_dim` (BH across them),
    from per-segment day histograms of won and lost cycles; and how many segments were tested."""
    snapshot, mask = sel.snapshot, sel.current
    dims = (gap_dim,) if gap_dim in snapshot.dimensions else ()
    counter = counter_of(snapshot)
    if counter is not None:  # counted where the deals live per (segment, outcome, cycle length): the period's
        # deals rebuilt from those counts (the same values in another order, which no histogram or median sees)
        # weighted by how many deals each row stands for (never one array entry per deal: at 100M deals a
        # quarter's deals repeated took 800 MB)
        table = counter.cycle_table(mask, dim=gap_dim if dims else None)
        weights = table["n"].to_numpy()
        cells, won, days = table["code"].to_numpy(), table["won"].to_numpy(), table["cycle"].to_numpy()
        sizes = [len(snapshot.values(d)) for d in dims]
    else:
        cells, sizes = cell_index(snapshot, mask, dims)
        won = snapshot.won[mask]
        days = snapshot.cycle_days[mask]
        weights = None
    count = int(np.prod(sizes)) if dims else 1
    whole = np.rint(np.nan_to_num(days, nan=0)).astype(np.int64)
    width = int(whole.max()) + 1

    def part(values, which):
        return values[which], None if weights is None else weights[which]

    def hist(which):
        index, w = part(cells * width + whole, which)
        found = np.bincount(index, weights=w, minlength=count * width).reshape(count, width)
        return found if w is None else found.astype(np.int64)

    hist_won, hist_lost = hist(won), hist(~won)
    med_won = median_days_by(cells[won], days[won], count, weights=part(days, won)[1])
    med_lost = median_days_by(cells[~won], days[~won], count, weights=part(days, ~won)[1])

    def gap(segment, w, l, mw, ml, p, sig):
        enough = w.sum() >= min_n / 2 and l.sum() >= min_n / 2
        return CycleGap(segment=segment, label=segment_label(segment) if segment else "all deals",
                        n_won=int(w.sum()), n_lost=int(l.sum()), median_won_days=_round(mw, 1),
                        median_lost_days=_round(ml, 1),
                        gap_days=None if np.isnan(mw) or np.isnan(ml) else _round(mw - ml, 1),
                        p_value=_sig(p), significant=bool(sig), enough=bool(enough))

    total_w, total_l = hist_won.sum(axis=0), hist_lost.sum(axis=0)
    p_all = mann_whitney_from_counts(total_w, total_l)
    overall_gap = gap({}, total_w, total_l, _median(*part(days, won)) if won.any() else np.nan,
                      _median(*part(days, ~won)) if (~won).any() else np.nan,
                      p_all, p_all is not None and p_all < 0.05)
    if not dims:
        return overall_gap, [], 0
    raw_p = np.array([
        mann_whitney_from_counts(hist_won[c], hist_lost[c])
        if hist_won[c].sum() >= min_n / 2 and hist_lost[c].sum() >= min_n / 2 else np.nan
        for c in range(count)
    ], dtype=float)
    adjusted, significant = benjamini_hochberg(raw_p)
    labels = snapshot.values(gap_dim)
    gaps = [gap({gap_dim: labels[c]}, hist_won[c], hist_lost[c], med_won[c], med_lost[c], adjusted[c], significant[c])
            for c in range(count) if hist_won[c].sum() + hist_lost[c].sum() > 0]
    return overall_gap, gaps, int((~np.isnan(raw_p)).sum())


def _median(days: np.ndarray, weights: np.ndarray | None) -> float:
    """np.nanmedian(days), or of `days` each repeated `weights` times (the same two middle values, averaged
    as np.median averages them)."""
    if weights is None:
        return float(np.nanmedian(days))
    known = ~np.isnan(days)
    days, weights = days[known], weights[known]
    order = np.argsort(days, kind="stable")
    days, ends = days[order], np.cumsum(weights[order])
    total = int(ends[-1]) if len(ends) else 0
    if not total:
        return np.nan
    lower, upper = (days[np.searchsorted(ends, k, side="right")] for k in ((total - 1) // 2, total // 2))
    return float(lower) if total % 2 else float(np.mean(np.array([lower, upper])))


def _stages(snapshot: Snapshot, mask: np.ndarray) -> tuple[list[StageRow], bool]:
    labels = snapshot.values("deal_stage")
    known = {fold_key(s) for s in (snapshot.report.stage_order or STAGE_ORDER)}
    order_known = all(fold_key(s) in known for s in labels)
    counts = counts_of(snapshot, mask, ("deal_stage",))
    at, lost_at = counts.n, counts.n - counts.won
    reached = at[::-1].cumsum()[::-1]  # categories are in funnel order
    total_lost = int(lost_at.sum())
    share_low, share_high = wilson_interval(lost_at, np.full(len(labels), total_lost))
    pass_n = np.append(reached[1:], 0)
    pass_low, pass_high = wilson_interval(pass_n, reached)
    rows = []
    for k, stage in enumerate(labels):
        last = k == len(labels) - 1
        rows.append(StageRow(
            stage=stage, reached=int(reached[k]), lost_here=int(lost_at[k]),
            share_of_lost=_round(lost_at[k] / total_lost, 4) if total_lost else None,
            share_ci_low=_round(share_low[k], 4), share_ci_high=_round(share_high[k], 4),
            pass_rate=None if last or not reached[k] or not order_known else _round(pass_n[k] / reached[k], 4),
            pass_ci_low=None if last or not order_known else _round(pass_low[k], 4),
            pass_ci_high=None if last or not order_known else _round(pass_high[k], 4),
        ))
    return rows, order_known
