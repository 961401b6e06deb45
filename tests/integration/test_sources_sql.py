"""Deals from a database: a real PostgreSQL table and query (and SQLite), answered exactly as the same
deals in a CSV; only the needed columns are selected and the time window is in the SQL."""
from __future__ import annotations

import datetime as dt
import os
import uuid

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from bot.core.commands import answer
from insights.load import ColumnMapping, DataError
from insights.sources import SourceSpec, load_source, parse_since
from insights.sources.sql import engine_for, redact
from conftest import copy_rows
from insights.synthetic import demo_spec, generate_deals

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# the password is ignored by the trust auth of the test server; it is here to prove it is never shown
WITH_PASSWORD = POSTGRES.replace("postgres@", "postgres:s3cret-pw@", 1)
COMMANDS = ("/winrate by region", "/winrate by region last quarter vs previous", "/trend", "/trend APAC by month",
            "/risk", "/funnel all", "/why", "/why APAC 2024Q2 vs 2023Q2", "/drivers", "/reps", "/winrate APAC Enterprise")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_deals(demo_spec())


@pytest.fixture(scope="module")
def csv_snapshot(demo_csv):
    """The same deals as `frame`, from the demo CSV (conftest)."""
    return demo_csv


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The deals as a warehouse types them: DATE columns, numeric amounts, NULL cycle and close dates."""
    out = frame.copy()
    out["created_date"] = out["created_date"].dt.date
    out["closed_date"] = out["closed_date"].dt.date.where(out["closed_date"].notna(), None)
    out["sales_cycle_days"] = pd.to_numeric(out["sales_cycle_days"], errors="coerce").astype("Int64")
    out["deal_amount"] = out["deal_amount"].astype(float)
    out["notes"] = "a long free-text column the bot never needs " * 5
    return out


@pytest.fixture(scope="module")
def pg_schema(frame):
    schema = f"si_src_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable here: {exc}")
    types = {"created_date": sa.Date, "closed_date": sa.Date, "deal_amount": sa.Numeric(14, 2),
             "sales_cycle_days": sa.Integer}
    typed(frame).to_sql("deals", admin, schema=schema, index=False, dtype=types, method=copy_rows)
    as_text = frame.assign(created_date=frame["created_date"].dt.strftime("%Y-%m-%d"),
                           closed_date=frame["closed_date"].dt.strftime("%Y-%m-%d"))  # dates kept as text
    as_text.to_sql("deals_text", admin, schema=schema, index=False, method=copy_rows)
    yield schema
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def statements(url: str) -> list[str]:
    seen: list[str] = []
    sa.event.listen(engine_for(url), "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: seen.append(statement))
    return seen


def body(text: str) -> str:
    return text.split("\n", 1)[1] if "\n" in text else text


def assert_answers_as(s, csv_snapshot):
    """The same deals (a database has no row order: in deal-id order) and every command's reply and result."""
    for mine, theirs in ((s.deals, csv_snapshot.deals), (s.open_deals, csv_snapshot.open_deals)):
        pd.testing.assert_frame_equal(mine, theirs.sort_values("deal_id").reset_index(drop=True))
    for line in COMMANDS:
        mine, theirs = answer(s, line), answer(csv_snapshot, line)
        assert mine.text == theirs.text, line
        assert mine.result.to_dict() == theirs.result.to_dict(), line


def test_a_postgresql_table_answers_exactly_as_the_csv(pg_schema, csv_snapshot):
    s = load_source(SourceSpec(WITH_PASSWORD, table=f"{pg_schema}.deals", since="all"))
    assert s.report.rows_read == 7000 and s.report.set_aside == {}
    assert s.as_of == csv_snapshot.as_of == dt.date(2024, 7, 15)
    assert_answers_as(s, csv_snapshot)


def test_date_and_numeric_columns_from_postgresql_never_go_through_text(pg_schema, monkeypatch):
    from insights.load import typed as load_typed

    made, original = [], load_typed.as_text  # the canonical columns the loader turns into text
    monkeypatch.setattr(load_typed, "as_text", lambda column: made.append(column.name) or original(column))
    s = load_source(SourceSpec(POSTGRES, table=f"{pg_schema}.deals", since="all"))
    assert s.report.rows_read == 7000 and s.report.set_aside == {}
    assert not {"created_date", "closed_date", "deal_amount", "sales_cycle_days"} & set(made)
    nothing = load_source(SourceSpec(POSTGRES, table=f"{pg_schema}.deals", since="2090-01-01"))  # COPY of no rows
    assert nothing.report.rows_read == 0 and nothing.report.rows_outside_window == 7000


