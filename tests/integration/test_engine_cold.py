"""The first-ever refresh of a DuckDB source (issue 23, "counting where the data lives"): a file's example rows
come with the report's GROUP BY, and a store whose writing is stopped on the way (a kill -9) is never attached:
the last whole one stays, and the next refresh writes it again."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bot.core.commands import answer
from insights.engine import DealEngine
from insights.engine.snapshot import EngineSnapshot
from insights.engine.where import DuckPlace
from insights.sources import SourceSpec, load_source
from insights.synthetic import demo_spec, generate_deals

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("DEALS_ENGINE_CACHE", str(folder))
    return folder


def parquet(tmp_path, n: int = 3000) -> Path:
    frame = generate_deals(demo_spec(n_deals=n, seed=3))
    frame["sales_cycle_days"] = pd.to_numeric(frame["sales_cycle_days"], errors="coerce")
    for column in ("created_date", "closed_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    frame.loc[5, "deal_id"] = frame.loc[9, "deal_id"]  # a repeated id: the later row set aside
    frame.loc[7, "outcome"] = "Maybe"
    path = tmp_path / "deals.parquet"
    frame.to_parquet(path, index=False)
    return path


def text(snapshot, line: str) -> list[str]:
    got = answer(snapshot, line)
    assert got.kind == "answer", got.text
    return [x for x in got.text.splitlines() if not x.startswith(("*Data health*", "Counted where"))]


def attached(engine: DealEngine) -> set[str]:
    return {name for (name,) in engine.place.connection.execute(
        "SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchall()}


def test_a_files_example_rows_come_from_the_reports_own_group_by(tmp_path, cache, monkeypatch):
    path = parquet(tmp_path)
    memory = load_source(SourceSpec(str(path), engine="memory"))
    queries, run = [], DuckPlace.run
    monkeypatch.setattr(DuckPlace, "run", lambda self, sql: (queries.append(sql), run(self, sql))[1])
    cold = EngineSnapshot.of(DealEngine.of_file(path))
    assert cold.report.set_aside == memory.report.set_aside == {"duplicate_deal_id": 1, "unknown_outcome": 1}
    assert cold.report.examples == memory.report.examples and cold.report.examples["duplicate_deal_id"] == [11]
    assert not [sql for sql in queries if "ROW_NUMBER() OVER (PARTITION BY reason" in sql]  # no pass of their own
    for line in ("/why", "/health"):
        assert text(cold, line) == text(memory, line), line


KILLED = """
import os, signal, sys, datetime as dt
sys.path.insert(0, {root!r})
from insights.engine import engine as E
create = E.DealEngine._create
def killed(self, statements):
    create(self, statements[:-6])  # the types, the report and the cubes' pass written: killed before the rest
    os.kill(os.getpid(), signal.SIGKILL)
E.DealEngine._create = killed
e = E.DealEngine.of_file({path!r})
e.horizon = dt.date.fromisoformat({day!r})
e.report
"""


def test_a_refresh_killed_while_writing_its_store_leaves_none_that_is_used(tmp_path, cache, monkeypatch):
    path = parquet(tmp_path, n=800)
    last = max(pd.read_parquet(path)["closed_date"].dropna())
    early = DealEngine.of_file(path)
    early.horizon = last - dt.timedelta(days=5)  # deals closed after it are set aside: the store is of that day
    assert early.report.set_aside.get("future_closed_date", 0) > 0
    early.close()
    (store,) = cache.glob("*/store-*.duckdb")
    before = store.read_bytes()
    day = (last + dt.timedelta(days=1)).isoformat()  # a later day: that store does not stand, a new one is made
    killed = subprocess.run([sys.executable, "-c", KILLED.format(root=str(ROOT), path=str(path), day=day)],
                            env={**os.environ}, capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()[-500:]
    assert store.read_bytes() == before and list(cache.glob("*/*.partial"))  # the half store lies apart, unused
    later = DealEngine.of_file(path)
    later.horizon = dt.date.fromisoformat(day)
    with_cache = later.report
    assert "si_store" in attached(later) and "future_closed_date" not in with_cache.set_aside
    monkeypatch.setenv("DEALS_ENGINE_CACHE", "off")
    fresh = DealEngine.of_file(path)
    fresh.horizon = later.horizon
    assert fresh.report.set_aside == with_cache.set_aside and fresh.report.closed_deals == with_cache.closed_deals
    assert store.read_bytes() != before  # made again whole, for the later day


def test_a_store_write_that_fails_leaves_nothing_attached_and_the_next_try_counts_the_same(tmp_path, cache, monkeypatch):
    from insights.engine import engine as engine_module
    from insights.load import DataError

    path = parquet(tmp_path, n=800)
    create = engine_module.DealEngine._create

    def stopped(self, statements):  # the store's write past the time bound, once
        monkeypatch.setattr(engine_module.DealEngine, "_create", create)
        raise DataError("The engine's query took longer than 120 s and was stopped.")

    monkeypatch.setattr(engine_module.DealEngine, "_create", stopped)
    engine = DealEngine.of_file(path)
    with pytest.raises(DataError):
        engine.report
    assert "si_store" not in attached(engine) and not list(cache.glob("*/*.partial"))
    monkeypatch.setenv("DEALS_ENGINE_CACHE", "off")
    assert engine.report.set_aside == DealEngine.of_file(path).report.set_aside == {"duplicate_deal_id": 1,
                                                                                   "unknown_outcome": 1}
