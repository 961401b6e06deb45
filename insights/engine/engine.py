"""Counting where the deals live: the data report and the cells of one refresh, by GROUP BY queries.

A DealEngine stands for one refresh of one source. Its first use reads the columns' raw values (see
rows.py) and computes the data report — the rows set aside by reason with example rows, the date ranges,
the gaps — in one GROUP BY; each `cells()` is one more GROUP BY over the same validated rows, kept for the
refresh. Nothing else is read: no row of deals comes back.
"""
from __future__ import annotations

import datetime as dt
import time
import weakref
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..cells import CACHED, Cells
from ..counting import Window
from ..labels import Fold, fold_labels, match_key
from ..load import REASONS, ColumnMapping
from ..load.coding import _categories
from ..load.report import CENSORING_GAP_DAYS, LOST_ZERO_MIN_DEALS, LOST_ZERO_SHARE
from ..mapping import stage_records_outcome_only
from ..schema import BANDED_DIMENSIONS, CYCLE_BANDS, SIZE_BANDS, STAGE_ORDER
from ..snapshot import DataReport
from .rows import LOST_STATE, OPEN_STATE, WON_STATE, Validation, _in
from ..load import DataError
from .where import Dialect, DuckPlace, EngineUnsupported, Place, file_place, horizon, line_of, literal, sql_place, tune

# Every query the engine sends is stopped past this many seconds (a setting will carry it; see docs).
DEFAULT_TIMEOUT = 120.0
# DuckDB: validate the rows once per refresh into a scratch database (see DealEngine._v)
STORE_VALIDATED = True
# PostgreSQL: copy the validated rows once per refresh into a local DuckDB store (see DealEngine._at)
STORE_POSTGRES = True
LOCAL_MEMORY_LIMIT = "256MB"
_BANDS = {"size_band": SIZE_BANDS, "cycle_band": CYCLE_BANDS}
FUTURE_REASONS = ("future_created_date", "future_closed_date")
# Pre-aggregated cubes written into the store beside the validated rows (see DealEngine._cube_statements): the
# cells, open totals and cycle tables of a query whose filters and groupings are all cube columns are summed
# from a cube instead of the rows. A cube is dropped when it keeps more than CUBE_MAX_SHARE of the rows it sums
# and more than CUBE_SMALL rows (then it saves little and costs its build).
CUBES = True
CUBE_MAX_SHARE = 0.5
CUBE_SMALL = 50_000
# The "lite" cubes leave out the dimension whose values multiply the cells (a team's reps)
LITE_DROPS = ("sales_rep_id",)
# kind -> the cubes that may answer it, smallest first
CUBE_ORDER = {"closed": ("c_closed_lite", "c_closed"), "open": ("c_open_lite", "c_open"), "cycle": ("c_cycle",)}


def window_sql(window: Window) -> str:
    """The SQL condition of the deals a `counting.Window` holds (as `select.period_mask`)."""
    column = "created" if window.basis == "created" else "closed"
    cond = f"{column} BETWEEN DATE {literal(window.start.isoformat())} AND DATE {literal(window.end.isoformat())}"
    if window.basis == "created" and window.window_days is not None:
        cond += f" AND cycle <= {int(window.window_days)}"
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
    # each source dimension's raw values -> the label each is counted under, spellings of one label merged
    # (labels.fold_labels, on the kept rows' counts as the loader's coding); and the merges, for /health
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    folds: tuple[Fold, ...] = ()


