"""The engine path counts what the in-memory path counts: the same data report (/health's rows set aside by
reason, with example rows) and the same cells, every array, for CSV, Parquet, DuckDB and PostgreSQL — on the
bundled deals and on a messy CRM export holding a bad row of every kind the loader sets aside."""
from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from insights.cells import Cells
from insights.engine import DealEngine, EngineUnsupported, Window
from insights.focus import baseline_before, period_in_question
from insights.load import REASONS, load_deals
from insights.select import filter_mask, period_mask
from insights.sources import SourceSpec, load_source
from insights.synthetic import crm_spec, generate_deals

ROOT_DATA = "data/deals.csv"
# /health's report, field by field (load times and clocks aside)
REPORT_FIELDS = ("rows_read", "closed_deals", "open_deals", "set_aside", "examples", "created_range", "closed_range",
                 "censored_after", "dimensions", "stage_order", "stage_outcome_only", "open_without_amount",
                 "open_without_created", "lost_amounts_zeroed", "folded")
# every reason but the two that only a CSV's own reader can meet (a stray quote, a line of the wrong length)
ROW_REASONS = tuple(r for r in REASONS if r not in ("unterminated_quote", "malformed_row"))


def messy_frame(typed: bool) -> pd.DataFrame:
    """A CRM export (seasons, stale deals, open deals without amounts or created dates, zeroed losses, messy
    labels) with bad rows of every kind: text as a CSV has it, or `typed` as Parquet and databases type it."""
    frame = generate_deals(crm_spec(n_deals=4_000, messy_label_share=0.05))
    frame["deal_amount"] = frame["deal_amount"].astype(str)
    frame["sales_cycle_days"] = frame["sales_cycle_days"].astype(str)
    dates = {c: frame[c].dt.strftime("%Y-%m-%d").fillna("") for c in ("created_date", "closed_date")}
    frame = frame.assign(**dates)
    closed = frame.index[frame["outcome"] != ""]
    opened = frame.index[frame["outcome"] == ""]
    bad = {  # reason -> (row, column, value) per planted row
        "missing_deal_id": [(closed[0], "deal_id", ""), (opened[0], "deal_id", "  ")],
        "unknown_outcome": [(closed[1], "outcome", "Pending"), (closed[2], "outcome", "maybe")],
        "unparseable_created_date": [(closed[3], "created_date", "" if typed else "soon"),
                                     (closed[4], "created_date", "1850-01-01")],
        "unparseable_closed_date": [(closed[5], "closed_date", "")],
        "closed_before_created": [(closed[6], "closed_date", "2022-01-01")],
        "future_created_date": [(opened[1], "created_date", "2099-03-01")],
        "future_closed_date": [(closed[7], "closed_date", "2099-06-30")],
        "missing_amount": [(closed[8], "deal_amount", ""), (closed[9], "deal_amount", "" if typed else "n/a")],
        "non_finite_amount": [(closed[10], "deal_amount", "inf")],
        "negative_amount": [(closed[11], "deal_amount", "-250")],
        "bad_cycle_days": [(closed[12], "sales_cycle_days", "-3"), (closed[13], "sales_cycle_days", "-1" if typed else "x")],
        "missing_segment": [(closed[14], "region", ""), (closed[15], "industry", "   ")],
    }
    for rows in bad.values():
        for row, column, value in rows:
            frame.loc[row, column] = value
    # values the loader reads in its own ways: currency amounts, another date format, markup in a label
    if not typed:
        frame.loc[closed[20], "deal_amount"] = "$12,345.50"
        frame.loc[closed[21], "created_date"] = "2024/03/05"
        frame.loc[closed[22], "outcome"] = " WON "
    frame.loc[closed[23], "lead_source"] = "<!channel> Partner*"
    frame.loc[closed[24], "industry"] = "O'Brien: 50% off"  # a quote, a colon and a percent sign in SQL text
    copies = frame.loc[[closed[30], opened[30]]]  # duplicated ids: whole copies, so any order keeps the same deal
    frame = pd.concat([frame, copies], ignore_index=True)
    if typed:
        for c in ("created_date", "closed_date"):
            frame[c] = pd.to_datetime(frame[c].replace("", None), format="%Y-%m-%d").dt.date
        for c in ("deal_amount", "sales_cycle_days"):
            frame[c] = pd.to_numeric(frame[c].replace("", None), errors="coerce").astype(float)
    return frame


