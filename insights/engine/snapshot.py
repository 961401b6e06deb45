"""A snapshot whose deals stay where they live: the analyses' selections are `counting.Subset`s that the
engine counts with GROUP BY queries (see insights/counting.py for the seam).

    snapshot = EngineSnapshot.of(DealEngine.of_file("deals.parquet"))
    explain_change(snapshot, query)        # the same WhyResult the in-memory Snapshot gives

It stands in for `insights.snapshot.Snapshot` wherever an analysis counts (rates, cells, counts per
segment, the open pipeline's totals, amounts, cycle percentiles). What reads deals one by one gets them
from listing.py: the deals of /deals (open or closed) bounded by a LIMIT or streamed in chunks for its CSV, the
open deals /pipeline scores streamed in chunks (the big-deal alert's only those above its amount), the pipeline
model's history as cells. A scope
(row-level access) is `restricted(grants)`: every query narrowed by a WHERE. What is still read only in
memory (a replay at an earlier date, the closed deals' per-deal arrays) raises `counting.NeedsRows`,
which the bot answers with a sentence.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..cells import Cells
from ..counting import EVERY_DAY, NeedsRows, Subset, Window, percentile_of_counts
from ..snapshot import DataReport, Memo
from .engine import DealEngine

ROWS_SENTENCE = ("{what} needs the deals one by one, and this source ({source}) is counted where it lives "
                 "(DEALS_ENGINE): ask for a win rate, /why, /risk, /drivers, /funnel, /reps, /trend, /deals, "
                 "/pipeline or /health, or "
                 "set DEALS_ENGINE=memory to load the deals into the bot.")


class _Rows:
    """Where a Snapshot holds its deals' rows: here only their number (`len`), for the checks that ask it."""

    def __init__(self, count: int, source: str, columns: tuple[str, ...]):
        self._count, self._source, self.columns = count, source, columns

    def __len__(self) -> int:
        return self._count

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise NeedsRows(ROWS_SENTENCE.format(what="This answer", source=self._source))

    def __getitem__(self, key):
        raise NeedsRows(ROWS_SENTENCE.format(what="This answer", source=self._source))


