"""How long reading deals from DuckDB takes: the SQLAlchemy cursor (pandas.read_sql_query) against the Arrow
read the DuckDB source uses, on the same SELECT (needed columns, no window) and the same table.

    python tests/measure/measure_duckdb.py [n_deals]      # default 1,000,000; the table is made under /tmp once
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pandas as pd  # noqa: E402

from insights.load import ColumnMapping  # noqa: E402
from insights.sources import SourceSpec, load_source  # noqa: E402
from insights.sources import sql  # noqa: E402
from insights.synthetic import demo_spec, generate_deals  # noqa: E402


def make(path: Path, n: int) -> None:
    import duckdb

    frame = generate_deals(demo_spec(n_deals=n, seed=7))
    frame["created_date"] = frame["created_date"].dt.date
    frame["closed_date"] = frame["closed_date"].dt.date
    frame["deal_amount"] = frame["deal_amount"].astype(float)
    frame["sales_cycle_days"] = pd.to_numeric(frame["sales_cycle_days"], errors="coerce").astype("Int64")
    with duckdb.connect(str(path)) as con:
        con.register("frame", frame)
        con.execute("CREATE TABLE deals AS SELECT * FROM frame")


def best(fn, rounds=3) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main(n: int) -> None:
    path = Path(f"/tmp/si_deals_{n}.duckdb")
    if not path.exists():
        make(path, n)
    spec = SourceSpec(f"duckdb:///{path}", table="deals", since="all")
    engine = sql.engine_for(spec.location)
    with engine.connect() as conn:
        source, types = sql._source(conn, spec)
        select, _ = sql._select(source, types, ColumnMapping(), None)
        cursor = best(lambda: pd.read_sql_query(select, conn))
        arrow = best(lambda: sql._read(conn, select, ColumnMapping()))
    whole = best(lambda: load_source(spec))
    print(f"{n:,} deals: read via SQLAlchemy cursor {cursor:.2f} s, via Arrow {arrow:.2f} s; "
          f"load_source end to end (read + validation) {whole:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
