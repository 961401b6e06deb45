"""Counting a selection of deals, wherever the deals are: the seam between the analyses and the engine.

An analysis selects deals with `select.filter_mask` and `select.period_mask` and counts them. On a
Snapshot held in memory a selection is a boolean array over its deals; on a snapshot whose deals stay
where they live (`insights.engine.EngineSnapshot`, a warehouse table or a large Parquet file) it is a
`Subset` — the filters, the period window and whether the deals are closed or open — that the snapshot's
`counter` turns into GROUP BY queries. The functions here take either and give the same numbers: a rate,
cells, counts per segment, the open pipeline's total, the amounts, a percentile of the cycle lengths.
What a Subset cannot stand for (one deal's row) raises `NeedsRows`, which the bot answers in a sentence.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .cells import Cells
from .load import DataError
from .results import AmountRate, Rate
from .select import Counts, cell_index, count_by


class NeedsRows(DataError):
    """The answer needs the deals' rows, and this snapshot counts them where they live instead."""


@dataclass(frozen=True)
class Window:
    """The deals closed (or, a cohort, created) within [start, end]; a cohort's only when they closed
    within `window_days` of being created (as `select.period_mask`)."""

    start: dt.date
    end: dt.date
    basis: str = "closed"
    window_days: int | None = None

    @classmethod
    def of(cls, period) -> Window:
        return cls(period.start, period.end, period.basis, period.window_days)


EVERY_DAY = Window(dt.date(1, 1, 1), dt.date(9999, 12, 31))


@dataclass(frozen=True)
class Subset:
    """A selection of deals described, not listed: `filters` ((dimension, values) pairs, each kept),
    `window` (closed deals only; None: every one), `open` (the open pipeline instead), and for open deals
    `aged` (only those created at least that many days before the as-of date)."""

    counter: "Counter" = dataclasses.field(compare=False, repr=False)
    filters: tuple = ()
    window: Window | None = None
    open: bool = False
    aged: int | None = None

    def __and__(self, other: Subset) -> Subset:
        if not isinstance(other, Subset) or other.open != self.open:
            raise NeedsRows("These deals cannot be selected where they live.")
        filters = dict(self.filters)
        for d, values in other.filters:
            filters[d] = tuple(v for v in filters[d] if v in values) if d in filters else tuple(values)
        window = _intersect(self.window, other.window)
        aged = max((a for a in (self.aged, other.aged) if a is not None), default=None)
        return Subset(self.counter, tuple(sorted(filters.items())), window, self.open, aged)

    def sum(self) -> int:
        """How many deals (as a boolean mask's sum)."""
        return self.counter.open_totals(self)[0] if self.open else self.counter.rate(self)[1]


def _intersect(a: Window | None, b: Window | None) -> Window | None:
    if a is None or b is None or a == b:
        return a or b
    if a.basis != b.basis or a.window_days != b.window_days:
        raise NeedsRows("Deals selected by closed date and by created date at once cannot be counted where they live.")
    return Window(max(a.start, b.start), min(a.end, b.end), a.basis, a.window_days)


class Counter(Protocol):
    """What a snapshot whose deals stay where they live answers (see insights/engine/snapshot.py)."""

    def rate(self, subset: Subset) -> tuple[int, int]: ...  # won, deals

    def cells(self, subsets: list[Subset], dims: tuple[str, ...]) -> Cells: ...

    def open_totals(self, subset: Subset) -> tuple[int, float, int]: ...  # deals, amount (blank: 0), blank amounts

    def amount_sums(self, subset: Subset, dims: tuple[str, ...]) -> list[np.ndarray]: ...

    def cycle_counts(self) -> tuple[np.ndarray, np.ndarray]: ...  # closed deals' cycle values and their counts

    # the deals one by one, where an answer lists or scores them (insights/engine/listing.py): bounded or in chunks
    def open_chunks(self, subset: Subset, at_least: float | None = None): ...  # in chunks, in the Snapshot's order

    def open_cell_counts(self, features): ...  # open deals per created day and features' codes: n

    def deal_rows(self, subset: Subset, outcome: str | None, limit: int | None): ...  # largest first

    def deal_chunks(self, subset: Subset, outcome: str | None): ...  # every one, in chunks, largest first

    def deal_totals(self, subset: Subset, outcome: str | None) -> tuple[int, int, float, int]: ...

    pipeline_facts: dict  # see listing.pipeline_facts

    def pipeline_cells(self, features, anchors, edges): ...  # see listing.pipeline_cells


def counter_of(snapshot) -> Counter | None:
    """The snapshot's counter when its deals stay where they live, else None (a Snapshot in memory)."""
    return getattr(snapshot, "counter", None)


