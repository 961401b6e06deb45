"""Where the engine's SQL runs: DuckDB over a Parquet or CSV file, or any SQLAlchemy database.

A place knows three things the SQL needs: the relation the deals are read from (with a row number where
the in-memory loader would number the rows), each column's kind (date, timestamp, number, text) from a
zero-row probe, and the few expressions its dialect spells its own way (NaN, infinity, a regular
expression). Results are small (distinct values, counts, cells) and come back as pandas frames.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..load import DataError
from ..load.read import check_header
from ..load.text_files import physical_lines
from .cache import ResultCache, file_fingerprint


class EngineUnsupported(DataError):
    """This source cannot be counted where it lives with the in-memory path's exact answers: the message says
    why, and the in-memory loader (which can) is the path to take."""


@dataclass(frozen=True)
class Dialect:
    """The few expressions PostgreSQL and DuckDB write differently."""

    name: str

    @property
    def double(self) -> str:
        return "DOUBLE PRECISION" if self.name == "postgresql" else "DOUBLE"

    def is_nan(self, x: str) -> str:
        return f"({x} = 'NaN'::float8)" if self.name == "postgresql" else f"isnan({x})"

    def is_inf(self, x: str) -> str:
        if self.name == "postgresql":
            return f"({x} IN ('Infinity'::float8, '-Infinity'::float8))"
        return f"isinf({x})"

    def hash(self, x: str) -> str:
        """A 64-bit hash of a text value."""
        return f"hashtextextended({x}, 0)" if self.name == "postgresql" else f"hash({x})"

    def matches(self, x: str, pattern: str) -> str:
        """The whole of `x` matches the regular expression."""
        if self.name == "postgresql":
            return f"({x} ~ {literal('^' + pattern + '$')})"
        return f"regexp_full_match({x}, {literal(pattern)})"

    def number(self, value: float) -> str:
        if value == float("inf") or value == float("-inf"):
            sign = "-" if value < 0 else ""
            return f"CAST('{sign}Infinity' AS {self.double})" if self.name == "postgresql" else \
                f"CAST('{sign}inf' AS DOUBLE)"
        return f"CAST({value!r} AS {self.double})"


def literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def kind_of(type_name: str) -> str:
    """'date', 'timestamp', 'zoned', 'number' or 'text' from a database's name for a column type."""
    t = type_name.lower()
    if "with time zone" in t or t in ("timestamptz", "timestamp_tz"):
        return "zoned"
    if t.startswith("timestamp") or t == "datetime":
        return "timestamp"
    if t == "date":
        return "date"
    if t == "boolean" or t == "bool":
        return "text"
    if any(k in t for k in ("int", "numeric", "decimal", "double", "real", "float")):
        return "number"
    return "text"


@dataclass
class Place:
    """A relation of deals and the connection that counts it. `relation` selects every source column and
    `_row`: the row number the in-memory path gives a row (a file's line, or the position in deal id order
    that a database read in that order has), or NULL where it is only known by a window (see `row_window`)."""

    dialect: Dialect
    relation: str
    columns: dict[str, str]  # source column -> kind
    describe: str
    row_window: bool = False  # a database: the row number is ROW_NUMBER() OVER (ORDER BY the deal id)
    malformed: tuple = ()  # (line, reason) of CSV lines that are not rows
    query_seconds: list = field(default_factory=list)
    timeout_seconds: float | None = None
    results: object = None  # a cache.ResultCache: the results of this source's queries kept on disk, or None
    parquet: tuple = ()  # a Parquet source's files (a glob's matches, sorted), read one by one by rows.disjoint_files

    def run(self, sql: str) -> pd.DataFrame:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of what the place holds (a DuckDB connection); the engine's pool stays with sources.sql."""

    def timed(self, sql: str) -> pd.DataFrame:
        """The query's result: from the cache when an earlier refresh of the same data ran it (see cache.py),
        else run (and timed, for /health)."""
        cached = sql.lstrip()[:4].upper() in ("SELE", "WITH") and self.results is not None
        if cached:
            found = self.results.get(sql)
            if found is not None:
                return found
        started = time.perf_counter()
        out = self.run(sql)
        self.query_seconds.append(round(time.perf_counter() - started, 4))
        if cached:
            self.results.put(sql, out)
        return out


