"""/deals: the deals behind any number: the closed deals of a selection and period, or its open pipeline.

Largest first, with the rep, amount, dates, stage and outcome; the full list is a table for a CSV
file, so a number in any reply can be checked deal by deal in the CRM.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .counting import counter_of, open_frame, open_mask
from .pipeline import open_chances, open_win_probabilities
from .query import Query
from .results import Result
from .selection import Selection
from .snapshot import Snapshot

SHOWN = 15  # deals listed in a reply; the CSV has them all
COLUMNS = ("deal_id", "sales_rep_id", "region", "industry", "product_type", "lead_source", "deal_stage",
           "deal_amount", "created_date", "closed_date", "outcome")


@dataclass(frozen=True, kw_only=True)
class DealRow:
    deal_id: str
    rep: str | None
    segment: str
    stage: str | None
    amount: float | None  # None: an open deal without an amount
    created: dt.date | None
    closed: dt.date | None
    outcome: str  # Won, Lost or Open
    win_probability: float | None = None  # an open deal's chance of being won by the end of this quarter


@dataclass(kw_only=True)
class DealsResult(Result):
    outcome: str | None  # won | lost | open | None (all closed)
    count: int = 0
    won: int = 0
    lost: int = 0
    amount: float = 0.0
    without_amount: int = 0  # open deals counted whose amount is blank (not in `amount`)
    deals: list[DealRow] = field(default_factory=list)  # the largest SHOWN


def _selection(sel: Selection) -> tuple[pd.DataFrame, np.ndarray]:
    """The frame the query's deals are in (closed or open) and the positions of those deals in it."""
    snapshot, outcome = sel.snapshot, sel.query.outcome
    if outcome == "open":  # counted where the data lives too: the open deals are rows there (pipeline scores them)
        return open_frame(snapshot), np.flatnonzero(open_mask(snapshot, sel.open))
    mask = sel.current
    if outcome in ("won", "lost"):
        mask = mask & (snapshot.won == (outcome == "won"))
    return snapshot.deals, np.flatnonzero(mask)


