"""The floor of a DIRECT first answer (issue 23): `/why` counted straight from the source, no scratch store, no
cubes, no duplicate-id check — the validation rules still applied in SQL (each row's set-aside reason as a CASE,
set-aside rows excluded from the cells and counted in the report). In this fresh process, the engine's cache off:
the raw values' query, the report (one validating GROUP BY over the source), then `answer(snapshot, "/why")`
(its cells queries, each validating the rows again); each query's seconds, wall and CPU seconds, peak RSS.
`--dup` adds the duplicate-id check as the engine makes it (for comparison). pytest does not collect it.

    flock /tmp/bench.lock nice python tests/measure/bench_direct.py /tmp/si_engine_bench/deals_10000000.parquet
    flock /tmp/bench.lock nice python tests/measure/bench_direct.py '/tmp/si_engine_bench/deals_100000000/part_*.parquet'
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
