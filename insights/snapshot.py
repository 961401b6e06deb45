"""The Snapshot: validated deals of one refresh, its as-of date and its data report."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

import numpy as np
import pandas as pd

from .labels import Fold
from .schema import DIMENSIONS, SOURCE_DIMENSIONS

EPOCH = np.datetime64("1970-01-01", "D")
T = TypeVar("T")


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01, the integer time axis the analyses filter on."""
    return int((np.datetime64(d, "D") - EPOCH).astype(int))


def from_day_number(n: int) -> dt.date:
    return (EPOCH + np.timedelta64(int(n), "D")).astype(dt.date)


def _months_of(days: np.ndarray) -> np.ndarray:
    """Months since year 0 of day numbers, looked up in a table of the days' range: numpy's calendar
    conversion of ten million dates to months takes most of a second, a lookup a few milliseconds."""
    if not len(days):
        return np.zeros(0, dtype=np.int32)
    low = int(days.min())
    span = np.arange(low, int(days.max()) + 1).astype("datetime64[D]")
    table = (span.astype("datetime64[M]").astype(np.int64) + 1970 * 12).astype(np.int32)
    return table[days - low]


@dataclass(frozen=True)
class DataReport:
    """What the loader read, what it set aside and why, and what the dates say about the extract."""

    source: str
    rows_read: int
    closed_deals: int
    open_deals: int
    set_aside: dict[str, int]
    examples: dict[str, list[int]]
    created_range: tuple[dt.date, dt.date] | None
    closed_range: tuple[dt.date, dt.date] | None
    censored_after: dt.date | None
    load_seconds: float
    loaded_at: dt.datetime
    dimensions: tuple[str, ...]
    stage_order: tuple[str, ...] = ()  # the funnel order of deal_stage the mapping set (or the canonical one)
    stage_outcome_only: bool = False  # every won deal at one stage and every lost deal at another
    # Open deals kept with a gap (real exports leave early deals blank): counted as open deals, left out
    # only of what needs the missing value (a dollar sum, an age).
    open_without_amount: int = 0
    open_without_created: int = 0
    # Every (or nearly every) lost deal at 0 while won deals have amounts: the CRM zeroes a lost deal's
    # amount, so any figure weighting closed deals by amount (and the deal-size bands) would be false.
    lost_amounts_zeroed: bool = False
    demo: bool = False  # the bundled generated demo data: no source is configured
    window_since: dt.date | None = None  # a database/CRM source read only deals with a date on or after this
    rows_outside_window: int | None = None  # rows the window left unread, where the source can count them
    # segment labels written several ways merged into one (see labels.fold_labels): nothing dropped, only relabelled
    folded: tuple[Fold, ...] = ()

    @property
    def rows_set_aside(self) -> int:
        return sum(self.set_aside.values())

    @property
    def absent(self) -> tuple[str, ...]:
        """The segment columns this data does not have (a mapping's `absent`), in display order."""
        return tuple(d for d in SOURCE_DIMENSIONS if d not in self.dimensions)


class Memo:
    """What analyses derived from one snapshot (its cells, the pipeline model), kept with it: a Snapshot
    never changes, so neither does anything computed from it alone. Each kind keeps its newest few."""

    def __init__(self) -> None:
        self._kinds: dict[str, dict[Hashable, object]] = {}

    def get(self, kind: str, key: Hashable, build: Callable[[], T], keep: int) -> T:
        """The `kind` entry for `key`, built by `build()` the first time; past `keep` entries of a kind
        the oldest is let go."""
        entries = self._kinds.setdefault(kind, {})
        if key not in entries:
            if len(entries) >= keep:
                entries.pop(next(iter(entries)))
            entries[key] = build()
        return entries[key]

    def keys(self, kind: str) -> list[Hashable]:
        """The keys kept for `kind`, oldest first."""
        return list(self._kinds.get(kind, ()))


