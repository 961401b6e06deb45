"""/trend: win rate per month or quarter by closed date, and is the latest period a real change?"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from .periods import grain_months, periods_between
from .query import Query
from .results import Comparison, Rate, Result, _round
from .select import filter_mask, median_days_by, period_mask, resolve_periods
from .snapshot import Snapshot
from .winrate import MIN_N, compare_rates

BASELINE_PERIODS = 4  # the tested period is compared with up to this many complete periods before it


@dataclass(frozen=True, kw_only=True)
class TrendPoint(Rate):
    label: str
    start: dt.date
    end: dt.date
    complete: bool
    censored: str | None  # "right": deals created after the extract cut-off are missing; "left": before it
    median_cycle_days: float | None


@dataclass(kw_only=True)
class TrendResult(Result):
    grain: str
    points: list[TrendPoint] = field(default_factory=list)
    tested_period: str | None = None
    baseline_periods: list[str] = field(default_factory=list)
    change: Comparison | None = None
    verdict: str = "not_tested"  # drop | rise | noise | not_tested
    censoring: dict | None = None
    min_n: int = MIN_N


def trend(snapshot: Snapshot, query: Query, min_n: int = MIN_N) -> TrendResult:
    """Win rate per period; the latest complete, uncensored period tested against the ones before."""
    span, _ = resolve_periods(snapshot, query)
    grain = query.grain or "quarter"
    mask = filter_mask(snapshot, query.filters) & period_mask(snapshot, span)
    periods = periods_between(span.start, span.end, grain)
    step = grain_months(grain)
    first_index = (periods[0].start.year * 12 + periods[0].start.month - 1) // step if periods else 0
    index = snapshot.closed_month[mask] // step - first_index
    count = len(periods)
    n = np.bincount(index, minlength=count)[:count]
    won = np.bincount(index, weights=snapshot.won[mask], minlength=count)[:count].astype(np.int64)
    medians = median_days_by(index, snapshot.cycle_days[mask], count)

    report = snapshot.report
    censored_after = report.censored_after
    left_until = _left_truncated_until(snapshot)
    points = []
    for k, p in enumerate(periods):
        flag = None
        if censored_after is not None and p.end > censored_after:
            flag = "right"
        elif left_until is not None and p.start < left_until:
            flag = "left"
        # An explicit range that starts or ends inside a period makes it partial; "all data" does not.
        complete = p.complete and (query.period is None or (p.start >= span.start and p.end <= span.end))
        points.append(TrendPoint(**Rate.of(won[k], n[k]).rate_fields(), label=p.label, start=p.start, end=p.end,
                                 complete=complete, censored=flag, median_cycle_days=_round(medians[k], 1)))

    result = TrendResult(command="trend", as_of=snapshot.as_of, query=query, period=span, grain=grain,
                         points=points, min_n=min_n)
    if censored_after is not None:
        result.censoring = {"created_until": censored_after.isoformat(),
                            "closed_until": report.closed_range[1].isoformat(),
                            "periods": [p.label for p in points if p.censored == "right"]}
    if left_until is not None and any(p.censored == "left" for p in points):
        result.notes.append("left_truncated")
    _test_latest(result, points, min_n)
    return result


def _left_truncated_until(snapshot: Snapshot) -> dt.date | None:
    """Closed periods starting before (first created date + 75th-percentile cycle) miss older deals.

    Deals created before the extract begins are absent, so the first closed periods hold mostly
    short-cycle deals. An extract of "deals closed since X" reaches back far enough to flag none.
    """
    report = snapshot.report
    if not report.created_range or not len(snapshot.deals):
        return None
    return report.created_range[0] + dt.timedelta(days=int(snapshot.cycle_p75))


def _test_latest(result: TrendResult, points: list[TrendPoint], min_n: int) -> None:
    usable = [k for k, p in enumerate(points) if p.complete and p.censored is None]
    tested = next((k for k in reversed(usable) if points[k].n >= min_n), None)
    if tested is None:
        return
    before = [k for k in usable if k < tested and points[k].n > 0][-BASELINE_PERIODS:]
    if not before:
        return
    current = points[tested]
    baseline = Rate.of(sum(points[k].won for k in before), sum(points[k].n for k in before))
    label = points[before[0]].label if len(before) == 1 else f"{points[before[0]].label} to {points[before[-1]].label}"
    change = compare_rates(current, baseline, label, min_n)
    if change is None:
        return
    result.tested_period = current.label
    result.baseline_periods = [points[k].label for k in before]
    result.change = change
    result.verdict = "noise" if not change.significant else ("drop" if change.change_pp < 0 else "rise")
