"""The data report: the rows set aside (with their lines and reasons), the gaps kept, the date ranges
and what they say about the extract."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..mapping import stage_records_outcome_only
from ..schema import STAGE_ORDER, WON
from ..snapshot import DataReport
from .column_mapping import ColumnMapping
from .validate import REASONS, Checked

# A gap this long between the last created date and the last closed date means the extract
# stopped taking new deals before it stopped taking closes: recent closed periods are censored.
CENSORING_GAP_DAYS = 30
# Lost deals whose amounts are 0 at least this often (and won deals that have amounts) mean the CRM zeroes
# a lost deal's amount; a few $0 losses among real ones are ordinary data.
LOST_ZERO_SHARE = 0.95
LOST_ZERO_MIN_DEALS = 10


def lost_amounts_zeroed(amount: np.ndarray, won: np.ndarray) -> bool:
    """True when (nearly) every lost deal is at 0 while most won deals have an amount."""
    lost = amount[~won]
    if len(lost) < LOST_ZERO_MIN_DEALS or not won.any():
        return False
    return bool((lost == 0).mean() >= LOST_ZERO_SHARE and (amount[won] > 0).mean() >= 0.5)


@dataclass(frozen=True)
class Gaps:
    """What the kept deals lack: open deals without an amount or a created date (kept and counted), and
    lost deals zeroed by the CRM (then no figure may weight closed deals by amount)."""

    open_without_amount: int
    open_without_created: int
    lost_amounts_zeroed: bool

    @classmethod
    def of(cls, checked: Checked, closed_rows: np.ndarray, open_rows: np.ndarray) -> Gaps:
        amount = checked.parsed["deal_amount"]
        return cls(open_without_amount=int(np.isnan(amount[open_rows]).sum()),
                   open_without_created=int(checked.parsed["created_date"].iloc[open_rows].isna().sum()),
                   lost_amounts_zeroed=lost_amounts_zeroed(amount[closed_rows], checked.is_won[closed_rows]))


def set_aside_rows(frame: pd.DataFrame, reason: np.ndarray, lines: np.ndarray | None) -> pd.DataFrame:
    """The rows set aside with their original values, their line in the file and their reason."""
    keep = reason == 0
    rejected = frame[~keep].copy()
    rejected.insert(0, "row", lines[~keep] if lines is not None else np.flatnonzero(~keep) + 2)  # file lines
    rejected.insert(1, "reason", np.array(("",) + REASONS, dtype=object)[reason[~keep]])
    return rejected


def with_malformed(rejected: pd.DataFrame, malformed: tuple[tuple, ...]) -> pd.DataFrame:
    """The set-aside rows and the lines that were not rows at all, in file order."""
    if not malformed:
        return rejected
    broken = pd.DataFrame({"row": [m[0] for m in malformed],
                           "reason": [m[2] if len(m) > 2 else "malformed_row" for m in malformed],
                           "raw": [m[1] for m in malformed]})
    return pd.concat([rejected, broken], ignore_index=True).sort_values("row", kind="stable")


def data_report(*, source: str, rows_read: int, deals: pd.DataFrame, open_deals: pd.DataFrame,
                rejected: pd.DataFrame, dims: tuple[str, ...], mapping: ColumnMapping, gaps: Gaps,
                started: float, folded: tuple = ()) -> DataReport:
    """The report of one load: counts by reason (with example rows), ranges, censoring, segment columns."""
    counts = rejected["reason"].value_counts()
    set_aside = {r: int(counts[r]) for r in REASONS if r in counts}
    examples = {r: rejected.loc[rejected["reason"] == r, "row"].head(5).tolist() for r in set_aside}
    kept_created = [part["created_date"] for part in (deals, open_deals) if len(part)]
    created_range = (min(days.min() for days in kept_created).date(),
                     max(days.max() for days in kept_created).date()) if kept_created else None
    closed_range = (deals["closed_date"].min().date(), deals["closed_date"].max().date()) if len(deals) else None
    censored_after = None
    if created_range and closed_range and (closed_range[1] - created_range[1]).days > CENSORING_GAP_DAYS:
        censored_after = created_range[1]
    # zeroed losses put every lost deal in the smallest size band: the band would "explain" the outcome
    all_dims = dims + (("cycle_band",) if gaps.lost_amounts_zeroed else ("size_band", "cycle_band"))
    return DataReport(
        source=source,
        rows_read=rows_read,
        closed_deals=len(deals),
        open_deals=len(open_deals),
        set_aside=set_aside,
        examples=examples,
        created_range=created_range,
        closed_range=closed_range,
        censored_after=censored_after,
        load_seconds=time.perf_counter() - started,
        loaded_at=dt.datetime.now(dt.UTC),
        dimensions=all_dims,
        stage_order=mapping.stage_order or STAGE_ORDER,
        stage_outcome_only="deal_stage" in dims and bool(stage_records_outcome_only(
            deals["deal_stage"].cat.codes.to_numpy(), (deals["outcome"] == WON).to_numpy(),
            len(deals["deal_stage"].cat.categories))),
        open_without_amount=gaps.open_without_amount,
        open_without_created=gaps.open_without_created,
        lost_amounts_zeroed=gaps.lost_amounts_zeroed,
        folded=folded,
    )
