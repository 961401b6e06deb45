"""Every command answers the same through the engine (DEALS_ENGINE=engine: counted where the data lives) as
through the in-memory path: the same result JSON and the same reply text, for the bundled demo data (CSV and
Parquet read by DuckDB), a planted one-region drop, a messy export with a bad row of every kind, and the same
messy table in DuckDB and PostgreSQL — and what needs the deals one by one the same too: /deals (its list and its
CSV file, byte for byte), /pipeline (the model's history counted into cells there, the open deals scored here), the
digest and the big-deal alert. `python -m bot ask` taking the engine path by the setting is
tests/e2e/test_cli_engine.py; a restricted user's answers on the engine path are tests/integration/test_engine_scope.py."""
from __future__ import annotations

import datetime as dt
import json
import re
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from bot.core.commands import answer
from insights.deals import deals_csv
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
# what lists or scores the deals one by one: the open deals come back as rows, the closed ones bounded (a list's
# LIMIT) or streamed (the CSV)
ROWS_COMMANDS = ["/deals", "/deals won", "/deals lost APAC", "/deals open", "/deals open region=Europe",
                 "/deals APAC last quarter", "/deals by region", "/pipeline", "/pipeline by region",
                 "/pipeline APAC by product", "/pipeline by industry"]
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


LOADED_AT = re.compile(r"loaded \d{4}-\d\d-\d\d \d\d:\d\d UTC")


def without_timing(text: str) -> list[str]:
    """The text's lines but the ones saying when and how fast the data was read (two loads can fall in two minutes)."""
    return [LOADED_AT.sub("loaded …", line) for line in text.splitlines()
            if not line.startswith(("*Data health*", "Counted where the data"))]


def assert_same_answers(memory, engine, commands, rows: bool = True) -> None:
    """Every command's JSON and text the same on both paths, and (`rows`) /deals' CSV file byte for byte."""
    for line in commands + (ROWS_COMMANDS if rows else []):
        a, b = answer(memory, line), answer(engine, line)
        assert a.kind != "error", (line, a.text)
        assert (b.command, b.kind) == (a.command, a.kind), line
        assert json.dumps(as_json(b), default=str) == json.dumps(as_json(a), default=str), line
        assert without_timing(b.text) == without_timing(a.text), line
        if a.command == "deals" and a.result.count:
            assert deals_csv(engine, b.result.query) == deals_csv(memory, a.result.query), line


def test_every_command_answers_the_same_on_the_bundled_csv():
    memory, engine = both(DEMO)
    assert_same_answers(memory, engine, EVERY_COMMAND)
    assert answer(memory, "/why").result.findings  # the demo's story is found on both paths
    health = answer(engine, "/health")
    assert "Counted where the data lives" in health.text and health.result.query_seconds


def test_the_digest_is_the_same_pipeline_paragraph_and_all():
    memory, engine = both(DEMO)
    a, b = answer(memory, "/digest").text, answer(engine, "/digest").text
    # the *Data* line says when each path loaded (a minute may turn between the two loads); the rest is identical
    assert LOADED_AT.search(a) and LOADED_AT.sub("loaded …", b) == LOADED_AT.sub("loaded …", a)
    pipeline = [line for line in b.splitlines() if line.startswith("*Pipeline*")]
    assert len(pipeline) == 1 and "expected to be won" in pipeline[0] and "from 662 open deals" in pipeline[0]


