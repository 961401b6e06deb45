"""Benchmark: load time, peak memory and command latency at 5k and 1M deals.

    python tests/measure/benchmark.py            # 5k and 1M deals, prints a Markdown table
    python tests/measure/benchmark.py 5000       # chosen sizes only
    python tests/measure/benchmark.py --parquet 1000000 10000000   # Parquet files instead of CSV (10M: the scale target)
    python tests/measure/benchmark.py --parquet --typed-dates 1000000 10000000   # dates as Parquet date32, as warehouses write
    python tests/measure/benchmark.py --file deals.parquet         # an existing file (e.g. one written before)
    python tests/measure/benchmark.py --repeats 3 ...              # fewer timed repeats per command (default 15)

Each size runs in a fresh process so its peak memory (max RSS) is its own. Latency is measured
in-process through `answer()`, the same path every front end takes (parse, analyse, render).
Not a test: it asserts nothing and is not collected by pytest.
"""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

COMMANDS = [
    "/winrate",
    "/winrate APAC Enterprise",
    "/winrate by region",
    "/winrate by region last quarter vs previous",
    "/trend",
    "/trend APAC by month",
    "/risk",
    "/funnel",
    "/why",
    "/why APAC 2024Q2 vs 2023Q2",
    "/drivers",
    "/reps",
    "/deals",
    "/pipeline",
    "/pipeline by region",
]
REPEATS = 15


def measure(path: str, repeats: int = REPEATS) -> dict:
    from bot.core.commands import answer
    from bot.core.grammar import Vocabulary
    from insights.load import load_deals

    started = time.perf_counter()
    snapshot = load_deals(path)
    load_s = time.perf_counter() - started
    load_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    vocab = Vocabulary.from_snapshot(snapshot)
    latency = {}
    for line in COMMANDS:
        t = time.perf_counter()
        answer(snapshot, line, vocab)  # the first call fills the snapshot's caches (the refresh's warm-up pays it)
        first_ms = 1000 * (time.perf_counter() - t)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            reply = answer(snapshot, line, vocab)
            times.append(1000 * (time.perf_counter() - t))
        assert reply.kind == "answer", reply.text
        latency[line] = {"median_ms": statistics.median(times), "max_ms": max(times), "first_ms": first_ms}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"deals": snapshot.report.rows_read, "load_s": load_s, "peak_mb": peak_mb, "latency": latency,
            "load_peak_mb": load_peak_mb, "repeats": repeats}


def measure_in_child(path: Path, repeats: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", str(path), str(repeats)], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


def run(size: int, workdir: Path, parquet: bool = False, repeats: int = REPEATS, typed_dates: bool = False) -> dict:
    from insights.synthetic import demo_spec, generate_deals, write_csv

    path = workdir / f"deals_{size}.{'parquet' if parquet else 'csv'}"
    frame = generate_deals(demo_spec(n_deals=size, seed=7))
    if parquet:
        import pandas as pd

        frame["sales_cycle_days"] = pd.to_numeric(frame["sales_cycle_days"], errors="coerce").astype("Int64")
        if typed_dates:  # date32 columns (a warehouse's DATE), not timestamps
            for column in ("created_date", "closed_date"):
                frame[column] = frame[column].astype("date32[pyarrow]")
        frame.to_parquet(path, index=False)
    else:
        write_csv(frame, path)
    del frame
    return measure_in_child(path, repeats)


def table(results: list[dict]) -> str:
    sizes = [f"{r['deals']:,} deals" for r in results]
    lines = ["| | " + " | ".join(sizes) + " |", "|---|" + "---:|" * len(results)]
    lines.append("| load + validate (s) | " + " | ".join(f"{r['load_s']:.2f}" for r in results) + " |")
    lines.append("| peak memory after load, whole process (MB) | " + " | ".join(f"{r['load_peak_mb']:.0f}" for r in results) + " |")
    lines.append("| peak memory after every command (MB) | " + " | ".join(f"{r['peak_mb']:.0f}" for r in results) + " |")
    lines.append("| load + first `/why` (s) | " + " | ".join(
        f"{r['load_s'] + r['latency']['/why']['first_ms'] / 1000:.2f}" for r in results) + " |")
    for line in COMMANDS:
        cells = [f"{r['latency'][line]['median_ms']:.1f} (max {r['latency'][line]['max_ms']:.1f}; "
                 f"first {r['latency'][line]['first_ms']:.0f})" for r in results]
        lines.append(f"| `{line}` ms, median (max of {'/'.join(sorted({str(r['repeats']) for r in results}))}; first call) | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--measure"]:
        print(json.dumps(measure(argv[1], int(argv[2]) if len(argv) > 2 else REPEATS)))
        return
    repeats = REPEATS
    if "--repeats" in argv:
        k = argv.index("--repeats")
        repeats = int(argv[k + 1])
        argv = argv[:k] + argv[k + 2:]
    if "--file" in argv:
        k = argv.index("--file")
        print(table([measure_in_child(Path(argv[k + 1]), repeats)]))
        return
    parquet, typed_dates = "--parquet" in argv, "--typed-dates" in argv
    sizes = [int(a) for a in argv if not a.startswith("--")] or [5_000, 1_000_000]
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(size, Path(tmp), parquet, repeats, typed_dates) for size in sizes]
    print(table(results))


if __name__ == "__main__":
    main(sys.argv[1:])