def canonical(cells: Cells) -> dict:
    """Every array of the cells in one order (group, then codes), and the rest of what they hold."""
    order = np.lexsort([cells.codes[d] for d in cells.dimensions][::-1] + [cells.group])
    out = {"dimensions": cells.dimensions, "categories": cells.categories, "groups": cells.groups,
           "group": cells.group[order].tolist()}
    out.update({f"codes.{d}": cells.codes[d][order].tolist() for d in cells.dimensions})
    out.update({k: getattr(cells, k)[order].tolist() for k in ("n", "won", "amount")})
    return out


def assert_same(snapshot, engine: DealEngine) -> None:
    """The engine's report and the cells of /why's default periods (every dimension), of a filtered cohort
    and of a segment, equal the in-memory path's."""
    for name in REPORT_FIELDS:
        assert getattr(engine.report, name) == getattr(snapshot.report, name), name
    assert engine.as_of == snapshot.as_of and engine.dimensions == snapshot.dimensions
    period = period_in_question(snapshot, "quarter").current
    compare = baseline_before(snapshot, period, 4)
    cases = [([period, compare], None, ()),
             ([period], ("region", "size_band" if "size_band" in snapshot.dimensions else "cycle_band"),
              (("lead_source", ("Referral", "Partner")),)),
             ([dataclasses.replace(compare, basis="created", window_days=90)], ("industry", "cycle_band"),
              (("cycle_band", ("<30d", "30-60d")), ("region", ("APAC",))))]
    for periods, dims, filters in cases:
        selected = filter_mask(snapshot, filters)
        masks = [selected & period_mask(snapshot, p) for p in periods]
        expected = canonical(Cells.of(snapshot, masks, dims))
        got = canonical(engine.cells([Window.of(p) for p in periods], dims, filters))
        assert got == expected
        assert sum(got["n"]) == sum(int(m.sum()) for m in masks) > 0


@pytest.fixture(scope="module")
def messy_csv(tmp_path_factory):
    """The messy export as a CSV, with two lines of the wrong length among its rows."""
    path = tmp_path_factory.mktemp("engine") / "messy.csv"
    messy_frame(typed=False).to_csv(path, index=False)
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(40, "D9999998,2024-01-01,2024-02-01,rep_1\n")
    lines.insert(900, lines[900].rstrip("\n") + ",an extra field\n")
    path.write_text("".join(lines))
    return path


@pytest.fixture(scope="module")
def messy_parquet(tmp_path_factory):
    path = tmp_path_factory.mktemp("engine") / "messy.parquet"
    messy_frame(typed=True).to_parquet(path, index=False)
    return path


def test_the_bundled_csv_counts_the_same_through_the_engine():
    assert_same(load_deals(ROOT_DATA), DealEngine.of_file(ROOT_DATA))


def test_a_messy_csv_sets_aside_every_kind_of_bad_row_as_the_loader_does(messy_csv):
    snapshot, engine = load_deals(messy_csv), DealEngine.of_file(messy_csv)
    assert set(snapshot.report.set_aside) == set(ROW_REASONS) | {"malformed_row"}
    assert snapshot.report.lost_amounts_zeroed and snapshot.report.open_without_created > 0
    assert_same(snapshot, engine)


def test_a_messy_parquet_file_counts_the_same_through_the_engine(messy_parquet):
    snapshot, engine = load_deals(messy_parquet), DealEngine.of_file(messy_parquet)
    assert set(snapshot.report.set_aside) == set(ROW_REASONS)
    assert_same(snapshot, engine)


def test_the_bundled_deals_as_parquet_count_the_same(tmp_path):
    path = tmp_path / "deals.parquet"
    frame = pd.read_csv(ROOT_DATA, parse_dates=["created_date", "closed_date"])
    frame.to_parquet(path, index=False)
    assert_same(load_deals(path), DealEngine.of_file(path))


def test_a_csv_with_a_stray_quote_is_left_to_the_in_memory_loader(tmp_path):
    path = tmp_path / "quote.csv"
    text = Path(ROOT_DATA).read_text().splitlines(keepends=True)
    text.insert(5, 'D9999999,"2024-01-01,2024-02-01,rep_1,SaaS,APAC,Core,Inbound,Closed,100,31,Won\n')
    path.write_text("".join(text))
    with pytest.raises(EngineUnsupported, match="stray quote"):
        DealEngine.of_file(path)


