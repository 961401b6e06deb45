"""The deals a query selects, worked out once and shared by an analysis' steps.

Most analyses open the same way: resolve the period (and the comparison), filter the deals, mask the
period's. A `Selection` does that once, lazily (statsmodels-style cached properties): the filtered
deals, the period's and the comparison period's masks, the open pipeline's, the overall rate, and the
deals counted into cells, kept in the snapshot's memo. Its masks are read-only: a step that narrows
one takes a copy (`sel.current & other`), so no step changes what the next one reads.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from .cells import Cells, cached_cells
from .counting import cells_of, rate_in
from .periods import Period, PeriodSpec
from .query import Query
from .results import Rate
from .select import FOCUS, filter_mask, period_mask, resolve_periods
from .snapshot import Snapshot


def _frozen(mask: np.ndarray) -> np.ndarray:
    if isinstance(mask, np.ndarray):  # a counting.Subset (deals counted where they live) never changes
        mask.flags.writeable = False
    return mask


class Selection:
    """A query's deals on one snapshot: `period` and `compare_period` resolved at once (a conflicting
    comparison raises PeriodConflict here), every mask on first use."""

    def __init__(self, snapshot: Snapshot, query: Query, default: PeriodSpec = FOCUS,
                 compare_default: PeriodSpec | None = None):
        self.snapshot, self.query = snapshot, query
        self.period: Period
        self.compare_period: Period | None
        self.period, self.compare_period = resolve_periods(snapshot, query, default, compare_default)

    @classmethod
    def over(cls, snapshot: Snapshot, query: Query, period: Period) -> Selection:
        """The query's deals over a period worked out elsewhere (/trend's span of all the data),
        without a comparison: nothing is resolved, so a typed comparison is neither read nor refused."""
        sel = cls.__new__(cls)
        sel.snapshot, sel.query, sel.period, sel.compare_period = snapshot, query, period, None
        return sel

    @cached_property
    def filtered(self) -> np.ndarray:
        """Closed deals matching the query's filters, in any period."""
        return _frozen(filter_mask(self.snapshot, self.query.filters))

    @cached_property
    def current(self) -> np.ndarray:
        """The filtered deals closed in the period (or, for a cohort, created in it)."""
        return _frozen(self.filtered & period_mask(self.snapshot, self.period))

    @cached_property
    def baseline(self) -> np.ndarray | None:
        """The filtered deals of the comparison period; None without one."""
        if self.compare_period is None:
            return None
        return _frozen(self.filtered & period_mask(self.snapshot, self.compare_period))

    @cached_property
    def open(self) -> np.ndarray:
        """Open deals matching the filters (the pipeline is as of now, whatever the period)."""
        return _frozen(filter_mask(self.snapshot, self.query.filters, open_pipeline=True))

    @cached_property
    def overall(self) -> Rate:
        """The win rate of the period's deals."""
        return rate_in(self.snapshot, self.current)

    @cached_property
    def baseline_overall(self) -> Rate | None:
        if self.baseline is None:
            return None
        return rate_in(self.snapshot, self.baseline)

    def cells(self, dims: tuple[str, ...]) -> Cells:
        """The period's deals counted per combination of `dims`, once per snapshot (see insights/cells.py)."""
        key = ("closed", self.period, self.query.filters, dims)
        return cached_cells(self.snapshot, key, lambda: cells_of(self.snapshot, [self.current], dims))

    def open_cells(self, dims: tuple[str, ...]) -> Cells:
        """The open pipeline counted per combination of `dims`, once per snapshot."""
        key = ("open", self.query.filters, dims)
        return cached_cells(self.snapshot, key,
                            lambda: cells_of(self.snapshot, [self.open], dims, open_pipeline=True))
