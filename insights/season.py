"""The usual change: how the same period moved against its own baseline in earlier cycles.

A quarter is compared with the four before it; if every Q4 wins 7 pp more than the year before it
did, a Q4 lift is the usual, not news. With at least two years of history the same comparison is
made for the same quarter (or month) a year, two, three years earlier; with less history, a month is
compared with the same month of each of the four quarters before (the quarter-end push: the last
month of every quarter wins more).
When those earlier changes are themselves significant (a real yearly or quarterly pattern), the
period's change is tested against their mean instead of against zero, and so is every segment's.
Earlier cycles that reach back before the data does (left-truncated periods) are not used.

The usual change is not known exactly, and not only because each cycle is a sample: the Q4 lift
itself varies from year to year. That variance (tau^2) is estimated from the other periods of the
data (Q1, Q2, Q3 ...): each one's change against its baseline, minus the same period's change a
year earlier, varies by its samples' variance plus 2 tau^2 (a method-of-moments estimate, truncated
at zero, as DerSimonian and Laird's). A period is then unusual only when its change differs from
the usual one by more than the samples *and* the years vary: a Q4 that rose 5 pp more than the one
earlier Q4 is not news when the other quarters differ from their year-earlier selves that much too.

A usual change measured on one or two earlier cycles shares its luck with them: a Q4 that rose 5 pp
beyond the one earlier Q4 whose baseline the data holds may only show that that Q4 was a low draw.
So the period is called unusual only when it is so by two tests (an intersection-union test, valid at
5% with no correction; Berger 1982): its change against the usual change, and its rate against the
same period's mean rate (log-odds) in every earlier cycle the data holds whole, baseline or not
(2022Q4 and 2023Q4 for 2024Q4), each at 5% and the same way. A Q4 without the usual lift is still a
fall by both; a Q4 whose lift is the usual one but 2023Q4 happened to rise less is not news.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats as sps

from .focus import usable_start
from .counting import rate_in
from .periods import Period, add_months, grain_months, run_of, whole_run
from .results import Rate, _round, _sig
from .select import period_mask
from .snapshot import Snapshot
from .stats import ALPHA, log_odds

YEARS_BACK = 3  # earlier years looked at for a quarter (or longer period)
QUARTERS_BACK = 4  # earlier quarters looked at for a month


@dataclass(frozen=True)
class Expected:
    """The change (in log-odds) a period is expected to show against its baseline, and its variance."""

    shift: float = 0.0
    variance: float = 0.0


NO_CHANGE = Expected()


@dataclass(frozen=True, kw_only=True)
class EarlierCycle:
    """The same period in an earlier cycle against its own baseline."""

    period: str
    baseline_period: str
    current: Rate
    baseline: Rate
    change_pp: float


@dataclass(frozen=True, kw_only=True)
class Season:
    """The usual change of this kind of period, from earlier cycles, and the test against it."""

    kind: str  # "year" (the same period a year earlier, and before) | "quarter" (the same month of earlier quarters)
    to_date: bool = False  # the period is cut short by the as-of date: each earlier one is its same first days
    earlier: list[EarlierCycle] = field(default_factory=list)
    usual_change_pp: float | None = None  # mean of the earlier changes
    pattern_p_value: float | None = None  # are the earlier changes, together, different from zero?
    pattern: bool = False  # a real pattern: tests are made against the usual change
    change_vs_usual_pp: float | None = None  # this period's change minus the usual one
    # the year-to-year variance of a period's change (log-odds^2; module doc) and the pairs it is from
    yearly_variance: float = 0.0
    yearly_pairs: int = 0
    p_value: float | None = None  # this period's change against the usual one
    # the intersection-union test (module doc): this period's rate against the same period in the
    # earlier cycles (`cycle_earlier`, their mean log-odds), two-sided
    cycle_earlier: list[str] = field(default_factory=list)  # the same period in earlier cycles, whole
    cycle_earlier_change_pp: float | None = None  # this period's rate minus their mean rate
    cycle_earlier_p_value: float | None = None
    # the larger of `p_value` and `cycle_earlier_p_value`, 1 when the two point different ways: the period
    # moved unusually only when it did against the usual change and against the same period in earlier
    # cycles, the same way; `significant` is this p-value under ALPHA
    unusual_p_value: float | None = None
    significant: bool = False
    expected: Expected = NO_CHANGE  # what every segment's change is tested against


def usual_change(snapshot: Snapshot, selected: np.ndarray, period: Period, baseline: Period,
                 current: Rate, before: Rate) -> Season | None:
    """The usual change of `period` against `baseline` (see the module doc); None without an earlier
    cycle (less than two years of history for a quarter), or when the periods are not whole months
    or quarters. Created-date cohorts have seasons too (deals created in December close in the
    year's low quarter), so a cohort is measured against the same cohort of earlier cycles."""
    run = whole_run(period)
    if run is None or period.basis != baseline.basis or whole_run(baseline) is None:
        return None
    grain, count = run
    start = usable_start(snapshot, period.basis)
    if start is None:
        return None
    kind, step, cycles = "year", 12, YEARS_BACK
    if (grain == "month" and count == 1 or not period.complete) and _moved(baseline, -12).start < start:
        # under two years of history a month is compared with the same month of earlier quarters (a
        # quarter to date with the same days of earlier quarters); with more, the same month (days) a
        # year earlier carries both the quarter-end and the yearly pattern
        kind, step, cycles = "quarter", 3, QUARTERS_BACK
    earlier, deltas, variances, overlap = [], [], [], 0.0
    base_mask = selected & period_mask(snapshot, baseline)
    for k in range(1, cycles + 1):
        then = _moved(period, -step * k)
        then_base = _moved(baseline, -step * k)
        if then_base.start < start:
            break
        moved = _change(snapshot, selected, then, then_base)
        if moved is None:
            break
        delta, variance, now_mask, _, v1, a, b = moved
        deltas.append(delta)
        variances.append(variance)
        if then.start >= baseline.start and then.end <= baseline.end:
            # the earlier period is part of this period's baseline: the two changes move against each other
            overlap += v1 * (now_mask & base_mask).sum() / max(before.n, 1)
        earlier.append(EarlierCycle(period=then.label, baseline_period=then_base.label, current=a, baseline=b,
                                    change_pp=_round(100 * (a.won / a.n - b.won / b.n), 2)))
    if not earlier:
        return None
    shift, var_shift = float(np.mean(deltas)), float(np.sum(variances)) / len(deltas) ** 2
    if len(deltas) > 2:
        # cycles that differ by more than their samples do (March, in the year's low quarter, against
        # the other quarter-ends) make the usual change less certain: their spread counts, not only n
        var_shift = max(var_shift, float(np.var(deltas, ddof=1)) / len(deltas))
    pattern_p = float(2 * sps.norm.sf(abs(shift) / np.sqrt(var_shift)))
    pattern = pattern_p < ALPHA
    usual = float(np.mean([e.change_pp for e in earlier]))
    season = Season(kind=kind, to_date=not period.complete, earlier=earlier, usual_change_pp=_round(usual, 2), pattern_p_value=_sig(pattern_p),
                    pattern=pattern)
    if not pattern or not current.n or not before.n:
        return season
    tau2, pairs = (_yearly_variance(snapshot, selected, period, baseline, start) if kind == "year" else (0.0, 0))
    # this period's own year differs from the usual by tau^2, the usual (a mean of len(deltas) years) by tau^2 / n
    var_shift = var_shift + tau2 / len(deltas)
    # what any change now (the total's, each segment's) is tested against: the usual change, uncertain
    # by its samples, the years' variance, and the deals this period's baseline shares with the earlier
    # cycles (the baseline holds last year's Q4, which the usual change was measured on: a segment's
    # baseline shares them in proportion, so its covariance with the usual change is the total's)
    expected = Expected(shift, var_shift + tau2 + 2 * overlap / len(deltas))
    l1, v1 = log_odds(current.won, current.n)
    l0, v0 = log_odds(before.won, before.n)
    z = (l1 - l0 - shift) / np.sqrt(v1 + v0 + expected.variance)
    p = float(2 * sps.norm.sf(abs(z)))
    # the same period in every earlier cycle that holds all its deals (2022Q4 and 2023Q4 for 2024Q4),
    # rate against rate: their mean log-odds
    same = _same_period_earlier(snapshot, selected, period, step, cycles, start)
    l_then, v_then = np.mean([x[0] for x in same]), np.sum([x[1] for x in same]) / len(same) ** 2
    z_then = (l1 - l_then) / np.sqrt(v1 + v_then)
    p_then = float(2 * sps.norm.sf(abs(z_then)))
    unusual = max(p, p_then) if np.sign(z) == np.sign(z_then) else 1.0
    change = 100 * (current.won / current.n - before.won / before.n)
    then_rate = np.mean([x[2] for x in same])
    return Season(kind=kind, to_date=not period.complete, earlier=earlier, usual_change_pp=_round(usual, 2),
                  pattern_p_value=_sig(pattern_p), pattern=True, change_vs_usual_pp=_round(change - usual, 2), p_value=_sig(p),
                  cycle_earlier_p_value=_sig(p_then),
                  cycle_earlier=[x[3] for x in same],
                  cycle_earlier_change_pp=_round(100 * (current.won / current.n - then_rate), 2),
                  unusual_p_value=_sig(unusual), significant=unusual < ALPHA,
                  expected=expected, yearly_variance=_round(tau2, 6), yearly_pairs=pairs)


def _yearly_variance(snapshot: Snapshot, selected: np.ndarray, period: Period, baseline: Period,
                     start) -> tuple[float, int]:
    """tau^2, how much a period's change against its baseline varies from year to year beyond its
    samples (module doc), and the number of (period, same period a year earlier) pairs it rests on.
    From the other periods before this one (never this one: its change is what is tested), each
    with its year-earlier self and both baselines inside the data."""
    grain, count = whole_run(period)
    length = grain_months(grain) * count
    if length > 12 or 12 % length:
        return 0.0, 0
    diffs, variances = [], []
    for k in range(1, 12 // length * 2 + 1):
        pair = []
        for back in (length * k, length * k + 12):
            then, then_base = _moved(period, -back), _moved(baseline, -back)
            if then_base.start < start:
                break
            moved = _change(snapshot, selected, then, then_base)
            if moved is None:
                break
            pair.append(moved[:5])
        if len(pair) < 2:
            continue
        (d_a, v_a, _, base_a, _), (d_b, v_b, now_b, _, v_now_b) = pair
        # the year-earlier period is part of this one's baseline: the two changes move against each other
        shared = v_now_b * (now_b & base_a).sum() / max(base_a.sum(), 1)
        diffs.append(d_a - d_b)
        variances.append(v_a + v_b + 2 * shared)
    if not diffs:
        return 0.0, 0
    tau2 = (np.sum(np.square(diffs)) - np.sum(variances)) / (2 * len(diffs))
    return max(float(tau2), 0.0), len(diffs)


def _same_period_earlier(snapshot: Snapshot, selected, period: Period, step: int, cycles: int, start) -> list:
    """(log-odds, its variance, rate, label) of the same period in each earlier cycle that starts
    after the data does (its own baseline may not), nearest first; at least the one the usual change
    was measured on."""
    out = []
    for k in range(1, cycles + 1):
        then = _moved(period, -step * k)
        if then.start < start:
            break
        rate = rate_in(snapshot, selected & period_mask(snapshot, then))
        if not rate.n:
            break
        lo, v = log_odds(rate.won, rate.n)
        out.append((float(lo), float(v), rate.won / rate.n, then.label))
    return out


def _moved(period: Period, months: int) -> Period:
    """The same run of whole months or quarters, `months` earlier (negative) or later. A period the
    as-of date cuts short ("2025Q3 (to date)", 51 days) moves as its first days only: the same 51 days
    of the earlier quarter, not all of it — the quarter's last month, where the push to close wins most,
    is in neither."""
    grain, count = whole_run(period)
    moved = run_of(add_months(period.start, months), count, grain, basis=period.basis, window_days=period.window_days)
    if period.complete:
        return moved
    end = min(moved.start + (period.end - period.start), moved.end)
    return replace(moved, end=end, complete=False, label=f"{moved.label} (to {end.isoformat()})")


def _change(snapshot: Snapshot, selected, then, then_base):
    """The selection's change in log-odds from `then_base` to `then`: (change, its variance, the two
    masks, the later period's own variance, the two rates), or None when either period has no deals."""
    now_mask = selected & period_mask(snapshot, then)
    was_mask = selected & period_mask(snapshot, then_base)
    now, was = rate_in(snapshot, now_mask), rate_in(snapshot, was_mask)
    if not now.n or not was.n:
        return None
    l1, v1 = log_odds(now.won, now.n)
    l0, v0 = log_odds(was.won, was.n)
    return float(l1 - l0), float(v1 + v0), now_mask, was_mask, float(v1), now, was
