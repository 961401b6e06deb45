"""The period in question: one definition of "now" and "before", shared by every answer.

By default every command, the digest, the alerts and the Home tab look at the latest complete
period (a quarter that ends on the as-of date is complete) against the complete periods before it
(four by default: one quarter of baseline halves the power of every test). Periods that start
before the data does (left-truncated: older deals are missing) are never a baseline.

When the extract stopped taking new deals well before its last closed date (right-censored), the
latest closed-date quarters hold only the long-cycle deals created before the cut-off, so they are
not read at all. The question is answered instead on created-date cohorts: deals created in a
quarter, counting only outcomes within a fixed window after creation (covering 90% of the cycles
seen), for cohorts whose window has fully elapsed. Every cohort is then measured the same way and
the newest testable one is the headline.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from .periods import Period, latest_complete, run_of, shifted
from .snapshot import Snapshot

BASELINE_PERIODS = 4
WINDOW_QUANTILE = 90  # the outcome window covers this percentile of closed deals' cycles
WINDOW_STEP, WINDOW_MIN, WINDOW_MAX = 10, 30, 365  # days


@dataclass(frozen=True)
class Focus:
    """The period in question and its baseline (None when no complete period precedes it)."""

    current: Period
    baseline: Period | None
    basis: str  # closed | created (cohorts, when the extract is right-censored)
    window_days: int | None = None  # a cohort's outcome window


def left_truncated_until(snapshot: Snapshot) -> dt.date | None:
    """Closed periods starting before (first created date + 75th-percentile cycle) miss older deals.

    Deals created before the extract begins are absent, so the first closed periods hold mostly
    short-cycle deals. An extract of "deals closed since X" reaches back far enough to flag none.
    """
    report = snapshot.report
    if not report.created_range or not len(snapshot.deals):
        return None
    return report.created_range[0] + dt.timedelta(days=int(snapshot.cycle_p75))


def usable_start(snapshot: Snapshot, basis: str = "closed") -> dt.date | None:
    """The earliest date a period may start on and still hold all of its deals."""
    report = snapshot.report
    if basis == "created":
        # an extract of "deals created since X" starts its closes within days of X; one of "deals
        # closed since X" reaches back to older creations, whose cohorts miss their quick closes
        if not report.created_range or snapshot.first_closed is None:
            return None
        first_created = report.created_range[0]
        quick = snapshot.first_closed - first_created <= dt.timedelta(days=WINDOW_MIN)
        return first_created if quick else snapshot.first_closed
    firsts = [d for d in (left_truncated_until(snapshot), snapshot.first_closed) if d]
    return max(firsts) if firsts else None


def outcome_window(snapshot: Snapshot) -> int:
    """Days after creation within which a cohort's outcomes are counted."""
    from .counting import cycle_percentile  # here: counting builds on select, which builds on this module

    raw = cycle_percentile(snapshot, WINDOW_QUANTILE)
    if raw is None:
        return WINDOW_MIN
    return int(min(WINDOW_MAX, max(WINDOW_MIN, WINDOW_STEP * math.ceil(raw / WINDOW_STEP))))


def cohorts_complete_until(snapshot: Snapshot, window: int) -> dt.date:
    """The last created date whose cohort outcomes are all in: before the cut-off, window elapsed."""
    report = snapshot.report
    created_until = report.censored_after or snapshot.as_of
    return min(created_until, snapshot.as_of - dt.timedelta(days=window))


def baseline_before(snapshot: Snapshot, current: Period, count: int = BASELINE_PERIODS) -> Period | None:
    """Up to `count` complete periods just before `current`, none starting before the data does."""
    start = usable_start(snapshot, current.basis)
    for k in range(count, 0, -1):
        candidate = shifted(current, "previous", k)
        if start is None or candidate.start >= start:
            return candidate
    return None


def _latest_cohort(snapshot: Snapshot, grain: str, window: int) -> Period:
    until = cohorts_complete_until(snapshot, window)
    return run_of(latest_complete(until, grain).start, 1, grain, basis="created", window_days=window)


def needs_cohorts(snapshot: Snapshot, grain: str = "quarter") -> bool:
    """True when the latest complete closed-date period runs past the extract's created cut-off."""
    cut = snapshot.report.censored_after
    return cut is not None and latest_complete(snapshot.as_of, grain).end > cut


def period_in_question(snapshot: Snapshot, grain: str = "quarter", count: int = BASELINE_PERIODS) -> Focus:
    """The latest complete period and the `count` complete periods before it (see the module doc)."""
    if needs_cohorts(snapshot, grain):
        window = outcome_window(snapshot)
        current = _latest_cohort(snapshot, grain, window)
        return Focus(current=current, baseline=baseline_before(snapshot, current, count), basis="created",
                     window_days=window)
    current = latest_complete(snapshot.as_of, grain)
    return Focus(current=current, baseline=baseline_before(snapshot, current, count), basis="closed")