def test_health_names_the_database_without_the_password(pg_schema):
    s = load_source(SourceSpec(WITH_PASSWORD, table=f"{pg_schema}.deals", since="all"))
    text = answer(s, "/health").text
    assert f"`postgresql://127.0.0.1:5432/test table {pg_schema}.deals`" in text
    assert "s3cret" not in text and "postgres@" not in text
    assert redact("snowflake://me:pw@acct/db/schema?warehouse=wh&token=abc") == "snowflake://acct/db/schema"


def test_only_needed_columns_are_selected_and_the_window_is_in_the_sql(pg_schema, frame, caplog):
    seen = statements(POSTGRES)
    with caplog.at_level("DEBUG", logger="insights.sources.sql"):
        s = load_source(SourceSpec(POSTGRES, table=f"{pg_schema}.deals", since="2024-01-01"))
    # a table is read by COPY (its SELECT logged), then counted once for the rows the window left out
    select = [r.getMessage() for r in caplog.records if r.getMessage().startswith("PostgreSQL, by COPY")][-1]
    assert "notes" not in select and "*" not in select
    assert "created_date >= '2024-01-01'" in select and "closed_date >= '2024-01-01'" in select
    count = [q for q in seen if q.lstrip().upper().startswith("SELECT") and "deals" in q and "pg_" not in q][-1]
    assert "count(*)" in count.lower() and "WHERE" not in count
    cutoff = pd.Timestamp("2024-01-01")
    expected = frame[(frame["created_date"] >= cutoff) | (frame["closed_date"] >= cutoff)]
    assert s.report.rows_read == len(expected) == 3149
    assert s.report.window_since == dt.date(2024, 1, 1) and s.report.rows_outside_window == 7000 - 3149
    assert len(s.deals) == int((expected["outcome"] != "").sum())
    assert ((s.deals["closed_date"] >= cutoff) | (s.deals["created_date"] >= cutoff)).all()


def test_the_default_window_is_the_last_three_years():
    assert SourceSpec(POSTGRES, table="deals").since_date(dt.date(2026, 12, 1)) == dt.date(2023, 12, 1)
    assert parse_since("18m", dt.date(2026, 2, 28)) == dt.date(2024, 8, 28)
    assert parse_since("all") is None and parse_since("2022-01-01") == dt.date(2022, 1, 1)
    with pytest.raises(DataError, match="DEALS_SINCE 'soon'"):
        parse_since("soon")


def test_dates_stored_as_text_are_windowed_after_reading_with_the_same_result(pg_schema):
    typed_rows = load_source(SourceSpec(POSTGRES, table=f"{pg_schema}.deals", since="2024-01-01"))
    text_rows = load_source(SourceSpec(POSTGRES, table=f"{pg_schema}.deals_text", since="2024-01-01"))
    assert text_rows.report.rows_read == typed_rows.report.rows_read == 3149
    pd.testing.assert_frame_equal(text_rows.deals, typed_rows.deals)


def test_a_query_source_with_a_window_and_a_mapping(pg_schema, frame):
    query = (f"SELECT deal_id AS \"Opportunity ID\", created_date AS created, closed_date AS closed, sales_rep_id AS owner,"
             f" industry, region, product_type, lead_source, deal_stage, '$' || to_char(deal_amount, 'FM999,999,990.00')"
             f" AS amount, outcome FROM {pg_schema}.deals WHERE region = 'APAC';")
    mapping = ColumnMapping.from_dict({"columns": {"deal_id": "Opportunity ID", "created_date": "created",
                                                   "closed_date": "closed", "sales_rep_id": "owner",
                                                   "deal_amount": "amount"}})
    s = load_source(SourceSpec(POSTGRES, query=query, since="2024-01-01"), mapping)
    cutoff = pd.Timestamp("2024-01-01")
    apac = frame[(frame["region"] == "APAC") & ((frame["created_date"] >= cutoff) | (frame["closed_date"] >= cutoff))]
    assert s.report.set_aside == {} and s.report.rows_read == len(apac)
    assert s.values("region") == ("APAC",)
    closed = apac[apac["outcome"] != ""].sort_values("deal_id")
    got = s.deals.sort_values("deal_id")
    assert np.array_equal(got["deal_amount"].to_numpy(), closed["deal_amount"].to_numpy(dtype=float))


