"""Where deals come from: a CSV/Parquet file, a SQL table or query (any SQLAlchemy URL), Salesforce or HubSpot.

Every source ends in the same place: a table handed to `insights.load.from_table`, so the column
mapping, the validation and the Snapshot are the same whatever the source. `SourceSpec.describe()`
names a source for logs and /health without passwords, tokens or query strings.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..load import ColumnMapping, DataError, from_table, load_deals
from ..snapshot import Snapshot

log = logging.getLogger(__name__)

DEFAULT_SINCE = "3y"
ENGINE_MODES = ("auto", "memory", "engine")
# DEALS_ENGINE=auto counts where the data lives a file (or files) of more than this many bytes, or a PostgreSQL
# or DuckDB table or query of more than this many rows (DEALS_ENGINE_FILE_MB, DEALS_ENGINE_ROWS).
ENGINE_FILE_BYTES = 64 * 2**20
ENGINE_ROWS = 2_000_000
CRM_KINDS = ("salesforce", "hubspot")  # synced into a local copy in the state store (the `cache`)
SQL_SCHEMES = ("postgresql", "postgres", "sqlite", "duckdb", "mysql", "mssql", "oracle", "snowflake", "bigquery",
               "redshift", "databricks", "trino")


@dataclass(frozen=True)
class SourceSpec:
    """DEALS_SOURCE and its companions. `location` is a file path, a SQLAlchemy URL, `salesforce` or `hubspot`."""

    location: str
    table: str | None = None  # DEALS_TABLE: a table or view (schema.table allowed)
    query: str | None = None  # DEALS_QUERY: a SELECT
    since: str | None = None  # DEALS_SINCE: an ISO date, 3y / 18m / 90d, or "all"; SQL and Salesforce only
    options: dict = field(default_factory=dict, compare=False, hash=False)  # the CRM's settings (SALESFORCE_*, HUBSPOT_*)
    engine: str = "auto"  # DEALS_ENGINE: memory, engine (count where the data lives) or auto (by size)

    @property
    def kind(self) -> str:
        if self.location.strip().lower() in CRM_KINDS:
            return self.location.strip().lower()
        scheme = self.location.split(":", 1)[0].split("+", 1)[0].lower() if "://" in self.location else ""
        if scheme in SQL_SCHEMES or (scheme and scheme not in ("file", "http", "https")):
            return "sql"
        return "file"

    def describe(self) -> str:
        """The source as /health and logs name it: never a password, token or URL query string."""
        if self.kind == "salesforce":
            from .salesforce import describe

            return describe(self.options)
        if self.kind == "hubspot":
            from .hubspot import describe

            return describe(self.options)
        if self.kind == "sql":
            from .sql import redact

            what = f"table {self.table}" if self.table else "query" if self.query else "(no table or query)"
            return f"{redact(self.location)} {what}"
        return self.location

    def since_date(self, today: dt.date | None = None) -> dt.date | None:
        return parse_since(self.since or DEFAULT_SINCE, today)


def parse_since(text: str, today: dt.date | None = None) -> dt.date | None:
    """`all` (no window), an ISO date, or a span back from today: 3y, 18m, 90d, 12w."""
    text = text.strip().lower()
    if text in ("all", "none", "0", ""):
        return None
    today = today or dt.datetime.now(dt.timezone.utc).date()
    match = re.fullmatch(r"(\d+)\s*([ymwd])", text)
    if match:
        n, unit = int(match.group(1)), match.group(2)
        if unit == "y":
            return _months_back(today, 12 * n)
        if unit == "m":
            return _months_back(today, n)
        return today - dt.timedelta(days=n * (7 if unit == "w" else 1))
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DataError(f"DEALS_SINCE {text!r} is not a date such as 2022-01-01, a span such as 3y or 18m, or all.")


def _months_back(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    import calendar

    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def load_source(spec: SourceSpec | str, mapping: ColumnMapping | None = None, as_of: dt.date | None = None,
                cache=None) -> Snapshot:
    """Read the configured source and validate it. `cache` is a CRM's local copy (crm.LocalCopy). A large
    file or table (or any, with DEALS_ENGINE=engine) is counted where it lives instead: the snapshot is then
    an `insights.engine.EngineSnapshot` (see `use_engine`)."""
    spec = SourceSpec(spec) if isinstance(spec, str) else spec
    if use_engine(spec, as_of):
        from ..engine import EngineUnsupported
        from ..engine.snapshot import open_engine

        try:
            return open_engine(spec, mapping)
        except EngineUnsupported as exc:
            if spec.engine == "engine":
                raise
            log.warning("%s is read into memory: %s", spec.describe(), exc)
    if spec.kind == "file":
        if spec.table or spec.query:
            raise DataError(f"DEALS_TABLE / DEALS_QUERY need a database URL as DEALS_SOURCE, not the file {spec.location}.")
        return load_deals(Path(spec.location), mapping, as_of=as_of)
    started = time.perf_counter()
    outside = None  # rows the DEALS_SINCE window left unread, where the source can count them
    if spec.kind == "sql":
        from .sql import read_sql

        frame, outside = read_sql(spec, mapping or ColumnMapping())
    elif spec.kind == "hubspot":
        from .hubspot import read_hubspot

        frame, mapping = read_hubspot(spec, mapping, cache)
    else:
        from .salesforce import read_salesforce

        frame, mapping = read_salesforce(spec, mapping, cache)
    snapshot = from_table(frame, mapping, spec.describe(), as_of, started=started)
    since = spec.since_date()
    if since is None:
        return snapshot
    # /health names the window the source was read with, so a table older than it is not silently cut
    return replace(snapshot, report=replace(snapshot.report, window_since=since, rows_outside_window=outside))


def use_engine(spec: SourceSpec, as_of: dt.date | None = None) -> bool:
    """Whether `spec` is counted where it lives (DEALS_ENGINE): `engine` for any file or PostgreSQL/DuckDB
    database, `memory` never, `auto` (the default) past ENGINE_FILE_BYTES of files or ENGINE_ROWS rows. A
    replay at an earlier date (`as_of`) and the CRMs are always read into memory."""
    mode = (spec.engine or "auto").strip().lower()
    if mode not in ENGINE_MODES:
        raise DataError(f"DEALS_ENGINE {spec.engine!r} is not one of {', '.join(ENGINE_MODES)}.")
    if mode == "memory" or as_of is not None or spec.kind not in ("file", "sql"):
        return False
    if spec.kind == "sql" and spec.location.split(":", 1)[0].split("+", 1)[0].lower() not in (
            "postgresql", "postgres", "duckdb"):
        if mode == "engine":
            raise DataError("DEALS_ENGINE=engine counts in PostgreSQL or DuckDB; this database is read into memory "
                            "(DEALS_ENGINE=memory or auto).")
        return False
    if mode == "engine":
        return True
    if spec.kind == "file":
        limit = float(os.environ.get("DEALS_ENGINE_FILE_MB") or ENGINE_FILE_BYTES / 2**20) * 2**20
        return _file_bytes(spec.location) > limit
    limit = int(os.environ.get("DEALS_ENGINE_ROWS") or ENGINE_ROWS)
    return _table_rows(spec) > limit


def _file_bytes(location: str) -> int:
    import glob

    paths = glob.glob(location) if any(c in location for c in "*?[") else [location]
    return sum(Path(p).stat().st_size for p in paths if Path(p).is_file())


def _table_rows(spec: SourceSpec) -> int:
    """The rows of the table or query (0 when it cannot be counted: it is then read as before)."""
    import sqlalchemy as sa

    from .sql import engine_for

    if bool(spec.table) == bool(spec.query):
        return 0
    from ..engine.where import quoted

    relation = ".".join(quoted(part) for part in spec.table.split(".")) if spec.table else \
        f"({spec.query.strip().rstrip(';')}) AS q"
    try:
        with engine_for(spec.location).connect() as conn:
            return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {relation}")).scalar() or 0)
    except sa.exc.SQLAlchemyError:
        return 0
