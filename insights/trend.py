"""/trend: win rate per month or quarter, and is the period in question a real change?

By default the period tested is the period in question (insights/focus.py): the latest complete
period against the complete periods before it, by closed date, or by created-date cohort when the
extract is right-censored. With a typed period the latest complete period inside it is tested.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np

from .focus import BASELINE_PERIODS, baseline_before, cohorts_complete_until, left_truncated_until, period_in_question, usable_start
from .counting import counter_of, rate_in
from .periods import Period, add_months, grain_months, periods_between
from .query import Query
from .results import Comparison, Rate, Result, _round
from .season import Season, usual_change
from .select import median_days_by, period_mask
from .selection import Selection
from .snapshot import Snapshot
from .winrate import MIN_N, compare_rates


@dataclass(frozen=True, kw_only=True)
class TrendPoint(Rate):
    label: str
    start: dt.date
    end: dt.date
    complete: bool
    # "right": deals created after the extract cut-off are missing; "left": deals created before its
    # start are; "window": a cohort whose outcome window has not fully elapsed
    censored: str | None
    median_cycle_days: float | None


@dataclass(kw_only=True)
class TrendResult(Result):
    grain: str
    points: list[TrendPoint] = field(default_factory=list)
    tested_period: str | None = None
    baseline_periods: list[str] = field(default_factory=list)
    change: Comparison | None = None
    verdict: str = "not_tested"  # drop | rise | noise | not_tested (against the usual change when `season.pattern`)
    season: Season | None = None  # the usual change of the tested period in earlier cycles (insights/season.py)
    censoring: dict | None = None
    outcome_window_days: int | None = None  # set when points are created-date cohorts
    min_n: int = MIN_N


def trend(snapshot: Snapshot, query: Query, min_n: int = MIN_N) -> TrendResult:
    """Win rate per period; the period in question (or the latest complete one asked for) tested."""
    grain = query.grain or "quarter"
    focus = period_in_question(snapshot, grain) if query.period is None else None
    basis = focus.basis if focus else "closed"
    window = focus.window_days if focus else None
    sel = Selection(snapshot, query) if focus is None else Selection.over(snapshot, query, _all_data(snapshot, basis, window))
    span, mask = sel.period, sel.current
    periods = periods_between(span.start, span.end, grain)
    step = grain_months(grain)
    first_index = (periods[0].start.year * 12 + periods[0].start.month - 1) // step if periods else 0
    count = len(periods)
    counter = counter_of(snapshot)
    if counter is not None:  # counted where the deals live: per (month, outcome, cycle length), with weights
        table = counter.cycle_table(mask, month="created" if basis == "created" else "closed")
        index = table["month"].to_numpy() // step - first_index
        weights, is_won = table["n"].to_numpy(), table["won"].to_numpy()
        whole = np.clip(np.rint(np.nan_to_num(table["cycle"].to_numpy(), nan=-1)), -1, None).astype(np.int32)
        n = np.bincount(index, weights=weights, minlength=count)[:count].astype(np.int64)
        won = np.bincount(index[is_won], weights=weights[is_won], minlength=count)[:count].astype(np.int64)
        medians = median_days_by(index, whole, count, weights=weights)
    else:
        months = snapshot.created_month if basis == "created" else snapshot.closed_month
        chosen = slice(None) if mask.all() else mask  # every deal (plain /trend): no copies of ten million values
        index = months[chosen] // step - first_index
        n = np.bincount(index, minlength=count)[:count]
        won = np.bincount(index[snapshot.won[chosen]], minlength=count)[:count].astype(np.int64)
        medians = median_days_by(index, snapshot.cycle_whole[chosen], count)

    flags = _flags(snapshot, basis, window)
    points = []
    for k, p in enumerate(periods):
        # An explicit range that starts or ends inside a period makes it partial; "all data" does not.
        complete = p.complete and (query.period is None or (p.start >= span.start and p.end <= span.end))
        points.append(TrendPoint(**Rate.of(won[k], n[k]).rate_fields(), label=_label(p, basis), start=p.start,
                                 end=p.end, complete=complete, censored=flags(p),
                                 median_cycle_days=_round(medians[k], 1)))

    notes = ["left_truncated"] if any(p.censored == "left" for p in points) else []
    test = _test_focus(points, focus, min_n) if focus is not None else _test_latest(sel, grain, points, min_n)
    notes += test.notes
    season = None
    if test.change is not None:
        season, test = _against_the_usual(sel, grain, test, points, basis, window)
    return TrendResult(command="trend", as_of=snapshot.as_of, query=query, period=span, grain=grain,
                       points=points, tested_period=test.tested_period, baseline_periods=test.baseline_periods,
                       change=test.change, verdict=test.verdict, season=season, censoring=_censoring(snapshot, grain),
                       outcome_window_days=window, min_n=min_n, notes=notes,
                       date_basis="created_date" if basis == "created" else "closed_date")


@dataclass(frozen=True)
class _Test:
    """What testing a period found: the change and its verdict, or the notes saying why none."""

    tested_period: str | None = None
    baseline_periods: list[str] = field(default_factory=list)
    change: Comparison | None = None
    verdict: str = "not_tested"
    notes: tuple[str, ...] = ()


def _censoring(snapshot: Snapshot, grain: str) -> dict | None:
    """Where the extract cuts created dates short, and the closed-date periods that cut leaves partial."""
    report = snapshot.report
    if report.censored_after is None:
        return None
    closed_flags = _flags(snapshot, "closed", None)
    closed_periods = periods_between(report.closed_range[0], snapshot.as_of, grain) if report.closed_range else []
    return {"created_until": report.censored_after.isoformat(),
            "closed_until": report.closed_range[1].isoformat(),
            "periods": [p.label for p in closed_periods if closed_flags(p) == "right"]}


def _against_the_usual(sel: Selection, grain: str, test: _Test, points: list[TrendPoint], basis: str,
                       window: int | None) -> tuple[Season | None, _Test]:
    """With a real yearly (or quarter-end) pattern in earlier cycles, the verdict is against the usual
    change, not against no change (insights/season.py)."""
    current = next(p for p in points if p.label == test.tested_period)
    cohort = {"basis": basis, "window_days": window}  # created-date cohorts have seasons too
    period = Period(current.start, current.end, current.label, **cohort)
    step = grain_months(grain) * len(test.baseline_periods)
    first = next((p.start for p in points if p.label == test.baseline_periods[0]),
                 add_months(current.start, -step))
    baseline = Period(first, current.start - dt.timedelta(days=1), test.change.baseline_label, **cohort)
    season = usual_change(sel.snapshot, sel.filtered, period, baseline, Rate(**current.rate_fields()),
                          test.change.baseline)
    if season is not None and season.pattern:
        verdict = "noise" if not season.significant else ("drop" if season.change_vs_usual_pp < 0 else "rise")
        test = replace(test, verdict=verdict)
    return season, test


def _all_data(snapshot: Snapshot, basis: str, window: int | None) -> Period:
    """Every deal: by closed date, or every cohort from the first created date to the cut-off."""
    if basis == "created":
        first, last = snapshot.report.created_range
        return Period(first, min(last, snapshot.as_of), "all cohorts", basis="created", window_days=window)
    return Period(snapshot.first_closed or snapshot.as_of, snapshot.as_of, "all closed deals")


def _label(p: Period, basis: str) -> str:
    return f"{p.label.replace(' (to date)', '')} cohort" if basis == "created" else p.label


def _flags(snapshot: Snapshot, basis: str, window: int | None):
    """The censoring flag of a period: why its deals are not all there (None when they are)."""
    if basis == "created":
        start, until = usable_start(snapshot, "created"), cohorts_complete_until(snapshot, window or 0)
        return lambda p: "window" if p.end > until else ("left" if start is not None and p.start < start else None)
    cut, left_until = snapshot.report.censored_after, left_truncated_until(snapshot)

    def flag(p: Period) -> str | None:
        if cut is not None and p.end > cut:
            return "right"
        if left_until is not None and p.start < left_until:
            return "left"
        return None
    return flag


def _test_focus(points: list[TrendPoint], focus, min_n: int) -> _Test:
    """The period in question against its baseline (the complete periods before it)."""
    current = next((p for p in points if p.start == focus.current.start), None)
    if current is None or current.n < min_n:
        return _Test(notes=("too_few_in_period",))
    if focus.baseline is None:
        return _Test(notes=("no_baseline",))
    before = [p for p in points if focus.baseline.start <= p.start and p.end <= focus.baseline.end and p.n > 0]
    return _compare(current, before, min_n)


def _test_latest(sel: Selection, grain: str, points: list[TrendPoint], min_n: int) -> _Test:
    """The latest complete, uncensored period of a typed range against the complete periods before
    it, up to four, as the defaults do: reaching before the range when it holds fewer, never
    before the data holds all of a period's deals."""
    usable = [k for k, p in enumerate(points) if p.complete and p.censored is None]
    tested = next((k for k in reversed(usable) if points[k].n >= min_n), None)
    if tested is None:
        return _Test()
    current = points[tested]
    before = [points[k] for k in usable if k < tested and points[k].n > 0][-BASELINE_PERIODS:]
    span = baseline_before(sel.snapshot, Period(current.start, current.end, current.label))
    if span is not None and (not before or span.start < before[0].start):
        mask = sel.filtered & period_mask(sel.snapshot, span)
        counts = [p.label for p in periods_between(span.start, span.end, grain)]
        return _compare_rate(current, rate_in(sel.snapshot, mask), counts, min_n)
    return _compare(current, before, min_n)


def _compare(current: TrendPoint, before: list[TrendPoint], min_n: int) -> _Test:
    if not before:
        return _Test()
    baseline = Rate.of(sum(p.won for p in before), sum(p.n for p in before))
    return _compare_rate(current, baseline, [p.label for p in before], min_n)


def _compare_rate(current: TrendPoint, baseline: Rate, labels: list[str], min_n: int) -> _Test:
    label = labels[0] if len(labels) == 1 else f"{labels[0]} to {labels[-1]}"
    change = compare_rates(current, baseline, label, min_n)
    if change is None:
        return _Test()
    verdict = "noise" if not change.significant else ("drop" if change.change_pp < 0 else "rise")
    return _Test(tested_period=current.label, baseline_periods=labels, change=change, verdict=verdict)