def test_a_salesforce_shaped_table_with_flags_and_currency_text(pg_schema, frame):
    admin = engine_for(POSTGRES)
    is_open = frame["outcome"] == ""
    sf = pd.DataFrame({
        "Id": frame["deal_id"], "CreatedDate": frame["created_date"],
        "CloseDate": frame["closed_date"].where(~is_open, pd.Timestamp("2099-01-01")).dt.date,
        "StageName": np.where(is_open, "Prospecting", np.where(frame["outcome"] == "Won", "Closed Won", "Closed Lost")),
        "IsClosed": ~is_open, "IsWon": frame["outcome"] == "Won",
        "Amount": frame["deal_amount"].map(lambda a: f"USD {a:,.2f}"),
        "LeadSource": frame["lead_source"], "Owner.Name": frame["sales_rep_id"], "Industry": frame["industry"],
        "Region__c": frame["region"], "Product__c": frame["product_type"]})
    sf.to_sql("opportunity", admin, schema=pg_schema, index=False, method=copy_rows,
              dtype={"CloseDate": sa.Date, "CreatedDate": sa.DateTime})
    mapping = ColumnMapping.from_dict({"columns": {
        "deal_id": "Id", "created_date": "CreatedDate", "closed_date": "CloseDate", "deal_stage": "StageName",
        "outcome": "IsWon", "is_closed": "IsClosed", "deal_amount": "Amount", "lead_source": "LeadSource",
        "sales_rep_id": "Owner.Name", "industry": "Industry", "region": "Region__c", "product_type": "Product__c"}})
    s = load_source(SourceSpec(POSTGRES, table=f"{pg_schema}.opportunity", since="all"), mapping)
    assert s.report.set_aside == {}
    assert len(s.deals) == 6338 and len(s.open_deals) == 662 and s.as_of == dt.date(2024, 7, 15)
    assert s.report.stage_outcome_only
    assert answer(s, "/winrate all").result.overall.won == int((frame["outcome"] == "Won").sum())


def test_database_errors_are_data_errors_without_the_password(pg_schema):
    with pytest.raises(DataError, match=f"No table or view {pg_schema}.nope") as caught:
        load_source(SourceSpec(WITH_PASSWORD, table=f"{pg_schema}.nope"))
    assert "s3cret" not in str(caught.value)
    with pytest.raises(DataError, match="Cannot read deals from postgresql://127.0.0.1:5432/test query") as caught:
        load_source(SourceSpec(WITH_PASSWORD, query="SELECT no_such_column FROM pg_class"))
    assert "s3cret" not in str(caught.value)
    with pytest.raises(DataError, match="exactly one of DEALS_TABLE"):
        load_source(SourceSpec(POSTGRES))
    with pytest.raises(DataError, match="must be a SELECT"):
        load_source(SourceSpec(POSTGRES, query=f"DROP TABLE {pg_schema}.deals"))
    bad_port = WITH_PASSWORD.replace(":5432", ":1")
    with pytest.raises(DataError) as caught:
        load_source(SourceSpec(bad_port, table="deals"))
    assert "s3cret" not in str(caught.value)


def test_a_sqlite_table_answers_as_the_csv(frame, csv_snapshot, tmp_path):
    url = f"sqlite:///{tmp_path / 'deals.sqlite'}"
    typed(frame).to_sql("deals", sa.create_engine(url), index=False)
    s = load_source(SourceSpec(url, table="deals", since="all"))
    assert answer(s, "/health").text.count(f"sqlite:///{tmp_path / 'deals.sqlite'} table deals") == 1
    for line in ("/winrate by region", "/why", "/funnel all"):
        assert answer(s, line).text == answer(csv_snapshot, line).text


