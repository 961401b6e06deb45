"""Building the Snapshot from a validated table: the kept rows split into closed and open deals one
column at a time (so at ten million deals no full-length column outlives its split), then the report."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..labels import safe_labels
from ..schema import CYCLE_BANDS, LOST, SIZE_BANDS, WON
from ..snapshot import Snapshot
from .arrow_memory import release_arrow_memory
from .coding import band, coded
from .column_mapping import ColumnMapping
from .report import Gaps, data_report, set_aside_rows, with_malformed
from .validate import Checked, validate


@dataclass(frozen=True)
class Origin:
    """Where a table came from: the report's source and start time, and the lines of the file's rows."""

    source: str
    started: float  # time.perf_counter() when the load began
    lines: np.ndarray | None = None  # each row's line in the file; None: header on line 1, one line per row
    malformed: tuple[tuple, ...] = ()  # (line, text[, reason]) of lines that were not rows


def build_snapshot(frame: pd.DataFrame, *, dims: tuple[str, ...], mapping: ColumnMapping, origin: Origin,
                   as_of: dt.date | None = None) -> Snapshot:
    """The Snapshot of a table in canonical columns. `frame` is the caller's own (from_table builds it):
    its columns are let go one by one."""
    rows_read = len(frame) + len(origin.malformed)
    checked = validate(frame, dims, mapping)
    # the rows set aside, with their original values, before any column is let go
    rejected = set_aside_rows(frame, checked.reason, origin.lines)
    index_type = np.int32 if len(frame) < 2**31 else np.int64
    closed_rows = np.flatnonzero(checked.kept & checked.is_closed).astype(index_type)
    open_rows = np.flatnonzero(checked.kept & ~checked.is_closed).astype(index_type)
    gaps = Gaps.of(checked, closed_rows, open_rows)
    folds: list = []
    deals, open_deals = _split(frame, checked, closed_rows, open_rows, dims, mapping.stage_order, folds)
    rejected = with_malformed(rejected, origin.malformed)
    report = data_report(source=origin.source, rows_read=rows_read, deals=deals, open_deals=open_deals,
                         rejected=rejected, dims=dims, mapping=mapping, gaps=gaps, started=origin.started,
                         folded=tuple(folds))
    latest = report.closed_range[1] if report.closed_range else dt.date.today()
    snapshot = Snapshot(deals, open_deals, rejected.reset_index(drop=True), report, latest, report.dimensions)
    if as_of is not None and as_of != latest:
        snapshot = snapshot.at(as_of)
    return snapshot


class _Halves:
    """The closed and the open deals' columns, each taken from one full-length column."""

    def __init__(self, closed_rows: np.ndarray, open_rows: np.ndarray):
        self.closed_rows, self.open_rows = closed_rows, open_rows
        self.closed: dict[str, object] = {}
        self.open: dict[str, object] = {}

    def take(self, name: str, values) -> None:
        if isinstance(values, pd.Series):
            self.closed[name] = values.iloc[self.closed_rows].reset_index(drop=True)
            self.open[name] = values.iloc[self.open_rows].reset_index(drop=True)
        elif isinstance(values, pd.Categorical):
            self.closed[name], self.open[name] = values.take(self.closed_rows), values.take(self.open_rows)
        else:
            self.closed[name], self.open[name] = pd.Series(values[self.closed_rows]), pd.Series(values[self.open_rows])


def _split(frame: pd.DataFrame, checked: Checked, closed_rows: np.ndarray, open_rows: np.ndarray,
           dims: tuple[str, ...], stage_order: tuple[str, ...], folds: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Column by column: the closed and the open rows taken, the full-length column (in `frame` or
    among the parsed values) dropped before the next one is taken. Each label column's merged spellings
    (see coding.coded) are added to `folds`."""
    halves = _Halves(closed_rows, open_rows)
    parsed = checked.parsed
    release_arrow_memory()
    halves.take("deal_id", frame.pop("deal_id"))
    release_arrow_memory()  # the full-length ids
    del frame["created_date"], frame["closed_date"]
    halves.take("created_date", parsed.pop("created_date"))
    closed = parsed.pop("closed_date")
    halves.take("closed_date", closed)
    halves.open["closed_date"] = pd.Series(pd.NaT, index=halves.open["closed_date"].index, dtype=closed.dtype)
    del closed  # open deals have no closed date
    del frame["deal_amount"]
    halves.take("deal_amount", parsed.pop("deal_amount"))
    if "sales_cycle_days" in frame:
        del frame["sales_cycle_days"]
    halves.take("sales_cycle_days", parsed.pop("sales_cycle_days"))
    # a categorical of three labels: one byte per deal rather than a string
    outcome = np.where(checked.is_won, 2, np.where(checked.is_lost, 1, 0)).astype(np.int8)
    halves.take("outcome", pd.Categorical.from_codes(outcome, categories=pd.Index(["", LOST, WON])))
    del outcome
    keep = checked.kept
    for d in dims:
        column, merged = coded(safe_labels(frame.pop(d)), keep, d, stage_order)
        halves.take(d, column)
        folds.extend(merged)
    for part in halves.closed, halves.open:  # bands of the rows' own values: no full-length column needed
        part["size_band"] = band(part["deal_amount"].to_numpy(), SIZE_BANDS)
        part["cycle_band"] = band(part["sales_cycle_days"].to_numpy(), CYCLE_BANDS)
    return pd.DataFrame(halves.closed, copy=False), pd.DataFrame(halves.open, copy=False)