class DuckPlace(Place):
    """DuckDB in this process, over a file or a duckdb:/// database."""

    connection = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def run(self, sql: str) -> pd.DataFrame:
        def step() -> pd.DataFrame:
            found = self.connection.sql(sql)
            return found.df() if found is not None else pd.DataFrame()

        return self.bounded(step, self.connection.interrupt)

    def bounded(self, step, interrupt):
        """`step()` bounded by the engine's query timeout: DuckDB has no statement timeout of its own, so a timer
        calls `interrupt` past the bound, and a stopped or failed query becomes the engine's sentence."""
        import threading

        import duckdb

        timer = threading.Timer(self.timeout_seconds, interrupt) if self.timeout_seconds else None
        if timer:
            timer.start()
        try:
            return step()
        except duckdb.InterruptException as exc:
            raise DataError(f"The engine's query on {self.describe} took longer than {self.timeout_seconds:g} s "
                            "and was stopped.") from exc
        except duckdb.Error as exc:
            raise DataError(f"The engine's query on {self.describe} failed: {exc}") from exc
        finally:
            if timer:
                timer.cancel()


class SqlPlace(Place):
    """Any SQLAlchemy database; PostgreSQL's statement_timeout bounds every query when a timeout is set."""

    engine = None

    def run(self, sql: str) -> pd.DataFrame:
        import sqlalchemy as sa

        try:
            with self.engine.connect() as conn:
                if self.timeout_seconds and self.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SET statement_timeout = {int(self.timeout_seconds * 1000)}")
                return pd.read_sql_query(sa.text(sql.replace(":", r"\:")), conn)
        except sa.exc.SQLAlchemyError as exc:
            detail = getattr(exc, "orig", None) or exc
            raise DataError(f"The engine's query on {self.describe} failed: {str(detail).strip()}") from exc


def file_place(path: str | Path, timeout_seconds: float | None = None) -> DuckPlace:
    """A Parquet file (or a glob of them) or a CSV file, read by DuckDB where it lies.

    A CSV is read as text, every field, as the loader reads it. Its rows are numbered by their lines, which
    DuckDB can do exactly when each record is one line: a file with blank lines or line breaks inside a
    field, or any flaw other than a row with the wrong number of fields, is left to the in-memory loader."""
    import duckdb

    path = Path(path)
    text = str(path)
    suffix = path.suffix.lower()
    con = duckdb.connect()
    malformed: tuple = ()
    if suffix in (".parquet", ".pq") or "*" in text:
        if "*" not in text and not path.exists():
            raise DataError(f"No deal file at {path}.")
        relation = f"(SELECT *, file_row_number + 2 AS _row FROM read_parquet({literal(text)}, file_row_number = true))"
    elif suffix in (".csv", ".txt", ".gz"):
        if not path.exists():
            raise DataError(f"No deal file at {path}.")
        check_header(path)
        try:
            con.execute(
                f"CREATE TEMP TABLE deals AS SELECT * FROM read_csv({literal(text)}, all_varchar = true, header = true, "
                "delim = ',', quote = '\"', escape = '\"', store_rejects = true, null_padding = false)")
        except duckdb.Error as exc:
            raise EngineUnsupported(f"{path.name} has a stray quote or an unreadable line: the in-memory loader "
                                    "reads it line by line.") from exc
        # DISTINCT: a short line is reported once per missing field
        rejects = con.sql("SELECT DISTINCT line, error_type FROM reject_errors ORDER BY line").fetchall()
        if any(kind not in ("TOO MANY COLUMNS", "MISSING COLUMNS") for _, kind in rejects):
            raise EngineUnsupported(f"{path.name} has a stray quote or an unreadable line: the in-memory loader "
                                    "reads it line by line.")
        accepted = con.sql("SELECT COUNT(*) FROM deals").fetchall()[0][0]
        if physical_lines(path) != accepted + len(rejects) + 1:
            raise EngineUnsupported(f"{path.name} has blank lines or line breaks inside fields: the in-memory "
                                    "loader numbers its rows exactly.")
        malformed = tuple((int(line), "malformed_row") for line, _ in rejects)
        # rows in file order (its line, less the malformed lines before it: see `line_of`)
        relation = "(SELECT *, rowid + 2 AS _row FROM deals)"
    else:
        raise DataError(f"Unsupported file type {suffix or '(none)'} for {path}: use .csv or .parquet.")
    tune(con)
    described = con.sql(f"DESCRIBE SELECT * FROM {relation} AS probe").fetchall()
    columns = {name: kind_of(kind) for name, kind, *_ in described if name not in ("_row", "file_row_number")}
    place = DuckPlace(Dialect("duckdb"), relation, columns, text, malformed=malformed,
                      timeout_seconds=timeout_seconds)
    place.connection = con
    place.results = ResultCache.of(text, file_fingerprint(text))
    if relation.startswith("(SELECT *, file_row_number"):  # the files as DuckDB's read_parquet finds them
        place.parquet = tuple(sorted(f for f, in con.execute(f"SELECT file FROM glob({literal(text)})").fetchall()))
    return place


# DuckDB's memory for one query: past it, sorts and hash tables spill to its temporary directory.
MEMORY_LIMIT = "500MB"


