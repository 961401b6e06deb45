"""The engine's cubes (insights/engine/engine.py, `_cube_statements`): the validated rows summed at refresh per
(month closed, outcome, every segment and band), per (day created, ...) for the open deals, and per (month closed,
outcome, cycle length) by each segment. A cell query whose filters and groupings are cube columns — and whose
windows are whole months — is summed from a cube instead of the rows; everything else still reads the rows.

Here the same data is refreshed twice, with the cubes and without them (CUBES off: every query reads the rows),
and every filtered command, a restricted user's answers and the raw cells are compared with each other and with
the in-memory path; and the cube is shown to be what answers (no query reads the rows' table) — or not, for a
window that cuts a month, a cohort, or a cube dropped for its size."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.core.access import Asker
from bot.core.ask import ask
from bot.core.commands import answer
from bot.core.data import DealData
from bot.core.scope import Scope
from insights.counting import EVERY_DAY, Window
from insights.engine import engine as engine_module
from insights.engine.where import DuckPlace
from insights.results import to_jsonable
from insights.sources import SourceSpec, load_source
from insights.synthetic import DealSpec, generate_deals, write_csv

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "data" / "deals.csv")
FILTERED = ["/why APAC", "/why Europe 2024Q2 vs 2024Q1", "/drivers Enterprise",
            "/risk Europe last quarter", "/risk by region", "/trend APAC", "/trend monthly", "/funnel by region",
            "/funnel APAC", "/reps APAC", "/reps by region", "/winrate APAC by product", "/winrate by size",
            "/winrate region=Europe by industry vs last year", "/why by product", "/why", "/drivers", "/risk",
            "/trend", "/funnel", "/reps", "/winrate last 45 days"]
SCOPED = ["/winrate by region", "/why", "/trend", "/risk", "/funnel", "/reps", "/drivers", "/why last quarter"]
SCOPES = [Scope.of([{"region": ["apac"]}]), Scope.of([{"region": ["APAC"]}, {"region": ["Europe"], "product_type": ["Enterprise"]}]),
          Scope.of([{"sales_rep_id": ["rep_3", "rep_7"]}])]  # a rep's grant: the cubes with reps, or the rows


@pytest.fixture
def rows_read(monkeypatch):
    """Every query DuckDB runs that reads the validated rows' table (not a cube)."""
    seen: list[str] = []
    run = DuckPlace.run

    def counting(self, sql):
        if "si_store.v)" in sql:
            seen.append(sql)
        return run(self, sql)

    monkeypatch.setattr(DuckPlace, "run", counting)
    return seen


def refreshed(location: str, cubes: bool, monkeypatch, kind: str = "engine"):
    monkeypatch.setattr(engine_module, "CUBES", cubes)
    return load_source(SourceSpec(location, engine=kind))


def reply(snapshot, line: str):
    got = answer(snapshot, line)
    out = None if got.result is None else to_jsonable(got.result)
    if got.command == "health":
        out = {k: v for k, v in out.items() if k not in ("loaded_at", "load_seconds", "query_seconds")}
    return got.kind, json.dumps(out, default=str), [x for x in got.text.splitlines()
                                                    if not x.startswith(("*Data health*", "Counted where"))]


def test_the_cubes_answer_every_filtered_command_as_the_rows_and_memory_do(monkeypatch):
    memory = refreshed(DEMO, True, monkeypatch, "memory")
    cubes = refreshed(DEMO, True, monkeypatch)
    rows = refreshed(DEMO, False, monkeypatch)
    assert set(cubes.engine._cubes) == {"c_closed", "c_closed_lite", "c_open", "c_open_lite", "c_cycle"}
    assert rows.engine._cubes == {}
    for line in FILTERED:
        expected = reply(memory, line)
        assert expected[0] == "answer", (line, expected)
        assert reply(cubes, line) == expected, line
        assert reply(rows, line) == expected, line


