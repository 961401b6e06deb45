"""Validation: every row's first reason to be set aside, from the full-length columns, and the values
parsed on the way (outcome, dates, amount, cycle), handed on to build the Snapshot."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..mapping import parse_amounts, parse_flags
from .arrow_memory import release_arrow_memory
from .column_mapping import ColumnMapping
from .duplicates import duplicated
from .parse import days_between, folded_isin, numbers, parse_dates

# A deal cannot have been created or closed after the data was loaded: a date more than this beyond the
# load time is a placeholder (2099-12-31) or a typo, and would otherwise become the as-of date.
FUTURE_SLACK = dt.timedelta(days=1)

# Why a row is set aside, in the order rows are checked (a row gets the first that applies).
# The sentences users read for these codes live in templates/.
REASONS = (
    "unterminated_quote",
    "malformed_row",
    "missing_deal_id",
    "duplicate_deal_id",
    "unknown_outcome",
    "unparseable_created_date",
    "unparseable_closed_date",
    "closed_before_created",
    "future_created_date",
    "future_closed_date",
    "missing_amount",
    "non_finite_amount",
    "negative_amount",
    "bad_cycle_days",
    "missing_segment",
)


class Reasons:
    """Each row's reason as a small integer (0: kept; k: REASONS[k - 1]), the first one flagged winning."""

    def __init__(self, rows: int):
        self.codes = np.zeros(rows, dtype=np.int8)  # small integers, not strings, per row

    def flag(self, mask, why: str) -> None:
        mask = np.asarray(mask, dtype=bool) & (self.codes == 0)
        self.codes[mask] = REASONS.index(why) + 1


@dataclass
class Checked:
    """A table's verdicts and parsed values. `parsed` (created_date, closed_date, deal_amount,
    sales_cycle_days, full length) is handed over: the builder takes each out as it splits it, so no
    full-length copy outlives its split."""

    reason: np.ndarray
    is_won: np.ndarray
    is_lost: np.ndarray
    is_closed: np.ndarray
    parsed: dict

    @property
    def kept(self) -> np.ndarray:
        return self.reason == 0


def validate(frame: pd.DataFrame, dims: tuple[str, ...], mapping: ColumnMapping) -> Checked:
    """Every row checked in the order of REASONS, on the canonical columns `frame` holds."""
    reasons = Reasons(len(frame))
    is_won, is_lost, is_open = _outcomes(frame, mapping)
    is_closed = is_won | is_lost
    release_arrow_memory()  # what the read left behind
    blank_id = (frame["deal_id"] == "").to_numpy()
    reasons.flag(blank_id, "missing_deal_id")
    reasons.flag(duplicated(frame["deal_id"]) & ~blank_id, "duplicate_deal_id")
    del blank_id
    reasons.flag(~(is_closed | is_open), "unknown_outcome")
    del is_open
    created, closed = _check_dates(frame, mapping, is_closed, reasons)
    amount = _check_amounts(frame, mapping, is_closed, reasons)
    cycle = _check_cycle(frame, created, closed, is_closed, reasons)
    for d in dims:
        reasons.flag((frame[d] == "").to_numpy(), "missing_segment")
    return Checked(reason=reasons.codes, is_won=is_won, is_lost=is_lost, is_closed=is_closed,
                   parsed={"created_date": created, "closed_date": closed, "deal_amount": amount,
                           "sales_cycle_days": cycle})


def _outcomes(frame: pd.DataFrame, mapping: ColumnMapping) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Won, lost and open rows, by the mapping's outcome values (and its IsClosed flag, when mapped)."""
    is_won = folded_isin(frame["outcome"], ("won",) + mapping.won_values)
    is_lost = folded_isin(frame["outcome"], ("lost",) + mapping.lost_values)
    is_open = folded_isin(frame["outcome"], ("", "open") + mapping.open_values)
    if mapping.others_are_open:
        is_open = is_open | ~(is_won | is_lost)  # not |=: pandas may hand back a read-only array
    if "is_closed" in frame:  # IsClosed decides open or closed; the outcome column only won or lost
        flag_closed = parse_flags(frame["is_closed"])
        known = flag_closed.notna().to_numpy()
        closed_now = flag_closed.fillna(False).to_numpy(dtype=bool)
        is_won, is_lost = is_won & closed_now, is_lost & closed_now
        is_open = known & ~closed_now
    return is_won, is_lost, is_open