def test_the_deals_csv_is_streamed_in_chunks_with_the_same_bytes(monkeypatch):
    from insights.engine import listing

    memory, engine = both(DEMO)
    monkeypatch.setattr(listing, "CHUNK_ROWS", 2048)  # DuckDB's vector: the 6,338 closed deals in four chunks
    chunks = list(engine.deal_chunks(engine.select(()), None))
    assert [len(c) for c in chunks] == [2048, 2048, 2048, 194]
    assert chunks[0]["deal_amount"].iloc[0] == memory.deals["deal_amount"].max()  # largest first, across chunks
    reply = answer(memory, "/deals all")
    assert reply.result.count == len(memory.deals) == 6338
    whole = deals_csv(memory, reply.result.query)
    assert deals_csv(engine, answer(engine, "/deals all").result.query) == whole
    assert whole.count(b"\n") == 1 + 6338


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
    assert answer(engine, "/pipeline").result.open_without_amount > 0  # blank amounts: counted, listed last


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
    # single deals: the open deals scored one by one on both paths
    big = [AlertRule(6, "big_deal_at_risk"), AlertRule(7, "big_deal_at_risk", threshold=50_000),
           AlertRule(8, "big_deal_at_risk", (("region", ("APAC",)),), 20_000)]
    found = evaluate(memory, big)
    assert len(found) == 13 and {f.rule_id for f in found} == {6, 7, 8}
    assert to_jsonable(evaluate(engine, big)) == to_jsonable(found)


def test_a_parquet_without_a_segment_column_answers_the_same_without_it(tmp_path):
    thin = tmp_path / "thin.parquet"
    pd.read_csv(DEMO).drop(columns=["lead_source"]).to_parquet(thin)
    memory, engine = both(str(thin))
    assert memory.report.absent == engine.report.absent == ("lead_source",)
    assert_same_answers(memory, engine, SOME_COMMANDS + ["/drivers"])
    assert "no lead source column" in answer(engine, "/why").text


def test_the_open_pipeline_scored_in_tiny_chunks_answers_the_same_ties_and_all(tmp_path, monkeypatch):
    """The engine scores the open deals chunk by chunk (never all of them at once): seven rows a chunk gives the
    same answers as one chunk and as memory — the sums, the segments, and the deals listed, ties in row order."""
    from insights.engine import listing

    frame = pd.read_csv(DEMO, parse_dates=["created_date", "closed_date"])
    opened = frame["outcome"].isna()
    # a few amounts shared by many open deals (ties in the expected loss within a cell), some blank
    frame["deal_amount"] = frame["deal_amount"].astype(float)
    frame.loc[opened, "deal_amount"] = [(50_000.0, 120_000.0, 120_000.0, np.nan)[k % 4] for k in range(int(opened.sum()))]
    path = tmp_path / "ties.parquet"
    frame.to_parquet(path, index=False)
    memory, engine = both(str(path))
    lines = ["/pipeline", "/pipeline by region", "/pipeline APAC by product", "/pipeline by rep", "/digest"]
    whole = {line: answer(engine, line) for line in lines}
    monkeypatch.setattr(listing, "OPEN_CHUNK_ROWS", 7)
    sizes = [len(c) for c in engine.open_chunks(engine.select((), open_pipeline=True))]
    assert sizes[:3] == [7, 7, 7] and sum(sizes) == int(opened.sum()) == 662
    _, chunked = both(str(path))  # a new refresh: nothing summed before is reused
    for line in lines:
        a, b, c = answer(memory, line), whole[line], answer(chunked, line)
        assert without_timing(c.text) == without_timing(b.text) == without_timing(a.text), line  # a minute may turn
        assert json.dumps(as_json(c), default=str) == json.dumps(as_json(b), default=str) \
            == json.dumps(as_json(a), default=str), line
    at_risk = answer(chunked, "/pipeline").result.at_risk
    losses = [d.expected_loss for d in at_risk]
    assert len(at_risk) == 10 and len(set(losses)) < len(losses)  # ties listed, in the in-memory order
    assert [d.deal_id for d in at_risk] == [d.deal_id for d in answer(memory, "/pipeline").result.at_risk]


