"""Calendar periods (months, quarters, ranges) and resolving what a user asked for against as-of."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

GRAINS = ("month", "quarter", "year")


@dataclass(frozen=True)
class Period:
    """An inclusive date range. `complete` is False when the as-of date cuts it short."""

    start: dt.date
    end: dt.date
    label: str
    complete: bool = True
    # the calendar month/quarter/year this period is (or is the part to date of); None for other ranges
    grain: str | None = field(default=None, compare=False)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "label": self.label,
                "complete": self.complete}


@dataclass(frozen=True)
class PeriodSpec:
    """What a user typed, before it meets a date. kind is one of:

    calendar (grain, year, index) · range (start, end) · last_days (n) · last_n (grain, n)
    · relative (grain, offset: 0 this, -1 last) · to_date (grain) · all · previous · year_ago
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
        end_start = grain_start(as_of, grain)
        start = add_months(end_start, -grain_months(grain) * n)
        return Period(start, end_start - dt.timedelta(days=1),
                      f"last {n} complete {grain}s ({label_for(start, grain)} to "
                      f"{label_for(add_months(end_start, -grain_months(grain)), grain)})")
    if kind == "relative":
        grain, offset = a
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


def shifted(current: Period, kind: str) -> Period:
    """The period just before `current` (same length, or same calendar grain), or a year earlier."""
    if current.grain is not None:  # a calendar period, whole or to date: the whole one before it
        months = 12 if kind == "year_ago" else grain_months(current.grain)
        return calendar_period(add_months(grain_start(current.start, current.grain), -months), current.grain)
    for grain in GRAINS:  # a range that is exactly one calendar period is compared as that period
        start = grain_start(current.start, grain)
        if start == current.start and calendar_period(start, grain).end == current.end:
            months = 12 if kind == "year_ago" else grain_months(grain)
            before = add_months(start, -months)
            return calendar_period(before, grain)
    if kind == "year_ago":
        start, end = year_earlier(current.start), year_earlier(current.end)
    else:
        end = current.start - dt.timedelta(days=1)
        start = end - dt.timedelta(days=current.days - 1)
    return Period(start, end, f"{start.isoformat()} to {end.isoformat()}")
