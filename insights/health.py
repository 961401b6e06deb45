"""/health: the data report — what was read, what was set aside and why, and how fresh it is."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .periods import Period
from .query import Query
from .results import NOT_JSON, Result
from .snapshot import Snapshot


@dataclass(frozen=True, kw_only=True)
class SetAside:
    reason: str
    rows: int
    example_rows: list[int]


@dataclass(frozen=True, kw_only=True)
class FoldedLabel:
    """Spellings of one segment label merged at load (labels.fold_labels): the label kept, its deals after the
    merge, and the other spellings with their deals."""

    dimension: str
    label: str
    deals: int
    merged_deals: int  # deals written another way, now counted under `label`
    spellings: dict[str, int]


@dataclass(kw_only=True)
class HealthResult(Result):
    source: str
    rows_read: int
    closed_deals: int
    open_deals: int
    rows_set_aside: int
    set_aside: list[SetAside] = field(default_factory=list)
    created_range: list[dt.date] | None = None
    closed_range: list[dt.date] | None = None
    censored_after: dt.date | None = None
    dimensions: dict[str, int] = field(default_factory=dict)
    loaded_at: dt.datetime | None = None
    load_seconds: float = 0.0
    stage_outcome_only: bool = False
    open_without_amount: int = 0  # kept with a gap: counted as open deals, not set aside
    open_without_created: int = 0
    lost_amounts_zeroed: bool = False
    absent: list[str] = field(default_factory=list)  # segment columns the data does not have
    window_since: dt.date | None = None  # the source was read from this date on (DEALS_SINCE)
    rows_outside_window: int | None = None  # rows the window left unread, where known
    folded: list[FoldedLabel] = field(default_factory=list)  # segment labels written several ways, merged
    # counted where the data lives (DEALS_ENGINE): each query's seconds so far this refresh; None in memory
    query_seconds: list[float] | None = field(default=None, metadata=NOT_JSON)


def health(snapshot: Snapshot, query: Query) -> HealthResult:
    report = snapshot.report
    first = report.closed_range[0] if report.closed_range else snapshot.as_of
    return HealthResult(
        command="health", as_of=snapshot.as_of, query=query,
        period=Period(first, snapshot.as_of, "all data"),
        source=report.source, rows_read=report.rows_read,
        closed_deals=len(snapshot.deals), open_deals=len(snapshot.open_deals),
        rows_set_aside=report.rows_set_aside,
        set_aside=[SetAside(reason=r, rows=c, example_rows=report.examples.get(r, []))
                   for r, c in report.set_aside.items()],
        created_range=list(report.created_range) if report.created_range else None,
        closed_range=list(report.closed_range) if report.closed_range else None,
        censored_after=report.censored_after,
        dimensions={d: len(snapshot.values(d)) for d in snapshot.dimensions},
        loaded_at=report.loaded_at, load_seconds=round(report.load_seconds, 3),
        stage_outcome_only=report.stage_outcome_only,
        open_without_amount=report.open_without_amount, open_without_created=report.open_without_created,
        lost_amounts_zeroed=report.lost_amounts_zeroed, absent=list(report.absent),
        window_since=report.window_since, rows_outside_window=report.rows_outside_window,
        folded=[FoldedLabel(dimension=f.dim, label=f.label, deals=f.deals, merged_deals=f.merged,
                            spellings=dict(f.spellings)) for f in report.folded],
        query_seconds=list(getattr(snapshot, "query_seconds", None) or []) or None,
    )


def unusable_reason(snapshot: Snapshot) -> str | None:
    """Why a snapshot cannot answer anything (no closed deals), with the /health counts; None when it can."""
    if len(snapshot.deals):
        return None
    r = snapshot.report
    reasons = "; ".join(f"{reason} {count:,} (e.g. rows {', '.join(str(x) for x in r.examples.get(reason, []))})"
                        for reason, count in sorted(r.set_aside.items(), key=lambda kv: -kv[1]))
    text = (f"{r.source} has no usable closed deals: {r.rows_read:,} rows read, {len(snapshot.open_deals):,} open, "
            f"{r.rows_set_aside:,} set aside")
    return text + (f" — {reasons}." if reasons else ".") + (
        " Check the column mapping (--mapping / DEALS_MAPPING): amounts, outcome values and dates."
        if r.rows_set_aside else "")


def shrink_reason(before: Snapshot, after: Snapshot, max_drop: float) -> str | None:
    """Why a refresh looks like a damaged copy of the data before it (a file cut mid-write, a query
    that ended early): rows read or closed deals down by more than `max_drop` (a share), or the as-of
    date gone back. None when it looks like the same data, grown or trimmed a little."""
    problems = []
    for what, old, new in (("rows read", before.report.rows_read, after.report.rows_read),
                           ("closed deals", len(before.deals), len(after.deals))):
        if old and new < (1 - max_drop) * old:
            problems.append(f"{what} fell from {old:,} to {new:,} ({(old - new) / old:.0%} fewer)")
    if after.as_of < before.as_of:
        problems.append(f"the as-of date went back from {before.as_of} to {after.as_of}")
    if not problems:
        return None
    return (f"held back as suspect: {'; '.join(problems)}. If the smaller data is right, the next refresh "
            f"that reads the same takes it (or raise REFRESH_MAX_DROP)")
