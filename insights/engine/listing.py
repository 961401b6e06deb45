"""What the engine gives one deal at a time: the deals behind a number (/deals: a bounded list, the CSV in
chunks), the open deals the pipeline model scores, the pipeline model's history counted into cells, and the
engine of a restricted scope (row-level access as a WHERE on the validated rows).

Every row comes back in the in-memory Snapshot's own shape — the canonical columns, segments as
categoricals of the same categories, dates as datetime64 — so the analyses that read rows (insights/deals.py,
insights/pipeline.py) run unchanged on them and give the same numbers. Closed deals never come back in bulk:
a list is bounded by its LIMIT, an export is streamed chunk by chunk, and the pipeline's history is a GROUP BY.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from functools import cached_property

import numpy as np
import pandas as pd

from ..counting import Subset
from ..labels import match_key
from ..load.coding import band
from ..schema import CYCLE_BANDS, SIZE_BANDS
from .engine import _BANDS, DealEngine, window_sql
from .rows import LOST_STATE, OPEN_STATE, WON_STATE
from .where import DuckPlace, literal

CHUNK_ROWS = 50_000  # rows per chunk of a streamed export
# open deals per chunk the pipeline scores (each chunk is held three times while it becomes the loader's frame: at
# 500,000 the 100M digest peaked 550 MB over the commands before it); a database through SQLAlchemy hands over
# Python objects, a dozen a row (the 10M PostgreSQL table peaked at 650 MB with chunks of 100,000; its digest's
# stream of 25,000-row chunks still added ~32 MB), so its chunks are a tenth of that
OPEN_CHUNK_ROWS = 100_000
_OUTCOMES = pd.Index(["", "Lost", "Won"])  # the loader's outcome categories (open, lost, won)


# -- which rows ----------------------------------------------------------------------------------------
def subset_where(engine: DealEngine, subset: Subset, outcome: str | None = None) -> list[str]:
    """The SQL conditions of a Subset's deals: open, or closed (only won or lost with `outcome`)."""
    where = ["reason = 0"]
    if subset.open:
        where.append(f"state = {OPEN_STATE}")
    else:
        states = {"won": f"{WON_STATE}", "lost": f"{LOST_STATE}"}.get(outcome or "", f"{LOST_STATE}, {WON_STATE}")
        where.append(f"state IN ({states})")
        if subset.window is not None:
            where.append(window_sql(subset.window))
    where += [engine._filter(d, v) for d, v in subset.filters]
    if subset.aged is not None:
        raise ValueError("an aged selection is counted, not listed")
    return where


def _order(engine: DealEngine) -> str:
    """Largest first, blank amounts last, ties by deal id in code-point order (as pandas sorts strings)."""
    ident = 't.id COLLATE "C"' if engine.place.dialect.name == "postgresql" else "t.id"
    return f"t.amount DESC NULLS LAST, {ident}"


def _file_order(engine: DealEngine) -> str:
    """The in-memory Snapshot's row order: the file's, or deal id order for a database."""
    return "t.order_id" if engine.place.row_window else "t._row"


def _select(engine: DealEngine, where: list[str], order: str, limit: int | None = None) -> str:
    """The rows' columns, each segment as its category code (a small integer, not its text, comes back)."""
    dims = engine.validation.dims
    codes = "".join(f", COALESCE(k_{d}.code, -1) AS c_{d}" for d in dims)
    joins = " ".join(engine._codes_join(d, f"k_{d}") for d in dims)
    last = f" LIMIT {int(limit)}" if limit is not None else ""
    return (engine._v() + f"SELECT t.id, t.state, t.created, t.closed, t.amount, t.cycle{codes} "
            f"FROM (SELECT * FROM v WHERE {' AND '.join(where)}) AS t {joins} ORDER BY {order}{last}")