def _check_dates(frame, mapping, is_closed, reasons: Reasons) -> tuple[pd.Series, pd.Series]:
    created = parse_dates(frame["created_date"], mapping)
    closed = parse_dates(frame["closed_date"], mapping)
    # an open deal with a blank created date is kept (early deals often have none): only a closed deal
    # needs one, and a created date written but not readable still points at a wrong format
    reasons.flag(unusable(created.isna().to_numpy(), is_closed, frame["created_date"]), "unparseable_created_date")
    reasons.flag(is_closed & closed.isna().to_numpy(), "unparseable_closed_date")
    reasons.flag(is_closed & (closed < created).to_numpy(), "closed_before_created")
    horizon = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None) + FUTURE_SLACK)
    reasons.flag((created > horizon).to_numpy(), "future_created_date")
    reasons.flag(is_closed & (closed > horizon).to_numpy(), "future_closed_date")
    return created, closed


def _check_amounts(frame, mapping, is_closed, reasons: Reasons) -> np.ndarray:
    amount = frame["deal_amount"] if pd.api.types.is_float_dtype(frame["deal_amount"].dtype) else \
        parse_amounts(frame["deal_amount"], mapping.decimal)
    amount = amount.to_numpy(dtype=float, na_value=np.nan)
    # likewise an open deal with a blank amount is kept and counted; a closed one needs its amount
    reasons.flag(unusable(np.isnan(amount), is_closed, frame["deal_amount"]), "missing_amount")
    reasons.flag(np.isinf(amount), "non_finite_amount")
    reasons.flag(amount < 0, "negative_amount")
    return amount


def _check_cycle(frame, created, closed, is_closed, reasons: Reasons) -> np.ndarray:
    """The sales cycle in days as given, or derived from the dates where it is not; NaN for open deals."""
    derived_cycle = days_between(created, closed)
    if "sales_cycle_days" in frame and pd.api.types.is_float_dtype(frame["sales_cycle_days"].dtype):
        cycle = frame["sales_cycle_days"].to_numpy(dtype=float, na_value=np.nan)  # typed: a missing value
        reasons.flag(cycle < 0, "bad_cycle_days")                                   # is derived from the dates
        cycle = np.where(np.isnan(cycle), derived_cycle, cycle)
    elif "sales_cycle_days" in frame:
        given = frame["sales_cycle_days"]
        parsed = numbers(given)
        reasons.flag(((given != "") & parsed.isna()) | (parsed < 0)
                     | np.isinf(parsed.to_numpy(dtype=float, na_value=np.nan)), "bad_cycle_days")
        cycle = parsed.where(given != "", derived_cycle).to_numpy(dtype=float, na_value=np.nan)
    else:
        cycle = derived_cycle
    if not cycle.flags.writeable:  # a view of the column's own data
        cycle = cycle.copy()
    cycle[~is_closed] = np.nan
    return cycle


def unusable(missing: np.ndarray, is_closed: np.ndarray, raw: pd.Series) -> np.ndarray:
    """Rows whose value did not parse, less the open deals that left it blank (kept, counted as gaps).
    Only the open rows that failed are looked at in the raw column: usually none of ten million."""
    gaps = np.flatnonzero(missing & ~is_closed)
    if not len(gaps):
        return missing
    at = raw.iloc[gaps]
    blank = (at.isna() | (at.astype(str) == "")).to_numpy()  # text, a typed null or a categorical's either
    out = missing.copy()
    out[gaps[blank]] = False
    return out