@dataclass(frozen=True)
class Snapshot:
    """Immutable view of one refresh. `deals` are closed (Won/Lost); `open_deals` are pipeline.

    Dimension columns are pandas Categoricals whose category order is the display order; the
    analyses read their integer codes through `codes()` so filters and groupings stay O(n) numpy.
    """

    deals: pd.DataFrame
    open_deals: pd.DataFrame
    rejected: pd.DataFrame
    report: DataReport
    as_of: dt.date
    dimensions: tuple[str, ...] = field(default=DIMENSIONS)
    # a new one with every Snapshot (`at`, dataclasses.replace and a scoped view start empty)
    memo: Memo = field(default_factory=Memo, init=False, repr=False, compare=False)

    def values(self, dim: str) -> tuple[str, ...]:
        """Known values of a dimension, in display order."""
        return self._values[dim]

    @cached_property
    def _values(self) -> dict[str, tuple[str, ...]]:
        return {d: tuple(self.deals[d].cat.categories) for d in self.dimensions}

    @cached_property
    def _codes(self) -> dict[str, np.ndarray]:
        return {d: self.deals[d].cat.codes.to_numpy() for d in self.dimensions}

    @cached_property
    def _open_codes(self) -> dict[str, np.ndarray]:
        return {d: self.open_deals[d].cat.codes.to_numpy() for d in self.dimensions}

    def codes(self, dim: str, open_pipeline: bool = False) -> np.ndarray:
        return (self._open_codes if open_pipeline else self._codes)[dim]

    @cached_property
    def won(self) -> np.ndarray:
        return (self.deals["outcome"] == "Won").to_numpy()

    @cached_property
    def closed_day(self) -> np.ndarray:
        return ((self.deals["closed_date"].to_numpy().astype("datetime64[D]")) - EPOCH).astype(np.int32)

    @cached_property
    def created_day(self) -> np.ndarray:
        return ((self.deals["created_date"].to_numpy().astype("datetime64[D]")) - EPOCH).astype(np.int32)

    @cached_property
    def created_month(self) -> np.ndarray:
        """Months since year 0 of each created date, like `closed_month`."""
        return _months_of(self.created_day)

    @cached_property
    def closed_month(self) -> np.ndarray:
        """Months since year 0 (year * 12 + month - 1) of each closed date; quarters are this // 3."""
        return _months_of(self.closed_day)

    @cached_property
    def cycle_days(self) -> np.ndarray:
        return self.deals["sales_cycle_days"].to_numpy(dtype=float)

    @cached_property
    def cycle_whole(self) -> np.ndarray:
        """Each deal's cycle in whole days (rounded), -1 when unknown: what day histograms count."""
        return np.clip(np.rint(np.nan_to_num(self.cycle_days, nan=-1)), -1, None).astype(np.int32)

    @cached_property
    def cycle_p75(self) -> float | None:
        return float(np.nanpercentile(self.cycle_days, 75)) if len(self.deals) else None

    @cached_property
    def amount(self) -> np.ndarray:
        return self.deals["deal_amount"].to_numpy(dtype=float)

    @cached_property
    def open_amount(self) -> np.ndarray:
        """Each open deal's amount, 0 where it is blank (kept, counted, never summed as a number)."""
        return np.nan_to_num(self.open_deals["deal_amount"].to_numpy(dtype=float), nan=0.0)

    @cached_property
    def open_has_amount(self) -> np.ndarray:
        return ~np.isnan(self.open_deals["deal_amount"].to_numpy(dtype=float))

    @property
    def first_closed(self) -> dt.date | None:
        return from_day_number(self.closed_day.min()) if len(self.deals) else None

    def at(self, as_of: dt.date, drop: tuple[str, ...] = ()) -> "Snapshot":
        """The data as it stood on `as_of`: deals closed later become open, later-created ones vanish.
        `drop` leaves out columns the caller does not read (deal ids, at ten million deals, cost more
        than every other column)."""
        ts = pd.Timestamp(as_of)
        closed = self.deals.drop(columns=list(drop)) if drop else self.deals
        reopened = closed[(closed["closed_date"] > ts) & (closed["created_date"] <= ts)]
        # an open deal has no cycle yet, so no cycle band (as loaded open deals): no peeking past as_of
        reopened = reopened.assign(outcome="", closed_date=pd.NaT, sales_cycle_days=np.nan, cycle_band=np.nan)
        opened = self.open_deals.drop(columns=list(drop)) if drop else self.open_deals
        still_open = opened[opened["created_date"] <= ts]
        open_deals = pd.concat([still_open, reopened], ignore_index=True)
        for d in self.dimensions:  # concat keeps categoricals only when categories agree; they do
            open_deals[d] = open_deals[d].astype(self.deals[d].dtype)
        return Snapshot(
            deals=closed[closed["closed_date"] <= ts].reset_index(drop=True),
            open_deals=open_deals,
            rejected=self.rejected,
            report=self.report,
            as_of=as_of,
            dimensions=self.dimensions,
        )
