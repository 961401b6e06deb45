"""Row-level access (SEGMENT_ACCESS) on the engine path: someone who may see only some segments is answered
from exactly those deals — each grant a condition on the validated rows where they live, the grants OR-ed — with
the same JSON, text and CSV file as the in-memory path's scoped view, through the one `ask()` every front end
calls: the bundled data as CSV and Parquet, the messy export with every kind of bad row, DuckDB and PostgreSQL."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from bot.core.access import Asker, Policy, SegmentMap
from bot.core.ask import ask
from bot.core.data import DealData
from bot.core.scope import Scope
from insights.engine.snapshot import EngineSnapshot
from insights.results import to_jsonable
from insights.snapshot import Snapshot
from insights.sources import SourceSpec

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "data" / "deals.csv")
COMMANDS = ["/winrate", "/winrate by region", "/why", "/trend", "/risk", "/funnel", "/reps", "/health", "/drivers",
            "/deals", "/deals open", "/deals lost", "/pipeline", "/pipeline by region", "/digest", "/winrate by size"]
SOME = ["/winrate by region", "/why", "/health", "/deals", "/deals open", "/pipeline by region"]
APAC = Scope.of([{"region": ["apac"]}])  # as a SEGMENT_ACCESS file may spell it: matched ignoring case
TWO_GRANTS = Scope.of([{"region": ["APAC"]}, {"region": ["Europe"], "product_type": ["Enterprise"]}])
INDUSTRIES = Scope.of([{"industry": ["SaaS", "FinTech"]}])
TIMING = ("loaded_at", "load_seconds", "query_seconds")


def both(location: str, **spec) -> tuple[DealData, DealData]:
    memory, engine = (DealData(SourceSpec(location, engine=kind, **spec)) for kind in ("memory", "engine"))
    assert memory.refresh().ok and engine.refresh().ok
    assert isinstance(memory.current.snapshot, Snapshot) and isinstance(engine.current.snapshot, EngineSnapshot)
    return memory, engine


def as_json(reply) -> str | None:
    if reply.result is None:
        return None
    out = to_jsonable(reply.result)
    for key in TIMING if reply.command == "health" else ():
        out.pop(key, None)
    return json.dumps(out, default=str)


LOADED_AT = re.compile(r"loaded \d{4}-\d\d-\d\d \d\d:\d\d UTC")


def lines(text: str) -> list[str]:
    """The text's lines but the ones saying when and how fast the data was read (two loads can fall in two minutes)."""
    return [LOADED_AT.sub("loaded …", line) for line in text.splitlines()
            if not line.startswith(("*Data health*", "Counted where the data"))]


def assert_same_scoped(memory: DealData, engine: DealData, asker: Asker, commands) -> None:
    answered = 0
    for line in commands:
        a, b = ask(memory, asker, line), ask(engine, asker, line)
        assert a.kind == "answer" or (line == "/reps" and not asker.reps), (line, a.text)
        answered += a.kind == "answer"
        assert b.kind == a.kind and as_json(b) == as_json(a), line
        assert lines(b.text) == lines(a.text), line
        assert b.table() == a.table(), line  # /deals' CSV: the same bytes (None for the other commands)
    assert answered >= len(commands) - 1


def test_a_restricted_user_is_answered_from_exactly_their_segments_on_the_bundled_csv():
    memory, engine = both(DEMO)
    for scope in (APAC, TWO_GRANTS, INDUSTRIES):
        for reps in (True, False):  # and with the rep rule on top
            assert_same_scoped(memory, engine, Asker(user="U1", scope=scope, reps=reps), COMMANDS)
    asker = Asker(user="U1", scope=APAC)
    whole = ask(engine, Asker(user="U0"), "/winrate by region").result
    apac = ask(engine, asker, "/winrate by region").result
    assert [g.label for g in apac.groups] == ["APAC"] and len(whole.groups) > 1
    assert apac.groups[0].n == apac.overall.n == next(g.n for g in whole.groups if g.label == "APAC") > 100
    health = ask(engine, asker, "/health").result
    assert not health.set_aside and 0 < health.closed_deals < engine.current.snapshot.report.closed_deals
    pipeline = ask(engine, asker, "/pipeline").result
    assert pipeline.open_deals == int((memory.current.snapshot.open_deals["region"] == "APAC").sum())
    assert all(d.segment.get("region") == "APAC" for d in pipeline.all_deals())
    csv = ask(engine, asker, "/deals").table().decode()
    assert csv.count("\n") > 1 and {row.split(",")[2] for row in csv.splitlines()[1:]} == {"APAC"}
    # another segment, named: refused by name, never answered from what is left
    refused = ask(engine, asker, "/winrate Europe")
    assert refused.kind == "refused" and "Europe" in refused.text


def test_segment_access_from_its_file_decides_the_engine_paths_scope_too():
    _, engine = both(DEMO)
    memory = DealData(SourceSpec(DEMO, engine="memory"))
    assert memory.refresh().ok
    segments = SegmentMap.from_dict({"users": {"U0VPAPAC": {"region": ["APAC"]}}, "others": "none"})
    policy = Policy(segments=segments)
    vp, nobody = policy.asker("U0VPAPAC", "D1"), policy.asker("U0OTHER", "D1")
    assert vp.scope.describe() == "APAC" and nobody.scope.empty
    assert_same_scoped(memory, engine, vp, ["/winrate", "/deals", "/pipeline"])
    assert ask(engine, nobody, "/winrate").kind == "refused"


def test_the_bundled_parquet_answers_a_restricted_user_the_same(tmp_path):
    path = tmp_path / "deals.parquet"
    pd.read_csv(DEMO, parse_dates=["created_date", "closed_date"]).to_parquet(path, index=False)
    memory, engine = both(str(path))
    assert_same_scoped(memory, engine, Asker(user="U1", scope=TWO_GRANTS), SOME)


def test_the_messy_export_answers_a_restricted_user_the_same(tmp_path):
    from test_engine_parity import messy_frame

    path = tmp_path / "messy.csv"
    messy_frame(typed=False).to_csv(path, index=False)
    memory, engine = both(str(path))
    assert engine.current.snapshot.report.rows_set_aside > 10
    region = memory.current.snapshot.values("region")[0]
    assert_same_scoped(memory, engine, Asker(user="U1", scope=Scope.of([{"region": [region]}])), SOME)


def test_a_duckdb_table_answers_a_restricted_user_the_same(tmp_path):
    from test_engine_parity import _duckdb_file, messy_frame

    url = _duckdb_file(tmp_path, messy_frame(typed=True))
    memory, engine = both(url, table="crm.deals", since="all")
    region = memory.current.snapshot.values("region")[-1]
    assert_same_scoped(memory, engine, Asker(user="U1", scope=Scope.of([{"region": [region]}])), SOME)


def test_a_postgresql_table_answers_a_restricted_user_the_same():
    from conftest import POSTGRES, copy_rows, postgres_schema
    from test_engine_parity import messy_frame

    with postgres_schema("si_scope") as (schema, admin, _):
        types = {"created_date": sa.Date, "closed_date": sa.Date, "deal_amount": sa.Float,
                 "sales_cycle_days": sa.Float}
        messy_frame(typed=True).to_sql("deals", admin, schema=schema, index=False, dtype=types, method=copy_rows)
        memory, engine = both(POSTGRES, table=f"{schema}.deals", since="all")
        values = memory.current.snapshot.values("region")
        scope = Scope.of([{"region": [values[0]]}, {"region": [values[1]], "lead_source": ["Inbound"]}])
        assert_same_scoped(memory, engine, Asker(user="U1", scope=scope), SOME)