# -- rows in the Snapshot's shape ----------------------------------------------------------------------------
def as_frame(engine: DealEngine, found: pd.DataFrame) -> pd.DataFrame:
    """Rows of `_select` as the loader's frame: deal_id, dates, amount, cycle, outcome, segments, bands."""
    state = found["state"].to_numpy(dtype=np.int64)
    is_open = state == OPEN_STATE
    created = _days(found["created"])
    closed = _days(found["closed"])
    closed[is_open] = np.datetime64("NaT")
    amount = np.array(pd.to_numeric(found["amount"], errors="coerce"), dtype=np.float64)
    cycle = np.array(pd.to_numeric(found["cycle"], errors="coerce"), dtype=np.float64)
    cycle[is_open] = np.nan
    out = {
        "deal_id": found["id"].astype(str).to_numpy(),
        "created_date": created,
        "closed_date": closed,
        "deal_amount": amount,
        "sales_cycle_days": cycle,
        "outcome": pd.Categorical.from_codes(np.where(state == WON_STATE, 2, np.where(state == LOST_STATE, 1, 0)),
                                             categories=_OUTCOMES),
    }
    for d in engine.validation.dims:
        out[d] = pd.Categorical.from_codes(found[f"c_{d}"].fillna(-1).to_numpy(dtype=np.int64),
                                           categories=engine.values(d))
    out["size_band"] = band(amount, SIZE_BANDS)
    out["cycle_band"] = band(cycle, CYCLE_BANDS)
    frame = pd.DataFrame(out)
    frame["deal_id"] = frame["deal_id"].astype("str")
    return frame


def _days(column: pd.Series) -> np.ndarray:
    return np.array(pd.to_datetime(column).to_numpy(), dtype="datetime64[us]")


def deal_rows(engine: DealEngine, subset: Subset, outcome: str | None, limit: int | None) -> pd.DataFrame:
    """The subset's deals, largest first (blank amounts last, ties by deal id), at most `limit` of them."""
    return as_frame(engine, engine.place.timed(_select(engine, subset_where(engine, subset, outcome),
                                                       _order(engine), limit)))


def deal_chunks(engine: DealEngine, subset: Subset, outcome: str | None,
                size: int | None = None) -> Iterator[pd.DataFrame]:
    """Every deal of the subset in `deal_rows`' order, `size` rows at a time (CHUNK_ROWS; DuckDB rounds it down
    to its vectors of 2,048): an export of any length, never held whole."""
    sql = _select(engine, subset_where(engine, subset, outcome), _order(engine))
    for part in _stream(engine, sql, size or CHUNK_ROWS):
        yield as_frame(engine, part)


