"""Calendar periods (months, quarters, ranges) and resolving what a user asked for against as-of."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

GRAINS = ("month", "quarter", "year")


BASES = ("closed", "created")  # which date puts a deal in a period


@dataclass(frozen=True)
class Period:
    """An inclusive date range. `complete` is False when the as-of date cuts it short.

    `basis` says which date puts a deal in it: its closed date (the default), or its created date
    (a cohort), in which case only deals that closed within `window_days` of being created count,
    so every cohort is measured over the same outcome window.
    """

    start: dt.date
    end: dt.date
    label: str
    complete: bool = True
    # the calendar month/quarter/year this period is (or is the part to date of), and how many
    # whole ones of that grain it spans; None for other ranges
    grain: str | None = field(default=None, compare=False)
    count: int = field(default=1, compare=False)
    basis: str = "closed"
    window_days: int | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def overlaps(self, other: "Period") -> bool:
        return self.start <= other.end and other.start <= self.end

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "label": self.label,
                "complete": self.complete, "basis": self.basis, "window_days": self.window_days}


class PeriodConflict(ValueError):
    """A comparison that cannot be tested: its windows overlap, or one of them holds no data."""

    def __init__(self, reason: str, period: Period, compare: Period | None = None, **details):
        super().__init__(reason)
        self.reason, self.period, self.compare, self.details = reason, period, compare, details


@dataclass(frozen=True)
class PeriodSpec:
    """What a user typed, before it meets a date. kind is one of:

    calendar (grain, year, index) · range (start, end) · last_days (n) · last_n (grain, n)
    · relative (grain, offset: 0 this, -1 last) · to_date (grain) · all · previous · year_ago
    · focus (the period in question, see insights/focus.py) · baseline (n periods before)

    `last`, `last_n` and the focus count back from the latest *complete* period: when the data
    ends on a quarter's last day, that quarter is "last quarter".
    """

    kind: str
    args: tuple = ()
    text: str = ""


def month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def add_months(d: dt.date, months: int) -> dt.date:
    index = d.year * 12 + d.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def year_earlier(d: dt.date) -> dt.date:
    return d.replace(year=d.year - 1, day=28) if (d.month, d.day) == (2, 29) else d.replace(year=d.year - 1)


def grain_start(d: dt.date, grain: str) -> dt.date:
    if grain == "month":
        return month_start(d)
    if grain == "quarter":
        return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return dt.date(d.year, 1, 1)


def grain_months(grain: str) -> int:
    return {"month": 1, "quarter": 3, "year": 12}[grain]


def label_for(start: dt.date, grain: str) -> str:
    if grain == "month":
        return start.strftime("%Y-%m")
    if grain == "quarter":
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def calendar_period(start: dt.date, grain: str, as_of: dt.date | None = None) -> Period:
    """The whole month/quarter/year starting at `start`, cut at `as_of` if it falls inside."""
    end = add_months(start, grain_months(grain)) - dt.timedelta(days=1)
    label = label_for(start, grain)
    if as_of is not None and start <= as_of < end:
        return Period(start, as_of, label + " (to date)", complete=False, grain=grain)
    return Period(start, end, label, grain=grain)


def latest_complete(as_of: dt.date, grain: str) -> Period:
    """The latest whole month/quarter/year that has ended by `as_of` (one ending on it counts)."""
    current = calendar_period(grain_start(as_of, grain), grain)
    if current.end == as_of:
        return current
    return calendar_period(add_months(current.start, -grain_months(grain)), grain)


def run_of(first: dt.date, count: int, grain: str, label: str | None = None, **kwargs) -> Period:
    """`count` whole periods of `grain` starting with the one that starts at `first`."""
    end = add_months(first, grain_months(grain) * count) - dt.timedelta(days=1)
    last = add_months(first, grain_months(grain) * (count - 1))
    if label is None:
        cohort = " cohort" if kwargs.get("basis") == "created" else ""
        label = label_for(first, grain) + cohort if count == 1 else (
            f"{label_for(first, grain)} to {label_for(last, grain)}{cohort}{'s' if cohort else ''} ({count} {grain}s)")
    return Period(first, end, label, grain=grain, count=count, **kwargs)


def periods_between(first: dt.date, last: dt.date, grain: str) -> list[Period]:
    """Consecutive calendar periods covering first..last; the last is partial if `last` cuts it."""
    out, start = [], grain_start(first, grain)
    while start <= last:
        out.append(calendar_period(start, grain, as_of=last))
        start = add_months(start, grain_months(grain))
    return out


def resolve(spec: PeriodSpec | None, as_of: dt.date, first: dt.date | None = None,
            current: Period | None = None) -> Period | None:
    """Turn a spec into dates. `current` is the period a `previous`/`year_ago` comparison refers to."""
    if spec is None:
        return None
    kind, a = spec.kind, spec.args
    if kind == "calendar":
        grain, year, index = a
        start = dt.date(year, 1, 1) if grain == "year" else dt.date(year, (index - 1) * grain_months(grain) + 1, 1)
        return calendar_period(start, grain, as_of)
    if kind == "range":
        start, end = a
        end_cut = min(end, as_of)
        return Period(start, end_cut, f"{start.isoformat()} to {end.isoformat()}", complete=end <= as_of)
    if kind == "last_days":
        (n,) = a
        return Period(as_of - dt.timedelta(days=n - 1), as_of, f"last {n} days")
    if kind == "last_n":
        grain, n = a
        latest = latest_complete(as_of, grain)
        start = add_months(latest.start, -grain_months(grain) * (n - 1))
        return run_of(start, n, grain, f"last {n} complete {grain}s ({label_for(start, grain)} to {latest.label})")
    if kind == "relative":
        grain, offset = a
        if offset < 0:  # "last quarter": the latest complete one, counting back from there
            start = add_months(latest_complete(as_of, grain).start, grain_months(grain) * (offset + 1))
            return calendar_period(start, grain)
        start = add_months(grain_start(as_of, grain), grain_months(grain) * offset)
        return calendar_period(start, grain, as_of)
    if kind == "to_date":
        (grain,) = a
        start = grain_start(as_of, grain)
        return Period(start, as_of, f"{grain} to date ({label_for(start, grain)})",
                      complete=as_of == calendar_period(start, grain).end, grain=grain)
    if kind == "all":
        return Period(first or as_of, as_of, "all closed deals")
    if kind in ("previous", "year_ago") and current is not None:
        return shifted(current, kind)
    return None


def whole_run(period: Period) -> tuple[str, int] | None:
    """(grain, count) when `period` is exactly a run of whole calendar periods of one grain."""
    if period.grain is not None:
        return period.grain, period.count
    for grain in reversed(GRAINS):  # the largest grain that fits: 2024-01-01..2024-03-31 is 2024Q1
        if grain_start(period.start, grain) != period.start:
            continue
        months = (period.end.year * 12 + period.end.month) - (period.start.year * 12 + period.start.month) + 1
        if months % grain_months(grain) == 0 and add_months(period.start, months) - dt.timedelta(days=1) == period.end:
            return grain, months // grain_months(grain)
    return None


def shifted(current: Period, kind: str, count: int = 1) -> Period:
    """The period just before `current` (as many whole months/quarters/years, or the same number of
    days), `count` such periods back to back, or (year_ago) the same period a year earlier (for a period
    the as-of date cuts short, such as year to date, the same days a year earlier).
    The basis (closed dates or cohorts) and outcome window carry over."""
    keep = {"basis": current.basis, "window_days": current.window_days}
    run = whole_run(current)
    if kind == "year_ago" and not current.complete:  # year to date: the same days a year earlier, not all of it
        run = None
    if run is not None:  # whole calendar periods (a "to date" one counts as its whole period)
        grain, n = run
        first = grain_start(current.start, grain)
        if kind == "year_ago":
            return run_of(add_months(first, -12), n, grain, **keep)
        return run_of(add_months(first, -grain_months(grain) * n * count), n * count, grain, **keep)
    if kind == "year_ago":
        start, end = year_earlier(current.start), year_earlier(current.end)
    else:
        end = current.start - dt.timedelta(days=1)
        start = end - dt.timedelta(days=current.days * count - 1)
    return Period(start, end, f"{start.isoformat()} to {end.isoformat()}", **keep)