def test_the_cells_themselves_are_the_same_from_the_cubes_and_from_the_rows(monkeypatch):
    cubes = refreshed(DEMO, True, monkeypatch).engine
    rows = refreshed(DEMO, False, monkeypatch).engine
    first, last = cubes._profile.closed_range
    quarters = [Window(dt.date(2024, 4, 1), dt.date(2024, 6, 30)), Window(dt.date(2023, 4, 1), dt.date(2024, 3, 31))]
    cases = [
        (quarters, None, ()),
        (quarters, ("region", "sales_rep_id"), (("product_type", ("Enterprise", "Pro")),)),
        ([EVERY_DAY], ("industry", "size_band"), (("region", ("APAC",)),)),
        ([Window(first, last)], ("cycle_band",), ()),  # from the first deal closed to the last: every month
        ([Window(dt.date(2024, 2, 10), dt.date(2024, 3, 20))], ("region",), ()),  # cuts two months: the rows
    ]
    for windows, dims, filters in cases:
        a, b = cubes.cells(windows, dims, filters), rows.cells(windows, dims, filters)
        assert a.n.sum() > 0 and a.dimensions == b.dimensions
        for name in ("n", "won", "amount", "group"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        for d in a.dimensions:
            np.testing.assert_array_equal(a.codes[d], b.codes[d])
        for name, values in a.memo["amount_sums"].items():
            np.testing.assert_array_equal(values, b.memo["amount_sums"][name], err_msg=name)
    for filters, aged in [((), None), ((("region", ("APAC",)),), dt.date(2024, 5, 1)), ((("size_band", ("<$10k",)),), None)]:
        assert cubes.open_totals(filters, aged) == rows.open_totals(filters, aged)
        a, b = cubes.open_cells(("region", "sales_rep_id"), filters, aged), rows.open_cells(("region", "sales_rep_id"), filters, aged)
        np.testing.assert_array_equal(a.n, b.n)
        np.testing.assert_array_equal(a.amount, b.amount)
    for dim, month, filters in [(None, "closed", ()), ("region", None, ()), (None, None, (("industry", ("SaaS",)),)),
                                ("region", "created", ())]:
        a = cubes.cycle_table(quarters[1], filters, dim, month).sort_values(["code", "month", "won", "cycle"])
        b = rows.cycle_table(quarters[1], filters, dim, month).sort_values(["code", "month", "won", "cycle"])
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    for got, want in zip(cubes.cycle_counts, rows.cycle_counts):
        np.testing.assert_array_equal(got, want)


def test_a_restricted_user_is_answered_from_the_cubes_as_from_the_rows(monkeypatch, rows_read):
    data = {}
    for name, engine, cubes in (("memory", "memory", True), ("cubes", "engine", True), ("rows", "engine", False)):
        monkeypatch.setattr(engine_module, "CUBES", cubes)
        data[name] = DealData(SourceSpec(DEMO, engine=engine))
        assert data[name].refresh().ok
    for scope in SCOPES:
        asker = Asker(user="U1", scope=scope)
        for line in SCOPED:
            want = ask(data["memory"], asker, line)
            assert want.kind == "answer", (scope.describe(), line, want.text)
            for name in ("cubes", "rows"):
                got = ask(data[name], asker, line)
                assert json.dumps(to_jsonable(got.result), default=str) == \
                    json.dumps(to_jsonable(want.result), default=str), (name, scope.describe(), line)
                assert got.text == want.text, (name, scope.describe(), line)
    # the scope's own WHERE is read from the cubes: only the rows engine read the rows' table
    rows_read.clear()
    ask(data["cubes"], Asker(user="U1", scope=SCOPES[1]), "/why Enterprise")
    assert rows_read == []
    ask(data["rows"], Asker(user="U1", scope=SCOPES[1]), "/why Enterprise")
    assert len(rows_read) >= 3


def test_the_cubes_are_what_answers_and_the_rows_what_they_cannot(monkeypatch, rows_read):
    cubes = refreshed(DEMO, True, monkeypatch)
    rows_read.clear()
    for line in ["/why APAC", "/drivers Enterprise", "/risk Europe last quarter", "/trend APAC", "/funnel by region",
                 "/reps APAC", "/winrate APAC by product"]:
        assert answer(cubes, line).kind == "answer"
        assert rows_read == [], line  # not one query read the validated rows
    queries = len(cubes.query_seconds)
    answer(cubes, "/why India")
    assert len(cubes.query_seconds) > queries  # it did count, from the cubes
    # a window that cuts a month, a cohort and a grouping set the cycle cube lacks: the rows
    cubes.engine.cells([Window(dt.date(2024, 2, 10), dt.date(2024, 3, 20))], ("region",))
    assert len(rows_read) == 1
    rows = refreshed(DEMO, False, monkeypatch)
    rows_read.clear()
    answer(rows, "/why APAC")
    assert len(rows_read) >= 3  # without the cubes every cell query reads the rows


def test_an_extract_cut_off_on_created_dates_counts_its_cohorts_from_the_rows(tmp_path, monkeypatch, rows_read):
    path = tmp_path / "censored.csv"
    write_csv(generate_deals(DealSpec(n_deals=6_000, seed=5, created_until=dt.date(2024, 3, 31))), path)
    memory = refreshed(str(path), True, monkeypatch, "memory")
    cubes = refreshed(str(path), True, monkeypatch)
    rows_read.clear()
    assert answer(cubes, "/why").result.date_basis == "created_date"
    assert rows_read  # a cohort's window (created, and closed within so many days) is not a cube's
    for line in ["/why", "/why APAC", "/trend monthly", "/risk", "/drivers"]:
        assert reply(cubes, line) == reply(memory, line), line


def test_a_cube_that_saves_little_is_dropped_and_the_rows_answer(monkeypatch, rows_read):
    memory = refreshed(DEMO, True, monkeypatch, "memory")
    monkeypatch.setattr(engine_module, "CUBE_SMALL", 0)
    # the demo's 6,338 closed deals fold into 6,333 cells with the reps (dropped) and 6,110 without (kept)
    monkeypatch.setattr(engine_module, "CUBE_MAX_SHARE", 0.99)
    engine = refreshed(DEMO, True, monkeypatch)
    assert set(engine.engine._cubes) == {"c_closed_lite"}
    rows_read.clear()
    assert reply(engine, "/why APAC") == reply(memory, "/why APAC")
    assert rows_read  # the all-segment cells of /why (reps and all) read the rows
    rows_read.clear()
    assert reply(engine, "/winrate APAC by product") == reply(memory, "/winrate APAC by product")
    assert rows_read == []  # no rep: the lite cube


def test_a_cube_that_fails_to_build_is_left_out_and_the_rows_answer(monkeypatch, rows_read):
    """A cube past the time bound (here: one whose SQL fails) does not fail the refresh: it is not there, the cubes
    built from it neither, and the rows answer what it would have."""
    memory = refreshed(DEMO, True, monkeypatch, "memory")
    statements = engine_module.DealEngine._cube_statements

    def broken(self):
        return [sql.replace("FROM si_store.v WHERE reason = 0 AND state IN", "FROM si_store.nowhere WHERE state IN")
                if sql.startswith("CREATE TABLE si_store.c_closed ") else sql for sql in statements(self)]

    monkeypatch.setattr(engine_module.DealEngine, "_cube_statements", broken)
    engine = refreshed(DEMO, True, monkeypatch)
    assert set(engine.engine._cubes) == {"c_open", "c_open_lite", "c_cycle"}
    rows_read.clear()
    assert reply(engine, "/risk Europe last quarter") == reply(memory, "/risk Europe last quarter")
    assert rows_read  # its closed cells from the rows