def _stream(engine: DealEngine, sql: str, size: int) -> Iterator[pd.DataFrame]:
    place = engine.place
    if isinstance(place, DuckPlace):
        # a cursor of its own (the same database, the refresh's store attached): the engine's other queries
        # go on while the export is read
        cursor = place.connection.cursor() if engine._stored else place.connection
        try:
            _bounded(place, cursor, lambda: cursor.execute(sql))
            vectors = max(1, size // 2048)
            while True:
                part = _bounded(place, cursor, lambda: cursor.fetch_df_chunk(vectors))
                if not len(part):
                    break
                for start in range(0, len(part), size):  # DuckDB fetches whole vectors; fewer rows when asked
                    yield part.iloc[start:start + size].reset_index(drop=True) if len(part) > size else part
        finally:
            if cursor is not place.connection:
                cursor.close()
        return
    import sqlalchemy as sa

    from ..load import DataError

    try:
        with place.engine.connect() as conn:
            if place.timeout_seconds and place.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SET statement_timeout = {int(place.timeout_seconds * 1000)}")
            conn.execution_options(stream_results=True)  # a server-side cursor: the rows come chunk by chunk
            yield from pd.read_sql_query(sa.text(sql.replace(":", r"\:")), conn, chunksize=size)
    except sa.exc.SQLAlchemyError as exc:
        detail = getattr(exc, "orig", None) or exc
        raise DataError(f"The engine's query on {place.describe} failed: {str(detail).strip()}") from exc


def _bounded(place: DuckPlace, cursor, step):
    """One step of a stream (its query, or the fetch of one chunk) bounded by the engine's query timeout, as
    every other engine query is (the timer interrupts this stream's cursor)."""
    return place.bounded(step, cursor.interrupt)


def deal_totals(engine: DealEngine, subset: Subset, outcome: str | None) -> tuple[int, int, float, int]:
    """The subset's deals: how many, how many won, their amount (blank ones aside) and how many are blank."""
    where = subset_where(engine, subset, outcome)
    found = engine._counted(f"""
SELECT COUNT(*) AS n, SUM(CASE WHEN state = {WON_STATE} THEN 1 ELSE 0 END) AS won, SUM(amount) AS amount,
       SUM(CASE WHEN amount IS NULL THEN 1 ELSE 0 END) AS blank
FROM v WHERE {' AND '.join(where)}""").iloc[0]
    return (int(found["n"]), _int(found["won"]), float(0 if pd.isna(found["amount"]) else found["amount"]),
            _int(found["blank"]))


def _int(value) -> int:
    return 0 if pd.isna(value) else int(value)


def open_chunks(engine: DealEngine, subset: Subset, size: int | None = None,
                at_least: float | None = None) -> Iterator[pd.DataFrame]:
    """The subset's open deals in the in-memory Snapshot's row order, `size` rows at a time (OPEN_CHUNK_ROWS):
    what the pipeline scores and sums chunk by chunk, never holding every open deal at once. `at_least`: only
    the deals of at least that amount (blank ones left out), chosen by the query (the big-deal alert's)."""
    where = subset_where(engine, subset)
    if at_least is not None:
        where.append(f"amount >= {engine.place.dialect.number(float(at_least))}")
    sql = _select(engine, where, _file_order(engine))
    size = size or (OPEN_CHUNK_ROWS if isinstance(engine.place, DuckPlace) else max(1, OPEN_CHUNK_ROWS // 10))
    for part in _stream(engine, sql, size):
        yield as_frame(engine, part)


def open_cell_counts(engine: DealEngine, features: list[str]) -> pd.DataFrame:
    """The open deals counted per created day (NULL: none) and each feature's category code (c_<feature>; -1: no
    value): n. What the pipeline's cells and their chances are found from, without a row per deal."""
    joins = " ".join(engine._codes_join(f, f"k_{f}") for f in features)
    codes = "".join(f", COALESCE(k_{f}.code, -1) AS c_{f}" for f in features)
    group = ", ".join(str(k) for k in range(1, 2 + len(features)))
    return engine._counted(f"""
SELECT t.created{codes}, COUNT(*) AS n
FROM (SELECT * FROM v WHERE reason = 0 AND state = {OPEN_STATE}) AS t {joins}
GROUP BY {group} ORDER BY {group}""")


# -- the pipeline model's history (insights/pipeline.py), counted ---------------------------------------
def pipeline_facts(engine: DealEngine) -> dict:
    """What the pipeline's history needs of the whole data besides its cells: the closed deals and the won
    ones, the earliest created date (closed and dated open deals), the lost deals with an amount above 0, and
    the won deals' cycle lengths (distinct values and their counts)."""
    dialect = engine._count_place.dialect
    found = engine._counted(f"""
SELECT COUNT(CASE WHEN state IN ({LOST_STATE}, {WON_STATE}) THEN 1 END) AS closed,
       COUNT(CASE WHEN state = {WON_STATE} THEN 1 END) AS won,
       COUNT(CASE WHEN state = {LOST_STATE} THEN 1 END) AS lost,
       COUNT(CASE WHEN state = {LOST_STATE} AND amount > 0 THEN 1 END) AS lost_positive,
       MIN(created) AS earliest
FROM v WHERE reason = 0""").iloc[0]
    cycles = engine._counted(f"""
SELECT cycle, COUNT(*) AS n FROM v WHERE reason = 0 AND state = {WON_STATE} AND cycle IS NOT NULL
  AND NOT {dialect.is_nan('cycle')} AND NOT {dialect.is_inf('cycle')} GROUP BY cycle ORDER BY cycle""")
    earliest = None if pd.isna(found["earliest"]) else pd.Timestamp(found["earliest"]).date()
    return {"closed": _int(found["closed"]), "won": _int(found["won"]), "lost": _int(found["lost"]),
            "lost_positive": _int(found["lost_positive"]), "earliest": earliest,
            "won_cycles": (cycles["cycle"].to_numpy(dtype=np.float64), cycles["n"].to_numpy(dtype=np.int64))}


def pipeline_cells(engine: DealEngine, features: list[str], anchors: list[tuple[dt.date, list[dt.date]]],
                   edges: tuple[int, ...]) -> pd.DataFrame:
    """The deals open at each anchor day t (created on or before t, closed after it or still open with a
    created date), per (anchor, age band, each feature's code): n, won by each horizon's end (won_<h>), the
    amounts above 0 (amount, amount_sq) and those won by each horizon (won_amount_<h>). Age bands are
    [edge, next edge) of days; codes are the engine's category positions (-1: no value).

    The deals are first summed into buckets (one GROUP BY over the rows): the only things a deal's days are
    compared with are the anchors, each anchor less each age band's edge and the horizons' ends, so deals whose
    created day falls between the same two of those dates, and whose closed day does too, agree on every
    comparison — the range join then pairs the anchors with these buckets (thousands), not with every deal."""
    horizons = len(anchors[0][1]) if anchors else 0
    rows = ", ".join(f"({k}, DATE {literal(t.isoformat())}"
                     + "".join(f", DATE {literal(e.isoformat())}" for e in ends) + ")"
                     for k, (t, ends) in enumerate(anchors))
    names = ", ".join(["k", "t"] + [f"e{h}" for h in range(horizons)])
    age = "CAST(a.t - d.created AS BIGINT)"
    steps = " ".join(f"WHEN {age} < {edge} THEN {k}" for k, edge in enumerate(edges[1:]))
    band_sql = f"CASE {steps} ELSE {len(edges) - 1} END"
    joins, codes = [], []
    for f in features:
        if f in _BANDS:
            codes.append(f"{f} AS c_{f}")
            continue
        joins.append(engine._codes_join(f, f"k_{f}"))
        codes.append(f"COALESCE(k_{f}.code, -1) AS c_{f}")
    picked = "".join(f", {c}" for c in codes)
    # created: compared with each anchor t (created <= t) and with t - edge (the age band's bounds); closed: with
    # each t (ended > t) and each horizon's end (ended <= e)
    created_at = sorted({t - dt.timedelta(days=int(e)) for t, _ in anchors for e in edges[1:]} | {t for t, _ in anchors})
    ended_at = sorted({t for t, _ in anchors} | {e for _, ends in anchors for e in ends})
    c_codes = [f"c_{f}" for f in features]
    won_by = [f"(d.won = 1 AND d.ended <= a.e{h})" for h in range(horizons)]
    sums = "".join(f", SUM(CASE WHEN {w} THEN d.n ELSE 0 END) AS won_{h}" for h, w in enumerate(won_by)) + \
        "".join(f", SUM(CASE WHEN {w} THEN d.amt ELSE 0 END) AS won_amount_{h}" for h, w in enumerate(won_by))
    group = ", ".join(str(k) for k in range(1, 3 + len(features)))
    kept = "".join(f", {c}" for c in c_codes)
    sql = f""", a({names}) AS (VALUES {rows}),
r AS (
  SELECT t.created, CASE WHEN t.state = {OPEN_STATE} THEN NULL ELSE t.closed END AS ended,
         CASE WHEN t.state = {WON_STATE} THEN 1 ELSE 0 END AS won,
         CASE WHEN t.amount > 0 THEN t.amount ELSE 0 END AS amt{picked}
  FROM (SELECT * FROM v WHERE reason = 0 AND (state IN ({LOST_STATE}, {WON_STATE})
        OR (state = {OPEN_STATE} AND created IS NOT NULL))) AS t {' '.join(joins)}
),
d AS (
  SELECT MIN(created) AS created, MIN(ended) AS ended, won{kept}, COUNT(*) AS n, SUM(amt) AS amt,
         SUM(amt * amt) AS amt_sq
  FROM r GROUP BY {_bucket("created", created_at)}, {_bucket("ended", ended_at)}, won{kept}
)
SELECT a.k AS anchor, {band_sql} AS band{''.join(f', d.{c} AS {c}' for c in c_codes)},
       SUM(d.n) AS n, SUM(d.amt) AS amount, SUM(d.amt_sq) AS amount_sq{sums}
FROM d JOIN a ON d.created <= a.t AND (d.ended IS NULL OR d.ended > a.t)
GROUP BY {group}"""
    if not anchors:
        return pd.DataFrame()
    return engine._counted(sql)  # over the scratch store where there is one (a PostgreSQL source's is local)


def _bucket(column: str, days: list[dt.date]) -> str:
    """How many of `days` (sorted) lie before the column's day, by a binary search of nested CASEs (NULL stays
    NULL): days in one bucket compare alike with every one of `days`."""
    def search(lo: int, hi: int) -> str:  # the answer lies in [lo, hi]
        if lo == hi:
            return str(lo)
        mid = (lo + hi) // 2
        return f"CASE WHEN {column} <= DATE {literal(days[mid].isoformat())} THEN {search(lo, mid)} " \
            f"ELSE {search(mid + 1, hi)} END"

    return f"CASE WHEN {column} IS NULL THEN NULL ELSE {search(0, len(days))} END"


# -- a restricted scope: the same engine, every query narrowed by a WHERE --------------------------------
class ScopedEngine(DealEngine):
    """The engine of the deals one scope may see: each grant ({dimension: values}, AND-ed) a condition on the
    validated rows, the grants OR-ed; a dimension every grant restricts lists only the allowed values (as
    `bot.core.scope.Scope.restrict` cuts an in-memory Snapshot). The refresh's validation, store and report
    are the whole engine's."""

    def __init__(self, whole: DealEngine, grants):
        self.__dict__.update({k: v for k, v in whole.__dict__.items() if k in _SHARED})
        self.whole, self.grants = whole, grants
        self._cells, self._totals = {}, {}
        restricted = [set(dict(g)) for g in grants]
        common = set.intersection(*restricted) if restricted else set()
        self._cut = {}
        for dim in common:
            if dim not in whole.dimensions:
                continue
            allowed = {match_key(dim, v) for g in grants for d, vs in g if d == dim for v in vs}
            self._cut[dim] = tuple(c for c in whole.values(dim) if match_key(dim, c) in allowed)

    def values(self, dim: str) -> tuple[str, ...]:
        return self._cut[dim] if dim in self._cut else self.whole.values(dim)

    @cached_property
    def where(self) -> str:
        grants = []
        for grant in self.grants:
            parts = []
            for dim, values in grant:
                wanted = {match_key(dim, v) for v in values}
                if dim in _BANDS or dim in self.validation.dims:
                    labels = [c for c in self.whole.values(dim) if match_key(dim, c) in wanted]
                    parts.append(self.whole._filter(dim, labels))
                else:
                    parts.append("FALSE")
            grants.append("(" + " AND ".join(parts or ["TRUE"]) + ")")
        return " OR ".join(grants) or "FALSE"

    def _v(self) -> str:
        return narrowed(self.whole._v(), self.where)

    def _count_v(self) -> str:
        return narrowed(self.whole._count_v(), self.where)

    def _cube_v(self, table: str) -> str:
        return narrowed(self.whole._cube_v(table), self.where)

    @property
    def _scope_columns(self) -> set[str]:
        return {d if d in _BANDS else f"d_{d}" for grant in self.grants for d, _ in grant
                if d in _BANDS or d in self.validation.dims}

    @cached_property
    def visible(self) -> dict:
        """The visible rows' counts for the scope's data report (as `scoped_report` counts them in memory)."""
        found = self.place.timed(self._v() + f"""
SELECT state, COUNT(*) AS n, MIN(closed) AS closed_min, MAX(closed) AS closed_max,
       SUM(CASE WHEN amount IS NULL THEN 1 ELSE 0 END) AS no_amount,
       SUM(CASE WHEN created IS NULL THEN 1 ELSE 0 END) AS no_created
FROM v WHERE reason = 0 AND state IN ({LOST_STATE}, {WON_STATE}, {OPEN_STATE}) GROUP BY state""")
        closed = found[found["state"].isin([LOST_STATE, WON_STATE])]
        opened = found[found["state"] == OPEN_STATE]
        low, high = closed["closed_min"].dropna(), closed["closed_max"].dropna()
        return {"closed": int(closed["n"].sum()), "open": int(opened["n"].sum()),
                "closed_range": (pd.Timestamp(low.min()).date(), pd.Timestamp(high.max()).date()) if len(low) else None,
                "open_without_amount": int(opened["no_amount"].sum()),
                "open_without_created": int(opened["no_created"].sum())}

    @property
    def first_closed(self) -> dt.date | None:
        closed = self.visible["closed_range"]
        return closed[0] if closed else None


# what a scoped engine shares with the whole one: the place, the mapping, the validation and its store
_SHARED = ("place", "mapping", "since", "horizon", "validation", "_at", "_stored", "_profile", "_cubes")


def narrowed(with_v: str, where: str) -> str:
    """A `WITH ... v AS (...)` whose v keeps only the rows matching `where` (the whole v renamed v_all)."""
    found = list(re.finditer(r"(?:^|\n|WITH |, )v AS (?:NOT MATERIALIZED )?\(", with_v))
    if not found:
        raise ValueError("the engine's validated rows are not a CTE named v")
    last = found[-1]
    start = last.start() + last.group(0).index("v AS")
    body = with_v[:start] + "v_all" + with_v[start + 1:]
    return body.rstrip() + f",\nv AS (SELECT * FROM v_all WHERE {where})\n"


def scoped(engine: DealEngine, grants) -> ScopedEngine:
    """The engine of what `grants` (a Scope's) may see, over the whole engine's refresh."""
    return ScopedEngine(engine.whole if isinstance(engine, ScopedEngine) else engine, grants)