def test_windows_that_overlap_are_refused_as_cells_of_refuses_overlapping_masks():
    engine = DealEngine.of_file(ROOT_DATA)
    with pytest.raises(ValueError, match="disjoint"):
        engine.cells([Window(dt.date(2024, 1, 1), dt.date(2024, 3, 31)), Window(dt.date(2024, 3, 1), dt.date(2024, 6, 30))])


def _duckdb_file(tmp_path, frame: pd.DataFrame) -> str:
    import duckdb

    path = tmp_path / "deals.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("frame", frame)
        con.execute("CREATE SCHEMA crm")
        con.execute("CREATE TABLE crm.deals AS SELECT * FROM frame")
    return f"duckdb:///{path}"


def test_a_messy_duckdb_table_counts_the_same_through_the_engine(tmp_path):
    url = _duckdb_file(tmp_path, messy_frame(typed=True))
    spec = SourceSpec(url, table="crm.deals", since="all")
    snapshot = load_source(spec)
    assert set(snapshot.report.set_aside) == set(ROW_REASONS)
    with DealEngine.of_sql(url, table="crm.deals") as engine:
        assert_same(snapshot, engine)
    assert engine.place.connection is None  # let go when the refresh is done


def test_a_messy_postgresql_table_and_query_count_the_same_through_the_engine():
    from conftest import POSTGRES, copy_rows, postgres_schema

    with postgres_schema("si_engine") as (schema, admin, _):
        types = {"created_date": sa.Date, "closed_date": sa.Date, "deal_amount": sa.Float,
                 "sales_cycle_days": sa.Float}
        messy_frame(typed=True).to_sql("deals", admin, schema=schema, index=False, dtype=types, method=copy_rows)
        url = POSTGRES
        snapshot = load_source(SourceSpec(url, table=f"{schema}.deals", since="all"))
        assert set(snapshot.report.set_aside) == set(ROW_REASONS)
        assert_same(snapshot, DealEngine.of_sql(url, table=f"{schema}.deals"))
        query = f"SELECT * FROM {schema}.deals WHERE region <> 'India'"
        assert_same(load_source(SourceSpec(url, query=query, since="all")), DealEngine.of_sql(url, query=query))


def test_a_time_window_is_read_as_the_in_memory_source_reads_it(tmp_path):
    url = _duckdb_file(tmp_path, messy_frame(typed=True))
    spec = SourceSpec(url, table="crm.deals", since="2024-01-01")
    snapshot = load_source(spec)
    engine = DealEngine.of_sql(url, table="crm.deals", since=dt.date(2024, 1, 1))
    assert engine.report.rows_outside_window == snapshot.report.rows_outside_window > 0
    assert_same(snapshot, engine)


def test_a_query_past_its_timeout_is_stopped_with_a_sentence():
    from insights.load import DataError

    place = DealEngine.of_file(ROOT_DATA, timeout_seconds=0.2).place
    started = time.perf_counter()
    with pytest.raises(DataError, match=r"took longer than 0.2 s and was stopped"):
        place.run("SELECT SUM(range) FROM range(1000000000000)")  # hours of counting
    assert time.perf_counter() - started < 30
    assert place.run("SELECT 41 + 1 AS n")["n"].iloc[0] == 42  # the connection still answers


def test_the_engine_times_each_query_of_a_refresh_for_health():
    engine = DealEngine.of_file(ROOT_DATA)
    engine.report
    before = len(engine.query_seconds)
    engine.cells([Window(dt.date(2024, 4, 1), dt.date(2024, 6, 30))])
    engine.cells([Window(dt.date(2024, 4, 1), dt.date(2024, 6, 30))])  # the refresh's cache: no query
    assert len(engine.query_seconds) == before + 1 and all(s > 0 for s in engine.query_seconds)


def test_of_two_rows_with_one_id_the_first_in_the_file_is_kept_as_the_loader_keeps_it(tmp_path):
    frame = pd.read_csv(ROOT_DATA, dtype=str, keep_default_na=False)
    won = frame.index[frame["outcome"] == "Won"][-1]
    later = frame.loc[[won]].assign(outcome="Lost", region="India")  # the same id, another story, further down
    frame = pd.concat([frame.iloc[:200], later, frame.iloc[200:]], ignore_index=True)
    frame.loc[len(frame)] = frame.loc[5].to_list()  # and a copy of an early row at the very end
    path = tmp_path / "twice.csv"
    frame.to_csv(path, index=False)
    snapshot = load_deals(path)
    assert snapshot.report.set_aside == {"duplicate_deal_id": 2}
    assert_same(snapshot, DealEngine.of_file(path))
