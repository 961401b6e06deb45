"""Benchmark: the engine path (insights/engine) counting the default /why cells straight from Parquet with DuckDB.

    python tests/measure/bench_engine.py                 # 10,000,000 deals in one Parquet file
    python tests/measure/bench_engine.py --100m          # and 100,000,000: that file ten times, ids made unique
    python tests/measure/bench_engine.py --file 'deals_*.parquet'   # existing file(s)
    python tests/measure/bench_engine.py --ask [--100m] [--pg]      # the bot end to end (see `ask_source`)
    python tests/measure/bench_engine.py --rows          # /deals (list, CSV) and /pipeline on the 10M file
    python tests/measure/bench_engine.py --cold [--100m] [--pg]     # only the first-ever cold `ask "/why"`

Deals come from the project's generator (the demo's story, dates as Parquet date32 as warehouses write
them), written once under /tmp/si_engine_bench and reused. Each measurement runs in a fresh process:
cold is the first report (/health's validation: set-aside counts and examples) and the first /why cells
(the latest complete quarter and the four before it, every dimension); warm is the same cells counted
again by a second query (the engine's own per-refresh cache set aside), and the cached answer. The
process's peak resident memory (max RSS) is printed with them. pytest does not collect it.
"""
from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

WORKDIR = Path("/tmp/si_engine_bench")
FILE_DEALS = 10_000_000
FREE_FOR_100M = 30 * 2**30


def write(path: Path, n: int, seed: int) -> None:
    """`n` generated deals as Parquet."""
    import pandas as pd

    from insights.synthetic import demo_spec, generate_deals

    frame = generate_deals(demo_spec(n_deals=n, seed=seed))
    frame["sales_cycle_days"] = pd.to_numeric(frame["sales_cycle_days"], errors="coerce").astype("Int64")
    for column in ("created_date", "closed_date"):
        frame[column] = frame[column].astype("date32[pyarrow]")
    frame.to_parquet(path, index=False)


def measure(pattern: str) -> dict:
    """In this (fresh) process: cold report and /why cells, then warm cells; peak RSS."""
    from insights.engine import DealEngine, Window
    from insights.periods import latest_complete, shifted

    started = time.perf_counter()
    engine = DealEngine.of_file(pattern, timeout_seconds=None)  # measured to the end, however long
    report = engine.report
    report_s = time.perf_counter() - started
    current = latest_complete(engine.as_of, "quarter")
    windows = [Window.of(current), Window.of(shifted(current, "previous", 4))]
    t = time.perf_counter()
    cells = engine.cells(windows)
    cells_s = time.perf_counter() - t
    engine._cells.clear()  # the per-refresh cache set aside: the same GROUP BY again, data now in the OS cache
    t = time.perf_counter()
    engine.cells(windows)
    warm_s = time.perf_counter() - t
    t = time.perf_counter()
    engine.cells(windows)
    cached_ms = 1000 * (time.perf_counter() - t)
    return {"deals": report.rows_read, "set_aside": report.rows_set_aside, "report_s": round(report_s, 2),
            "cold_why_cells_s": round(cells_s, 2), "cold_total_s": round(report_s + cells_s, 2),
            "warm_why_cells_s": round(warm_s, 2), "cached_ms": round(cached_ms, 3), "cells": len(cells),
            "deals_in_cells": int(cells.n.sum()), "queries_s": engine.query_seconds,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


ASK_COMMANDS = ["/why", "/winrate", "/winrate by region", "/trend", "/risk", "/drivers", "/funnel", "/reps", "/health",
                "/why APAC", "/drivers Enterprise", "/risk Europe last quarter", "/trend APAC", "/reps APAC", "/digest",
                "/pipeline by region", "/pipeline"]


def ask_cold(pattern: str, command: str = "/why", mode: str = "engine", env: dict | None = None) -> dict:
    """`python -m bot ask <command>` end to end in a fresh process (DEALS_SOURCE=pattern, DEALS_ENGINE=mode,
    and `env`): wall seconds and the process's peak RSS, from wait4's resource usage of that one child."""
    import os
    import tempfile

    env = {**os.environ, "DEALS_SOURCE": pattern, "DEALS_ENGINE": mode, **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "bot", "ask", "--format", "json", command], cwd=ROOT,
                                 env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode:
            raise SystemExit(f"ask {command} on {pattern} failed:\n{err.read().decode()[-2000:]}")
        answer = json.loads(out.read())
        kind = answer.get("kind", "answer" if "command" in answer else "?")
    return {"command": command, "mode": mode, "seconds": round(seconds, 2), "kind": kind,
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "load": os.getloadavg()[0]}


def ask_source(pattern: str, table: str | None = None) -> None:
    """The bot end to end on one source, with the engine's cache (insights/engine/cache.py) in a folder of its
    own: the first-ever cold `ask "/why"` (no cache), a fresh process once the first has left its cache, and in
    one more process the refresh and every command's first and second answer (the cache holds /why's work
    only). Each line with the 1-minute load average when it ended."""
    import os

    folder = WORKDIR / "cache"
    shutil.rmtree(folder, ignore_errors=True)
    env = {"DEALS_ENGINE_CACHE": str(folder), **({"DEALS_TABLE": table} if table else {})}
    where = f"{pattern} {table or ''}".strip()
    print(where, "first-ever cold (no cache)", json.dumps(ask_cold(pattern, env=env)), flush=True)
    print(where, "fresh process, cache of the first", json.dumps(ask_cold(pattern, env=env)), flush=True)
    out = subprocess.run([sys.executable, __file__, "--commands", pattern] + ([table] if table else []),
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env})
    print(where, "commands", out.stdout.strip() or out.stderr[-2000:], "load", os.getloadavg()[0], flush=True)
    shutil.rmtree(folder, ignore_errors=True)


