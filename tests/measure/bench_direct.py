"""The floor of a DIRECT first answer (issue 23): `/why` counted straight from the source, no scratch store, no
cubes, no duplicate-id check — the validation rules still applied in SQL (each row's set-aside reason as a CASE,
set-aside rows excluded from the cells and counted in the report). In this fresh process, the engine's cache off:
the raw values' query, the report (one validating GROUP BY over the source), then `answer(snapshot, "/why")`
(its cells queries, each validating the rows again); each query's seconds, wall and CPU seconds, peak RSS.
`--one-pass`: instead, after the raw values, ONE validating GROUP BY giving the set-aside counts and /why's
default cells together (see `one_pass`): the least a direct first answer must run (`--memory=800MB`: DuckDB's
bound for it, 500 MB otherwise; `--no-ids`: the missing-id check left out as well, so no id is read; `--no-reasons`: every reason
left out, the cells' grouping alone). `--dup` adds the duplicate-id check as the engine makes it (for comparison). pytest does not collect it.

    flock /tmp/bench.lock nice python tests/measure/bench_direct.py /tmp/si_engine_bench/deals_10000000.parquet
    flock /tmp/bench.lock nice python tests/measure/bench_direct.py '/tmp/si_engine_bench/deals_100000000/part_*.parquet'
    flock /tmp/bench.lock nice python tests/measure/bench_direct.py --one-pass '/tmp/si_engine_bench/deals_100000000/part_*.parquet'
    flock /tmp/bench.lock nice python tests/measure/bench_direct.py postgresql://postgres@127.0.0.1:5432/test si_engine_bench.deals_10m
"""
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
os.environ["DEALS_ENGINE_CACHE"] = "off"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def one_pass(engine) -> dict:
    """(a)'s floor: ONE validating GROUP BY over the source giving both the rows set aside by reason and /why's
    default cells (the latest complete quarter and the same quarter a year before, every segment and band, with
    n, won and amounts; dims NULL outside the windows, so every other row falls into its reason's group). The
    windows come from the Parquet footer's largest closed date (no row read): the engine's own `as_of` when no
    row is set aside for its closed date, as in the benchmark's data. No duplicate-id check."""
    from insights.counting import Window
    from insights.engine.engine import window_sql
    from insights.engine.rows import LOST_STATE, WON_STATE
    from insights.periods import latest_complete, shifted

    v = engine.validation
    for a in sys.argv:  # --memory=800MB: DuckDB's bound for this query (the engine's is 500 MB)
        if a.startswith("--memory="):
            engine.place.connection.execute(f"SET memory_limit = '{a.split('=', 1)[1]}'")
    column = v.columns["closed_date"]
    if engine.place.dialect.name == "duckdb":
        files = engine.place.relation.split("read_parquet(", 1)[1].split(", file_row_number", 1)[0]
        as_of = engine.place.connection.execute(
            f"SELECT MAX(TRY_CAST(stats_max_value AS DATE)) FROM parquet_metadata({files}) "
            f"WHERE path_in_schema = '{column}'").fetchall()[0][0]
    else:  # a table: its largest closed date, one query (timed with the raw values' step)
        as_of = engine.place.timed(f'SELECT MAX("{column}") AS m FROM {engine.place.relation} AS s')["m"].iloc[0]
    current = latest_complete(as_of, "quarter")
    windows = [Window.of(current), Window.of(shifted(current, "previous", 4))]
    group = "CASE " + " ".join(f"WHEN {window_sql(w)} THEN {g}" for g, w in enumerate(windows)) + " END"
    kept = f"reason = 0 AND state IN ({LOST_STATE}, {WON_STATE})"
    dims = [f"d_{d}" for d in v.dims] + ["size_band", "cycle_band"]
    inner = ", ".join(f"CASE WHEN g IS NOT NULL THEN {d} END AS {d}" for d in dims)
    sql = f"""{v.rows()}
SELECT reason, g, {', '.join(dims)}, COUNT(*) AS n, SUM(won) AS won, SUM(amount) AS amount,
       SUM(amount * amount) AS squares FROM (
  SELECT reason, g, won, CASE WHEN g IS NOT NULL THEN amount END AS amount, {inner} FROM (
    SELECT *, CASE WHEN {kept} THEN {group} END AS g, CASE WHEN state = {WON_STATE} THEN 1 ELSE 0 END AS won FROM v
  ) AS t
) AS k GROUP BY {', '.join(map(str, range(1, len(dims) + 3)))}"""
    if "--no-ids" in sys.argv:  # the missing-id check left out too: no row's id is read at all
        assert "WHEN id = '' THEN" in sql
        sql = sql.replace("WHEN id = '' THEN", "WHEN FALSE THEN")
    if "--no-reasons" in sys.argv:  # no row set aside: the reason CASE left out (what the validation costs)
        import re

        sql, k = re.subn(r"CASE WHEN id = '' THEN .*? ELSE 0 END AS reason", "0 AS reason", sql, flags=re.S)
        assert k == 1
    t, c = time.perf_counter(), cpu()
    found = engine.place.timed(sql)
    return {"as_of": str(as_of), "one_pass_s": round(time.perf_counter() - t, 2), "one_pass_cpu_s": round(cpu() - c, 2),
            "groups": len(found), "cells": int(found["g"].notna().sum()),
            "deals_in_cells": int(found.loc[found["g"].notna(), "n"].sum()),
            "set_aside": int(found.loc[found["reason"] > 0, "n"].sum())}


def main(argv: list[str]) -> None:
    dup = "--dup" in argv
    args = [a for a in argv if not a.startswith("--")]
    source, table = args[0], (args[1] if len(args) > 1 else None)
    from insights.engine import engine as engine_module
    from insights.engine import rows as rows_module

    engine_module.STORE_VALIDATED = engine_module.STORE_POSTGRES = engine_module.CUBES = False
    if not dup:  # no duplicate-id check: every id taken as the only one of its kind
        rows_module.Validation.repeated = property(lambda self: ())
    from bot.core.commands import answer
    from insights.engine import DealEngine
    from insights.engine.snapshot import EngineSnapshot

    load = os.getloadavg()[0]
    w, c = time.perf_counter(), cpu()
    engine = (DealEngine.of_sql(source, table=table, timeout_seconds=None) if table
              else DealEngine.of_file(source, timeout_seconds=None))
    engine.validation  # the raw values' query
    steps = {"raw values": round(time.perf_counter() - w, 2)}
    if "--one-pass" in argv:
        print(json.dumps({"source": f"{source} {table or ''}".strip(), "raw_values_s": steps["raw values"], **one_pass(engine),
                          "wall_s": round(time.perf_counter() - w, 2), "cpu_s": round(cpu() - c, 2),
                          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                          "load_before": load, "load_after": os.getloadavg()[0]}), flush=True)
        return
    if dup:
        t = time.perf_counter()
        engine.validation.repeated
        steps["duplicate ids"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    snapshot = EngineSnapshot.of(engine)
    steps["report (one validating pass)"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    reply = answer(snapshot, "/why")
    steps["/why"] = round(time.perf_counter() - t, 2)
    print(json.dumps({"source": f"{source} {table or ''}".strip(), "dup_check": dup, "steps_s": steps,
                      "wall_s": round(time.perf_counter() - w, 2), "cpu_s": round(cpu() - c, 2),
                      "queries_s": engine.query_seconds, "kind": reply.kind,
                      "rows": snapshot.report.rows_read, "set_aside": snapshot.report.rows_set_aside,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "load_before": load, "load_after": os.getloadavg()[0]}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