class DealEngine:
    """One refresh of a source, counted by its own database (DuckDB for files)."""

    def __init__(self, place: Place, mapping: ColumnMapping | None = None, since: dt.date | None = None):
        self.place, self.mapping, self.since = place, mapping or ColumnMapping(), since
        self.horizon = horizon()  # one refresh, one "now": the future-date checks of every query agree
        self._cells: dict = {}
        self._totals: dict = {}  # open totals and cycle tables of this refresh (small: kept for it)

    @classmethod
    def of_file(cls, path, mapping: ColumnMapping | None = None,
                timeout_seconds: float | None = DEFAULT_TIMEOUT) -> DealEngine:
        return cls(file_place(path, timeout_seconds), mapping)

    @classmethod
    def of_sql(cls, url: str, table: str | None = None, query: str | None = None, mapping: ColumnMapping | None = None,
               since: dt.date | None = None, timeout_seconds: float | None = DEFAULT_TIMEOUT) -> DealEngine:
        return cls(sql_place(url, table, query, timeout_seconds), mapping, since)

    def close(self) -> None:
        """Let go of the source's connection (and a PostgreSQL source's local store) when the refresh is replaced."""
        self.place.close()
        local = self.__dict__.get("_at")
        if local is not None and local is not self.place:
            local.close()

    def __enter__(self) -> DealEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @cached_property
    def validation(self) -> Validation:
        return Validation(self.place, self.mapping, self.since, self.horizon)

    # -- the validated rows, read once ------------------------------------------------------------------
    def _v(self) -> str:
        """The `WITH` up to `v` (the validated rows: see rows.py) that a query at the source's own place starts
        from: the scratch store when it lies there (DuckDB), else the validation itself."""
        if self._stored and self._at is self.place:
            return "WITH v AS (SELECT * FROM si_store.v)\n"
        return self.validation.rows()

    def _count_v(self) -> str:
        """The `WITH` up to `v` that a counting query starts from, (at `_at` when stored): the scratch store where
        there is one (a PostgreSQL source's is local), else the validation itself."""
        if self._stored and self._at is not self.place:
            return "WITH v AS (SELECT * FROM si_store.v)\n"
        return self._v()

    @property
    def _count_place(self) -> Place:
        """Where counting queries run: the scratch store's place when there is one, else the source's."""
        return self._at if self._stored else self.place

    def _counted(self, sql: str) -> pd.DataFrame:
        """A counting query (`sql` reads `v`): over the scratch store (compressed, read back by each query: a
        GROUP BY over small columns instead of the source's text) when there is one, else where the rows live,
        each query validating them itself."""
        return self._count_place.timed(self._count_v() + sql)

    @cached_property
    def _at(self) -> DuckPlace | None:
        """Where the scratch store lies: the source's own DuckDB connection, or for a PostgreSQL source one of
        this process (the validated rows copied into it once: one PostgreSQL scan instead of one per query)."""
        if isinstance(self.place, DuckPlace):
            return self.place
        if self.place.dialect.name != "postgresql" or not STORE_POSTGRES:
            return None
        import duckdb

        con = duckdb.connect()
        tune(con)
        con.execute(f"SET memory_limit = '{LOCAL_MEMORY_LIMIT}'")  # beside the bot's own memory: 500 MB in all
        local = DuckPlace(Dialect("duckdb"), "", {}, self.place.describe, timeout_seconds=self.place.timeout_seconds)
        local.connection, local.results = con, self.place.results
        return local

    @cached_property
    def _stored(self) -> bool:
        if self._at is None or not STORE_VALIDATED:
            return False
        keep = ["_row", "reason", "state", "created", "closed", "amount", "cycle", "size_band", "cycle_band"]
        if self._at is self.place:  # for the deals listed (listing.py), which read a DuckDB source's store
            keep += ["id"] + (["order_id"] if self.place.row_window else [])
        # each dimension as an ENUM of its raw values: one small code per row on disk (written faster than the
        # text, and counted by that code), still read as its raw text by any query
        types, enums = [], []
        for d in self.validation.dims:
            types.append(f"CREATE TYPE si_store.e_{d} AS ENUM "
                         f"({', '.join(map(literal, self._raws(d))) or literal('')})")
            enums.append(f"CAST(d_{d} AS si_store.e_{d}) AS d_{d}")
        if self._at is self.place:
            fill = f"CREATE TABLE si_store.v AS {self.validation.rows()} SELECT {', '.join(keep + enums)} FROM v"
        else:  # the text a PostgreSQL COPY of the validated rows is known by (see _copy_in)
            fill = f"COPY ({self.validation.rows()} SELECT {', '.join(keep + [f'd_{d}' for d in self.validation.dims])} " \
                f"FROM v) INTO {', '.join(keep + enums)}"
        create = types + [fill] + (self._cube_statements() if CUBES else [])
        con, results = self._at.connection, self._at.results
        if results is None or not self._keep_store(create, results):  # a scratch database of this refresh alone
            import os
            import tempfile
            import uuid

            folder = os.path.join(tempfile.gettempdir(), "si_engine_store")
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, f"{uuid.uuid4().hex}.duckdb")
            con.execute(f"ATTACH {literal(path)} AS si_store")
            weakref.finalize(self, _remove, path)
            self._at.results = self.place.results = None  # this store's results are not known by its key
            self._create(create)
        return True

    def _create(self, statements: list[str]) -> None:
        """The ENUM types, the validated rows (`fill`), then the cubes summed from them (see _cube_statements)."""
        fill = next(k for k, sql in enumerate(statements) if not sql.startswith("CREATE TYPE "))
        for sql in statements[:fill]:
            self._at.connection.execute(sql)
        if self._at is self.place:
            self.place.timed(statements[fill])
        else:
            self._copy_in(statements[fill])
        import duckdb

        for sql in statements[fill + 1:]:
            check = sql.startswith("CUBE ")  # the check after a cube: dropped when it saves little
            name = sql.split(" ", 2)[1] if check else sql.split(" ", 3)[2].removeprefix("si_store.")
            try:
                if check:
                    rows_sql = sql.split(" ", 2)[2]
                    kept, rows = self._at.connection.execute(
                        f"SELECT (SELECT COUNT(*) FROM si_store.{name}), ({rows_sql})").fetchall()[0]
                    if kept > CUBE_SMALL and kept > CUBE_MAX_SHARE * (rows or 0):
                        self._at.connection.execute(f"DROP TABLE si_store.{name}")
                else:
                    self._at.timed(sql)
            except (DataError, duckdb.Error):  # past the time bound, say: no such cube, the rows answer
                self._at.connection.execute(f"DROP TABLE IF EXISTS si_store.{name}")

    # -- cubes: the validated rows summed by every column a cell query filters or groups on ---------------------
    @property
    def _cube_columns(self) -> list[str]:
        return [f"d_{d}" for d in self.validation.dims] + list(_BANDS)

    def _cube_statements(self) -> list[str]:
        """The cubes' SQL, each followed by its check (`CUBE name rows-sql`): the closed deals per (month closed,
        outcome, every segment and band) with n, the sum of amounts and of their squares (c_closed, and c_closed_lite
        without the rep dimension, summed from it); the open deals per (day created, every segment and band) with
        n, amount (blank: 0), squares and blank amounts (c_open, c_open_lite); the closed deals per (month closed,
        outcome, cycle length) alone and by each segment or band but the rep's (c_cycle, one grouping set each)."""
        cols = self._cube_columns
        lite = [c for c in cols if c not in {f"d_{d}" for d in LITE_DROPS}]
        every, some = ", ".join(cols), ", ".join(lite)
        closed = f"reason = 0 AND state IN ({LOST_STATE}, {WON_STATE})"
        sets = ", ".join(["(m, state, cycle)"] + [f"(m, state, cycle, {c})" for c in lite])
        out = [
            f"CREATE TABLE si_store.c_closed AS SELECT CAST(date_trunc('month', closed) AS DATE) AS closed, state, "
            f"{every}, COUNT(*) AS n, SUM(amount) AS amount, SUM(amount * amount) AS squares FROM si_store.v "
            f"WHERE {closed} GROUP BY ALL ORDER BY closed",
            f"CREATE TABLE si_store.c_closed_lite AS SELECT closed, state, {some}, CAST(SUM(n) AS BIGINT) AS n, "
            f"SUM(amount) AS amount, SUM(squares) AS squares FROM si_store.c_closed GROUP BY ALL ORDER BY closed",
            f"CUBE c_closed SELECT COUNT(*) FROM si_store.v WHERE {closed}",
            f"CUBE c_closed_lite SELECT COUNT(*) FROM si_store.v WHERE {closed}",
            f"CREATE TABLE si_store.c_open AS SELECT created, {every}, COUNT(*) AS n, SUM(COALESCE(amount, 0)) AS amount, "
            f"SUM(COALESCE(amount, 0) * COALESCE(amount, 0)) AS squares, "
            f"SUM(CASE WHEN amount IS NULL THEN 1 ELSE 0 END) AS blank FROM si_store.v "
            f"WHERE reason = 0 AND state = {OPEN_STATE} GROUP BY ALL ORDER BY created",
            f"CREATE TABLE si_store.c_open_lite AS SELECT created, {some}, CAST(SUM(n) AS BIGINT) AS n, "
            f"SUM(amount) AS amount, SUM(squares) AS squares, CAST(SUM(blank) AS BIGINT) AS blank "
            f"FROM si_store.c_open GROUP BY ALL ORDER BY created",
            f"CUBE c_open SELECT COUNT(*) FROM si_store.v WHERE reason = 0 AND state = {OPEN_STATE}",
            f"CUBE c_open_lite SELECT COUNT(*) FROM si_store.v WHERE reason = 0 AND state = {OPEN_STATE}",
            f"CREATE TABLE si_store.c_cycle AS SELECT m AS closed, state, cycle, {some}, GROUPING({some}) AS gset, "
            f"COUNT(*) AS n FROM (SELECT CAST(date_trunc('month', closed) AS DATE) AS m, state, cycle, {some} "
            f"FROM si_store.v WHERE {closed}) AS t GROUP BY GROUPING SETS ({sets}) ORDER BY closed",
            f"CUBE c_cycle SELECT COUNT(*) FROM si_store.v WHERE {closed}",
        ]
        return out

    @cached_property
    def _cubes(self) -> dict[str, set[str]]:
        """The cubes the store holds (a cube dropped for its size is not there) and their columns."""
        if not self._stored:
            return {}
        found = self._at.connection.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = 'si_store'").fetchall()
        cubes: dict[str, set[str]] = {}
        for table, column in found:
            if table in {name for names in CUBE_ORDER.values() for name in names}:
                cubes.setdefault(table, set()).add(column)
        return cubes

    @property
    def _scope_columns(self) -> set[str]:
        """The columns a scope's WHERE reads (a ScopedEngine's; none for the whole engine)."""
        return set()

    def _cube_v(self, table: str) -> str:
        """The `WITH` up to `v` over a cube (a ScopedEngine narrows it as it narrows the rows)."""
        return f"WITH v AS (SELECT * FROM si_store.{table})\n"

    def _cube(self, kind: str, dims=(), filters=()) -> str | None:
        """The smallest cube of `kind` holding every column the query groups or filters on, or None."""
        needed = {_column(d) for d in dims} | {_column(d) for d, _ in filters} | self._scope_columns
        for name in CUBE_ORDER[kind]:
            columns = self._cubes.get(name)
            if columns is not None and needed <= columns:
                return name
        return None

    def _cube_window(self, window: Window) -> Window | None:
        """The window as the closed cubes count it (their `closed` is each month's first day), or None when the
        cubes cannot: it starts on a month's first day or on or before the first deal closed, and ends on a
        month's last day or on or after the last one (a cohort window is counted from the rows)."""
        if window.basis != "closed":
            return None
        closed = self._profile.closed_range
        if closed is None:
            return window
        start, end = window.start, window.end
        if start.day != 1:
            if start > closed[0]:
                return None
            start = start.replace(day=1)
        if end < closed[1] and (end + dt.timedelta(days=1)).day != 1:
            return None
        return Window(start, end, "closed", window.window_days)

    def _cycle_cube(self, dim: str | None, filters) -> tuple[str, int] | None:
        """(the cycle cube, its grouping set's GROUPING() value) when the query reads at most one dimension (its
        `dim`, its filters' and a scope's together) and the cube has that dimension's set; else None."""
        needed = ({_column(dim)} if dim else set()) | {_column(d) for d, _ in filters} | self._scope_columns
        name = CUBE_ORDER["cycle"][0]
        columns = self._cubes.get(name)
        if columns is None or len(needed) > 1 or not needed <= columns:
            return None
        sets = [c for c in self._cube_columns if c in columns]  # GROUPING(...)'s arguments, first the highest bit
        every = 2 ** len(sets) - 1
        return name, every if not needed else every - 2 ** (len(sets) - 1 - sets.index(next(iter(needed))))

    def _copy_in(self, fill: str) -> None:
        """PostgreSQL's validated rows (`COPY (select) INTO columns`, as `_stored` writes it) into the store: one
        COPY to a CSV file in the temporary directory (ISO dates, shortest exact doubles), read by DuckDB."""
        import os
        import tempfile
        import uuid

        select, columns = fill[len("COPY ("):].rsplit(") INTO ", 1)
        path = os.path.join(tempfile.gettempdir(), f"si_engine_copy_{uuid.uuid4().hex}.csv")
        started = time.perf_counter()
        raw = self.place.engine.raw_connection()
        try:
            import psycopg

            cursor = raw.driver_connection.cursor()
            if self.place.timeout_seconds:
                cursor.execute(f"SET LOCAL statement_timeout = {int(self.place.timeout_seconds * 1000)}")
            cursor.execute("SET LOCAL DateStyle = ISO")
            cursor.execute("SET LOCAL extra_float_digits = 1")
            with open(path, "wb") as f, cursor.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)") as copy:
                for chunk in copy:
                    f.write(chunk)
            raw.driver_connection.rollback()
            types = {"_row": "BIGINT", "reason": "INTEGER", "state": "INTEGER", "created": "DATE", "closed": "DATE",
                     "amount": "DOUBLE", "cycle": "DOUBLE", "size_band": "INTEGER", "cycle_band": "INTEGER"}
            types.update({f"d_{d}": "VARCHAR" for d in self.validation.dims})
            spec = "{" + ", ".join(f"{literal(c)}: {literal(t)}" for c, t in types.items()) + "}"
            self._at.connection.execute(
                f"CREATE TABLE si_store.v AS SELECT {columns} FROM read_csv({literal(path)}, header = false, "
                f"columns = {spec}, delim = ',', quote = '\"', escape = '\"', allow_quoted_nulls = false, "
                "auto_detect = false)")
        except psycopg.errors.QueryCanceled as exc:
            raise DataError(f"The engine's query on {self.place.describe} took longer than "
                            f"{self.place.timeout_seconds:g} s and was stopped.") from exc
        except psycopg.Error as exc:
            raise DataError(f"The engine's query on {self.place.describe} failed: {str(exc).strip()}") from exc
        finally:
            raw.close()
            _remove(path)
        self.place.query_seconds.append(round(time.perf_counter() - started, 4))

    def _keep_store(self, create: list[str], results) -> bool:
        """The scratch store of this data kept with the cache (see cache.py) and reused by a later refresh of
        the same data: when it was validated against the same day, or an earlier one and no row was set aside
        for a future date then (every date was on or before that day, so none is past this one)."""
        import hashlib
        import json
        import os
        import uuid

        import duckdb

        day = literal(self.horizon.isoformat())
        key = hashlib.sha256("\n".join(create).replace(day, "<horizon>").encode()).hexdigest()[:32]
        path = results.store_path(key)
        meta = path.with_suffix(".json")
        made = {}
        try:
            made = json.loads(meta.read_text())
            fresh = path.exists() and (made["horizon"] == self.horizon.isoformat() or
                                       (made["horizon"] < self.horizon.isoformat() and made["future"] == 0))
        except (OSError, ValueError, KeyError):
            fresh = False
        con = self._at.connection
        built = made.get("horizon") if fresh else self.horizon.isoformat()  # the day the store was validated against
        if not fresh:
            partial = path.with_suffix(f".{uuid.uuid4().hex}.partial")
            con.execute(f"ATTACH {literal(str(partial))} AS si_store")
            try:
                self._create(create)
                future = con.execute(f"SELECT COUNT(*) FROM si_store.v WHERE reason IN "
                                     f"({', '.join(str(REASONS.index(r) + 1) for r in FUTURE_REASONS)})").fetchone()[0]
                con.execute("DETACH si_store")
                os.replace(partial, path)  # whole or absent: another process never attaches half a store
                # the day after the store: a process between the two sees the old day and builds its own
                meta.write_text(json.dumps({"horizon": self.horizon.isoformat(), "future": int(future)}))
            except OSError:  # the cache's folder went (another process's eviction) or the disk is full
                con.execute("DETACH DATABASE IF EXISTS si_store")
                return False
            finally:
                _remove(str(partial))
        try:
            con.execute(f"ATTACH {literal(str(path))} AS si_store (READ_ONLY)")
        except duckdb.Error:  # a damaged file: let go of it (the next refresh builds it again)
            for name in (path, meta):
                name.unlink(missing_ok=True)
            return False
        results.scope = f"{key} {built}"  # a store rebuilt for another day: its results are found afresh
        return True

    def _raws(self, d: str) -> list[str]:
        """Every raw value of dimension `d` in the source (labelled or blank), in the order of its ENUM."""
        r = self.validation.readings
        return sorted(set(r.labels[d]) | set(r.blank_labels[d]))

    def _code(self, d: str, alias: str) -> tuple[str, str]:
        """(the SQL of each row's category code of `d`, NULL for no value; the JOIN it needs, if any). In the
        scratch store the ENUM's own code indexes a constant list; elsewhere a list of (raw, code) is joined."""
        if not self._stored:
            return f"{alias}.code", self._codes_join(d, alias)
        position = {label: k for k, label in enumerate(self.values(d))}
        labels = self._profile.labels[d]
        codes = [str(position[labels[raw]]) if labels.get(raw) in position else "NULL" for raw in self._raws(d)]
        return f"[{', '.join(codes) or 'NULL'}][enum_code(t.d_{d}) + 1]", ""

    # -- the data report (/health) ---------------------------------------------------------------------
    @cached_property
    def _profile(self) -> Profile:
        started = time.perf_counter()
        v = self.validation
        dims = v.dims
        stage = "deal_stage" in dims
        sets = ["(reason, state)"] + [f"(reason, d_{d})" for d in dims] + (["(reason, state, d_deal_stage)"] if stage else [])
        columns = "".join(f", d_{d}, GROUPING(d_{d}) AS g_{d}" for d in dims)
        found = self._counted(f"""
SELECT reason, state, GROUPING(state) AS g_state{columns}, COUNT(*) AS n,
       MIN(created) AS created_min, MAX(created) AS created_max, MIN(closed) AS closed_min, MAX(closed) AS closed_max,
       SUM(CASE WHEN amount IS NULL THEN 1 ELSE 0 END) AS no_amount,
       SUM(CASE WHEN created IS NULL THEN 1 ELSE 0 END) AS no_created,
       SUM(CASE WHEN amount = 0 THEN 1 ELSE 0 END) AS zero_amount,
       SUM(CASE WHEN amount > 0 THEN 1 ELSE 0 END) AS positive_amount
FROM v GROUP BY GROUPING SETS ({', '.join(sets)})""")
        # each dimension's own grouping set (the stage's is also in one with the state)
        by_dim = {d: found[(found[f"g_{d}"] == 0) & (found["g_state"] == 1) & (found["reason"] == 0)] for d in dims}
        in_state_set = found["g_state"] == 0
        for d in dims:
            in_state_set &= found[f"g_{d}"] == 1
        by_state = found[in_state_set]
        kept = by_state[by_state["reason"] == 0]
        closed = kept[kept["state"].isin([WON_STATE, LOST_STATE])]
        opened = kept[kept["state"] == OPEN_STATE]
        order = self.mapping.stage_order
        values, folded, folds = {}, {}, []
        for d in dims:
            raws = v.readings.labels[d]
            counts: dict[str, int] = {}  # the kept rows' deals per label (two raw spellings may clean to one)
            for raw, n in zip(by_dim[d][f"d_{d}"].astype(str), by_dim[d]["n"]):
                counts[raws[raw]] = counts.get(raws[raw], 0) + int(n)
            merged, made = fold_labels(d, counts)
            folded[d] = {raw: merged.get(label, label) for raw, label in raws.items()}
            folds.extend(made)
            values[d] = tuple(_categories(d, pd.Series(sorted(set(merged.values())), dtype=object), order))
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
            codes = np.array([values["deal_stage"].index(folded["deal_stage"][raw])
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
                       seconds=time.perf_counter() - started, labels=folded, folds=tuple(folds))

    def _examples(self, counts: dict[str, int]) -> dict[str, list[int]]:
        """Up to five row numbers per reason, the first in the file (or in deal id order, for a database)."""
        if not counts:
            return {}
        start = self.validation.rows(numbered=True) if self.place.row_window else self._v()
        found = self.place.timed(start + """
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
            lost_amounts_zeroed=p.zeroed, window_since=self.since, rows_outside_window=outside, folded=p.folds)

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
        """How long each query of this refresh took, in order (for /health): at the source, then in the local
        store of a PostgreSQL source."""
        local = self.__dict__.get("_at")
        return list(self.place.query_seconds) + (list(local.query_seconds) if local not in (None, self.place) else [])

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

    def open_cells(self, dims: tuple[str, ...], filters=(), aged_at: dt.date | None = None) -> Cells:
        """What `Cells.of(snapshot, [filter_mask(filters, open_pipeline=True)], dims, open_pipeline=True)` counts:
        the open deals per combination of `dims` (none won; a blank amount summed as 0). `aged_at`: only the
        deals created on or before that day."""
        filters = tuple((d, tuple(v)) for d, v in filters)
        key = ("open", tuple(dims), filters, aged_at)
        if key not in self._cells:
            if len(self._cells) >= CACHED:
                self._cells.pop(next(iter(self._cells)))
            self._cells[key] = self._count([], tuple(dims), filters, open_since=aged_at or True)
        return self._cells[key]

    def _count(self, windows: list[Window], dims: tuple[str, ...], filters, open_since=None) -> Cells:
        for i, a in enumerate(windows):
            for b in windows[:i]:
                if a.basis == b.basis and a.start <= b.end and b.start <= a.end:
                    raise ValueError("Cells.of counts disjoint masks: a deal would count in two groups")
        # a cube when one holds every column the query reads (and, closed deals, the windows are whole months)
        cube = None
        if open_since is not None:
            cube = self._cube("open", dims, filters)
        elif windows:
            snapped = [self._cube_window(w) for w in windows]
            if all(snapped):
                cube = self._cube("closed", dims, filters)
                windows = snapped if cube else windows
        amount = "amount"
        if open_since is not None:  # the open pipeline: one group, its deals' blank amounts summed as 0
            group = "0"
            where = [] if cube else ["reason = 0", f"state = {OPEN_STATE}"]
            if not cube:
                amount = "COALESCE(amount, 0)"
            if isinstance(open_since, dt.date):
                where.append(f"created <= DATE {literal(open_since.isoformat())}")
        else:
            group = "CASE " + " ".join(f"WHEN {window_sql(w)} THEN {g}" for g, w in enumerate(windows)) + " END" \
                if windows else "NULL"
            inside = " OR ".join(f"({window_sql(w)})" for w in windows) or "FALSE"
            where = ([] if cube else ["reason = 0", f"state IN ({LOST_STATE}, {WON_STATE})"]) + [f"({inside})"]
        where += [self._filter(d, v) for d, v in filters]
        # each dimension as its category code, joined from a list of (raw value, code): the GROUP BY is over
        # small integers, and two raw spellings of one label fall into one cell there
        picked, codes, joins = [], [], []
        for d in dims:
            if d in _BANDS:
                picked.append(d)
                codes.append(d)
                continue
            code, join = self._code(d, f"k_{d}")
            picked.append(f"d_{d}")
            codes.append(code)
            if join:
                joins.append(join)
        # one integer per cell, as Cells.of numbers them: the group, then each code + 1 (0: no value)
        sizes = [max(len(windows), 1)] + [len(self.values(d)) + 1 for d in dims]
        if int(np.prod(sizes, dtype=object)) >= 2**62:
            raise EngineUnsupported("So many dimensions of so many values cannot be counted in one grid: "
                                    "ask for fewer dimensions.")
        key = "g"
        for c, size in zip(codes, sizes[1:]):
            key = f"({key}) * {size} + ({c}) + 1"
        if cube:  # each cube row sums its deals: n, amounts and squares summed again
            state = f"{OPEN_STATE} AS state" if open_since is not None else "state"
            found = self._count_place.timed(self._cube_v(cube) + f"""
SELECT key, CAST(SUM(n) AS BIGINT) AS n, CAST(SUM(won * n) AS BIGINT) AS won, SUM(amount) AS amount,
       SUM(won * amount) AS won_amount, SUM(squares) AS squares, SUM(won * squares) AS won_squares FROM (
  SELECT CAST({key} AS BIGINT) AS key, CASE WHEN state = {WON_STATE} THEN 1 ELSE 0 END AS won, n, amount, squares
  FROM (SELECT {group} AS g{''.join(f", {c}" for c in picked)}, {state}, n, amount, squares FROM v
        WHERE {' AND '.join(where or ['TRUE'])}) AS t
) AS k GROUP BY key""")
        else:
            found = self._counted(f"""
SELECT key, COUNT(*) AS n, SUM(won) AS won, SUM(amount) AS amount, SUM(won * amount) AS won_amount,
       SUM(amount * amount) AS squares, SUM(won * amount * amount) AS won_squares FROM (
  SELECT CAST({key} AS BIGINT) AS key, CASE WHEN state = {WON_STATE} THEN 1 ELSE 0 END AS won, amount
  FROM (SELECT {group} AS g{''.join(f", {c}" for c in picked)}, state, {amount} AS amount FROM v
        WHERE {' AND '.join(where)}) AS t
  {' '.join(joins)}
) AS k GROUP BY key""")
        order = np.argsort(found["key"].to_numpy(dtype=np.int64), kind="stable")  # Cells.of's dense order
        digits = np.unravel_index(found["key"].to_numpy(dtype=np.int64)[order], sizes)
        sums = {c: found[c].fillna(0).to_numpy(dtype=np.float64)[order] for c in ("won_amount", "squares", "won_squares")}
        cells = Cells(
            dimensions=dims,
            categories={d: self.values(d) for d in self.dimensions},
            codes={d: (digits[k + 1] - 1).astype(np.int16 if sizes[k + 1] < 2**15 else np.int32)
                   for k, d in enumerate(dims)},
            group=digits[0].astype(np.int8),
            n=found["n"].to_numpy(dtype=np.int64)[order],
            won=found["won"].to_numpy(dtype=np.int64)[order],
            amount=found["amount"].to_numpy(dtype=np.float64)[order],
            groups=max(len(windows), 1),
        )
        cells.memo["amount_sums"] = sums  # sum(a*y), sum(a^2), sum(a^2*y) per cell, for the rate by amount
        return cells

    def amount_sums(self, windows: list[Window], dims: tuple[str, ...], filters=()) -> list[np.ndarray]:
        """sum(a*y), sum(a), sum(a^2*y), sum(a^2) of the closed deals of the windows per combination of `dims`
        (C order, as `select.count_by` numbers them)."""
        cells = self.cells(windows, dims, filters)
        flat, sizes = cells._grid(tuple(dims))
        keep = flat >= 0
        size = int(np.prod(sizes)) if dims else 1
        sums = cells.memo["amount_sums"]
        return [np.bincount(flat[keep], weights=w[keep], minlength=size)
                for w in (sums["won_amount"], cells.amount, sums["won_squares"], sums["squares"])]

    def open_totals(self, filters=(), aged_at: dt.date | None = None) -> tuple[int, float, int]:
        """The open deals matching the filters (created on or before `aged_at`): how many, their amount (blank:
        0) and how many have a blank amount."""
        filters = tuple((d, tuple(v)) for d, v in filters)
        key = ("open_totals", filters, aged_at)
        if key not in self._totals:
            cube = self._cube("open", (), filters)
            where = ([] if cube else ["reason = 0", f"state = {OPEN_STATE}"]) + [self._filter(d, v) for d, v in filters]
            if aged_at is not None:
                where.append(f"created <= DATE {literal(aged_at.isoformat())}")
            if cube:  # each cube row's deals, amount (blank: 0) and blank amounts summed again
                found = self._count_place.timed(self._cube_v(cube) + f"""
SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n, SUM(amount) AS amount, CAST(SUM(blank) AS BIGINT) AS blank
FROM v WHERE {' AND '.join(where or ['TRUE'])}""")
            else:
                found = self._counted(f"""
SELECT COUNT(*) AS n, SUM(COALESCE(amount, 0)) AS amount, SUM(CASE WHEN amount IS NULL THEN 1 ELSE 0 END) AS blank
FROM v WHERE {' AND '.join(where)}""")
            row = found.iloc[0]
            self._totals[key] = (int(row["n"]), float(0 if pd.isna(row["amount"]) else row["amount"]),
                                 int(0 if pd.isna(row["blank"]) else row["blank"]))
        return self._totals[key]

    @cached_property
    def cycle_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept closed deals' distinct cycle lengths (sorted) and how many deals have each."""
        cube = self._cycle_cube(None, ())
        if cube:
            found = self._count_place.timed(self._cube_v(cube[0]) + f"""
SELECT cycle, CAST(SUM(n) AS BIGINT) AS n FROM v WHERE gset = {cube[1]} AND cycle IS NOT NULL
GROUP BY cycle ORDER BY cycle""")
        else:
            found = self._counted(f"""
SELECT cycle, COUNT(*) AS n FROM v WHERE reason = 0 AND state IN ({LOST_STATE}, {WON_STATE}) AND cycle IS NOT NULL
GROUP BY cycle ORDER BY cycle""")
        return found["cycle"].to_numpy(dtype=np.float64), found["n"].to_numpy(dtype=np.int64)

    def cycle_table(self, window: Window, filters=(), dim: str | None = None, month: str | None = None) -> pd.DataFrame:
        """The closed deals of the window counted per (`dim`'s code, `month` ("closed" or "created": months since
        year 0), won, cycle length): what /trend's and /funnel's day histograms and medians are made of."""
        filters = tuple((d, tuple(v)) for d, v in filters)
        key = ("cycle_table", window, filters, dim, month)
        if key not in self._totals:
            snapped = self._cube_window(window) if month in (None, "closed") else None
            cube = self._cycle_cube(dim, filters) if snapped else None
            if cube:
                window = snapped
            where = ([f"gset = {cube[1]}"] if cube else ["reason = 0", f"state IN ({LOST_STATE}, {WON_STATE})"]) + \
                [window_sql(window)] + [self._filter(d, v) for d, v in filters]
            picked, join = ["0 AS code"], ""
            if dim is not None and dim in _BANDS:
                picked = [f"{dim} AS code"]
            elif dim is not None:
                code, join = self._code(dim, "k")
                picked = [f"{code} AS code"]
            if month is not None:
                picked.append(f"(EXTRACT(YEAR FROM {month}) * 12 + EXTRACT(MONTH FROM {month}) - 1) AS month")
            else:
                picked.append("0 AS month")
            if cube:  # the cube's grouping set of this one dimension (or of none), its counts summed again
                found = self._count_place.timed(self._cube_v(cube[0]) + f"""
SELECT code, month, won, cycle, CAST(SUM(n) AS BIGINT) AS n FROM (
  SELECT {', '.join(picked)}, CASE WHEN state = {WON_STATE} THEN 1 ELSE 0 END AS won, cycle, n
  FROM (SELECT * FROM v WHERE {' AND '.join(where)}) AS t {join}
) AS c GROUP BY code, month, won, cycle""")
            else:
                found = self._counted(f"""
SELECT code, month, won, cycle, COUNT(*) AS n FROM (
  SELECT {', '.join(picked)}, CASE WHEN state = {WON_STATE} THEN 1 ELSE 0 END AS won, cycle
  FROM (SELECT * FROM v WHERE {' AND '.join(where)}) AS t {join}
) AS c GROUP BY code, month, won, cycle""")
            found["code"] = found["code"].fillna(-1).astype(np.int64)
            found["month"] = found["month"].astype(np.int64)
            found["won"] = found["won"].astype(bool)
            found["cycle"] = found["cycle"].astype(np.float64)
            found["n"] = found["n"].astype(np.int64)
            self._totals[key] = found
        return self._totals[key]

    def _codes_join(self, d: str, alias: str) -> str:
        """A LEFT JOIN giving each row's category code of `d` as `alias`.code (NULL: no value)."""
        position = {label: k for k, label in enumerate(self.values(d))}
        pairs = [f"(CAST({literal(raw)} AS VARCHAR), {position[label]})"
                 for raw, label in self._profile.labels[d].items() if label in position]
        return (f"LEFT JOIN (VALUES {', '.join(pairs) or '(NULL, -1)'}) AS {alias}(raw, code) "
                f"ON {alias}.raw = t.d_{d}")

    def _filter(self, dim: str, wanted) -> str:
        if dim in _BANDS:
            codes = [k for k, label in enumerate(self.values(dim)) if label in wanted]
            return f"{dim} IN ({', '.join(map(str, codes))})" if codes else "FALSE"
        labels = self._profile.labels[dim]  # every raw spelling of the labels wanted, named in any spelling
        keys = {match_key(dim, w) for w in wanted}
        return _in(f"d_{dim}", [raw for raw, label in labels.items() if label in wanted or match_key(dim, label) in keys])


def _column(dim: str) -> str:
    """The store's (and the cubes') column of a dimension."""
    return dim if dim in _BANDS else f"d_{dim}"


def _remove(path: str) -> None:
    """The scratch database of a refresh that is gone (and its write-ahead log)."""
    import os

    for name in (path, path + ".wal"):
        try:
            os.remove(name)
        except OSError:
            pass


def _range(low: pd.Series, high: pd.Series) -> tuple[dt.date, dt.date] | None:
    low, high = low.dropna(), high.dropna()
    if not len(low):
        return None
    return pd.Timestamp(low.min()).date(), pd.Timestamp(high.max()).date()
