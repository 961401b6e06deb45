"""Selecting deals for a Query and counting them by segment, on integer codes (no pandas groupby)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .focus import baseline_before, period_in_question
from .labels import match_key
from .periods import Period, PeriodConflict, PeriodSpec, resolve
from .query import Query
from .snapshot import Snapshot, day_number

ALL_TIME = PeriodSpec("all", (), "all time")
FOCUS = PeriodSpec("focus", (), "the latest complete quarter")
BASELINE = PeriodSpec("baseline", (4,), "the 4 complete quarters before")


def filter_mask(snapshot: Snapshot, filters, open_pipeline: bool = False) -> np.ndarray:
    """Deals matching every (dimension, values) filter (a `counting.Subset` where the deals stay where they live)."""
    counter = getattr(snapshot, "counter", None)
    if counter is not None:
        return counter.select(filters, open_pipeline)
    size = len(snapshot.open_deals if open_pipeline else snapshot.deals)
    mask = np.ones(size, dtype=bool)
    for dim, values in filters:
        categories = snapshot.values(dim)
        # a lookup table indexed by code is several times faster than np.isin; the extra last
        # slot is what code -1 (no value) reads, and it is False
        wanted = np.zeros(len(categories) + 1, dtype=bool)
        # a label in any spelling of it (a rule saved before its spellings were merged: see labels.fold_labels)
        keys = {match_key(dim, v) for v in values}
        wanted[[k for k, c in enumerate(categories) if c in values or match_key(dim, c) in keys]] = True
        mask &= wanted[snapshot.codes(dim, open_pipeline)]
    return mask


def period_mask(snapshot: Snapshot, period: Period) -> np.ndarray:
    """Deals in the period: by closed date, or (a cohort) created in it and closed within its window."""
    counter = getattr(snapshot, "counter", None)
    if counter is not None:
        return counter.during(period)
    days = snapshot.created_day if period.basis == "created" else snapshot.closed_day
    mask = (days >= day_number(period.start)) & (days <= day_number(period.end))
    if period.basis == "created" and period.window_days is not None:
        mask &= snapshot.cycle_days <= period.window_days
    return mask


def resolve_periods(snapshot: Snapshot, query: Query, default: PeriodSpec = FOCUS,
                    compare_default: PeriodSpec | None = None) -> tuple[Period, Period | None]:
    """The period asked for (or the default) and the comparison period, if any.

    A comparison the user typed that overlaps the period, or holds no closed deal at all, raises
    PeriodConflict: it is refused with a sentence, never tested. A default baseline that does not
    exist (the data starts with the period in question) comes back as None.
    """
    first = snapshot.first_closed or snapshot.as_of
    spec = query.period or default
    if spec.kind == "focus":
        period = period_in_question(snapshot, query.grain or "quarter").current
    else:
        period = resolve(spec, snapshot.as_of, first)
    compare_spec = query.compare or compare_default
    if compare_spec is None:
        return period, None
    if compare_spec.kind == "baseline":
        compare = baseline_before(snapshot, period, compare_spec.args[0])
    else:
        compare = resolve(compare_spec, snapshot.as_of, first, current=period)
    if compare is not None and query.compare is not None:
        check_comparison(snapshot, period, compare)
    return period, compare


def check_comparison(snapshot: Snapshot, period: Period, compare: Period) -> None:
    """Refuse a comparison whose windows overlap or whose baseline lies outside the data."""
    if period.overlaps(compare):
        raise PeriodConflict("overlap", period, compare)
    first, last = snapshot.first_closed, snapshot.as_of
    if first is None or compare.end < first or compare.start > last:
        raise PeriodConflict("compare_outside_data", period, compare, first=first, last=last)


@dataclass(frozen=True)
class Counts:
    """Won and total deals per cell of a grouping; `keys` are category codes per dimension."""

    dims: tuple[str, ...]
    keys: np.ndarray  # (cells, len(dims)) codes
    won: np.ndarray
    n: np.ndarray

    def labels(self, snapshot: Snapshot, i: int) -> dict[str, str]:
        return {d: snapshot.values(d)[self.keys[i, j]] for j, d in enumerate(self.dims)}


class Sliced(dict):
    """Per-dimension codes already cut to one mask, for analyses that group the same deals many ways."""

    def __init__(self, snapshot: Snapshot, mask: np.ndarray, open_pipeline: bool = False):
        super().__init__()
        self.snapshot, self.mask, self.open_pipeline = snapshot, mask, open_pipeline

    def __missing__(self, dim: str) -> np.ndarray:
        if dim == "__won__":
            self[dim] = self.snapshot.won[self.mask]
        else:
            self[dim] = self.snapshot.codes(dim, self.open_pipeline)[self.mask]
        return self[dim]


def cell_index(snapshot: Snapshot, mask: np.ndarray, dims: tuple[str, ...], open_pipeline: bool = False,
               sliced: Sliced | None = None):
    """Each masked deal's cell number in the grid of `dims` (C order), and the grid's shape.

    A deal with no value in one of the dims (an open deal has no cycle band) gets cell -1.
    """
    sliced = sliced if sliced is not None else Sliced(snapshot, mask, open_pipeline)
    sizes = [len(snapshot.values(d)) for d in dims]
    return grid_index([sliced[d] for d in dims], sizes, int(mask.sum())), sizes


def grid_index(codes: list[np.ndarray], sizes: list[int], rows: int) -> np.ndarray:
    """Each row's number in the grid of these code columns (C order), -1 where a code is -1 (no value)."""
    flat = np.zeros(rows, dtype=np.int64)
    missing = np.zeros(rows, dtype=bool)
    for column, size in zip(codes, sizes):
        missing |= column < 0
        flat = flat * size + column
    flat[missing] = -1
    return flat