@dataclass(frozen=True)
class EngineSnapshot:
    """One refresh of a source counted by its own database; `filters` narrow every count (a scope)."""

    engine: DealEngine
    report: DataReport
    as_of: dt.date
    dimensions: tuple[str, ...]
    filters: tuple = ()
    memo: Memo = field(default_factory=Memo, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, engine: DealEngine, report: DataReport | None = None) -> EngineSnapshot:
        return cls(engine, report or engine.report, engine.as_of, engine.dimensions)

    # -- what a Snapshot answers without its rows ---------------------------------------------------------
    def values(self, dim: str) -> tuple[str, ...]:
        return self.engine.values(dim)

    @property
    def first_closed(self) -> dt.date | None:
        return self.engine.first_closed

    @cached_property
    def deals(self) -> _Rows:
        return _Rows(self.report.closed_deals, self.report.source, self.engine.dimensions)

    @cached_property
    def open_deals(self) -> _Rows:
        return _Rows(self.report.open_deals, self.report.source, self.engine.dimensions)

    @cached_property
    def cycle_p75(self) -> float | None:
        return percentile_of_counts(*self.engine.cycle_counts, 75)

    @property
    def query_seconds(self) -> list[float]:
        return self.engine.query_seconds

    def at(self, as_of: dt.date, drop: tuple[str, ...] = ()) -> EngineSnapshot:
        raise NeedsRows(ROWS_SENTENCE.format(what="The data as it stood on an earlier day", source=self.report.source))

    def __getattr__(self, name: str):
        # the per-deal arrays of a Snapshot (won, closed_day, codes, amount, ...): not here
        if name.startswith("_"):
            raise AttributeError(name)
        raise NeedsRows(ROWS_SENTENCE.format(what="This answer", source=self.report.source))

    # -- the counter (insights/counting.py) ------------------------------------------------------------
    @property
    def counter(self) -> EngineSnapshot:
        return self

    def select(self, filters, open_pipeline: bool = False) -> Subset:
        merged = dict(self.filters)
        for d, values in filters:
            merged[d] = tuple(v for v in merged[d] if v in values) if d in merged else tuple(values)
        return Subset(self, tuple(sorted(merged.items())), None, open_pipeline)

    def during(self, period) -> Subset:
        return Subset(self, tuple(sorted(self.filters)), Window.of(period))

    def aged(self, subset: Subset, days: int) -> Subset:
        return dataclasses.replace(subset, aged=max(days, subset.aged or 0))

    def rate(self, subset: Subset) -> tuple[int, int]:
        if subset.open:
            return 0, self.open_totals(subset)[0]
        cells = self.cells([subset], ())
        return int(cells.won.sum()), int(cells.n.sum())

    def cells(self, subsets: list[Subset], dims: tuple[str, ...]) -> Cells:
        filters = {s.filters for s in subsets}
        if len(filters) > 1 or len({s.open for s in subsets}) > 1:
            raise NeedsRows("Cells of differently filtered deals cannot be counted in one query.")
        first = subsets[0]
        if first.open:
            return self.engine.open_cells(dims, first.filters, self._aged_at(first))
        return self.engine.cells([_window(s.window) for s in subsets], dims, first.filters)

    def open_totals(self, subset: Subset) -> tuple[int, float, int]:
        return self.engine.open_totals(subset.filters, self._aged_at(subset))

    def amount_sums(self, subset: Subset, dims: tuple[str, ...]) -> list[np.ndarray]:
        return self.engine.amount_sums([_window(subset.window)], dims, subset.filters)

    def cycle_counts(self) -> tuple[np.ndarray, np.ndarray]:
        return self.engine.cycle_counts

    def cycle_table(self, subset: Subset, dim: str | None = None, month: str | None = None):
        return self.engine.cycle_table(_window(subset.window), subset.filters, dim, month)

    def _aged_at(self, subset: Subset) -> dt.date | None:
        return None if subset.aged is None else self.as_of - dt.timedelta(days=subset.aged)

    # -- the deals one by one (listing.py): /deals' list and CSV, the open deals /pipeline scores ----------
    def codes(self, dim: str, open_pipeline: bool = False) -> np.ndarray:
        # neither the closed deals nor the open ones are held: they are counted, listed in bounds or streamed
        raise NeedsRows(ROWS_SENTENCE.format(what="This answer", source=self.report.source))

    def open_chunks(self, subset: Subset, at_least: float | None = None):
        from .listing import open_chunks

        return open_chunks(self.engine, subset, at_least=at_least)

    def open_cell_counts(self, features):
        from .listing import open_cell_counts

        return open_cell_counts(self.engine, list(features))

    def deal_rows(self, subset: Subset, outcome: str | None, limit: int | None):
        from .listing import deal_rows

        return deal_rows(self.engine, subset, outcome, limit)

    def deal_chunks(self, subset: Subset, outcome: str | None):
        from .listing import deal_chunks

        return deal_chunks(self.engine, subset, outcome)

    def deal_totals(self, subset: Subset, outcome: str | None) -> tuple[int, int, float, int]:
        from .listing import deal_totals

        return deal_totals(self.engine, subset, outcome)

    @cached_property
    def pipeline_facts(self) -> dict:
        from .listing import pipeline_facts

        return pipeline_facts(self.engine)

    def pipeline_cells(self, features, anchors, edges):
        from .listing import pipeline_cells

        return pipeline_cells(self.engine, features, anchors, edges)

    def restricted(self, grants) -> EngineSnapshot:
        """What a Scope's grants may see (row-level access): every count narrowed by a WHERE, the data report
        of the visible rows only (as `bot.core.scope.scoped_report` makes it in memory)."""
        from .listing import scoped

        engine = scoped(self.engine, grants)
        seen = engine.visible
        report = dataclasses.replace(
            self.report, rows_read=seen["closed"] + seen["open"], closed_deals=seen["closed"], open_deals=seen["open"],
            set_aside={}, examples={}, closed_range=seen["closed_range"],
            open_without_amount=seen["open_without_amount"], open_without_created=seen["open_without_created"],
            rows_outside_window=None, folded=())
        return EngineSnapshot(engine, report, self.as_of, self.dimensions, self.filters)


def _window(window: Window | None) -> Window:
    return window or EVERY_DAY


def open_engine(spec, mapping=None) -> EngineSnapshot:
    """The snapshot of a file or a PostgreSQL/DuckDB table or query (an `insights.sources.SourceSpec`),
    counted where it lives. Its report (/health's validation) is computed here, once per refresh."""
    if spec.kind == "file":
        if spec.table or spec.query:
            from ..load import DataError

            raise DataError(f"DEALS_TABLE / DEALS_QUERY need a database URL as DEALS_SOURCE, not the file "
                            f"{spec.location}.")
        engine = DealEngine.of_file(spec.location, mapping)
    else:
        engine = DealEngine.of_sql(spec.location, table=spec.table, query=spec.query, mapping=mapping,
                                   since=spec.since_date())
    return EngineSnapshot.of(engine)
