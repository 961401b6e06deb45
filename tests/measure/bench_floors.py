"""What a first-ever refresh cannot go below: the bare scans a cold answer needs, by DuckDB alone on the engine's
settings (500 MB, spilling to disk), with no validation — a count, four segment columns' distinct values (read
from the Parquet dictionaries), every deal id hashed, the duplicate-id check's GROUP BY of those hashes, one
GROUP BY of every segment and month. Each line: seconds, result rows, 1-minute load. pytest does not collect it.

    flock /tmp/bench.lock nice python tests/measure/bench_floors.py /tmp/si_engine_bench/deals_10000000.parquet
    flock /tmp/bench.lock nice python tests/measure/bench_floors.py '/tmp/si_engine_bench/deals_100000000/part_*.parquet' count scan_dims sum_hash_id dup_groupby
    flock /tmp/bench.lock nice python tests/measure/bench_floors.py --store <file>   # the store's write, in parts
    flock /tmp/bench.lock nice python tests/measure/bench_floors.py --pg postgresql://postgres@127.0.0.1:5432/test si_engine_bench.deals_10m
"""
import sys, time, duckdb, os, resource


def store_parts(pattern: str) -> None:
    """The engine's validated scan (each segment cast to its ENUM) with no write, then the store written
    without the deal id and with it (as the engine writes it): wall and CPU seconds, load."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
    os.environ["DEALS_ENGINE_CACHE"] = "off"
    import tempfile

    from insights.engine import DealEngine
    from insights.engine.where import literal

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    e = DealEngine.of_file(pattern, timeout_seconds=None)
    con, v = e.place.connection, e.validation
    v.repeated
    rows = v.rows()
    path = os.path.join(tempfile.mkdtemp(), "parts.duckdb")
    con.execute(f"ATTACH {literal(path)} AS s")
    for d in v.dims:
        con.execute(f"CREATE TYPE s.e_{d} AS ENUM ({', '.join(map(literal, e._raws(d)))})")
    keep = ["_row", "reason", "state", "created", "closed", "amount", "cycle", "size_band", "cycle_band"]
    enums = [f"CAST(d_{d} AS s.e_{d}) AS d_{d}" for d in v.dims]
    codes = ", ".join(f"MAX(enum_code(CAST(d_{d} AS s.e_{d})))" for d in v.dims)
    for label, sql in [
            ("validated scan, casts, no write", f"{rows} SELECT COUNT(*), SUM(reason), SUM(amount), MAX(closed), {codes} FROM v"),
            ("store write without id", f"CREATE TABLE s.a AS {rows} SELECT {', '.join(keep + enums)} FROM v"),
            ("store write with id (as today)", f"CREATE TABLE s.b AS {rows} SELECT {', '.join(keep + ['id'] + enums)} FROM v")]:
        w, c = time.perf_counter(), cpu()
        con.execute(sql)
        print(f"{label:34s} wall {time.perf_counter() - w:6.2f} cpu {cpu() - c:6.2f} load {os.getloadavg()[0]:.1f}", flush=True)
    con.execute("DETACH s")
    os.remove(path)


def pg_floors(url: str, table: str) -> None:
    """The same floors in PostgreSQL (its own parallel workers): a count, /why's default cells with no validation
    (the latest complete quarter and the same quarter a year before, every segment, outcome and amount), and the
    duplicate-id check's GROUP BY of the trimmed ids. Wall seconds, rows, 1-minute load."""
    import psycopg

    qs = {
        "count": f"SELECT COUNT(*) FROM {table}",
        "why_cells_bare": f"""WITH q AS (SELECT CAST(date_trunc('quarter', MAX(closed_date) + 1) - INTERVAL '3 months' AS DATE) AS s
           FROM {table}) SELECT CASE WHEN closed_date >= q.s THEN 1 ELSE 0 END AS g, outcome, region, sales_rep_id,
           industry, product_type, lead_source, deal_stage, COUNT(*), SUM(deal_amount) FROM {table}, q
           WHERE closed_date >= q.s - INTERVAL '12 months' AND closed_date < q.s - INTERVAL '9 months' OR closed_date >= q.s
           GROUP BY 1, 2, 3, 4, 5, 6, 7, 8""",
        "dup_groupby": f"SELECT TRIM(COALESCE(deal_id, '')) FROM {table} GROUP BY 1 HAVING COUNT(*) > 1 LIMIT 100001",
    }
    with psycopg.connect(url) as conn:
        for k, sql in qs.items():
            t = time.perf_counter()
            r = conn.execute(sql).fetchall()
            print(k, round(time.perf_counter() - t, 2), len(r), os.getloadavg()[0], flush=True)


