"""Counting where the deals live: the data report and the cells of one refresh, by GROUP BY queries.

A DealEngine stands for one refresh of one source. Its first use reads the columns' raw values (see
rows.py) and computes the data report — the rows set aside by reason with example rows, the date ranges,
the gaps — in one GROUP BY; each `cells()` is one more GROUP BY over the same validated rows, kept for the
refresh. Nothing else is read: no row of deals comes back.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..cells import CACHED, Cells
from ..load import REASONS, ColumnMapping
from ..load.coding import _categories
from ..load.report import CENSORING_GAP_DAYS, LOST_ZERO_MIN_DEALS, LOST_ZERO_SHARE
from ..mapping import stage_records_outcome_only
from ..schema import BANDED_DIMENSIONS, CYCLE_BANDS, SIZE_BANDS, STAGE_ORDER
from ..snapshot import DataReport
from .rows import LOST_STATE, OPEN_STATE, WON_STATE, Validation, _in
from .where import EngineUnsupported, Place, file_place, horizon, line_of, literal, sql_place

# Every query the engine sends is stopped past this many seconds (a setting will carry it; see docs).
DEFAULT_TIMEOUT = 120.0
_BANDS = {"size_band": SIZE_BANDS, "cycle_band": CYCLE_BANDS}


@dataclass(frozen=True)
class Window:
    """The deals a mask of `select.period_mask` holds: closed (or, a cohort, created) within [start, end];
    a cohort's deals only when they closed within `window_days` of being created."""

    start: dt.date
    end: dt.date
    basis: str = "closed"
    window_days: int | None = None

    @classmethod
    def of(cls, period) -> Window:
        """The window of an `insights.periods.Period`."""
        return cls(period.start, period.end, period.basis, period.window_days)

    def sql(self) -> str:
        column = "created" if self.basis == "created" else "closed"
        cond = f"{column} BETWEEN DATE {literal(self.start.isoformat())} AND DATE {literal(self.end.isoformat())}"
        if self.basis == "created" and self.window_days is not None:
            cond += f" AND cycle <= {int(self.window_days)}"
        return cond


@dataclass(frozen=True)
class Profile:
    """What one GROUP BY over the validated rows says of the whole source (the report's makings)."""

    values: dict[str, tuple[str, ...]]  # each source dimension's labels in display order
    counts: dict[str, int]  # rows set aside, by reason
    zeroed: bool  # lost deals' amounts zeroed (see load.lost_amounts_zeroed)
    outcome_only: bool  # the stage column records only the outcome
    rows: int
    closed: int
    open: int
    created_range: tuple[dt.date, dt.date] | None
    closed_range: tuple[dt.date, dt.date] | None
    open_without_amount: int
    open_without_created: int
    seconds: float