def _table(snapshot: Snapshot, frame: pd.DataFrame, rows: np.ndarray,
           chances: np.ndarray | None = None) -> pd.DataFrame:
    """These deals in the canonical columns, largest first (ties by deal id); open deals with their
    chance of being won by the end of this quarter (/pipeline's)."""
    frame = frame.iloc[rows]
    # a snapshot whose rep dimension was taken out (REPS_USERS) names no owner, in the CSV either
    keep = [c for c in COLUMNS if c in frame.columns and (c != "sales_rep_id" or c in snapshot.dimensions)]
    frame = frame[keep].copy()
    if "outcome" not in frame:
        frame["outcome"] = "Open"
    elif isinstance(frame["outcome"].dtype, pd.CategoricalDtype):  # a categorical takes no new value: rename it
        frame["outcome"] = frame["outcome"].cat.rename_categories(
            {c: c or "Open" for c in frame["outcome"].cat.categories})
    else:
        frame["outcome"] = frame["outcome"].replace("", "Open")
    if chances is not None:
        frame["win_probability_this_quarter"] = np.round(chances[rows], 4)
    return frame.sort_values(["deal_amount", "deal_id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def deal_table(snapshot: Snapshot, query: Query) -> pd.DataFrame:
    """Every deal behind the query, largest first, in the canonical columns (for the CSV)."""
    return pd.concat(list(deal_tables(snapshot, query)), ignore_index=True)


def deal_tables(snapshot: Snapshot, query: Query):
    """`deal_table` in parts, in order: one table in memory; chunks streamed from the engine for the closed
    deals of a source counted where it lives (every deal of an export is never held at once)."""
    sel = Selection(snapshot, query)
    counter = counter_of(snapshot)
    if counter is not None:
        is_open = query.outcome == "open"  # open deals streamed too, each with its cell's chance
        for chunk in counter.deal_chunks(sel.open if is_open else sel.current, None if is_open else query.outcome):
            yield _table(snapshot, chunk, np.arange(len(chunk)), open_chances(snapshot, chunk) if is_open else None)
        return
    frame, rows = _selection(sel)
    yield _table(snapshot, frame, rows, open_win_probabilities(snapshot) if query.outcome == "open" else None)


# A spreadsheet reads a cell that starts with one of these as a formula (=HYPERLINK(...), +cmd|...):
# OWASP's rule for CSV injection is to put a ' in front, which the spreadsheet shows as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def deals_csv(snapshot: Snapshot, query: Query) -> bytes:
    """The deal table as the CSV file a user downloads: UTF-8, every text cell that a spreadsheet
    would run as a formula neutralised (numbers and dates are left as they are)."""
    parts = []
    for table in deal_tables(snapshot, query):
        for column in table.columns:
            values = table[column]
            if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
                continue
            text = values.astype("string")
            risky = text.str.startswith(FORMULA_START).fillna(False).to_numpy(dtype=bool)
            if risky.any():
                table[column] = values.astype(object).where(~risky, "'" + text.astype(object))
        if parts and not len(table):
            continue
        parts.append(table.to_csv(index=False, header=not parts).encode("utf-8"))
    return b"".join(parts)


def deals_behind(snapshot: Snapshot, query: Query) -> DealsResult:
    """The deals behind the query's number: counts, total amount and the largest deals.

    Counted on the selection's positions; only the deals that can be among the largest SHOWN (every
    deal at least as large as the SHOWN-th largest) are sorted and read, not a million-row table."""
    sel = Selection(snapshot, query)  # open pipeline is as of now, whatever the period
    counter = counter_of(snapshot)
    if counter is not None:
        return _counted(snapshot, sel, counter)
    frame, rows = _selection(sel)
    amounts = frame["deal_amount"].to_numpy(dtype=float)[rows]
    blank = np.isnan(amounts)  # only open deals are kept without an amount
    amounts = np.where(blank, -1.0, amounts)  # listed after every deal with an amount, never summed
    is_open = query.outcome == "open"
    won = 0 if is_open else int(snapshot.won[rows].sum())
    notes = (["open_pipeline_now"] if is_open else []) + ([] if len(rows) else ["no_deals"])
    return DealsResult(command="deals", as_of=snapshot.as_of, query=query, period=sel.period, outcome=query.outcome,
                       count=len(rows), won=won, lost=0 if is_open else len(rows) - won,
                       amount=float(amounts[~blank].sum()) if len(rows) else 0.0, without_amount=int(blank.sum()),
                       deals=_largest(snapshot, frame, rows, amounts, is_open), notes=notes)


def _counted(snapshot, sel: Selection, counter) -> DealsResult:
    """`deals_behind` for deals counted where they live: the totals by one query, the SHOWN largest by one more
    bounded by its LIMIT (open ones with their cells' chances, as /pipeline gives them)."""
    query = sel.query
    is_open = query.outcome == "open"
    subset, outcome = (sel.open, None) if is_open else (sel.current, query.outcome)
    count, won, amount, blank = counter.deal_totals(subset, outcome)
    listed = counter.deal_rows(subset, outcome, SHOWN)
    chances = open_chances(snapshot, listed) if is_open else None
    return DealsResult(command="deals", as_of=snapshot.as_of, query=query, period=sel.period, outcome=query.outcome,
                       count=count, won=won, lost=0 if is_open else count - won, amount=amount if count else 0.0,
                       without_amount=blank, deals=_rows_of(_table(snapshot, listed, np.arange(len(listed)), chances)),
                       notes=(["open_pipeline_now"] if is_open else []) + ([] if count else ["no_deals"]))


def _largest(snapshot: Snapshot, frame: pd.DataFrame, rows: np.ndarray, amounts: np.ndarray,
             is_open: bool) -> list[DealRow]:
    """The SHOWN largest of these deals (amounts: -1 where blank), as rows of a reply."""
    if len(rows) > SHOWN:
        rows = rows[amounts >= np.partition(amounts, len(amounts) - SHOWN)[len(amounts) - SHOWN]]
    chances = open_win_probabilities(snapshot) if is_open else None
    return _rows_of(_table(snapshot, frame, rows, chances))


def _rows_of(table: pd.DataFrame) -> list[DealRow]:
    """The first SHOWN deals of a `_table`, as rows of a reply."""
    return [DealRow(deal_id=str(row.deal_id), rep=_text(getattr(row, "sales_rep_id", None)),
                    segment=" · ".join(str(getattr(row, c)) for c in ("region", "product_type", "lead_source")
                                       if hasattr(row, c) and isinstance(getattr(row, c), str)),
                    stage=_text(getattr(row, "deal_stage", None)),
                    amount=None if pd.isna(row.deal_amount) else float(row.deal_amount),
                    created=_day(row.created_date), closed=_day(getattr(row, "closed_date", None)),
                    outcome=row.outcome, win_probability=getattr(row, "win_probability_this_quarter", None))
            for row in table.head(SHOWN).itertuples(index=False)]


def _text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _day(value) -> dt.date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()