def test_a_file_source_refuses_table_and_query(tmp_path):
    with pytest.raises(DataError, match="need a database URL"):
        load_source(SourceSpec(str(tmp_path / "deals.csv"), table="deals"))


@pytest.fixture(scope="module")
def duckdb_url(frame, tmp_path_factory):
    duckdb = pytest.importorskip("duckdb") if not os.environ.get("CI") else __import__("duckdb")
    path = tmp_path_factory.mktemp("duck") / "deals.duckdb"
    rows = typed(frame)
    with duckdb.connect(str(path)) as con:
        con.register("frame", rows)
        con.execute("CREATE SCHEMA crm")
        con.execute("CREATE TABLE crm.deals AS SELECT * FROM frame")
        con.execute("CREATE TABLE deals_text AS SELECT * EXCLUDE (created_date, closed_date), "
                    "strftime(created_date, '%Y-%m-%d') AS created_date, "
                    "strftime(closed_date, '%Y-%m-%d') AS closed_date FROM frame")
    return f"duckdb:///{path}"


def test_a_duckdb_table_answers_exactly_as_the_csv(duckdb_url, csv_snapshot):
    s = load_source(SourceSpec(duckdb_url, table="crm.deals", since="all"))
    assert s.report.rows_read == 7000 and s.report.set_aside == {}
    assert s.as_of == csv_snapshot.as_of == dt.date(2024, 7, 15)
    assert f"{duckdb_url} table crm.deals" in answer(s, "/health").text
    assert_answers_as(s, csv_snapshot)


def test_duckdb_is_read_as_arrow_with_needed_columns_and_the_window_in_the_sql(duckdb_url, frame, caplog):
    from insights.sources import sql

    with caplog.at_level("DEBUG", logger="insights.sources.sql"):
        s = load_source(SourceSpec(duckdb_url, table="crm.deals", since="2024-01-01"))
    select = [r.getMessage() for r in caplog.records if r.getMessage().startswith("DuckDB, as Arrow")][-1]
    assert "notes" not in select and "*" not in select
    assert "created_date >= '2024-01-01'" in select and "closed_date >= '2024-01-01'" in select
    cutoff = pd.Timestamp("2024-01-01")
    expected = frame[(frame["created_date"] >= cutoff) | (frame["closed_date"] >= cutoff)]
    assert s.report.rows_read == len(expected) == 3149
    # the text columns arrive as dictionaries: pandas categoricals, as from a Parquet file
    with engine_for(duckdb_url).connect() as conn:
        source, types = sql._source(conn, SourceSpec(duckdb_url, table="crm.deals"))
        raw = sql._read(conn, sql._select(source, types, ColumnMapping(), None)[0], ColumnMapping(), types)
    assert isinstance(types["created_date"], sa.Date) and isinstance(types["region"], sa.String)
    assert isinstance(raw["region"].dtype, pd.CategoricalDtype) and isinstance(raw["industry"].dtype, pd.CategoricalDtype)
    assert not isinstance(raw["deal_id"].dtype, pd.CategoricalDtype) and len(raw) == 7000  # ids are all distinct
    assert "notes" not in raw.columns


def test_duckdb_text_dates_a_query_and_a_missing_table(duckdb_url, frame):
    typed_rows = load_source(SourceSpec(duckdb_url, table="crm.deals", since="2024-01-01"))
    text_rows = load_source(SourceSpec(duckdb_url, table="deals_text", since="2024-01-01"))
    pd.testing.assert_frame_equal(text_rows.deals, typed_rows.deals)
    apac = load_source(SourceSpec(duckdb_url, query="SELECT * FROM crm.deals WHERE region = 'APAC'", since="all"))
    assert apac.values("region") == ("APAC",) and apac.report.rows_read == int((frame["region"] == "APAC").sum())
    with pytest.raises(DataError, match="No table or view crm.nope in duckdb:///"):
        load_source(SourceSpec(duckdb_url, table="crm.nope"))
    with pytest.raises(DataError, match="Cannot read deals from duckdb:///.* query: .*no_such_column"):
        load_source(SourceSpec(duckdb_url, query="SELECT no_such_column FROM crm.deals"))