class DealEngine:
    """One refresh of a source, counted by its own database (DuckDB for files)."""

    def __init__(self, place: Place, mapping: ColumnMapping | None = None, since: dt.date | None = None):
        self.place, self.mapping, self.since = place, mapping or ColumnMapping(), since
        self.horizon = horizon()  # one refresh, one "now": the future-date checks of every query agree
        self._cells: dict = {}

    @classmethod
    def of_file(cls, path, mapping: ColumnMapping | None = None,
                timeout_seconds: float | None = DEFAULT_TIMEOUT) -> DealEngine:
        return cls(file_place(path, timeout_seconds), mapping)

    @classmethod
    def of_sql(cls, url: str, table: str | None = None, query: str | None = None, mapping: ColumnMapping | None = None,
               since: dt.date | None = None, timeout_seconds: float | None = DEFAULT_TIMEOUT) -> DealEngine:
        return cls(sql_place(url, table, query, timeout_seconds), mapping, since)

    def close(self) -> None:
        """Let go of the source's connection when the refresh is replaced."""
        self.place.close()

    def __enter__(self) -> DealEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @cached_property
    def validation(self) -> Validation:
        return Validation(self.place, self.mapping, self.since, self.horizon)

    # -- the data report (/health) ---------------------------------------------------------------------
    @cached_property
    def _profile(self) -> Profile:
        started = time.perf_counter()
        v = self.validation
        dims = v.dims
        stage = "deal_stage" in dims
        sets = ["(reason, state)"] + [f"(reason, d_{d})" for d in dims] + (["(reason, state, d_deal_stage)"] if stage else [])
        columns = "".join(f", d_{d}, GROUPING(d_{d}) AS g_{d}" for d in dims)
        found = self.place.timed(v.rows() + f"""
SELECT reason, state, GROUPING(state) AS g_state{columns}, COUNT(*) AS n,
       MIN(created) AS created_min, MAX(created) AS created_max, MIN(closed) AS closed_min, MAX(closed) AS closed_max,
       SUM(CASE WHEN amount IS NULL THEN 1 ELSE 0 END) AS no_amount,
       SUM(CASE WHEN created IS NULL THEN 1 ELSE 0 END) AS no_created,
       SUM(CASE WHEN amount = 0 THEN 1 ELSE 0 END) AS zero_amount,
       SUM(CASE WHEN amount > 0 THEN 1 ELSE 0 END) AS positive_amount
FROM v GROUP BY GROUPING SETS ({', '.join(sets)})""")
        by_dim = {d: found[(found[f"g_{d}"] == 0) & (found["reason"] == 0)] for d in dims}
        in_state_set = found["g_state"] == 0
        for d in dims:
            in_state_set &= found[f"g_{d}"] == 1
        by_state = found[in_state_set]
        kept = by_state[by_state["reason"] == 0]
        closed = kept[kept["state"].isin([WON_STATE, LOST_STATE])]
        opened = kept[kept["state"] == OPEN_STATE]
        order = self.mapping.stage_order
        values = {}
        for d in dims:
            labels = sorted({v.readings.labels[d][raw] for raw in by_dim[d][f"d_{d}"].astype(str)})
            values[d] = tuple(_categories(d, pd.Series(labels, dtype=object), order))
        lost = closed[closed["state"] == LOST_STATE]
        won = closed[closed["state"] == WON_STATE]
        lost_n, won_n = int(lost["n"].sum()), int(won["n"].sum())
        # the loader's lost_amounts_zeroed, on counts: nearly every lost deal at 0, most won deals above it
        zeroed = (lost_n >= LOST_ZERO_MIN_DEALS and won_n > 0
                  and int(lost["zero_amount"].sum()) / lost_n >= LOST_ZERO_SHARE
                  and int(won["positive_amount"].sum()) / won_n >= 0.5)
        outcome_only = False
        if stage:
            pairs = found[(found["g_state"] == 0) & (found["g_deal_stage"] == 0) & (found["reason"] == 0)
                          & found["state"].isin([WON_STATE, LOST_STATE])]
            codes = np.array([values["deal_stage"].index(v.readings.labels["deal_stage"][raw])
                              for raw in pairs["d_deal_stage"].astype(str)], dtype=np.int64)
            outcome_only = bool(stage_records_outcome_only(codes, (pairs["state"] == WON_STATE).to_numpy(),
                                                           len(values["deal_stage"])))
        reasons = by_state[by_state["reason"] > 0].groupby("reason")["n"].sum()
        counts = {REASONS[int(k) - 1]: int(n) for k, n in reasons.items()}
        for _, why in self.place.malformed:
            counts[why] = counts.get(why, 0) + 1
        return Profile(values=values, counts=counts, zeroed=zeroed, outcome_only=outcome_only,
                       rows=int(by_state["n"].sum()), closed=int(closed["n"].sum()), open=int(opened["n"].sum()),
                       created_range=_range(kept["created_min"], kept["created_max"]),
                       closed_range=_range(closed["closed_min"], closed["closed_max"]),
                       open_without_amount=int(opened["no_amount"].sum()),
                       open_without_created=int(opened["no_created"].sum()),
                       seconds=time.perf_counter() - started)

    def _examples(self, counts: dict[str, int]) -> dict[str, list[int]]:
        """Up to five row numbers per reason, the first in the file (or in deal id order, for a database)."""
        if not counts:
            return {}
        found = self.place.timed(self.validation.rows(numbered=True) + """
SELECT reason, _row FROM (SELECT reason, _row, ROW_NUMBER() OVER (PARTITION BY reason ORDER BY _row) AS k
                          FROM v WHERE reason > 0) AS t WHERE k <= 5 ORDER BY reason, _row""")
        rows = {REASONS[int(k) - 1]: [int(r) for r in part["_row"]] for k, part in found.groupby("reason")}
        malformed = self.place.malformed
        if malformed:
            rows = {why: line_of(numbers, malformed) for why, numbers in rows.items()}
            for line, why in malformed:
                rows.setdefault(why, []).append(line)
        return {why: sorted(rows[why])[:5] for why in REASONS if why in counts}

    @cached_property
    def report(self) -> DataReport:
        started = time.perf_counter()
        p = self._profile
        counts = {why: p.counts[why] for why in REASONS if why in p.counts}
        created, closed = p.created_range, p.closed_range
        censored = created[1] if created and closed and (closed[1] - created[1]).days > CENSORING_GAP_DAYS else None
        outside = None
        if self.since is not None:
            total = self.place.timed(f"SELECT COUNT(*) AS n FROM {self.place.relation} AS s")["n"].iloc[0]
            outside = int(total) - p.rows
        return DataReport(
            source=self.place.describe, rows_read=p.rows + len(self.place.malformed), closed_deals=p.closed,
            open_deals=p.open, set_aside=counts, examples=self._examples(counts), created_range=created,
            closed_range=closed, censored_after=censored,
            load_seconds=p.seconds + time.perf_counter() - started, loaded_at=dt.datetime.now(dt.UTC),
            dimensions=self.dimensions, stage_order=self.mapping.stage_order or STAGE_ORDER,
            stage_outcome_only="deal_stage" in self.validation.dims and p.outcome_only,
            open_without_amount=p.open_without_amount, open_without_created=p.open_without_created,
            lost_amounts_zeroed=p.zeroed, window_since=self.since, rows_outside_window=outside)

    @property
    def dimensions(self) -> tuple[str, ...]:
        """As the Snapshot's: the source's segments and the bands (no size band when losses are zeroed)."""
        bands = ("cycle_band",) if self._profile.zeroed else BANDED_DIMENSIONS
        return self.validation.dims + bands

    def values(self, dim: str) -> tuple[str, ...]:
        if dim in _BANDS:
            return tuple(label for _, label in _BANDS[dim])
        return self._profile.values[dim]

    @property
    def as_of(self) -> dt.date:
        closed = self._profile.closed_range
        return closed[1] if closed else dt.date.today()

    @property
    def first_closed(self) -> dt.date | None:
        closed = self._profile.closed_range
        return closed[0] if closed else None

    @property
    def query_seconds(self) -> list[float]:
        """How long each query of this refresh took, in order (for /health)."""
        return list(self.place.query_seconds)

    # -- cells ------------------------------------------------------------------------------------------
    def cells(self, windows: list[Window], dims: tuple[str, ...] | None = None, filters=()) -> Cells:
        """What `Cells.of(snapshot, masks, dims)` counts for masks `filter_mask(filters) & period_mask(w)`:
        the closed deals of each (disjoint) window per combination of `dims`, with n, won and amount."""
        dims = tuple(self.dimensions if dims is None else dims)
        filters = tuple((d, tuple(v)) for d, v in filters)
        key = (tuple(windows), dims, filters)
        if key not in self._cells:
            if len(self._cells) >= CACHED:
                self._cells.pop(next(iter(self._cells)))
            self._cells[key] = self._count(list(windows), dims, filters)
        return self._cells[key]

    def _count(self, windows: list[Window], dims: tuple[str, ...], filters) -> Cells:
        for i, a in enumerate(windows):
            for b in windows[:i]:
                if a.basis == b.basis and a.start <= b.end and b.start <= a.end:
                    raise ValueError("Cells.of counts disjoint masks: a deal would count in two groups")
        group = "CASE " + " ".join(f"WHEN {w.sql()} THEN {g}" for g, w in enumerate(windows)) + " END" \
            if windows else "NULL"
        inside = " OR ".join(f"({w.sql()})" for w in windows) or "FALSE"
        where = ["reason = 0", f"state IN ({LOST_STATE}, {WON_STATE})", f"({inside})"] + \
            [self._filter(d, v) for d, v in filters]
        # each dimension as its category code, joined from a list of (raw value, code): the GROUP BY is over
        # small integers, and two raw spellings of one label fall into one cell there
        picked, codes, joins = [], [], []
        for d in dims:
            if d in _BANDS:
                picked.append(d)
                codes.append(d)
                continue
            position = {label: k for k, label in enumerate(self.values(d))}
            pairs = [f"(CAST({literal(raw)} AS VARCHAR), {position[label]})"
                     for raw, label in self.validation.readings.labels[d].items() if label in position]
            picked.append(f"d_{d}")
            codes.append(f"k_{d}.code")
            joins.append(f"LEFT JOIN (VALUES {', '.join(pairs) or '(NULL, -1)'}) AS k_{d}(raw, code) "
                         f"ON k_{d}.raw = t.d_{d}")
        # one integer per cell, as Cells.of numbers them: the group, then each code + 1 (0: no value)
        sizes = [max(len(windows), 1)] + [len(self.values(d)) + 1 for d in dims]
        if int(np.prod(sizes, dtype=object)) >= 2**62:
            raise EngineUnsupported("So many dimensions of so many values cannot be counted in one grid: "
                                    "ask for fewer dimensions.")
        key = "g"
        for c, size in zip(codes, sizes[1:]):
            key = f"({key}) * {size} + ({c}) + 1"
        found = self.place.timed(self.validation.rows() + f"""
SELECT key, COUNT(*) AS n, SUM(won) AS won, SUM(amount) AS amount FROM (
  SELECT CAST({key} AS BIGINT) AS key, CASE WHEN state = {WON_STATE} THEN 1 ELSE 0 END AS won, amount
  FROM (SELECT {group} AS g{''.join(f", {c}" for c in picked)}, state, amount FROM v WHERE {' AND '.join(where)}) AS t
  {' '.join(joins)}
) AS k GROUP BY key""")
        order = np.argsort(found["key"].to_numpy(dtype=np.int64), kind="stable")  # Cells.of's dense order
        digits = np.unravel_index(found["key"].to_numpy(dtype=np.int64)[order], sizes)
        return Cells(
            dimensions=dims,
            categories={d: self.values(d) for d in self.dimensions},
            codes={d: (digits[k + 1] - 1).astype(np.int16 if sizes[k + 1] < 2**15 else np.int32)
                   for k, d in enumerate(dims)},
            group=digits[0].astype(np.int8),
            n=found["n"].to_numpy(dtype=np.int64)[order],
            won=found["won"].to_numpy(dtype=np.int64)[order],
            amount=found["amount"].to_numpy(dtype=np.float64)[order],
            groups=len(windows),
        )

    def _filter(self, dim: str, wanted) -> str:
        if dim in _BANDS:
            codes = [k for k, label in enumerate(self.values(dim)) if label in wanted]
            return f"{dim} IN ({', '.join(map(str, codes))})" if codes else "FALSE"
        labels = self.validation.readings.labels[dim]
        return _in(f"d_{dim}", [raw for raw, label in labels.items() if label in wanted])


def _range(low: pd.Series, high: pd.Series) -> tuple[dt.date, dt.date] | None:
    low, high = low.dropna(), high.dropna()
    if not len(low):
        return None
    return pd.Timestamp(low.min()).date(), pd.Timestamp(high.max()).date()
