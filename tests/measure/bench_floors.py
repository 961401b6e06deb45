"""What a first-ever refresh cannot go below: the bare scans a cold answer needs, by DuckDB alone on the engine's
settings (500 MB, spilling to disk), with no validation — a count, four segment columns' distinct values (read
from the Parquet dictionaries), every deal id hashed, the duplicate-id check's GROUP BY of those hashes, one
GROUP BY of every segment and month. Each line: seconds, result rows, 1-minute load. pytest does not collect it.

    flock /tmp/bench.lock nice python tests/measure/bench_floors.py /tmp/si_engine_bench/deals_10000000.parquet
    flock /tmp/bench.lock nice python tests/measure/bench_floors.py '/tmp/si_engine_bench/deals_100000000/part_*.parquet' count scan_dims sum_hash_id dup_groupby
"""
import sys, time, duckdb, os, resource
pat = sys.argv[1]
con = duckdb.connect()
con.execute("SET memory_limit='500MB'"); con.execute("SET temp_directory='/tmp/si_engine_spill'"); con.execute("SET preserve_insertion_order=false")
src = f"read_parquet('{pat}', file_row_number=true)"
qs = {
 "count": f"SELECT COUNT(*) FROM {src}",
 "scan_dims": f"SELECT COUNT(DISTINCT outcome), COUNT(DISTINCT region), COUNT(DISTINCT sales_rep_id), COUNT(DISTINCT industry) FROM {src}",
 "sum_hash_id": f"SELECT SUM(hash(TRIM(deal_id))) FROM {src}",
 "dup_groupby": f"SELECT hash(TRIM(COALESCE(CAST(deal_id AS VARCHAR),''))) h FROM {src} GROUP BY 1 HAVING COUNT(*)>1 LIMIT 100001",
 "groupby_alldims": f"SELECT outcome, region, sales_rep_id, industry, product_type, lead_source, deal_stage, date_trunc('month', closed_date) m, COUNT(*), SUM(deal_amount) FROM {src} GROUP BY ALL",
}
for k in sys.argv[2:] or qs:
    t = time.perf_counter(); r = con.execute(qs[k]).fetchall(); print(k, round(time.perf_counter()-t,2), len(r), os.getloadavg()[0], flush=True)
print("maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss//1024)