def count_by(snapshot: Snapshot, mask: np.ndarray, dims: tuple[str, ...], sliced: Sliced | None = None) -> Counts:
    """Won/n for every combination of `dims` among masked deals (empty cells included)."""
    sliced = sliced if sliced is not None else Sliced(snapshot, mask)
    flat, sizes = cell_index(snapshot, mask, dims, sliced=sliced)
    cells = int(np.prod(sizes)) if dims else 1
    n = np.bincount(flat, minlength=cells)
    won = np.bincount(flat, weights=sliced["__won__"], minlength=cells).astype(np.int64)
    keys = np.array(np.unravel_index(np.arange(cells), sizes)).T if dims else np.zeros((1, 0), dtype=int)
    return Counts(tuple(dims), keys, won, n)


def median_days_by(group: np.ndarray, days: np.ndarray, groups: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Median of whole-day values per group via a day histogram: O(n), no sort. NaN for empty groups.
    `days` may be already whole (integers, -1 for unknown: `Snapshot.cycle_whole`); `weights`: how many
    deals each value stands for (counted where the deals live)."""
    if np.issubdtype(days.dtype, np.integer):
        whole = days
    else:
        whole = np.clip(np.rint(np.nan_to_num(days, nan=-1)), -1, None).astype(np.int64)
    valid = whole >= 0
    group, whole = group[valid], whole[valid].astype(np.int64)
    width = int(whole.max()) + 1 if len(whole) else 1
    weights = None if weights is None else weights[valid]
    hist = np.bincount(group * width + whole, weights=weights, minlength=groups * width).reshape(groups, width)
    if weights is not None:
        hist = hist.astype(np.int64)
    cum = hist.cumsum(axis=1)
    total = cum[:, -1]
    out = np.full(groups, np.nan)
    for g in np.flatnonzero(total):
        lower = np.searchsorted(cum[g], (total[g] + 1) // 2)  # the lower middle value
        upper = np.searchsorted(cum[g], total[g] // 2 + 1)  # the upper middle value
        out[g] = (lower + upper) / 2
    return out


def censoring_notes(snapshot: Snapshot, *periods: Period | None) -> list[str]:
    """'right_censored' when a period runs past the extract's last created date (see /trend)."""
    cut = snapshot.report.censored_after
    if cut is not None and any(p is not None and p.end > cut for p in periods):
        return ["right_censored"]
    return []
