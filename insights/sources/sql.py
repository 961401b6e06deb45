"""Deals from a SQL table or query through SQLAlchemy: PostgreSQL, SQLite, DuckDB, Snowflake, BigQuery...

Only the columns the mapping needs are selected, and the time window (DEALS_SINCE) is pushed into the
WHERE clause, so a warehouse returns what the bot uses and no more. Results come back as a pandas
frame and go through the same mapping and validation as a file.

A PostgreSQL table is read with COPY: the same SELECT streamed out as CSV and parsed by Arrow in C, its
DATE columns straight to dates and numeric columns to floats from the table's own types (the DB-API
cursor built a Python object per value, most of the load's time). A query's column types are not known
beforehand, so a query source is read through the cursor, as every other database is.

DuckDB (duckdb:///path.duckdb, through duckdb-engine) is read as Arrow: the same SELECT, run on the raw
DuckDB connection and fetched as an Arrow table, its text columns dictionary-encoded into pandas
categoricals (as a Parquet file is read), instead of one Python object per value through the DB-API
cursor. Its column types come from a zero-row probe of the same kind, because duckdb-engine's SQLAlchemy
reflection queries PostgreSQL catalog tables that DuckDB does not have.
"""
from __future__ import annotations

import io
import logging
import threading

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from ..load import EXTRA_COLUMNS, ColumnMapping, DataError
from ..schema import CANONICAL_COLUMNS

log = logging.getLogger(__name__)
_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


