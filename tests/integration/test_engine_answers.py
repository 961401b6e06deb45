"""Every command answers the same through the engine (DEALS_ENGINE=engine: counted where the data lives) as
through the in-memory path: the same result JSON and the same reply text, for the bundled demo data (CSV and
Parquet read by DuckDB), a planted one-region drop, a messy export with a bad row of every kind, and the same
messy table in DuckDB and PostgreSQL. What needs the deals one by one (/deals, /pipeline) is answered with a
sentence, never a traceback. `python -m bot ask` taking the engine path by the setting is tests/e2e/test_cli_engine.py."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from bot.core.commands import answer
from insights.engine.snapshot import EngineSnapshot
from insights.results import to_jsonable
from insights.snapshot import Snapshot
from insights.sources import SourceSpec, load_source, use_engine
from insights.synthetic import DealSpec, PlantedDrop, generate_deals, logit, write_csv

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "data" / "deals.csv")
EVERY_COMMAND = [
    "/winrate", "/winrate APAC", "/winrate by region", "/winrate by region last quarter",
    "/winrate by industry vs last year", "/winrate region=Europe by product", "/trend", "/trend monthly",
    "/trend APAC", "/trend all", "/why", "/why APAC", "/why last quarter vs previous quarter", "/why by product",
    "/drivers", "/risk", "/risk by region", "/funnel", "/funnel by region", "/reps", "/reps APAC",
    "/reps by region", "/health", "/alerts list", "/why created", "/winrate by size", "/trend cohorts",
]
SOME_COMMANDS = ["/winrate by region", "/why", "/trend", "/risk", "/funnel", "/reps", "/health", "/winrate by size"]
ROWS_COMMANDS = ["/deals", "/pipeline"]
# /health's fields that say when and how fast the data was read, not what it holds
TIMING = ("loaded_at", "load_seconds")


def both(location: str, **spec) -> tuple[Snapshot, EngineSnapshot]:
    memory = load_source(SourceSpec(location, engine="memory", **spec))
    engine = load_source(SourceSpec(location, engine="engine", **spec))
    assert isinstance(memory, Snapshot) and isinstance(engine, EngineSnapshot)
    return memory, engine


def as_json(reply) -> dict | None:
    if reply.result is None:
        return None
    out = to_jsonable(reply.result)
    if reply.command == "health":
        for key in TIMING:
            out.pop(key)
    return out


def without_timing(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith(("*Data health*", "Counted where the data"))]


def assert_same_answers(memory, engine, commands) -> None:
    for line in commands:
        a, b = answer(memory, line), answer(engine, line)
        assert a.kind != "error", (line, a.text)
        assert (b.command, b.kind) == (a.command, a.kind), line
        assert json.dumps(as_json(b), default=str) == json.dumps(as_json(a), default=str), line
        assert without_timing(b.text) == without_timing(a.text), line
    for line in ROWS_COMMANDS:
        reply = answer(engine, line)
        assert reply.kind == "error" and "counted where it lives" in reply.text and "Traceback" not in reply.text


def test_every_command_answers_the_same_on_the_bundled_csv():
    memory, engine = both(DEMO)
    assert_same_answers(memory, engine, EVERY_COMMAND)
    assert answer(memory, "/why").result.findings  # the demo's story is found on both paths
    health = answer(engine, "/health")
    assert "Counted where the data lives" in health.text and health.result.query_seconds


def test_the_digest_differs_only_by_the_pipeline_it_cannot_forecast():
    memory, engine = both(DEMO)
    a, b = answer(memory, "/digest").text.splitlines(), answer(engine, "/digest").text.splitlines()
    missing = [line for line in b if line.startswith("*Pipeline*")]
    assert len(missing) == 1 and "counted where it lives" in missing[0]
    kept = [line for line in b if line not in missing and line and not line.startswith("*Data*")]
    assert kept == [line for line in a if line and not line.startswith(("*Pipeline*", "*Data*"))]


def test_the_bundled_deals_as_parquet_answer_the_same(tmp_path):
    path = tmp_path / "deals.parquet"
    pd.read_csv(DEMO, parse_dates=["created_date", "closed_date"]).to_parquet(path, index=False)
    memory, engine = both(str(path))
    assert_same_answers(memory, engine, SOME_COMMANDS + ["/why APAC", "/drivers"])


def test_a_planted_drop_is_found_the_same_way(tmp_path):
    end = dt.date(2025, 7, 15)
    spec = DealSpec(n_deals=6_000, start=dt.date(2023, 1, 1), as_of=end, seed=11,
                    drops=(PlantedDrop({"region": "APAC"}, dt.date(2025, 4, 1), end, logit(0.25) - logit(0.45)),))
    path = tmp_path / "planted.csv"
    write_csv(generate_deals(spec), path)
    memory, engine = both(str(path))
    assert_same_answers(memory, engine, SOME_COMMANDS + ["/why APAC", "/why by product"])
    why = answer(engine, "/why").result
    assert any("APAC" in label for label in why.findings)


def test_an_extract_cut_off_on_created_dates_answers_by_cohorts_the_same(tmp_path):
    spec = DealSpec(n_deals=6_000, seed=5, created_until=dt.date(2024, 3, 31))
    path = tmp_path / "censored.csv"
    write_csv(generate_deals(spec), path)
    memory, engine = both(str(path))
    assert_same_answers(memory, engine, SOME_COMMANDS + ["/why APAC", "/trend monthly"])
    assert answer(engine, "/why").result.date_basis == "created_date"  # the newest complete cohorts


@pytest.fixture(scope="module")
def messy_csv(tmp_path_factory):
    from test_engine_parity import messy_frame

    path = tmp_path_factory.mktemp("answers") / "messy.csv"
    messy_frame(typed=False).to_csv(path, index=False)
    return path


def test_a_messy_export_with_every_bad_row_answers_the_same(messy_csv):
    memory, engine = both(str(messy_csv))
    assert engine.report.rows_set_aside == memory.report.rows_set_aside > 10
    assert_same_answers(memory, engine, SOME_COMMANDS + ["/why APAC", "/trend cohorts"])


def test_a_messy_duckdb_table_answers_the_same(tmp_path):
    from test_engine_parity import _duckdb_file, messy_frame

    url = _duckdb_file(tmp_path, messy_frame(typed=True))
    memory, engine = both(url, table="crm.deals", since="all")
    assert_same_answers(memory, engine, SOME_COMMANDS)


def test_a_messy_postgresql_table_answers_the_same():
    from conftest import POSTGRES, copy_rows, postgres_schema
    from test_engine_parity import messy_frame

    with postgres_schema("si_answers") as (schema, admin, _):
        types = {"created_date": sa.Date, "closed_date": sa.Date, "deal_amount": sa.Float,
                 "sales_cycle_days": sa.Float}
        messy_frame(typed=True).to_sql("deals", admin, schema=schema, index=False, dtype=types, method=copy_rows)
        memory, engine = both(POSTGRES, table=f"{schema}.deals", since="all")
        assert_same_answers(memory, engine, SOME_COMMANDS + ["/why APAC"])
        # auto: a table under the row threshold is read into memory, over it counted where it lives
        assert not use_engine(SourceSpec(POSTGRES, table=f"{schema}.deals"))
        os.environ["DEALS_ENGINE_ROWS"] = "100"
        try:
            assert use_engine(SourceSpec(POSTGRES, table=f"{schema}.deals"))
        finally:
            del os.environ["DEALS_ENGINE_ROWS"]


def test_auto_reads_small_files_into_memory_and_large_ones_where_they_live(monkeypatch):
    assert not use_engine(SourceSpec(DEMO))
    assert use_engine(SourceSpec(DEMO, engine="engine"))
    assert not use_engine(SourceSpec(DEMO, engine="engine"), as_of=dt.date(2024, 1, 1))  # a replay needs rows
    monkeypatch.setenv("DEALS_ENGINE_FILE_MB", "0.1")
    assert use_engine(SourceSpec(DEMO))
    assert not use_engine(SourceSpec(DEMO, engine="memory"))
    assert not use_engine(SourceSpec("salesforce", engine="engine"))
    from insights.load import DataError

    with pytest.raises(DataError, match="DEALS_ENGINE"):
        use_engine(SourceSpec(DEMO, engine="warehouse"))


def test_the_alert_rules_find_the_same_on_both_paths():
    from insights.alerts import AlertRule, evaluate

    memory, engine = both(DEMO)
    rules = [AlertRule(1, "drop"), AlertRule(2, "lead_source_gap", threshold=8), AlertRule(3, "long_cycle"),
             AlertRule(4, "driver_flip"), AlertRule(5, "winrate_below", (("region", ("APAC",)),), 0.5)]
    found = evaluate(memory, rules)
    assert found and to_jsonable(evaluate(engine, rules)) == to_jsonable(found)
    assert evaluate(engine, [AlertRule(6, "big_deal_at_risk")]) == []  # single deals: not on this path


def test_a_restricted_scope_is_refused_in_a_sentence_never_answered_wider():
    from bot.core.access import Asker
    from bot.core.ask import ask
    from bot.core.data import DealData
    from bot.core.scope import Scope

    data = DealData(SourceSpec(DEMO, engine="engine"))
    assert data.refresh().ok and isinstance(data.current.snapshot, EngineSnapshot)
    asker = Asker(user="U1", scope=Scope.of([{"region": ["APAC"]}]))
    reply = ask(data, asker, "/winrate")
    assert reply.kind == "error" and "SEGMENT_ACCESS" in reply.text and reply.result is None
    assert ask(data, Asker(user="U2"), "/winrate").kind == "answer"


def test_a_parquet_without_a_segment_column_answers_the_same_without_it(tmp_path):
    thin = tmp_path / "thin.parquet"
    pd.read_csv(DEMO).drop(columns=["lead_source"]).to_parquet(thin)
    memory, engine = both(str(thin))
    assert memory.report.absent == engine.report.absent == ("lead_source",)
    assert_same_answers(memory, engine, SOME_COMMANDS + ["/drivers"])
    assert "no lead source column" in answer(engine, "/why").text