def test_a_deals_csv_stream_past_the_engines_timeout_ends_with_a_sentence(monkeypatch, capsys):
    """Each chunk of the CSV's stream is a query bounded by the engine's timeout (DuckDB: a timer interrupts the
    cursor); one that runs past it ends the file with a sentence, not a traceback, in the CLI and in Slack."""
    from bot.cli import print_chart
    from insights.engine import listing

    _, engine = both(DEMO)
    reply = answer(engine, "/deals all")
    assert reply.table_or_error()[1] is None and reply.table().count(b"\n") == 1 + 6338
    select = listing._select

    def slow(*args, **kwargs):  # the same rows, behind a scalar that takes DuckDB many seconds to sum
        return f"SELECT * FROM ({select(*args, **kwargs)}) AS o WHERE (SELECT SUM(i % 7) FROM range(5000000000) AS r(i)) >= 0"

    monkeypatch.setattr(listing, "_select", slow)
    monkeypatch.setattr(engine.engine.place, "timeout_seconds", 0.5)
    table, error = reply.table_or_error()
    assert table is None and "took longer than 0.5 s and was stopped" in error and "CSV file" in error
    print_chart(reply, "/nonexistent-never-written", None)
    assert "took longer than 0.5 s" in capsys.readouterr().out


def test_open_deals_listed_alerted_and_exported_without_fetching_every_open_deal(tmp_path, monkeypatch):
    """/deals open (its list and CSV), /pipeline's every open deal (the JSON) and the big-deal alert come from the
    engine's queries — a bounded list, chunks, the deals above the alert's amount — never from every open deal
    fetched at once (each frame the engine hands over is counted): the same answers as memory, ties across chunks in row
    order."""
    from insights.alerts import AlertRule, evaluate
    from insights.engine import listing

    frame = pd.read_csv(DEMO, parse_dates=["created_date", "closed_date"])
    opened = frame["outcome"].isna()
    frame["deal_amount"] = frame["deal_amount"].astype(float)  # ties in the expected loss, some blank amounts
    frame.loc[opened, "deal_amount"] = [(50_000.0, 120_000.0, 120_000.0, np.nan)[k % 4] for k in range(int(opened.sum()))]
    path = tmp_path / "ties.parquet"
    frame.to_parquet(path, index=False)
    memory, engine = both(str(path))

    fetched = []
    as_frame = listing.as_frame

    def counted(engine, found):  # every frame of deals the engine hands over: how many rows at once
        fetched.append(len(found))
        return as_frame(engine, found)

    monkeypatch.setattr(listing, "as_frame", counted)
    monkeypatch.setattr(listing, "OPEN_CHUNK_ROWS", 7)
    monkeypatch.setattr(listing, "CHUNK_ROWS", 7)
    for line in ["/deals open", "/deals open region=Europe", "/deals open APAC by product"]:
        a, b = answer(memory, line), answer(engine, line)
        assert json.dumps(as_json(b), default=str) == json.dumps(as_json(a), default=str), line
        assert b.text == a.text, line
        assert deals_csv(engine, b.result.query) == deals_csv(memory, a.result.query), line
    opened_csv = deals_csv(engine, answer(engine, "/deals open").result.query)
    assert opened_csv.count(b"\n") == 1 + 662 and b"win_probability_this_quarter" in opened_csv
    for line in ["/pipeline", "/pipeline APAC by product"]:
        a, b = answer(memory, line).result, answer(engine, line).result
        listed = to_jsonable(b.all_deals())
        assert listed == to_jsonable(a.all_deals()) and len(listed) == a.open_deals > 10, line
    big = [AlertRule(6, "big_deal_at_risk"), AlertRule(7, "big_deal_at_risk", threshold=50_000),
           AlertRule(8, "big_deal_at_risk", (("region", ("APAC",)),), 20_000),
           AlertRule(9, "big_deal_at_risk", threshold=120_000)]
    found = evaluate(memory, big)
    assert {f.rule_id for f in found} == {6, 7, 8, 9}
    assert to_jsonable(evaluate(engine, big)) == to_jsonable(found)
    assert fetched and max(fetched) <= 15  # a chunk (7), or /deals' list (its LIMIT of 15): never 662 at once