def first_ever(pattern: str, table: str | None = None) -> dict:
    """A first-ever cold `ask "/why"`: the engine's cache in a new empty folder (removed after), with the load
    average when it started and when it ended."""
    import os
    import tempfile

    folder = tempfile.mkdtemp(prefix="si_engine_cold_")
    try:
        before = os.getloadavg()[0]
        got = ask_cold(pattern, env={"DEALS_ENGINE_CACHE": folder, **({"DEALS_TABLE": table} if table else {})})
        return {**got, "load_before": before}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure_commands(pattern: str, table: str | None = None, timeout: bool = True) -> dict:
    """In this (fresh) process: the refresh through the engine, then each command's first answer (cold: its
    queries run) and second (warm: the refresh's cached cells), and the peak RSS. `timeout=False` (files only):
    no query timeout (on a loaded machine the 100M pipeline history query can pass 120 s)."""
    from bot.core.commands import answer
    from insights.sources import SourceSpec, load_source

    started = time.perf_counter()
    if timeout or table:
        snapshot = load_source(SourceSpec(pattern, table=table, engine="engine"))
    else:
        from insights.engine import DealEngine
        from insights.engine.snapshot import EngineSnapshot

        snapshot = EngineSnapshot.of(DealEngine.of_file(pattern, timeout_seconds=None))
    refresh_s = time.perf_counter() - started
    times = {}
    for command in ASK_COMMANDS:
        t = time.perf_counter()
        reply = answer(snapshot, command)
        first = time.perf_counter() - t
        t = time.perf_counter()
        answer(snapshot, command)
        times[command] = {"first_s": round(first, 2), "again_s": round(time.perf_counter() - t, 3), "kind": reply.kind,
                          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    return {"refresh_s": round(refresh_s, 2), "commands": times, "queries": len(snapshot.query_seconds),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


ROWS_COMMANDS = ["/deals", "/deals lost APAC", "/pipeline", "/pipeline by region", "/deals open"]


def measure_rows(pattern: str) -> dict:
    """In this (fresh) process: the refresh through the engine, then what reads deals one by one — /deals' list,
    its open deals, /pipeline (the open deals fetched as rows and scored, the model's history counted into cells)
    — first and again, and the CSV file of the default /deals (streamed in chunks); with the peak RSS."""
    from bot.core.commands import answer
    from insights.deals import deals_csv
    from insights.sources import SourceSpec, load_source

    started = time.perf_counter()
    snapshot = load_source(SourceSpec(pattern, engine="engine"))
    refresh_s = time.perf_counter() - started
    def peak() -> int:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    times = {"refresh": {"peak_rss_mb": peak()}}
    for command in ROWS_COMMANDS:
        if command == "/pipeline":  # its part: one anchor of the model's history counted
            t = time.perf_counter()
            snapshot.pipeline_facts
            snapshot.pipeline_cells(["region", "industry", "product_type", "lead_source"],
                                    [(snapshot.as_of, [snapshot.as_of, snapshot.as_of])], (0, 15, 30, 45, 60, 90))
            times["one anchor's history cells"] = {"seconds": round(time.perf_counter() - t, 2)}
        t = time.perf_counter()
        reply = answer(snapshot, command)
        first = time.perf_counter() - t
        t = time.perf_counter()
        answer(snapshot, command)
        times[command] = {"first_s": round(first, 2), "again_s": round(time.perf_counter() - t, 3), "kind": reply.kind,
                          "peak_rss_mb": peak()}
    reply = answer(snapshot, "/deals")
    t = time.perf_counter()
    csv = deals_csv(snapshot, reply.result.query)
    times["/deals csv"] = {"seconds": round(time.perf_counter() - t, 2), "deals": reply.result.count,
                           "mb": round(len(csv) / 2**20, 1), "peak_rss_mb": peak()}
    return {"refresh_s": round(refresh_s, 2), "open_deals": snapshot.report.open_deals, "commands": times,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def in_child(pattern: str) -> dict:
    import os

    env = {**os.environ, "DEALS_ENGINE_CACHE": "off"}  # the queries themselves, not the on-disk cache
    out = subprocess.run([sys.executable, __file__, "--measure", pattern], capture_output=True, text=True, cwd=ROOT,
                         env=env)
    if out.returncode:
        raise SystemExit(f"measuring {pattern} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout)


def data_set(files: int) -> str:
    WORKDIR.mkdir(exist_ok=True)
    if files == 1:
        path = WORKDIR / f"deals_{FILE_DEALS}.parquet"
        if not path.exists():
            write(path, FILE_DEALS, seed=7)
        return str(path)
    import duckdb

    base = data_set(1)
    folder = WORKDIR / f"deals_{files * FILE_DEALS}"
    folder.mkdir(exist_ok=True)
    for k in range(files):
        path = folder / f"part_{k:02d}.parquet"
        if not path.exists():  # the generated file again under ids of its own (generating each took minutes)
            duckdb.sql(f"COPY (SELECT * REPLACE ('P{k:02d}-' || deal_id AS deal_id) FROM read_parquet('{base}')) "
                       f"TO '{path}' (FORMAT parquet)")
    return str(folder / "part_*.parquet")


POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
PG_TABLE = "si_engine_bench.deals_10m"


def pg_table(url: str = POSTGRES) -> str:
    """The 10M-deal Parquet file as a PostgreSQL table (DATE dates, BIGINT amount and cycle), loaded once by
    COPY from a CSV that DuckDB writes; reused while its row count is right. Returns the table's name."""
    import duckdb
    import psycopg

    schema, name = PG_TABLE.split(".")
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            if conn.execute(f"SELECT COUNT(*) FROM {PG_TABLE}").fetchone()[0] == FILE_DEALS:
                return PG_TABLE
        except psycopg.errors.UndefinedTable:
            pass
        csv = WORKDIR / "deals_pg.csv"
        duckdb.sql(f"COPY (SELECT * FROM read_parquet('{data_set(1)}')) TO '{csv}' (HEADER false)")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"DROP TABLE IF EXISTS {PG_TABLE}")
        conn.execute(f"""CREATE TABLE {PG_TABLE} (deal_id TEXT, created_date DATE, closed_date DATE, sales_rep_id TEXT,
            industry TEXT, region TEXT, product_type TEXT, lead_source TEXT, deal_stage TEXT, deal_amount BIGINT,
            sales_cycle_days BIGINT, outcome TEXT)""")
        with conn.cursor() as cursor, cursor.copy(f"COPY {PG_TABLE} FROM STDIN (FORMAT csv)") as copy, \
                open(csv, "rb") as f:
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        conn.execute(f"ANALYZE {PG_TABLE}")
        csv.unlink()
    return PG_TABLE


def main(argv: list[str]) -> None:
    if argv[:1] == ["--measure"]:
        print(json.dumps(measure(argv[1])))
        return
    if argv[:1] == ["--commands"]:  # [--no-timeout] PATTERN [TABLE]
        timeout = "--no-timeout" not in argv
        rest = [a for a in argv[1:] if a != "--no-timeout"]
        print(json.dumps(measure_commands(rest[0], rest[1] if len(rest) > 1 else None, timeout)))
        return
    if "--pg" in argv and "--cold" in argv:  # the first-ever cold `ask "/why"` alone
        print(POSTGRES, PG_TABLE, json.dumps(first_ever(POSTGRES, PG_TABLE)), flush=True)
        return
    if "--pg" in argv:  # a 10M-deal PostgreSQL table (loaded by COPY once), end to end
        ask_source(POSTGRES, pg_table())
        return
    if argv[:1] == ["--rows-measure"]:
        print(json.dumps(measure_rows(argv[1])))
        return
    if "--help" in argv or "-h" in argv:
        print(__doc__)
        return
    if argv[:1] == ["--file"]:
        patterns = [argv[1]]
    else:
        patterns = [data_set(1)]
        if "--100m" in argv:
            free = shutil.disk_usage(WORKDIR).free
            if free < FREE_FOR_100M:
                print(f"100M skipped: {free / 2**30:.0f} GB free under {WORKDIR}, 30 GB wanted")
            else:
                patterns.append(data_set(10))
    for pattern in patterns:
        if "--rows" in argv:  # what reads deals one by one, in a fresh process
            out = subprocess.run([sys.executable, __file__, "--rows-measure", pattern], capture_output=True,
                                 text=True, cwd=ROOT)
            print(pattern, out.stdout.strip() or out.stderr[-2000:])
        elif "--ask" in argv:  # the bot end to end: cold `python -m bot ask "/why"`, then every command in one process
            ask_source(pattern)
        elif "--cold" in argv:
            print(pattern, json.dumps(first_ever(pattern)), flush=True)
        else:
            print(pattern, json.dumps(in_child(pattern)))


if __name__ == "__main__":
    main(sys.argv[1:])
