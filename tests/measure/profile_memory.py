"""Where a command's peak memory comes from, on the engine path: in this fresh process the refresh, then each
command given; the resident memory (RSS) is sampled every 50 ms, and each DuckDB query and stream is logged with
its seconds, RSS before -> after, the peak during it and DuckDB's own memory after it (duckdb_memory()); a peak
between two of them (Python's own work) is printed when it passed the RSS the last one ended at by over 5 MB.

    DEALS_ENGINE_CACHE=<dir> python tests/measure/profile_memory.py '<dir>/part_*.parquet' /digest
    python tests/measure/profile_memory.py postgresql://... si_engine_bench.deals_10m /digest

KEEP=<dir> copies the engine cache after the refresh (a later run started from a copy of it begins with the
refresh's store and report only, as docs/benchmarks.md's runs do). pytest does not collect it."""
import os, resource, sys, threading, time
sys.path.insert(0, ".")

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 2**20

state = {"peak": 0, "stop": False}
def sampler():
    while not state["stop"]:
        state["peak"] = max(state["peak"], rss()); time.sleep(0.05)
threading.Thread(target=sampler, daemon=True).start()

from insights.engine import listing
from insights.engine.where import DuckPlace

def duckmem(place):
    try:
        c = place.connection.cursor()
        try:
            return int(c.execute("SELECT SUM(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0] or 0) // 2**20
        finally:
            c.close()
    except Exception as e:
        return str(e)[:40]

def gap():
    """The peak since the last query or stream ended (Python's own work between them), printed when it rose."""
    if state.get("after") is not None and state["peak"] > state["after"] + 5:
        print(f"  between: rss {state['after']} -> peak {state['peak']}", flush=True)

orig_run = DuckPlace.run
def run(self, sql):
    gap(); state["peak"] = rss(); before = rss(); t = time.perf_counter()
    out = orig_run(self, sql)
    print(f"  q {time.perf_counter()-t:7.2f}s rss {before}->{rss()} peak {state['peak']} duck {duckmem(self)} | {' '.join(sql.split())[-110:]}", flush=True)
    state["after"] = state["peak"] = rss()
    return out
DuckPlace.run = run
orig_stream = listing._stream
def stream(engine, sql, size):
    gap(); state["peak"] = rss(); before = rss(); t = time.perf_counter(); n = 0
    for part in orig_stream(engine, sql, size):
        n += len(part); yield part
    print(f"  stream {time.perf_counter()-t:7.2f}s rows {n} rss {before}->{rss()} peak {state['peak']} | {' '.join(sql.split())[-80:]}", flush=True)
    state["after"] = state["peak"] = rss()
listing._stream = stream

from bot.core.commands import answer
from insights.sources import SourceSpec, load_source
pattern, table = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("/") else None)
commands = [a for a in sys.argv[2:] if a.startswith("/")]
t = time.perf_counter()
if table:
    snapshot = load_source(SourceSpec(pattern, table=table, engine="engine"))
else:
    from insights.engine import DealEngine
    from insights.engine.snapshot import EngineSnapshot
    snapshot = EngineSnapshot.of(DealEngine.of_file(pattern, timeout_seconds=None))
if os.environ.get("KEEP"):
    import shutil; shutil.copytree(os.environ["DEALS_ENGINE_CACHE"], os.environ["KEEP"], dirs_exist_ok=True)
print(f"refresh {time.perf_counter()-t:.1f}s rss {rss()} maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss//1024}", flush=True)
for c in commands:
    state["peak"] = rss(); t = time.perf_counter()
    reply = answer(snapshot, c)
    gap(); state["after"] = None
    print(f"{c} {time.perf_counter()-t:.2f}s {reply.kind} rss {rss()} maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss//1024}", flush=True)
