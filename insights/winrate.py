"""/winrate: win rate for any filter, grouping and period, with intervals and honest comparisons."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .counting import amount_rate_in, amount_sums_by, counts_of
from .periods import Period
from .query import Query
from .results import AmountRate, Comparison, Rate, Result, SegmentRate
from .season import Season, usual_change
from .select import censoring_notes
from .selection import Selection
from .snapshot import Snapshot
from .stats import benjamini_hochberg, minimum_detectable_change, two_proportion_test

MIN_N = 30  # below this a segment is shown as "too few deals", never ranked or tested


@dataclass(kw_only=True)
class WinRateResult(Result):
    overall: Rate
    amount: AmountRate | None = None  # dollar-weighted: won amount / closed amount
    baseline_amount: AmountRate | None = None  # the same for the compared period
    compare_period: Period | None = None
    change: Comparison | None = None
    group_by: list[str] = field(default_factory=list)
    groups: list[SegmentRate] = field(default_factory=list)
    min_n: int = MIN_N
    tested: int = 0
    # `vs previous`: the usual change between these two periods in earlier cycles, as /why measures it
    # (insights/season.py), so a Q2-over-Q1 lift every year is not read as news
    season: Season | None = None


def compare_rates(current: Rate, baseline: Rate, label: str, min_n: int = MIN_N) -> Comparison | None:
    """Test one rate against a baseline; None when either side is under the minimum n."""
    if current.n < min_n or baseline.n < min_n:
        return None
    p, test = two_proportion_test(current.won, current.n, baseline.won, baseline.n)
    pooled = (current.won + baseline.won) / (current.n + baseline.n)
    mde = minimum_detectable_change(pooled, current.n, baseline.n)
    return Comparison.build(current, baseline, label, p[0], p[0] < 0.05, test[0], 1, mde)


def amount_rate(snapshot: Snapshot, mask: np.ndarray) -> AmountRate:
    """Dollar-weighted win rate of the masked closed deals."""
    return amount_rate_in(snapshot, mask)


def segment_label(segment: dict[str, str]) -> str:
    return " · ".join(segment.values())


def win_rate(snapshot: Snapshot, query: Query, min_n: int = MIN_N) -> WinRateResult:
    """Win rate of the selected deals, optionally by one or more dimensions and against a period."""
    sel = Selection(snapshot, query)
    overall, baseline = sel.overall, sel.baseline_overall
    # with every lost deal at 0 the rate by amount is 100% by construction: withheld, and said why
    by_amount = not snapshot.report.lost_amounts_zeroed
    change = None if baseline is None else compare_rates(overall, baseline, sel.compare_period.label, min_n)
    notes = [] if by_amount else ["lost_amounts_zeroed"]
    if baseline is not None and change is None:
        notes.append("too_few_to_compare")
    notes += censoring_notes(snapshot, sel.period, sel.compare_period)
    groups, tested = _groups(sel, overall, min_n) if query.group_by else ([], 0)
    if overall.n == 0:
        notes.append("no_deals")
    amount = amount_rate(snapshot, sel.current) if by_amount else None
    baseline_amount = amount_rate(snapshot, sel.baseline) if by_amount and baseline is not None else None
    season = usual_change(snapshot, sel.filtered, sel.period, sel.compare_period, overall, baseline) \
        if change is not None and query.compare.kind in ("previous", "baseline") else None
    return WinRateResult(season=season, command="winrate", as_of=snapshot.as_of, query=query, period=sel.period,
                         compare_period=sel.compare_period, overall=overall, amount=amount,
                         baseline_amount=baseline_amount, change=change, group_by=list(query.group_by), groups=groups, min_n=min_n, tested=tested,
                         notes=notes)


def _groups(sel: Selection, overall: Rate, min_n: int) -> tuple[list[SegmentRate], int]:
    """Each segment of the grouping, against the rest of the selection (and its own baseline)."""
    snapshot, dims, current, baseline_mask = sel.snapshot, sel.query.group_by, sel.current, sel.baseline
    cur = counts_of(snapshot, current, dims)
    sums = amount_sums_by(snapshot, current, dims)  # numbered as the counts are
    base = counts_of(snapshot, baseline_mask, dims) if baseline_mask is not None else None
    keep = np.flatnonzero(cur.n > 0)
    enough = cur.n[keep] >= min_n
    # Each segment against the rest of the selection; or, with `vs`, against its own baseline.
    rest_won, rest_n = overall.won - cur.won[keep], overall.n - cur.n[keep]
    p_rest, t_rest = two_proportion_test(cur.won[keep], cur.n[keep], rest_won, rest_n)
    p_rest = np.where(enough & (rest_n >= min_n), p_rest, np.nan)
    adj_rest, sig_rest = benjamini_hochberg(p_rest)
    tested_rest = tested = int((~np.isnan(p_rest)).sum())
    if base is not None:
        bw, bn = base.won[keep], base.n[keep]
        p_chg, t_chg = two_proportion_test(cur.won[keep], cur.n[keep], bw, bn)
        p_chg = np.where(enough & (bn >= min_n), p_chg, np.nan)
        adj_chg, sig_chg = benjamini_hochberg(p_chg)
        tested = int((~np.isnan(p_chg)).sum())
    rows = []
    for j, i in enumerate(keep):
        segment = cur.labels(snapshot, i)
        rate = Rate.of(cur.won[i], cur.n[i])
        vs_rest = change = None
        if not np.isnan(p_rest[j]):
            vs_rest = Comparison.build(rate, Rate.of(rest_won[j], rest_n[j]), "rest of selection", adj_rest[j],
                                       sig_rest[j], t_rest[j], tested_rest)
        if base is not None and not np.isnan(p_chg[j]):
            change = Comparison.build(rate, Rate.of(bw[j], bn[j]), sel.compare_period.label, adj_chg[j], sig_chg[j],
                                      t_chg[j], tested)
        rows.append(SegmentRate(**rate.rate_fields(), segment=segment, label=segment_label(segment),
                                share=round(rate.n / overall.n, 4) if overall.n else None,
                                enough=bool(enough[j]), vs_rest=vs_rest, change=change,
                                amount=AmountRate.from_sums(*(s[i] for s in sums), cur.n[i])
                                if not snapshot.report.lost_amounts_zeroed else None))
    ranked = sorted((r for r in rows if r.enough), key=lambda r: -r.win_rate)
    few = sorted((r for r in rows if not r.enough), key=lambda r: -r.n)
    ranked = [dataclasses.replace(r, rank=k + 1) for k, r in enumerate(ranked)]
    return ranked + few, tested