def open_frame(snapshot):
    """The open deals as rows (a DataFrame in the loader's columns) of a Snapshot in memory; deals counted where
    they live are never fetched all at once (listed in bounds, or streamed in chunks: `Counter.open_chunks`)."""
    if counter_of(snapshot) is not None:
        raise NeedsRows("Every open deal at once is not fetched from where the deals live.")
    return snapshot.open_deals


def open_mask(snapshot, mask) -> np.ndarray:
    """A selection of open deals as a boolean array over `open_frame(snapshot)` (in memory)."""
    if isinstance(mask, Subset):
        raise NeedsRows("Open deals counted where they live are selected by a query, not by a mask.")
    return mask


def rate_in(snapshot, mask) -> Rate:
    """The win rate of the selected closed deals."""
    if isinstance(mask, Subset):
        return Rate.of(*mask.counter.rate(mask))
    return Rate.of(snapshot.won[mask].sum(), mask.sum())


def cells_of(snapshot, masks: list, dims: tuple[str, ...] | None = None, open_pipeline: bool = False) -> Cells:
    """`Cells.of`, for arrays or Subsets."""
    if masks and isinstance(masks[0], Subset):
        dims = tuple(snapshot.dimensions if dims is None else dims)
        return masks[0].counter.cells(list(masks), dims)
    return Cells.of(snapshot, masks, dims, open_pipeline=open_pipeline)


def counts_of(snapshot, mask, dims: tuple[str, ...]) -> Counts:
    """`select.count_by`, for an array or a Subset (every combination of `dims`, empty ones included)."""
    if isinstance(mask, Subset):
        cells = mask.counter.cells([mask], tuple(dims))
        return cells.count(cells.everything(), tuple(dims))
    return count_by(snapshot, mask, tuple(dims))


def open_total(snapshot, mask) -> tuple[int, float]:
    """The selected open deals and their amount (a blank amount counts as 0)."""
    if isinstance(mask, Subset):
        n, amount, _ = mask.counter.open_totals(mask)
        return n, amount
    return int(mask.sum()), float(snapshot.open_amount[mask].sum())


def open_without_amount(snapshot, mask) -> int:
    """The selected open deals with a blank amount."""
    if isinstance(mask, Subset):
        return mask.counter.open_totals(mask)[2]
    return int((mask & ~snapshot.open_has_amount).sum())


def amount_rate_in(snapshot, mask) -> AmountRate:
    """The dollar-weighted win rate of the selected closed deals."""
    if isinstance(mask, Subset):
        return AmountRate.from_sums(*(float(s[0]) for s in mask.counter.amount_sums(mask, ())),
                                    mask.counter.rate(mask)[1])
    return AmountRate.of(snapshot.amount[mask], snapshot.won[mask])


def amount_sums_by(snapshot, mask, dims: tuple[str, ...]) -> list[np.ndarray]:
    """sum(a*y), sum(a), sum(a^2*y), sum(a^2) per combination of `dims`, in `counts_of`'s order."""
    if isinstance(mask, Subset):
        return mask.counter.amount_sums(mask, tuple(dims))
    flat, sizes = cell_index(snapshot, mask, dims)
    cells = int(np.prod(sizes)) if dims else 1
    a, y = snapshot.amount[mask], snapshot.won[mask].astype(float)
    return [np.bincount(flat, weights=w, minlength=cells) for w in (a * y, a, a * a * y, a * a)]


def cycle_percentile(snapshot, q: float) -> float | None:
    """numpy's (linear) percentile `q` of the closed deals' known cycle lengths; None without any."""
    counter = counter_of(snapshot)
    if counter is None:
        days = snapshot.cycle_days
        days = days[~np.isnan(days)]
        return float(np.percentile(days, q)) if len(days) else None
    values, counts = counter.cycle_counts()
    return percentile_of_counts(values, counts, q)


def percentile_of_counts(values: np.ndarray, counts: np.ndarray, q: float) -> float | None:
    """np.percentile(np.repeat(values, counts), q) without the repeat: `values` sorted, distinct."""
    total = int(counts.sum())
    if not total:
        return None
    h = (total - 1) * (np.asarray(q, dtype=float) / 100)
    low = int(np.floor(h))
    ends = np.cumsum(counts)  # the last position (exclusive) of each value
    a = float(values[np.searchsorted(ends, low, side="right")])
    b = float(values[np.searchsorted(ends, min(low + 1, total - 1), side="right")])
    t = float(h - low)
    return _lerp(a, b, t)


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's interpolation between two order statistics (function_base._lerp)."""
    diff = b - a
    return float(np.where(t >= 0.5, b - diff * (1 - t), a + diff * t))