def tune(con) -> None:
    """Bound DuckDB's memory, and let it count rows in any order (rows are numbered by their own column). The
    allocator's background threads give back what a finished query freed: without them a GROUP BY's working
    memory stayed in the process (the 10M PostgreSQL digest's /why cells: +74 MB of RSS kept, ~55 MB given back
    within seconds with them)."""
    import tempfile

    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET allocator_background_threads = true")
    con.execute(f"SET temp_directory = {literal(tempfile.gettempdir() + '/si_engine_spill')}")
    con.execute("SET preserve_insertion_order = false")


def line_of(rows: list[int], malformed: tuple) -> list[int]:
    """The file line of rows numbered in file order among the rows read (`_row`), past the malformed lines."""
    out = []
    for row in rows:
        line = row
        for bad, _ in malformed:  # sorted: each malformed line at or before this one pushes it down by one
            if bad <= line:
                line += 1
        out.append(line)
    return out


def sql_place(url: str, table: str | None = None, query: str | None = None,
              timeout_seconds: float | None = None) -> Place:
    """A table or SELECT in any SQLAlchemy database (duckdb:/// through the raw DuckDB connection)."""
    from ..sources import SourceSpec
    from ..sources.sql import engine_for

    if bool(table) == bool(query):
        raise DataError("A database source needs exactly one of DEALS_TABLE (--table) or DEALS_QUERY (--query).")
    spec = SourceSpec(url, table=table, query=query)
    if query:
        query = query.strip().rstrip(";")
        if not query.lower().startswith(("select", "with")):
            raise DataError("DEALS_QUERY must be a SELECT (or WITH ... SELECT) query.")
        relation = f"({query})"
    else:
        relation = ".".join(quoted(part) for part in table.split("."))
    engine = engine_for(url)
    if engine.dialect.name == "duckdb":
        # the pool's own DuckDB database (a second connect() to the same file from this process is refused)
        pooled = engine.raw_connection()
        con = pooled.driver_connection.duplicate()
        pooled.close()  # back to the pool: the duplicate is a connection of its own to the same database
        tune(con)
        place = DuckPlace(Dialect("duckdb"), "", {}, spec.describe(), row_window=True, timeout_seconds=timeout_seconds)
        place.connection = con
    elif engine.dialect.name == "postgresql":
        place = SqlPlace(Dialect("postgresql"), "", {}, spec.describe(), row_window=True,
                         timeout_seconds=timeout_seconds)
        place.engine = engine
    else:
        raise EngineUnsupported(f"The engine speaks PostgreSQL and DuckDB; {engine.dialect.name} is read in memory.")
    place.relation = f"(SELECT *, CAST(NULL AS BIGINT) AS _row FROM {relation} AS deals_source)"
    place.columns = _probe(place, relation)
    if table and engine.dialect.name == "postgresql":
        place.results = ResultCache.of(spec.describe(), _table_fingerprint(place, relation))
    return place


def _table_fingerprint(place: Place, relation: str) -> str | None:
    """A PostgreSQL table's row count, the sum of its rows' xmin (the transaction that wrote each: an insert or
    an update changes it, a delete the count) and its file number (TRUNCATE, VACUUM FULL); None for a view."""
    try:
        # age(xmin) is this transaction's id less the row's: less n times age('3'), the sum is minus the xmins'
        found = place.run(f"SELECT COUNT(*) AS n, SUM(CAST(age(xmin) AS BIGINT)) - COUNT(*) * CAST(age(CAST('3' AS xid)) "
                          f"AS BIGINT) AS x, pg_relation_filenode(CAST({literal(relation)} AS regclass)) AS f "
                          f"FROM {relation} AS t")
    except DataError:
        return None
    row = found.iloc[0]
    return f"{row['n']}|{row['x']}|{row['f']}"


def _probe(place: Place, relation: str) -> dict[str, str]:
    """Each column's kind from a zero-row query."""
    if isinstance(place, DuckPlace):
        described = place.run(f"DESCRIBE SELECT * FROM {relation} AS probe")
        return {r.column_name: kind_of(r.column_type) for r in described.itertuples()}
    with place.engine.connect() as conn:
        cursor = conn.exec_driver_sql(f"SELECT * FROM {relation} AS probe LIMIT 0").cursor
        names = {oid: name for name, oid in _PG_TYPES.items()}
        return {d.name: kind_of(names.get(d.type_code, "text")) for d in cursor.description}


_PG_TYPES = {"date": 1082, "timestamp": 1114, "timestamp with time zone": 1184, "numeric": 1700, "int8": 20,
             "int2": 21, "int4": 23, "float4": 700, "float8": 701, "boolean": 16}


def horizon() -> dt.date:
    """The last day a deal date may have (the loader's FUTURE_SLACK past now): a later one is set aside."""
    from ..load.validate import FUTURE_SLACK

    return (dt.datetime.now(dt.UTC).replace(tzinfo=None) + FUTURE_SLACK).date()