def engine_url(url: str) -> str:
    """postgresql:// and postgres:// use psycopg 3 (the driver this project installs)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def redact(url: str) -> str:
    """The URL without user, password or query string (Snowflake and BigQuery put secrets there)."""
    try:
        parsed = make_url(engine_url(url))
    except Exception:
        return url.split("://", 1)[0] + "://(unparseable URL)"
    host = parsed.host or ""
    port = f":{parsed.port}" if parsed.port else ""
    db = f"/{parsed.database}" if parsed.database else ""
    if parsed.get_backend_name() in ("sqlite", "duckdb"):
        return f"{parsed.get_backend_name()}:///{parsed.database or ''}"
    return f"{parsed.get_backend_name()}://{host}{port}{db}"


def engine_for(url: str) -> sa.Engine:
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            try:
                engine = _engines[url] = sa.create_engine(engine_url(url), pool_pre_ping=True)
            except Exception as exc:  # unknown dialect, missing driver: say which, without the password
                raise DataError(f"Cannot use the database {redact(url)}: {exc.__class__.__name__}: "
                                f"{_clean(str(exc), url)}") from exc
        return engine


def _clean(message: str, url: str) -> str:
    try:
        password = make_url(engine_url(url)).password
    except Exception:
        password = None
    return message.replace(password, "***") if password else message


def wanted_columns(mapping: ColumnMapping) -> dict[str, str]:
    """canonical -> source column name for every column the load may use."""
    names = {c: mapping.columns.get(c, c) for c in CANONICAL_COLUMNS if c not in mapping.absent}
    names.update({c: mapping.columns[c] for c in EXTRA_COLUMNS if c in mapping.columns})
    return names


def read_sql(spec, mapping: ColumnMapping) -> tuple[pd.DataFrame, int | None]:
    """The deals (the mapping's columns, within DEALS_SINCE) and how many rows the window left unread
    (None without a window), so that /health can say a table older than the window was cut."""
    if bool(spec.table) == bool(spec.query):
        raise DataError("A database source needs exactly one of DEALS_TABLE (--table) or DEALS_QUERY (--query).")
    engine = engine_for(spec.location)
    since = spec.since_date()
    try:
        with engine.connect() as conn:
            source, types = _source(conn, spec)
            select, pushed = _select(source, types, mapping, since)
            try:
                frame = _read(conn, select, mapping, types)
            except sa.exc.SQLAlchemyError:
                if not (pushed and since is not None and spec.query):
                    raise
                # a query's column types are unknown: its dates may be text the database will not compare
                conn.rollback()
                select, pushed = _select(source, types, mapping, None)[0], False
                frame = _read(conn, select, mapping, types)
            # one COUNT(*) of the whole source: the rows the window cut are those it did not return
            total = _count(conn, source) if since is not None and pushed else None
    except DataError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        detail = getattr(exc, "orig", None) or exc
        raise DataError(f"Cannot read deals from {spec.describe()}: {_clean(str(detail).strip(), spec.location)}") \
            from exc
    if since is not None and not pushed:
        total = len(frame)
        frame = _window_in_pandas(frame, mapping, since)
    outside = None if since is None else total - len(frame)
    log.info("read %d rows from %s (window from %s, %s; %s rows outside it)", len(frame), spec.describe(), since,
             "in SQL" if pushed else "after reading", outside)
    return frame, outside


def _count(conn, source) -> int:
    counted = sa.select(sa.func.count()).select_from(source)
    if _is_duckdb(conn):
        return int(_raw(conn, _compiled(conn, counted)).column(0)[0].as_py())
    return int(conn.execute(counted).scalar_one())


def _is_duckdb(conn) -> bool:
    return conn.dialect.name == "duckdb"


def _raw(conn, sql: str):
    """A statement on the raw DuckDB connection, as an Arrow table; DuckDB's errors as SQLAlchemy's."""
    import duckdb

    cursor = conn.connection.driver_connection.duplicate()  # a connection of its own to the same database
    try:
        relation = cursor.sql(sql)
        fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # duckdb >= 1.4, before
        return fetch()
    except duckdb.Error as exc:
        raise sa.exc.DatabaseError(sql, None, exc) from exc
    finally:
        cursor.close()


def _compiled(conn, select) -> str:
    """The SELECT as the database's own text (for DuckDB, and PostgreSQL's COPY); its only literals are the
    window's dates, which the bot writes."""
    return str(select.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def _arrow_types(conn, from_sql: str) -> dict:
    """Column name -> SQLAlchemy type from a zero-row DuckDB probe (only dates matter to the window)."""
    import pyarrow as pa

    schema = _raw(conn, f"SELECT * FROM {from_sql} LIMIT 0").schema
    kinds = {}
    for f in schema:
        kinds[f.name] = (sa.Date() if pa.types.is_date(f.type) else sa.DateTime() if pa.types.is_timestamp(f.type)
                         else sa.Numeric() if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
                         or pa.types.is_decimal(f.type) else sa.String())
    return kinds


def _read(conn, select, mapping: ColumnMapping, types: dict) -> pd.DataFrame:
    if _is_duckdb(conn):
        statement = _compiled(conn, select)
        log.debug("DuckDB, as Arrow: %s", statement)
        return _arrow_frame(_raw(conn, statement), mapping)
    names = [c.name for c in select.selected_columns]
    if conn.dialect.name == "postgresql" and all(types.get(n) is not None for n in names):
        return _arrow_frame(_copy_postgres(conn, select, names, types), mapping)
    return pd.read_sql_query(select, conn)


def _copy_postgres(conn, select, names: list[str], types: dict):
    """The SELECT as PostgreSQL's COPY writes it (CSV), parsed by Arrow with the table's own column types:
    DATE as dates, numbers as floats, naive TIMESTAMP as timestamps, the rest as text (booleans as t/f,
    which the loader reads as flags). A NULL is an empty field, which is what the loader calls blank."""
    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pcsv

    def arrow_type(kind):
        if isinstance(kind, sa.DateTime):
            return pa.timestamp("us") if not getattr(kind, "timezone", False) else pa.string()
        if isinstance(kind, sa.Date):
            return pa.date32()
        if isinstance(kind, (sa.Numeric, sa.Integer)):
            return pa.float64()
        return pa.string()

    statement = _compiled(conn, select)
    log.debug("PostgreSQL, by COPY as CSV into Arrow: %s", statement)
    out = io.BytesIO()
    try:
        with conn.connection.driver_connection.cursor() as cursor:
            with cursor.copy(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)") as copy:
                for chunk in copy:
                    out.write(chunk)
    except psycopg.Error as exc:
        raise sa.exc.DatabaseError(statement, None, exc) from exc
    convert = pcsv.ConvertOptions(column_types={n: arrow_type(types[n]) for n in names}, null_values=[""],
                                  strings_can_be_null=False, quoted_strings_can_be_null=False)
    if not out.tell():  # no rows: Arrow cannot read an empty file
        return pa.table({n: pa.array([], type=convert.column_types[n]) for n in names})
    return pcsv.read_csv(pa.py_buffer(out.getbuffer()), read_options=pcsv.ReadOptions(column_names=names),
                         convert_options=convert)


def _arrow_frame(table, mapping: ColumnMapping) -> pd.DataFrame:
    """An Arrow table as the loader's frame: text as dictionaries (pandas categoricals) but the ids, dates
    as datetime64, one column converted and let go at a time."""
    import pyarrow as pa

    deal_id = mapping.columns.get("deal_id", "deal_id")
    columns = {}
    for name in table.column_names:  # text as dictionaries (pandas categoricals), one column at a time
        column = table.column(name)
        if name != deal_id and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            column = column.dictionary_encode()
        columns[name] = column.to_pandas(date_as_object=False)
        table = table.drop_columns([name])
    return pd.DataFrame(columns, copy=False)


def _source(conn, spec):
    """The FROM clause (a table or a subquery) and the SQLAlchemy type of each column it has."""
    if spec.table and _is_duckdb(conn):
        schema, _, name = spec.table.rpartition(".")
        from_sql = conn.dialect.identifier_preparer.format_table(sa.table(name, schema=schema or None))
        try:
            types = _arrow_types(conn, from_sql)
        except sa.exc.DatabaseError as exc:
            if "does not exist" in str(exc.orig) or "not found" in str(exc.orig).lower():
                raise DataError(f"No table or view {spec.table} in {spec.describe().rsplit(' table ', 1)[0]}.")
            raise
        return sa.table(name, *[sa.column(c) for c in types], schema=schema or None), types
    if spec.table:
        schema, _, name = spec.table.rpartition(".")
        inspector = sa.inspect(conn)
        try:
            reflected = inspector.get_columns(name, schema=schema or None)
        except sa.exc.NoSuchTableError:
            raise DataError(f"No table or view {spec.table} in {spec.describe().rsplit(' table ', 1)[0]}.")
        if not reflected:
            raise DataError(f"No table or view {spec.table} in {spec.describe().rsplit(' table ', 1)[0]}.")
        table = sa.table(name, *[sa.column(c["name"]) for c in reflected], schema=schema or None)
        return table, {c["name"]: c["type"] for c in reflected}
    query = spec.query.strip().rstrip(";")
    if not query.lower().startswith(("select", "with")):
        raise DataError("DEALS_QUERY must be a SELECT (or WITH ... SELECT) query.")
    if _is_duckdb(conn):
        types = _arrow_types(conn, f"({query}) AS deals_probe")
        return sa.text(query).columns(*[sa.column(k) for k in types]).subquery("deals"), types
    keys = list(conn.execute(sa.text(f"SELECT * FROM ({query}) AS deals_probe WHERE 1 = 0")).keys())
    sub = sa.text(query).columns(*[sa.column(k) for k in keys]).subquery("deals")
    return sub, {k: None for k in keys}


def _match(name: str, available) -> str | None:
    if name in available:
        return name
    folded = {c.casefold().replace(" ", "_"): c for c in available}
    return folded.get(name.casefold().replace(" ", "_"))


def _select(source, types, mapping, since):
    wanted = wanted_columns(mapping)
    picked = {}
    for canonical, name in wanted.items():
        column = _match(name, types)
        if column is not None and column not in picked.values():
            picked[canonical] = column
        elif column is not None:
            picked.setdefault(canonical, column)
    columns = list(dict.fromkeys(picked.values())) or list(types)
    select = sa.select(*[source.c[c] for c in columns])
    if "deal_id" in picked:  # a database returns rows in no set order: by deal id, so a refresh is repeatable
        select = select.order_by(source.c[picked["deal_id"]])
    if since is None:
        return select, True
    bounds = []
    for canonical in ("created_date", "closed_date"):
        column = picked.get(canonical)
        if column is None:
            return select, False
        kind = types.get(column)
        if kind is not None and not isinstance(kind, (sa.Date, sa.DateTime)):
            return select, False  # dates stored as text: compared after reading, in the mapping's format
        value = since if isinstance(kind, sa.Date) or kind is None else pd.Timestamp(since).to_pydatetime()
        bounds.append(source.c[column] >= sa.literal(value, type_=sa.Date if kind is None else kind))
    # an open deal without a created date has no date to compare: kept (as a file keeps it), not cut unseen
    bounds.append(sa.and_(source.c[picked["created_date"]].is_(None), source.c[picked["closed_date"]].is_(None)))
    return select.where(sa.or_(*bounds)), True


def _window_in_pandas(frame: pd.DataFrame, mapping: ColumnMapping, since) -> pd.DataFrame:
    """The window applied after reading (dates stored as text). A row whose created date does not parse
    is kept, so that validation sets it aside and counts it rather than the window dropping it unseen."""
    cutoff = pd.Timestamp(since)
    parsed = {}
    for canonical in ("created_date", "closed_date"):
        column = _match(mapping.columns.get(canonical, canonical), frame.columns)
        if column is None:
            return frame
        text = frame[column].astype(str).where(frame[column].notna(), "")
        parsed[canonical] = pd.to_datetime(text, errors="coerce", utc=True, format="mixed").dt.tz_localize(None)
    keep = (parsed["created_date"] >= cutoff) | (parsed["closed_date"] >= cutoff) | parsed["created_date"].isna()
    return frame[keep.to_numpy()].reset_index(drop=True)