if sys.argv[1] == "--pg":  # --pg URL TABLE
    pg_floors(sys.argv[2], sys.argv[3])
    sys.exit()
if sys.argv[1] == "--store":
    store_parts(sys.argv[2])
    sys.exit()
pat = sys.argv[1]
con = duckdb.connect()
con.execute("SET memory_limit='500MB'"); con.execute("SET temp_directory='/tmp/si_engine_spill'"); con.execute("SET preserve_insertion_order=false")
src = f"read_parquet('{pat}', file_row_number=true)"
qs = {
 "count": f"SELECT COUNT(*) FROM {src}",
 "scan_dims": f"SELECT COUNT(DISTINCT outcome), COUNT(DISTINCT region), COUNT(DISTINCT sales_rep_id), COUNT(DISTINCT industry) FROM {src}",
 "sum_hash_id": f"SELECT SUM(hash(TRIM(deal_id))) FROM {src}",
 "dup_groupby": f"SELECT hash(TRIM(COALESCE(CAST(deal_id AS VARCHAR),''))) h FROM {src} GROUP BY 1 HAVING COUNT(*)>1 LIMIT 100001",
 # /why's default cells with no validation: the latest complete quarter and the same quarter a year before,
 # every segment, outcome and amount (the least a direct first answer must count)
 "why_cells_bare": f"""WITH q AS (SELECT CAST(date_trunc('quarter', MAX(closed_date) + INTERVAL 1 DAY) - INTERVAL 3 MONTH AS DATE) AS s
   FROM {src}) SELECT CASE WHEN closed_date >= q.s THEN 1 ELSE 0 END AS g, outcome, region, sales_rep_id, industry,
   product_type, lead_source, deal_stage, COUNT(*), SUM(deal_amount) FROM {src}, q
   WHERE closed_date >= q.s - INTERVAL 12 MONTH AND closed_date < q.s - INTERVAL 9 MONTH OR closed_date >= q.s GROUP BY ALL""",
 "groupby_alldims": f"SELECT outcome, region, sales_rep_id, industry, product_type, lead_source, deal_stage, date_trunc('month', closed_date) m, COUNT(*), SUM(deal_amount) FROM {src} GROUP BY ALL",
}

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def dup_per_file():
    """(c) the duplicate-id check one file at a time (each file's own GROUP BY of its ids' hashes: a tenth of the
    groups, no spill), valid alone when the files' id ranges are disjoint (see rows.disjoint_files)."""
    import glob
    found = []
    for f in sorted(glob.glob(pat)):
        found += con.execute(f"SELECT hash(TRIM(COALESCE(CAST(deal_id AS VARCHAR),''))) h FROM read_parquet('{f}') "
                             "GROUP BY 1 HAVING COUNT(*)>1 LIMIT 100001").fetchall()
    return found


for k in sys.argv[2:] or list(qs) + ["dup_per_file"]:
    t, c = time.perf_counter(), cpu()
    r = dup_per_file() if k == "dup_per_file" else con.execute(qs[k]).fetchall()
    print(k, round(time.perf_counter()-t,2), "cpu", round(cpu()-c, 2), len(r), os.getloadavg()[0], flush=True)
print("maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss//1024)
